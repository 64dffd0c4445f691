package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/latencyproof/poc/calibration/report"
	"github.com/latencyproof/poc/tlsprobe"
)

// WriteReport writes the demo's report to dir: the calibration report of
// the lab profiles (RTT CDFs and FAR/FRR against distance, PNG) and
// demo.md, the scenarios with their expected and actual verdicts.
func WriteReport(dir string, r *Result) error {
	rep, err := report.Build(r.Profiles, nil, report.Options{Formats: []report.Format{report.PNG}, Source: "poc demo (lab-made)", FRR: r.FRR, Echoes: []int{r.Echoes}})
	if err != nil {
		return fmt.Errorf("building the calibration report: %w", err)
	}
	if err := rep.WriteDir(dir); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# poc demo\n\nLab world %q, %d scenarios, %.1f s. **Every profile here is lab-made**: it describes the loopback lab, not a cloud.\n\n", r.World, len(r.Scenarios), r.Seconds)
	if r.OK {
		b.WriteString("Every scenario ended in its expected verdict.\n\n")
	} else {
		b.WriteString("**Some scenarios did not end in their expected verdict** (marked ✗).\n\n")
	}
	b.WriteString("| | scenario | expected | verdict | tries | fastest RTT | vacuum bound | reason |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scenarios {
		mark := "✓"
		if !s.Match {
			mark = "✗"
		}
		rtt, bound := "", ""
		if s.MinRTTNs > 0 {
			rtt = fmt.Sprintf("%.3f ms", s.MinRTTNs/1e6)
			bound = fmt.Sprintf("%.0f km", s.BoundKm)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s |\n", mark, s.Scenario, s.Expected, s.Verdict, s.Attempts, rtt, bound, strings.ReplaceAll(s.Reason, "|", "\\|"))
	}
	b.WriteString("\n## What each scenario shows\n\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "- **%s** — %s\n", s.Scenario, s.Note)
		for i, why := range s.Earlier {
			fmt.Fprintf(&b, "  - attempt %d was refused by latency: %s\n", i+1, strings.ReplaceAll(why, "\n", " "))
		}
	}
	fmt.Fprintf(&b, "\nA proof refused by latency may be followed by one more under a fresh challenge (at most %d per scenario), as an operator would retry a refusal; every attacker gets the same tries. Per scenario this at most doubles the false-accept rate and, as long as the machine's slow periods are shorter than the time between attempts, squares the false-reject rate.\n", Attempts)
	b.WriteString("\n## Calibration\n\nThe profiles the verifier used, with their round-trip distributions and the false-accept and false-reject rates of a relay against its distance: [report.md](report.md).\n\n")
	fmt.Fprintf(&b, "Each endpoint was calibrated from its region's vantage with probes of %d echoes on connections of %d, as the proofs carry them; the profiles describe whole probes of that shape, so the verdict assumes nothing about how a probe's connections depend on each other. The verifier states a false-reject rate of %g per proof: a demo's short calibration cannot support the default 10⁻³ on this shared machine without giving up the 10 km relay (docs/EVALUATION.md).\n\n", r.Echoes, tlsprobe.DefaultEchoesPerConn, r.FRR)
	b.WriteString("Latency proves nearness, never farness: the vacuum bound is the only hard statement, and a relay in the same metro cannot be told apart from the region's own zones. See LIMITATIONS.md.\n")
	return os.WriteFile(filepath.Join(dir, "demo.md"), []byte(b.String()), 0o644)
}
