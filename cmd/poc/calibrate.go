package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/calibration"
	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
)

// calibrateSubcommands build the subcommands of 'poc calibrate', in the
// order 'poc calibrate help' lists them. Commands that live in other files
// (fit, power, report) join by appending their constructor from an init
// function. Constructors rather than commands, so that every app gets fresh
// ones: urfave/cli keeps parsed flag values in a command.
var calibrateSubcommands = []func() *cli.Command{
	calibrateRunCommand,
	calibrateExportCommand,
}

func calibrateCommand() *cli.Command {
	subs := make([]*cli.Command, len(calibrateSubcommands))
	for i, f := range calibrateSubcommands {
		subs[i] = f()
	}
	return &cli.Command{
		Name:  "calibrate",
		Usage: "calibration campaigns: probe a catalog's endpoints from a vantage, export the samples",
		Description: "A campaign probes every endpoint of a catalog, round after round, from one\n" +
			"vantage (a VM in a cloud region, or a vantage of the loopback lab), and appends\n" +
			"each timed echo to a dataset file (JSON Lines, see docs/datasets.md). It can be\n" +
			"killed at any moment and resumed with --resume.",
		Subcommands: subs,
	}
}

func calibrateRunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run or resume a calibration campaign",
		ArgsUsage: " ",
		Description: "Probes the catalog's endpoints (edge entries only with --include-edge) for N\n" +
			"rounds, in an order drawn per round from the seed, with K echoes per probe and\n" +
			"the endpoint's echo method and budget. Failures are recorded, never fatal.\n" +
			"In the lab (--lab STATE) probes go through the vantage's relays and trust the\n" +
			"lab CA; elsewhere describe the vantage with --vantage-provider and\n" +
			"--vantage-region (and --lat/--lon unless the catalog has that region).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "catalog", Usage: "endpoint catalog `FILE` (a lab state file works too; default with --lab: the lab's catalog)"},
			&cli.StringFlag{Name: "lab", Usage: "lab state `FILE` (from 'poc lab serve'): probe through the lab"},
			&cli.StringFlag{Name: "vantage", Usage: "`NAME` of the vantage (with --lab: one of the lab's vantages)", Required: true},
			&cli.StringFlag{Name: "vantage-provider", Usage: "cloud `PROVIDER` of the vantage (azure, aws, gcp, ...)"},
			&cli.StringFlag{Name: "vantage-region", Usage: "`REGION` of the vantage, as the catalog names regions"},
			&cli.Float64Flag{Name: "lat", Usage: "`LATITUDE` of the vantage", DefaultText: "the catalog's for the vantage's region"},
			&cli.Float64Flag{Name: "lon", Usage: "`LONGITUDE` of the vantage", DefaultText: "the catalog's for the vantage's region"},
			&cli.IntFlag{Name: "rounds", Usage: "rounds `N`", DefaultText: fmt.Sprintf("%d; when resuming, as recorded", calibration.DefaultRounds)},
			&cli.IntFlag{Name: "echoes", Usage: "echoes `K` per probe", DefaultText: fmt.Sprintf("%d; when resuming, as recorded", calibration.DefaultEchoes)},
			&cli.IntFlag{Name: "echoes-per-conn", Usage: "at most `N` of a probe's echoes on one connection (an endpoint's budget may allow fewer); use the size proofs will use", DefaultText: fmt.Sprintf("%d; when resuming, as recorded", tlsprobe.DefaultEchoesPerConn)},
			&cli.Uint64Flag{Name: "seed", Usage: "seed `N` of the endpoint order", DefaultText: "random; when resuming, as recorded"},
			&cli.StringFlag{Name: "out", Usage: "dataset `FILE` to write", Required: true},
			&cli.BoolFlag{Name: "resume", Usage: "continue the campaign in --out (or start it if the file does not exist)"},
			&cli.StringFlag{Name: "id", Usage: "campaign `ID` (default: vantage, time and a random suffix)"},
			&cli.StringSliceFlag{Name: "endpoint", Usage: "probe only this catalog `NAME` (repeatable)"},
			&cli.BoolFlag{Name: "include-edge", Usage: "probe edge entries too (they prove nothing about a region)"},
			&cli.DurationFlag{Name: "timeout", Usage: "`DURATION` bound on each connection", DefaultText: "30s"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress on stderr"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON document on stdout"},
		},
		Action: runCalibrate,
	}
}

func calibrateExportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "convert a dataset to Parquet (for DuckDB, pandas, Spark)",
		ArgsUsage: " ",
		Description: "Reads the dataset with every check and writes one flat Parquet table: round\n" +
			"trips NULL where absent, times as TIMESTAMP(NANOS, UTC), the dataset's header in\n" +
			"the file metadata (key poc.header). A crashed campaign must be resumed first.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "in", Usage: "dataset `FILE` (JSON Lines)", Required: true},
			&cli.StringFlag{Name: "parquet", Usage: "Parquet `FILE` to write", Required: true},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing Parquet file"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON document on stdout"},
		},
		Action: runCalibrateExport,
	}
}

// calibrateSummary is what 'calibrate run' reports on stdout.
type calibrateSummary struct {
	Campaign string `json:"campaign"`
	Out      string `json:"out"`
	Units    int    `json:"units"`
	Done     int    `json:"done"`
	Resumed  int    `json:"resumed"`
	Samples  uint64 `json:"samples"`
	Measured int    `json:"measured"`
	Failures int    `json:"failures"`
	Skipped  int    `json:"skipped"`
	Complete bool   `json:"complete"`
}

func runCalibrate(c *cli.Context) error {
	if c.Args().Present() {
		return usage("calibrate run takes no arguments, got %q", c.Args().Slice())
	}
	camp := calibration.Campaign{
		ID:            c.String("id"),
		Vantage:       dataset.Vantage{Name: c.String("vantage"), Provider: c.String("vantage-provider"), Region: c.String("vantage-region")},
		Rounds:        c.Int("rounds"),
		Echoes:        c.Int("echoes"),
		EchoesPerConn: c.Int("echoes-per-conn"),
		Seed:          c.Uint64("seed"),
		Out:           c.String("out"),
		Resume:        c.Bool("resume"),
		Endpoints:     c.StringSlice("endpoint"),
		IncludeEdge:   c.Bool("include-edge"),
		Timeout:       c.Duration("timeout"),
	}
	if c.IsSet("rounds") && camp.Rounds < 1 || c.IsSet("echoes") && camp.Echoes < 1 || c.IsSet("echoes-per-conn") && camp.EchoesPerConn < 1 {
		return usage("--rounds, --echoes and --echoes-per-conn must be at least 1")
	}
	if err := loadCampaignWorld(c, &camp); err != nil {
		return err
	}
	if camp.Lab != nil {
		if err := labAlive(camp.Lab, camp.Vantage.Name); err != nil {
			return err
		}
	}
	rec := &summaryProgress{}
	if !c.Bool("quiet") {
		rec.next = newProgress(c.App.ErrWriter)
	}
	camp.Progress = rec
	ctx, stop := notifyContext(c.Context)
	defer stop()
	err := calibration.Run(ctx, camp)
	s := rec.last
	sum := calibrateSummary{Campaign: s.Campaign, Out: camp.Out, Units: s.Units, Done: s.Done, Resumed: s.Resumed,
		Samples: s.Samples, Measured: s.Measured, Failures: s.Failures, Skipped: s.Skipped, Complete: s.Units > 0 && s.Done == s.Units}
	if err != nil {
		if rec.begun && c.Bool("json") {
			_ = printJSON(c.App.Writer, sum)
		}
		return calibrateError(err, camp.Out)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.App.Writer, "campaign %s: %d of %d probes done (%d this run: %d echoes measured, %d failed, %d skipped while backing off); %d samples in %s\n",
			sum.Campaign, sum.Done, sum.Units, sum.Done-sum.Resumed, sum.Measured, sum.Failures, sum.Skipped, sum.Samples, sum.Out)
	}
	if sum.Done > sum.Resumed && sum.Measured == 0 {
		return exit(exitCouldNot, withHint(errors.New("every probe of this run failed: nothing was measured"),
			"the failures are recorded in the dataset (error, error_kind); check the network, the catalog and the roots"))
	}
	return nil
}

// loadCampaignWorld reads the catalog (or lab state) and sets the campaign's
// catalog, lab and vantage from the flags.
func loadCampaignWorld(c *cli.Context, camp *calibration.Campaign) error {
	labPath, catPath := c.String("lab"), c.String("catalog")
	if labPath == "" && catPath == "" {
		return usage("--catalog FILE is required (or --lab STATE to probe the lab's catalog)")
	}
	if labPath != "" {
		st, err := lab.ReadStateFile(labPath)
		if err != nil {
			return exit(exitCouldNot, withHint(fmt.Errorf("reading lab state %s: %w", labPath, err), "'poc lab serve --state-out FILE' writes it"))
		}
		camp.Lab = st
		if c.IsSet("lat") || c.IsSet("lon") {
			return usage("--lat and --lon do not apply with --lab: the lab places its vantages")
		}
		if _, err := st.Vantage(camp.Vantage.Name); err != nil {
			return exit(exitUsage, err)
		}
		if catPath != "" {
			cat, cst, err := readCatalogOrState(catPath)
			if err != nil {
				return err
			}
			if cst != nil {
				cat = &cst.Catalog
			}
			camp.Catalog = cat
		}
		return nil
	}
	cat, st, err := readCatalogOrState(catPath)
	if err != nil {
		return err
	}
	if st != nil {
		return exit(exitUsage, withHint(fmt.Errorf("%s is a lab state file, and --lab is not given", catPath),
			fmt.Sprintf("to probe through the lab, add --lab %s", catPath)))
	}
	camp.Catalog = cat
	v := &camp.Vantage
	if v.Provider == "" || v.Region == "" {
		return usage("a vantage outside the lab needs --vantage-provider and --vantage-region")
	}
	switch {
	case c.IsSet("lat") && c.IsSet("lon"):
		v.Lat, v.Lon = c.Float64("lat"), c.Float64("lon")
	case c.IsSet("lat") || c.IsSet("lon"):
		return usage("give both --lat and --lon, or neither")
	default:
		lat, lon, ok := calibration.RegionCoords(cat, v.Provider, v.Region)
		if !ok {
			return usage("the catalog has no entry for %s %s to take coordinates from: give --lat and --lon", v.Provider, v.Region)
		}
		v.Lat, v.Lon = lat, lon
	}
	return nil
}

// readCatalogOrState reads a catalog file, or a lab state file (which
// embeds one): a state is told by its lab-only fields.
func readCatalogOrState(path string) (*datasets.Catalog, *lab.State, error) {
	b, err := readFileLimited(path, lab.MaxStateBytes)
	if err != nil {
		return nil, nil, exit(exitCouldNot, err)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) == nil && probe["ca_pem"] != nil && probe["vantages"] != nil {
		st, err := lab.ReadState(bytes.NewReader(b))
		if err != nil {
			return nil, nil, exit(exitCouldNot, fmt.Errorf("reading lab state %s: %w", path, err))
		}
		return &st.Catalog, st, nil
	}
	cat, err := datasets.ReadCatalog(bytes.NewReader(b))
	if err != nil {
		return nil, nil, exit(exitCouldNot, fmt.Errorf("reading catalog %s: %w", path, err))
	}
	return cat, nil, nil
}

// labAlive checks that the lab answers before a campaign spends its rounds
// recording dial failures.
func labAlive(st *lab.State, vantage string) error {
	v, err := st.Vantage(vantage)
	if err != nil {
		return exit(exitUsage, err)
	}
	for _, addr := range v.Routes {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return exit(exitCouldNot, withHint(fmt.Errorf("the lab does not answer at %s: %w", addr, err),
				"is 'poc lab serve' still running? Its state file names the addresses it listened on"))
		}
		conn.Close()
		return nil
	}
	return nil
}

// calibrateError maps a campaign's error to an exit code and a hint.
func calibrateError(err error, out string) error {
	var pe *dataset.PosError
	switch {
	case errors.Is(err, context.Canceled):
		return exit(exitInterrupted, withHint(err, "run the same command with --resume to go on where it stopped"))
	case errors.Is(err, dataset.ErrExists):
		return exit(exitUsage, withHint(err, fmt.Sprintf("add --resume to continue the campaign in %s, or choose another --out", out)))
	case errors.Is(err, calibration.ErrMismatch):
		return exit(exitUsage, withHint(err, "resume with the --catalog, --vantage, --rounds, --echoes, --echoes-per-conn and --seed the campaign began with, or start a new one with another --out"))
	case errors.Is(err, calibration.ErrCampaign):
		return exit(exitUsage, err)
	case errors.Is(err, dataset.ErrHeader):
		return exit(exitCouldNot, withHint(err, fmt.Sprintf("%s is not a poc dataset, or its header is damaged: choose another --out", out)))
	case errors.Is(err, dataset.ErrLocked):
		return exit(exitCouldNot, withHint(err, "another 'poc calibrate run' is writing this dataset; wait for it or stop it"))
	case errors.As(err, &pe):
		return exit(exitCouldNot, withHint(err, "the dataset is damaged before its last unit, which --resume does not repair: look at the line named"))
	}
	return exit(exitCouldNot, err)
}

func runCalibrateExport(c *cli.Context) error {
	if c.Args().Present() {
		return usage("calibrate export takes no arguments, got %q", c.Args().Slice())
	}
	in, out := c.String("in"), c.String("parquet")
	if _, err := os.Stat(out); err == nil && !c.Bool("force") {
		return usage("%s exists; add --force to replace it", out)
	}
	r, err := dataset.Open(in)
	if err != nil {
		return exportError(err)
	}
	h := r.Header()
	r.Close()
	n, err := dataset.ExportParquet(in, out)
	if err != nil {
		return exportError(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			Campaign string `json:"campaign"`
			Samples  uint64 `json:"samples"`
			Parquet  string `json:"parquet"`
		}{h.Campaign, n, out})
	}
	fmt.Fprintf(c.App.Writer, "exported %d samples of campaign %s to %s\n", n, h.Campaign, out)
	return nil
}

func exportError(err error) error {
	if errors.Is(err, dataset.ErrTorn) || errors.Is(err, dataset.ErrIncomplete) {
		return exit(exitCouldNot, withHint(err, "the campaign crashed or is still running: resume it ('poc calibrate run ... --resume') or wait for it to finish"))
	}
	return exit(exitCouldNot, err)
}

// summaryProgress keeps the last status for the summary and passes every
// report on.
type summaryProgress struct {
	next  calibration.Progress
	last  calibration.Status
	begun bool
}

func (p *summaryProgress) Begin(s calibration.Status) {
	p.last, p.begun = s, true
	if p.next != nil {
		p.next.Begin(s)
	}
}

func (p *summaryProgress) Unit(s calibration.Status) {
	p.last = s
	if p.next != nil {
		p.next.Unit(s)
	}
}

func (p *summaryProgress) End(s calibration.Status) {
	p.last = s
	if p.next != nil {
		p.next.End(s)
	}
}

// newProgress returns a progress bar for a terminal, or a line every half
// minute for a log file (a bar's carriage returns make logs unreadable).
func newProgress(w io.Writer) calibration.Progress {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return &barProgress{w: w}
		}
	}
	return &lineProgress{w: w, every: 30 * time.Second}
}

// beginNote says what the campaign leaves out and what resuming found.
func beginNote(w io.Writer, s calibration.Status) {
	if n := len(s.LeftOutEdge); n > 0 {
		fmt.Fprintf(w, "leaving out %d edge entries (they prove nothing about a region; --include-edge probes them)\n", n)
	}
	if n := len(s.LeftOutUnfilled); n > 0 {
		fmt.Fprintf(w, "leaving out %d template entries still holding placeholders (fill the catalog to probe them): %s\n", n, strings.Join(s.LeftOutUnfilled, ", "))
	}
	if r := s.Resume; r != nil {
		fmt.Fprintf(w, "resuming campaign %s: %d of %d probes done", s.Campaign, s.Done, s.Units)
		if r.Cut > 0 {
			fmt.Fprintf(w, "; rolled back an unfinished probe (%d bytes, %d whole lines, torn line: %v)", r.Cut, r.CutLines, r.Torn)
		}
		fmt.Fprintln(w)
	}
}

// barProgress draws a bar with the rate and the time left.
type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Begin(s calibration.Status) {
	beginNote(p.w, s)
	// The bar counts this run's probes only, so that its rate and ETA are
	// this run's.
	p.bar = progressbar.NewOptions(s.Units-s.Done,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("campaign "+s.Campaign),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("probes"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionSetWidth(24),
		progressbar.OptionSetRenderBlankState(true),
	)
}

func (p *barProgress) Unit(s calibration.Status) {
	p.bar.Describe(fmt.Sprintf("round %d/%d, %d failed", s.Round+1, s.Rounds, s.Failures))
	_ = p.bar.Add(1)
}

func (p *barProgress) End(s calibration.Status) {
	if s.Done == s.Units {
		_ = p.bar.Finish()
	} else {
		_ = p.bar.Exit()
	}
	fmt.Fprintln(p.w)
}

// lineProgress writes a status line now and then.
type lineProgress struct {
	w           io.Writer
	every       time.Duration
	start, last time.Time
	shown       int // Done of the last line written
}

func (p *lineProgress) Begin(s calibration.Status) {
	beginNote(p.w, s)
	p.start, p.last, p.shown = time.Now(), time.Now(), s.Done
	fmt.Fprintf(p.w, "campaign %s: %d probes to go\n", s.Campaign, s.Units-s.Done)
}

func (p *lineProgress) Unit(s calibration.Status) {
	if time.Since(p.last) < p.every && s.Done < s.Units {
		return
	}
	p.last = time.Now()
	p.line(s)
}

func (p *lineProgress) End(s calibration.Status) {
	if s.Done != p.shown {
		p.line(s)
	}
}

func (p *lineProgress) line(s calibration.Status) {
	p.shown = s.Done
	n := s.Done - s.Resumed
	el := time.Since(p.start)
	eta := "?"
	if n > 0 {
		eta = (time.Duration(float64(el) / float64(n) * float64(s.Units-s.Done))).Round(time.Second).String()
	}
	pct, rate := 100.0, 0.0
	if s.Units > 0 {
		pct = 100 * float64(s.Done) / float64(s.Units)
	}
	if el > 0 {
		rate = float64(n) / el.Minutes()
	}
	fmt.Fprintf(p.w, "campaign %s: %d/%d probes (%.1f%%), %.1f probes/min, %s left, %d failed, %d skipped\n",
		s.Campaign, s.Done, s.Units, pct, rate, eta, s.Failures, s.Skipped)
}
