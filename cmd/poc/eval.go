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
			"with connection levels and a probe level per K; handshakes), decides every probe\n" +
			"for K = 8, 16 and 32 at FRR 1e-3 with the probe level (the verdict), the\n" +
			"connection model and the per-echo model, and reports the measured rates (95%\n" +
			"Clopper-Pearson intervals) beside the predicted FAR(d) and resolution (FAR 1e-6),\n" +
			"for echoes and for handshake-only timing on the same paths. With --out, writes\n" +
			"eval.md, eval.json, probes.jsonl, the worlds, the profiles and PNG figures. A\n" +
			"full run takes about five minutes on two cores; --quick (for CI) under a\n" +
			"minute, with too few probes for anything but the structure.\n" +
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
	fmt.Fprintln(tw, "regime\tK\tprobe level: threshold\thonest rejected\tresolution\tmeasured: no relay passed from\tconnection model: resolution\trejected\tper-echo model: resolution\trejected\tdependence-free: resolution\trejected\tK handshakes\tK/4 handshakes")
	for i := range r.Regimes {
		rr := &r.Regimes[i]
		for _, k := range r.Ks {
			pl, cm, pe, oc := rr.Row(eval.MethodProbeLevel, k), rr.Row(eval.MethodConnModel, k), rr.Row(eval.MethodPerEcho, k), rr.Row(eval.MethodOneConn, k)
			h, hc := rr.Row(eval.MethodHandshakesRTTs, k), rr.Row(eval.MethodHandshakesConns, k)
			if pl == nil || cm == nil || pe == nil || oc == nil || h == nil || hc == nil {
				continue
			}
			refused := "-"
			if pl.RefusedKm > 0 {
				refused = fmt.Sprintf("%g km (FAR ≤ %.2g)", pl.RefusedKm, pl.RefusedFARUpper)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f µs\t%d/%d\t%s\t%s\t%s\t%d/%d\t%s\t%d/%d\t%s\t%d/%d\t%s\t%s\n", rr.Regime.Name, k, pl.ThresholdNs/1e3,
				pl.Rejected.X, pl.Rejected.N, evalKm(pl.ResolutionKm), refused, evalKm(cm.ResolutionKm), cm.Rejected.X, cm.Rejected.N,
				evalKm(pe.ResolutionKm), pe.Rejected.X, pe.Rejected.N, evalKm(oc.ResolutionKm), oc.Rejected.X, oc.Rejected.N,
				evalKm(h.ResolutionKm), evalKm(hc.ResolutionKm))
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
