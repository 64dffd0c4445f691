package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "the whole story on the loopback lab: calibrate, then an honest prover and attackers, each verified",
		ArgsUsage: " ",
		Description: "Starts a lab world of three regions at Azure coordinates, runs a calibration\n" +
			"campaign from each region's vantage, fits lab profiles, then makes and verifies\n" +
			"proofs with the simulated TEE: an honest prover in westeurope and a set of\n" +
			"attackers. Prints each scenario's expected and actual verdict; exits non-zero if\n" +
			"any differs. A proof refused by latency may be followed by one more under a\n" +
			"fresh challenge, for every prover alike. A relay in the same metro is expected\n" +
			"\"undecidable\": accepted or refused by latency both match. With --out, writes a\n" +
			"report (Markdown and PNG plots).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write the report to `DIR`"},
			&cli.IntFlag{Name: "echoes", Value: demo.DefaultEchoes, Usage: "echoes `K` per endpoint"},
			&cli.BoolFlag{Name: "verbose", Usage: "progress on stderr"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	if c.Args().Present() {
		return usage("demo takes no arguments")
	}
	opts := demo.Options{Echoes: c.Int("echoes")}
	if c.Bool("verbose") {
		opts.Log = c.App.ErrWriter
	}
	ctx, stop := notifyContext(c.Context)
	defer stop()
	res, err := demo.Run(ctx, opts)
	if err != nil {
		return exit(exitCouldNot, fmt.Errorf("running the demo: %w", err))
	}
	if dir := c.String("out"); dir != "" {
		if err := demo.WriteReport(dir, res); err != nil {
			return exit(exitCouldNot, fmt.Errorf("writing the report: %w", err))
		}
		fmt.Fprintf(c.App.ErrWriter, "report written to %s/demo.md\n", dir)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, res); err != nil {
			return err
		}
	} else {
		printDemo(c.App.Writer, res)
	}
	if !res.OK {
		return exit(exitCrypto, fmt.Errorf("some scenarios did not end in their expected verdict"))
	}
	return nil
}

func printDemo(w io.Writer, r *demo.Result) {
	fmt.Fprintf(w, "poc demo — lab world %q (lab-made profiles: they describe the lab, not a cloud)\n\n", r.World)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tscenario\texpected\tverdict\ttries\tfastest RTT\treason")
	for _, s := range r.Scenarios {
		mark := "ok"
		if !s.Match {
			mark = "MISMATCH"
		}
		rtt := ""
		if s.MinRTTNs > 0 {
			rtt = ms(s.MinRTTNs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", mark, s.Scenario, s.Expected, s.Verdict, s.Attempts, rtt, s.Reason)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d scenarios in %.1f s; ", len(r.Scenarios), r.Seconds)
	if r.OK {
		fmt.Fprintln(w, "every verdict as expected.")
	} else {
		fmt.Fprintln(w, "SOME VERDICTS DIFFER FROM THE EXPECTED ONES.")
	}
	fmt.Fprintf(w, "A proof refused by latency may be retried once with a fresh challenge, by the honest prover and attackers alike (tries); the verifier states a false-reject rate of %g per proof.\n", r.FRR)
	fmt.Fprintln(w, "Latency proves nearness, never farness, and cannot tell a relay in the same metro apart (LIMITATIONS.md).")
}
