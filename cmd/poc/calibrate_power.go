package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/report"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/tlsprobe"
)

func init() {
	calibrateSubcommands = append(calibrateSubcommands, calibratePowerCommand)
}

func calibratePowerCommand() *cli.Command {
	return &cli.Command{
		Name:      "power",
		Usage:     "what a verdict with a profile and K echoes can tell apart",
		ArgsUsage: " ",
		Description: "For one endpoint's profile and K echoes: the verdict's threshold for the stated\n" +
			"false-reject rate (and what the fitted model and the empirical quantiles each\n" +
			"achieve at it), the false-accept rate of a relay at --distance-km and at 1, 10,\n" +
			"50, 100 and 500 km, the resolution (the nearest relay excluded at FAR 1e-6),\n" +
			"the vacuum distance bound of a prover right at the threshold, and what latency\n" +
			"cannot show. No round trips needed: these depend on the profile and K alone.\n" +
			"Lab profiles are used only with --origin lab.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profiles", Usage: "profiles `FILE` (from 'poc calibrate fit')", Required: true},
			&cli.StringFlag{Name: "endpoint", Usage: "endpoint `NAME` as the profiles name it", Required: true},
			&cli.IntFlag{Name: "echoes", Usage: "echoes `K` the prover times", Required: true},
			&cli.IntFlag{Name: "echoes-per-conn", Value: tlsprobe.DefaultEchoesPerConn, Usage: "the prover's `N` echoes per connection (its --echoes-per-conn)"},
			&cli.Float64Flag{Name: "distance-km", Usage: "distance `D` (km) of the relay whose false-accept rate to state", Required: true},
			&cli.Float64Flag{Name: "frr", Value: verdict.DefaultFRR, Usage: "false-reject rate `X` the threshold holds"},
			&cli.StringFlag{Name: "origin", Value: string(profile.OriginReal), Usage: "profile origin: `real` or lab"},
			&cli.StringFlag{Name: "clock", Value: string(profile.ClockCounter), Usage: "profile clock: `counter` or kernel"},
			&cli.StringFlag{Name: "method", Usage: "echo `METHOD` (h2-ping or http1), when the endpoint has profiles of both"},
			&cli.StringFlag{Name: "vantage", Usage: "calibration vantage `NAME`, when the endpoint has profiles from several"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		},
		Action: runCalibratePower,
	}
}

// powerReport is what 'calibrate power' prints.
type powerReport struct {
	DistanceKm float64 `json:"distance_km"`
	// FARAtDistance is the false-accept rate of a relay DistanceKm away.
	FARAtDistance float64 `json:"far_at_distance"`
	report.PowerFigures
}

func runCalibratePower(c *cli.Context) error {
	if c.Args().Present() {
		return usage("calibrate power takes no arguments, got %q", c.Args().Slice())
	}
	k, d, frr := c.Int("echoes"), c.Float64("distance-km"), c.Float64("frr")
	if k < 1 || k > verdict.MaxK {
		return usage("--echoes %d: want 1 to %d", k, verdict.MaxK)
	}
	if !(d >= 0 && d <= math.Pi*verdict.EarthRadiusKm) {
		return usage("--distance-km %v: want 0 to %.0f (half the Earth's circumference)", d, math.Pi*verdict.EarthRadiusKm)
	}
	if !(frr > 0 && frr < 1) {
		return usage("--frr %v: want a probability strictly between 0 and 1", frr)
	}
	origin, clock := profile.Origin(c.String("origin")), profile.Clock(c.String("clock"))
	if origin != profile.OriginReal && origin != profile.OriginLab {
		return usage("--origin %q: want real or lab", origin)
	}
	if clock != profile.ClockCounter && clock != profile.ClockKernel {
		return usage("--clock %q: want counter or kernel", clock)
	}
	pf, err := readProfiles(c.String("profiles"))
	if err != nil {
		return err
	}
	p, err := pickProfile(pf, c.String("endpoint"), origin, clock, c.String("method"), c.String("vantage"))
	if err != nil {
		return err
	}
	if c.Int("echoes-per-conn") < 1 {
		return usage("--echoes-per-conn %d: want at least 1", c.Int("echoes-per-conn"))
	}
	fig, err := report.Power(p, k, c.Int("echoes-per-conn"), verdict.Options{FRR: frr, DistancesKm: []float64{d}})
	if err != nil {
		return exit(exitCouldNot, fmt.Errorf("profile %s: %w", p.Name(), err))
	}
	far, _ := fig.FARAt(d)
	rep := powerReport{DistanceKm: d, FARAtDistance: far, PowerFigures: fig}
	if c.Bool("json") {
		return printJSON(c.App.Writer, rep)
	}
	printPower(c.App.Writer, p, rep)
	return nil
}

// readProfiles reads and validates a profile file.
func readProfiles(path string) (*profile.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exit(exitCouldNot, withHint(err, "'poc calibrate fit DATASET... --out FILE' writes a profiles file"))
	}
	defer f.Close()
	pf, err := profile.Read(f)
	if err != nil {
		return nil, exit(exitCouldNot, fmt.Errorf("reading profiles %s: %w", path, err))
	}
	return pf, nil
}

// pickProfile finds the one profile of an endpoint with the origin, clock
// and, when given, method and vantage asked for; anything else is a usage
// error whose hint lists what the file has.
func pickProfile(pf *profile.File, endpoint string, origin profile.Origin, clock profile.Clock, method, vantage string) (*profile.Profile, error) {
	var ofEndpoint, matches []*profile.Profile
	for i := range pf.Profiles {
		p := &pf.Profiles[i]
		if p.Endpoint != endpoint {
			continue
		}
		ofEndpoint = append(ofEndpoint, p)
		if p.Origin == origin && p.Clock == clock && (method == "" || p.Method == method) && (vantage == "" || p.Vantage.Name == vantage) {
			matches = append(matches, p)
		}
	}
	describe := func(ps []*profile.Profile) string {
		var s []string
		for _, p := range ps {
			s = append(s, fmt.Sprintf("%s %s (origin %s, clock %s, vantage %s)", p.Endpoint, p.Method, p.Origin, p.Clock, p.Vantage.Name))
		}
		return strings.Join(s, "; ")
	}
	switch {
	case len(ofEndpoint) == 0:
		var names []string
		for i := range pf.Profiles {
			names = append(names, pf.Profiles[i].Endpoint)
		}
		slices.Sort(names)
		return nil, exit(exitUsage, withHint(fmt.Errorf("no profile of endpoint %q", endpoint),
			"the file has profiles of: "+strings.Join(slices.Compact(names), ", ")))
	case len(matches) == 0:
		hint := "the endpoint's profiles: " + describe(ofEndpoint)
		if origin == profile.OriginReal && slices.ContainsFunc(ofEndpoint, func(p *profile.Profile) bool { return p.Origin == profile.OriginLab }) {
			hint += "; lab profiles are used only with --origin lab"
		}
		return nil, exit(exitUsage, withHint(fmt.Errorf("no %s profile of endpoint %q with clock %s%s", origin, endpoint, clock, choice(method, vantage)), hint))
	case len(matches) > 1:
		return nil, exit(exitUsage, withHint(fmt.Errorf("%d profiles of endpoint %q match", len(matches), endpoint),
			"choose one with --method or --vantage: "+describe(matches)))
	}
	return matches[0], nil
}

func choice(method, vantage string) string {
	s := ""
	if method != "" {
		s += ", method " + method
	}
	if vantage != "" {
		s += ", vantage " + vantage
	}
	return s
}

// rate formats a probability: 0 exactly, else three significant digits.
func rate(x float64) string {
	if x == 0 {
		return "0"
	}
	return fmt.Sprintf("%.3g", x)
}

func km(x float64) string {
	if math.IsInf(x, 1) {
		return "∞ km"
	}
	if x < 10 {
		return fmt.Sprintf("%.2f km", x)
	}
	return fmt.Sprintf("%.1f km", x)
}

func printPower(w io.Writer, p *profile.Profile, r powerReport) {
	fmt.Fprintf(w, "verdict power for %s (%s), %s/%s — profile origin %s, vantage %s, clock %s, %d samples\n",
		p.Endpoint, p.Method, p.Provider, p.Region, p.Origin, p.Vantage.Name, p.Clock, p.Count)
	if p.Origin == profile.OriginLab {
		fmt.Fprintln(w, "LAB PROFILE: its delays are emulated by the loopback lab, not measured in a cloud region.")
	}
	fmt.Fprintf(w, "\nK = %d echoes; statistic: the minimum; basis: %s\n", r.K, r.Basis)
	fmt.Fprintf(w, "  threshold             %s (model %s, empirical %s)\n", us(r.Threshold), usOr(r.ThresholdModel), usOr(r.ThresholdEmpirical))
	fmt.Fprintf(w, "  false-reject rate     stated %s; achieved %s (model), %s (empirical)\n", rate(r.FRR), rate(r.FRRModel), rate(r.FRREmpirical))
	fmt.Fprintf(w, "  too-fast floor        %s (a faster echo is rejected: a misstated counter frequency)\n", us(r.FloorNs))
	fmt.Fprintf(w, "  false-accept rate     %s for a relay at %g km\n", rate(r.FARAtDistance), r.DistanceKm)
	for _, pt := range r.FAR {
		if pt.DistanceKm != r.DistanceKm {
			fmt.Fprintf(w, "                        %s at %g km\n", rate(pt.FAR), pt.DistanceKm)
		}
	}
	fmt.Fprintf(w, "  resolution            %s: relays this far or farther pass with probability at most %s\n", km(r.ResolutionKm), rate(r.FARTarget))
	fmt.Fprintf(w, "  vacuum bound          %s at the threshold, if the endpoint's processing takes at least %s as in calibration;\n",
		km(r.BoundKm), us(r.ProcessingFloorNs))
	fmt.Fprintf(w, "                        %s assuming nothing (threshold × c/2, c = 299,792.458 km/s)\n", km(r.BoundNoFloorKm))
	fmt.Fprintf(w, "  same metro            a relay %g km away passes with probability %s\n", verdict.MetroKm, rate(r.MetroFAR))
	fmt.Fprintln(w, "\nwhat this cannot show:")
	for _, l := range r.Limitations {
		fmt.Fprintf(w, "  - %s\n", l)
	}
	if !r.SameMetro {
		// The verdict words the metro limitation by resolution then; say
		// the general fact too.
		fmt.Fprintln(w, "  - in general, a relay in the same metro (a colocation site a few km away) cannot be told apart by latency:\n"+
			"    intra-region round trips spread over 0.1-0.4 ms within a zone and up to 2 ms across zones")
	}
}

func usOr(ns float64) string {
	if ns == 0 {
		return "-"
	}
	return us(ns)
}
