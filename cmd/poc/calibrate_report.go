package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/report"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/tlsprobe"
)

func init() {
	calibrateSubcommands = append(calibrateSubcommands, calibrateReportCommand)
}

func calibrateReportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "plot profiles and the verdict's error rates; write a Markdown summary",
		ArgsUsage: " ",
		Description: "Writes into --out, per profile, cdf-NAME.png/.svg (the round-trip CDF: quantiles,\n" +
			"fitted model and, with --dataset, the samples' empirical CDF; the lower tail on a\n" +
			"log scale with the thresholds) and power-NAME.png/.svg (false-accept rate of a\n" +
			"relay, and rejection rate of a prover off the calibration spot, against distance\n" +
			"for each K), and report.md linking them with a table per profile and what latency\n" +
			"cannot show. NAME is the endpoint's name made safe for file systems. Output is\n" +
			"deterministic; fonts are compiled in.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profiles", Usage: "profiles `FILE` (from 'poc calibrate fit')", Required: true},
			&cli.StringSliceFlag{Name: "dataset", Usage: "samples `FILE` (JSON Lines, CSV or Parquet) to plot beside the profiles (repeatable)"},
			&cli.StringFlag{Name: "out", Usage: "`DIR`ectory to write the report into (created if needed)", Required: true},
			&cli.IntSliceFlag{Name: "echoes", Usage: "echoes `K` to show (repeatable)", DefaultText: "8, 16, 32"},
			&cli.IntFlag{Name: "echoes-per-conn", Value: tlsprobe.DefaultEchoesPerConn, Usage: "the prover's `N` echoes per connection"},
			&cli.Float64Flag{Name: "frr", Value: verdict.DefaultFRR, Usage: "false-reject rate `X` of the thresholds"},
			&cli.BoolFlag{Name: "embed-fonts", Usage: "embed the font in SVG files (about 550 KB each)"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON document on stdout"},
		},
		Action: runCalibrateReport,
	}
}

// reportSummary is what 'calibrate report' prints.
type reportSummary struct {
	Out      string          `json:"out"`
	Files    []string        `json:"files"`
	Profiles []reportProfile `json:"profiles"`
}

type reportProfile struct {
	profileDigest
	Name    string `json:"name"`
	Samples uint64 `json:"samples_plotted"`
}

func runCalibrateReport(c *cli.Context) error {
	if c.Args().Present() {
		return usage("calibrate report takes no arguments, got %q", c.Args().Slice())
	}
	out := c.String("out")
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return usage("--out %s is a file, not a directory", out)
	}
	frr := c.Float64("frr")
	if !(frr > 0 && frr < 1) {
		return usage("--frr %v: want a probability strictly between 0 and 1", frr)
	}
	for _, k := range c.IntSlice("echoes") {
		if k < 1 || k > verdict.MaxK {
			return usage("--echoes %d: want 1 to %d", k, verdict.MaxK)
		}
	}
	pf, err := readProfiles(c.String("profiles"))
	if err != nil {
		return err
	}
	var emp *report.Empirical
	datasets := c.StringSlice("dataset")
	if len(datasets) > 0 {
		emp = report.NewEmpirical()
		// CSV rows without provider or region take those of the profile
		// of their endpoint.
		fill := func(endpoint string) (string, string, bool) {
			for i := range pf.Profiles {
				if p := &pf.Profiles[i]; p.Endpoint == endpoint {
					return p.Provider, p.Region, true
				}
			}
			return "", "", false
		}
		for _, path := range datasets {
			in, err := openSamples(path)
			if err != nil {
				return err
			}
			err = in.each(fill, func(s dataset.Sample) error { emp.Add(s); return nil })
			in.close()
			if err != nil {
				return err
			}
		}
	}
	names := make([]string, len(datasets))
	for i, d := range datasets {
		names[i] = filepath.Base(d)
	}
	rep, err := report.Build(pf, emp, report.Options{
		Echoes:        c.IntSlice("echoes"),
		EchoesPerConn: c.Int("echoes-per-conn"),
		FRR:           frr,
		EmbedFonts:    c.Bool("embed-fonts"),
		Source:        filepath.Base(c.String("profiles")),
		Datasets:      names,
	})
	if errors.Is(err, report.ErrOptions) {
		return exit(exitUsage, err)
	}
	if err != nil {
		return exit(exitCouldNot, err)
	}
	if err := rep.WriteDir(out); err != nil {
		return exit(exitCouldNot, err)
	}
	sum := reportSummary{Out: out}
	for _, f := range rep.Files {
		sum.Files = append(sum.Files, filepath.Join(out, f.Name))
	}
	for _, pr := range rep.Profiles {
		sum.Profiles = append(sum.Profiles, reportProfile{profileDigest: digest(pr.Profile), Name: pr.Name, Samples: pr.Samples})
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, sum)
	}
	fmt.Fprintf(c.App.Writer, "report of %s in %s: %s\n", plural(len(rep.Profiles), "profile"), out, filepath.Join(out, report.MarkdownName))
	for _, pr := range rep.Profiles {
		fmt.Fprintf(c.App.Writer, "  %s (%s, origin %s): %s, %s", pr.Profile.Endpoint, pr.Profile.Method, pr.Profile.Origin,
			"cdf-"+pr.Name+".{png,svg}", "power-"+pr.Name+".{png,svg}")
		if pr.Samples > 0 {
			fmt.Fprintf(c.App.Writer, "; %d samples plotted", pr.Samples)
		}
		fmt.Fprintln(c.App.Writer)
	}
	return nil
}
