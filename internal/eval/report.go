package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latencyproof/poc/calibration/profile"
)

// Report files written into the output directory.
const (
	// ReportFile is the Markdown report.
	ReportFile = "eval.md"
	// JSONFile is the Result as JSON.
	JSONFile = "eval.json"
	// ProbesFile holds every probe, one JSON document a line.
	ProbesFile = "probes.jsonl"
	// ResolutionPlot compares the resolutions.
	ResolutionPlot = "resolution.png"
)

// RegimePlot is the file name of a regime's error-rate figure.
func RegimePlot(regime string) string { return "far-" + regime + ".png" }

// WriteReport writes the evaluation to dir: the Markdown report, the
// result as JSON, every probe (JSON Lines), each regime's lab world and
// fitted profiles (echo and handshake), and the figures (PNG).
func WriteReport(dir string, res *Result) error {
	if res == nil || len(res.Ks) == 0 || len(res.DistancesKm) == 0 {
		return fmt.Errorf("%w: an empty result", ErrOptions)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the report directory: %w", err)
	}
	write := func(name string, b []byte) error {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		return nil
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	if err := write(JSONFile, append(js, '\n')); err != nil {
		return err
	}
	var pb bytes.Buffer
	bw := bufio.NewWriter(&pb)
	enc := json.NewEncoder(bw)
	for i := range res.Probes {
		if err := enc.Encode(&res.Probes[i]); err != nil {
			return fmt.Errorf("encoding probe %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := write(ProbesFile, pb.Bytes()); err != nil {
		return err
	}
	for i := range res.Regimes {
		rr := &res.Regimes[i]
		name := rr.Regime.Name
		if w := res.Worlds[name]; w != nil {
			b, err := json.MarshalIndent(w, "", "  ")
			if err != nil {
				return fmt.Errorf("encoding the %s world: %w", name, err)
			}
			if err := write("world-"+name+".json", append(b, '\n')); err != nil {
				return err
			}
		}
		for _, pf := range []struct {
			file string
			f    *profile.File
		}{{"profiles-" + name + ".json", rr.EchoProfile}, {"handshake-profiles-" + name + ".json", rr.HandshakeProfile}} {
			if pf.f == nil {
				continue
			}
			var b bytes.Buffer
			if err := profile.Write(&b, pf.f); err != nil {
				return fmt.Errorf("%s: %w", pf.file, err)
			}
			if err := write(pf.file, b.Bytes()); err != nil {
				return err
			}
		}
		png, err := PlotRegime(res, rr)
		if err != nil {
			return fmt.Errorf("regime %s: %w", name, err)
		}
		if err := write(RegimePlot(name), png); err != nil {
			return err
		}
	}
	png, err := PlotResolution(res)
	if err != nil {
		return err
	}
	if err := write(ResolutionPlot, png); err != nil {
		return err
	}
	return write(ReportFile, Markdown(res, ""))
}

// fmtP formats a probability.
func fmtP(p float64) string {
	switch {
	case p < 0:
		return "—"
	case p == 0:
		return "0"
	case p >= 0.01:
		return fmt.Sprintf("%.3g", p)
	}
	return fmt.Sprintf("%.2g", p)
}

// fmtRate formats a measured rate: x/N with its interval.
func fmtRate(r Rate) string {
	if r.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%d/%d [%s, %s]", r.X, r.N, fmtP(r.Lo), fmtP(r.Hi))
}

func fmtUs(ns float64) string { return fmt.Sprintf("%.1f µs", ns/1e3) }

// fmtUsOr formats a duration that may not have been computed (0).
func fmtUsOr(ns float64) string {
	if !(ns > 0) {
		return "—"
	}
	return fmtUs(ns)
}

func fmtKm(km float64) string {
	switch {
	case km < 0:
		return "none"
	case km < 10:
		return fmt.Sprintf("%.1f km", km)
	}
	return fmt.Sprintf("%.0f km", km)
}

// fmtRefused formats what was measured: the smallest tested distance from
// which on no relay passed, with the bound on FAR there.
func fmtRefused(r *Row) string {
	if r.RefusedKm == 0 {
		return "some relay passed at every tested distance"
	}
	return fmt.Sprintf("%s (FAR ≤ %s)", fmtKm(r.RefusedKm), fmtP(r.RefusedFARUpper))
}

var methodNames = map[string]string{
	MethodProbeLevel:        "K echoes, probe level (the verdict)",
	MethodConnModel:         "K echoes, connection model",
	MethodPerEcho:           "K echoes, per-echo model",
	MethodOneConn:           "K echoes as one connection (dependence-free)",
	MethodHandshakesRTTs:    "K handshakes (independent)",
	MethodHandshakesOneConn: "K handshakes, dependence-free (union bound)",
	MethodHandshakesConns:   "K/4 handshakes (the proof's own)",
}

// Markdown renders the report. figDir prefixes the figures' paths (""
// when they sit beside the report).
func Markdown(res *Result, figDir string) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	if res == nil || len(res.Ks) == 0 || len(res.DistancesKm) == 0 {
		return []byte("# poc eval\n\nNo result.\n")
	}
	mode := "full"
	if res.Quick {
		mode = "quick (CI-sized: too few probes for anything but the structure)"
	}
	p("# poc eval: false-accept and false-reject rates against relay distance\n\n")
	p("Loopback lab, %s run, seed %d, %s, %.0f s, on %d CPUs (%s, %s/%s, %s).\n\n",
		mode, res.Seed, res.Started.Format(time.RFC3339), res.Seconds, res.Machine.CPUs, orUnknown(res.Machine.CPUModel), res.Machine.GOOS, res.Machine.GOARCH, res.Machine.GoVersion)
	p("**Lab-made figures.** Delays are emulated by a userspace relay on loopback; nothing here was measured against a cloud. ")
	p("See docs/EVALUATION.md for the method and its limitations.\n\n")
	p("- Per regime: %d calibration probes, %d honest probes, %d relay probes at each of %v km; every probe times %d echoes on connections of %d (K < %d: the probe's first K/%d connections).\n",
		res.CalibrationProbes, res.HonestProbes, res.RelayProbes, res.DistancesKm, res.Ks[len(res.Ks)-1], res.EchoesPerConn, res.Ks[len(res.Ks)-1], res.EchoesPerConn)
	p("- Distances are vacuum-equivalent: a relay at d km adds exactly 2d/c to every round trip, the verdict's worst case.\n")
	p("- Stated FRR %g; resolution = the smallest distance with predicted FAR ≤ %g. Intervals: exact (Clopper–Pearson) %g%%. ", res.FRR, res.FARTarget, 100*res.Confidence)
	p("A measured FAR of 10⁻⁶ would need millions of probes: the measured column is the smallest tested distance from which on no relay passed, and the upper bound on FAR that 0 of N allows there.\n")
	p("- Models, all on the same probes: **probe level** (the verdict as it decides proofs: the profile's distribution of a whole probe's fastest echo for K/%d connections of %d, so no assumption about the dependence between connections), **connection model** (the same profile without probe levels: connections independent), **per-echo model** (without connection levels either: echoes independent), **dependence-free** (all K echoes as one connection: the FRR rests on the first connection alone).\n\n",
		res.EchoesPerConn, res.EchoesPerConn)

	p("## Headline\n\n")
	p("Predicted resolution and honest probes rejected (stated FRR %g) per model; for the verdict (probe level) its threshold and what the relays showed.\n\n", res.FRR)
	p("| regime | K | probe level: threshold | resolution | measured: no relay passed from | honest rejected | connection model: resolution | honest rejected | per-echo model: resolution | honest rejected | dependence-free: resolution | honest rejected |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := range res.Regimes {
		rr := &res.Regimes[i]
		for _, k := range res.Ks {
			pl, cm, pe, oc := rr.Row(MethodProbeLevel, k), rr.Row(MethodConnModel, k), rr.Row(MethodPerEcho, k), rr.Row(MethodOneConn, k)
			if pl == nil || cm == nil || pe == nil || oc == nil {
				continue
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rr.Regime.Name, k, fmtUs(pl.ThresholdNs), fmtKm(pl.ResolutionKm), fmtRefused(pl), fmtRate(pl.Rejected),
				fmtKm(cm.ResolutionKm), fmtRate(cm.Rejected), fmtKm(pe.ResolutionKm), fmtRate(pe.Rejected), fmtKm(oc.ResolutionKm), fmtRate(oc.Rejected))
		}
	}
	p("\nHonest probes rejected, every regime and K together (the K are prefixes of the same probes, so these are decisions, not independent probes), at the stated FRR %g: ", res.FRR)
	for i, m := range []string{MethodProbeLevel, MethodConnModel, MethodPerEcho, MethodOneConn} {
		x, n := 0, 0
		for j := range res.Regimes {
			for _, k := range res.Ks {
				if row := res.Regimes[j].Row(m, k); row != nil {
					x, n = x+row.Rejected.X, n+row.Rejected.N
				}
			}
		}
		if i > 0 {
			p("; ")
		}
		p("%s %s", methodNames[m], fmtRate(NewRate(x, n, res.Confidence)))
	}
	// The same at the second stated FRR, where the data can show it.
	for _, frr := range []float64{AltFRR} {
		var x, n [3]int
		for j := range res.Regimes {
			for _, mr := range res.Regimes[j].Models {
				if mr.StatedFRR != frr {
					continue
				}
				for c, cell := range []ModelCell{mr.Probe, mr.Conn, mr.PerEcho} {
					x[c], n[c] = x[c]+cell.Rejected.X, n[c]+cell.Rejected.N
				}
			}
		}
		if n[0] == 0 {
			continue
		}
		p(". At a stated FRR of %g: probe level %s, connection model %s, per-echo model %s", frr,
			fmtRate(NewRate(x[0], n[0], res.Confidence)), fmtRate(NewRate(x[1], n[1], res.Confidence)), fmtRate(NewRate(x[2], n[2], res.Confidence)))
	}
	p(".\n\n")
	p("Echoes against handshakes on the same paths: predicted resolution (FAR %g at stated FRR %g), with the honest probes rejected. Like for like: the connection model against K handshakes taken as independent; the thresholds whose FRR holds whatever the dependence (probe level, dependence-free) against K handshakes dependence-free.\n\n", res.FARTarget, res.FRR)
	p("| regime | K | echoes, probe level | echoes, connection model | K handshakes (independent) | gain | echoes, dependence-free | K handshakes, dependence-free | gain (probe level) | gain (dependence-free) | K/4 handshakes (the proof's own) | gain (probe level) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := range res.Regimes {
		rr := &res.Regimes[i]
		for _, k := range res.Ks {
			pl, cm, h, oc, ho, hc := rr.Row(MethodProbeLevel, k), rr.Row(MethodConnModel, k), rr.Row(MethodHandshakesRTTs, k), rr.Row(MethodOneConn, k), rr.Row(MethodHandshakesOneConn, k), rr.Row(MethodHandshakesConns, k)
			if pl == nil || cm == nil || h == nil || oc == nil || ho == nil || hc == nil {
				continue
			}
			cell := func(r *Row) string {
				return fmt.Sprintf("%s (%d/%d)", fmtKm(r.ResolutionKm), r.Rejected.X, r.Rejected.N)
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rr.Regime.Name, k, cell(pl), cell(cm), cell(h), fmtGain(Gain(h.ResolutionKm, cm.ResolutionKm)),
				cell(oc), cell(ho), fmtGain(Gain(ho.ResolutionKm, pl.ResolutionKm)), fmtGain(Gain(ho.ResolutionKm, oc.ResolutionKm)), cell(hc), fmtGain(Gain(hc.ResolutionKm, pl.ResolutionKm)))
		}
	}
	p("\n![resolution against K](%s)\n\n", filepath.ToSlash(filepath.Join(figDir, ResolutionPlot)))

	for i := range res.Regimes {
		rr := &res.Regimes[i]
		r := rr.Regime
		p("## Regime %s: %s\n\n", r.Name, r.Title)
		p("Every route: %v fixed each way, plus %s jitter per chunk and direction. Why: %s.\n\n", time.Duration(r.Base), jitterText(r), r.Why)
		c := rr.Calibration
		p("Calibration: %d probes (%d failed), %d connections; echoes min %s, p1 %s, median %s, p99 %s (model %s); handshakes min %s, median %s, p99 %s (model %s); connection levels K = %v. ",
			c.Probes, c.Failures, c.Connections, fmtUs(c.Echo.Min), fmtUs(c.Echo.P01), fmtUs(c.Echo.P50), fmtUs(c.Echo.P99), orUnknown(c.EchoModel),
			fmtUs(c.Handshake.Min), fmtUs(c.Handshake.P50), fmtUs(c.Handshake.P99), orUnknown(c.HandshakeModel), c.Levels)
		p("Honest evaluation echoes: median %s, p99 %s. Failed probes: %d honest, %d relay.\n\n", fmtUs(rr.Honest.P50), fmtUs(rr.Honest.P99), rr.HonestFailures, rr.RelayFailures)
		p("Probe levels (K < %d: the calibration probes' first K/%d connections), and the verdict's threshold at the stated FRR %g: the larger of what the level's fitted model and its empirical quantiles alone give (the conservative basis).\n\n| K | connections | calibration probes | model | 0.999 quantile | slowest probe's minimum | threshold | model's | empirical |\n|---|---|---|---|---|---|---|---|---|\n",
			res.Ks[len(res.Ks)-1], res.EchoesPerConn, res.FRR)
		for _, l := range c.ProbeLevels {
			q := "not stated (fewer than 1,000 probes)"
			if l.P999Ns > 0 {
				q = fmtUs(l.P999Ns)
			}
			t, tm, te := "—", "—", "—"
			if row := rr.Row(MethodProbeLevel, l.K); row != nil {
				t, tm, te = fmtUs(row.ThresholdNs), fmtUsOr(row.ThresholdModelNs), fmtUsOr(row.ThresholdEmpiricalNs)
			}
			p("| %d | %v | %d | %s | %s | %s | %s | %s | %s |\n", l.K, l.Conns, l.Probes, orUnknown(l.Model), q, fmtUs(l.MaxNs), t, tm, te)
		}
		p("\n")
		dp := rr.Dependence
		p("Dependence between connections (Spearman rank correlation of connection minima, %d probes of the honest vantage; the connection model assumes 0): adjacent connections of a probe %.2f, its first and last %.2f, first connections of consecutive probes %.2f.\n\n",
			dp.Probes, dp.AdjacentConns, dp.FirstLastConns, dp.AdjacentProbes)
		p("![%s](%s)\n\n", r.Name, filepath.ToSlash(filepath.Join(figDir, RegimePlot(r.Name))))
		p("### Thresholds, honest rejections, resolution\n\n")
		p("| method | K | timed | connections | unit | threshold | floor | honest rejected (stated %g) | predicted resolution | measured: no relay passed from |\n|---|---|---|---|---|---|---|---|---|---|\n", res.FRR)
		for _, m := range Methods {
			for _, k := range res.Ks {
				row := rr.Row(m, k)
				if row == nil {
					continue
				}
				tf := ""
				if row.TooFast > 0 {
					tf = fmt.Sprintf(" (%d too fast)", row.TooFast)
				}
				p("| %s | %d | %d | %d | %s | %s | %s | %s%s | %s | %s |\n", methodNames[m], k, row.Timed, row.Conns, row.Unit, fmtUs(row.ThresholdNs), fmtUs(row.FloorNs),
					fmtRate(row.Rejected), tf, fmtKm(row.ResolutionKm), fmtRefused(row))
			}
		}
		for _, m := range []string{MethodProbeLevel, MethodConnModel, MethodHandshakesRTTs} {
			p("\n### False-accept rate against distance: %s\n\n", methodNames[m])
			p("Predicted FAR(d) and relay probes accepted (95%% interval).\n\n| d |")
			for _, k := range res.Ks {
				p(" K = %d predicted | K = %d accepted |", k, k)
			}
			p("\n|---|")
			for range res.Ks {
				p("---|---|")
			}
			p("\n")
			for di, d := range res.DistancesKm {
				p("| %g km |", d)
				for _, k := range res.Ks {
					row := rr.Row(m, k)
					if row == nil || di >= len(row.Points) {
						p(" — | — |")
						continue
					}
					pt := row.Points[di]
					p(" %s | %s |", fmtP(pt.PredictedFAR), fmtRate(pt.Accepted))
				}
				p("\n")
			}
		}
		p("\n### The verdict's limitations (probe level)\n\n")
		seen := map[string]bool{}
		for _, k := range res.Ks {
			if row := rr.Row(MethodProbeLevel, k); row != nil {
				for _, l := range row.Limitations {
					if !seen[l] {
						seen[l] = true
						p("- K = %d: %s\n", k, l)
					}
				}
			}
		}
		if len(seen) == 0 {
			p("None stated.\n")
		}
		p("\n### Marginal or dependence? The connection model's product, checked\n\n")
		p("At the connection model's threshold: the calibration connections slower than it (fastest echo above it), what independence predicts for all C of a probe's connections (that share to the power C: the stated FRR, up to the conservative basis), and the honest probes whose C connections were all slower.\n\n")
		p("| K | C | threshold | calibration connections slower | honest connections slower | independence predicts all C slower | honest probes all C slower | ratio |\n|---|---|---|---|---|---|---|---|\n")
		for _, ir := range rr.Independence {
			ratio := "—"
			if ir.Predicted > 0 {
				ratio = fmt.Sprintf("%.1f×", ir.AllSlow.Rate/ir.Predicted)
			}
			p("| %d | %d | %s | %s | %s | %s | %s | %s |\n", ir.K, ir.Conns, fmtUs(ir.ThresholdNs), fmtP(ir.CalibSlow.Rate), fmtP(ir.HonestSlow.Rate), fmtP(ir.Predicted), fmtRate(ir.AllSlow), ratio)
		}
		p("\n### Probe level, connection model and per-echo model, same honest probes\n\n")
		p("| K | stated FRR | probe level: threshold | rejected | connection model: threshold | rejected | per-echo model: threshold | rejected | predicted resolution, probe / connection / per-echo |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, m := range rr.Models {
			p("| %d | %g | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n", m.K, m.StatedFRR, fmtUs(m.Probe.ThresholdNs), fmtRate(m.Probe.Rejected),
				fmtUs(m.Conn.ThresholdNs), fmtRate(m.Conn.Rejected), fmtUs(m.PerEcho.ThresholdNs), fmtRate(m.PerEcho.Rejected),
				fmtKm(m.Probe.ResolutionKm), fmtKm(m.Conn.ResolutionKm), fmtKm(m.PerEcho.ResolutionKm))
		}
		p("\n")
	}
	p("## Files\n\n")
	p("- `%s`: this report's numbers (and the predicted FAR curves); `%s`: every probe (round trips, connections, handshakes); ", JSONFile, ProbesFile)
	p("`world-<regime>.json`: the lab worlds (`poc lab serve --world`); `profiles-<regime>.json` (with its connection and probe levels) and `handshake-profiles-<regime>.json`: the fitted lab profiles.\n")
	return []byte(b.String())
}

func jitterText(r Regime) string {
	j := r.Jitter
	switch j.Dist {
	case "uniform":
		return fmt.Sprintf("uniform (0 to %v)", time.Duration(j.Max))
	case "exponential":
		return fmt.Sprintf("exponential (mean %v)", time.Duration(j.Mean))
	case "lognormal":
		return fmt.Sprintf("log-normal (mean %v, sd %v)", time.Duration(j.Mean), time.Duration(j.Stddev))
	}
	return j.Dist
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func fmtGain(g float64) string {
	if math.IsNaN(g) {
		return "—"
	}
	return fmt.Sprintf("%.1f×", g)
}

// Gain is the ratio of two resolutions (handshake over echoes), NaN when
// either is not positive.
func Gain(handshakeKm, echoKm float64) float64 {
	if !(handshakeKm > 0 && echoKm > 0) {
		return math.NaN()
	}
	return handshakeKm / echoKm
}
