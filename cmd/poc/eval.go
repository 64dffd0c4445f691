package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/eval"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "the adversarial evaluation on the loopback lab: FAR and FRR against relay distance, echoes against handshakes",
		ArgsUsage: " ",
		Description: "For two intra-region jitter regimes (same zone, cross zone), starts a lab world\n" +
			"of one region with an HTTP/2 endpoint, an honest vantage and relay vantages 1 to\n" +
			"200 km away (vacuum-equivalent), and runs calibration, honest and relay probes of\n" +
			"32 echoes on connections of 4 in one shuffled order. Fits lab profiles (echoes\n" +
			"with connection levels; handshakes), decides every probe for K = 8, 16 and 32 at\n" +
			"FRR 1e-3, and reports the measured rates (95% Clopper-Pearson intervals) beside\n" +
			"the predicted FAR(d) and resolution (FAR 1e-6), for echoes and for handshake-only\n" +
			"timing on the same paths. With --out, writes eval.md, eval.json, probes.jsonl,\n" +
			"the worlds, the profiles and PNG figures. A full run takes a few minutes; --quick\n" +
			"(for CI) under a minute, with too few probes for anything but the structure.\n" +
			"Progress goes to stderr. Lab-made figures: nothing here is measured in a cloud.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write the report to `DIR`"},
			&cli.BoolFlag{Name: "quick", Usage: "a small run (CI): fewer probes of each kind"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed `N` of the lab's jitter, the probe order and the fits"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		},
		Action: runEval,
	}
}

func runEval(c *cli.Context) error {
	if c.Args().Present() {
		return usage("eval takes no arguments")
	}
	opts := eval.Options{Quick: c.Bool("quick"), Seed: c.Uint64("seed"), Log: c.App.ErrWriter}
	if opts.Seed == 0 {
		return usage("--seed must be positive")
	}
	ctx, stop := notifyContext(c.Context)
	defer stop()
	res, err := eval.Run(ctx, opts)
	switch {
	case errors.Is(err, context.Canceled):
		return exit(exitInterrupted, fmt.Errorf("evaluation interrupted: %w", err))
	case err != nil:
		return exit(exitCouldNot, fmt.Errorf("running the evaluation: %w", err))
	}
	if dir := c.String("out"); dir != "" {
		if err := eval.WriteReport(dir, res); err != nil {
			return exit(exitCouldNot, fmt.Errorf("writing the report: %w", err))
		}
		fmt.Fprintf(c.App.ErrWriter, "report written to %s/%s\n", dir, eval.ReportFile)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	printEval(c.App.Writer, res)
	return nil
}

func printEval(w io.Writer, r *eval.Result) {
	mode := "full"
	if r.Quick {
		mode = "quick"
	}
	fmt.Fprintf(w, "poc eval — %s run on the loopback lab, seed %d, %.0f s (lab-made figures: emulated delays, no cloud)\n", mode, r.Seed, r.Seconds)
	fmt.Fprintf(w, "per regime: %d calibration, %d honest, %d relay probes per distance; stated FRR %g; resolution at FAR %g (vacuum-equivalent km)\n\n",
		r.CalibrationProbes, r.HonestProbes, r.RelayProbes, r.FRR, r.FARTarget)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "regime\tK\tthreshold\thonest rejected\tresolution\tmeasured: no relay passed from\tdependence-free: resolution\trejected\tK handshakes\tK/4 handshakes\tper-echo model rejected")
	for i := range r.Regimes {
		rr := &r.Regimes[i]
		for _, k := range r.Ks {
			e, h, hc := rr.Row(eval.MethodEchoes, k), rr.Row(eval.MethodHandshakesRTTs, k), rr.Row(eval.MethodHandshakesConns, k)
			pe, oc := rr.Row(eval.MethodPerEcho, k), rr.Row(eval.MethodOneConn, k)
			if e == nil || h == nil || hc == nil || pe == nil || oc == nil {
				continue
			}
			refused := "-"
			if e.RefusedKm > 0 {
				refused = fmt.Sprintf("%g km (FAR ≤ %.2g)", e.RefusedKm, e.RefusedFARUpper)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f µs\t%d/%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%d/%d\n", rr.Regime.Name, k, e.ThresholdNs/1e3,
				e.Rejected.X, e.Rejected.N, evalKm(e.ResolutionKm), refused, evalKm(oc.ResolutionKm), oc.Rejected.X, oc.Rejected.N,
				evalKm(h.ResolutionKm), evalKm(hc.ResolutionKm), pe.Rejected.X, pe.Rejected.N)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nA relay in the same metro cannot be told apart; latency proves nearness, never farness (LIMITATIONS.md, docs/EVALUATION.md).")
}

func evalKm(x float64) string {
	if x < 0 {
		return "none"
	}
	return fmt.Sprintf("%.1f km", x)
}
