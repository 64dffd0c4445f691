package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the built-in lab and probe it from a near and a far vantage",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "world", Usage: "world `FILE` (default: the built-in world)"},
			&cli.IntFlag{Name: "echoes", Value: 32, Usage: "echoes `K` per probe"},
			&cli.StringFlag{Name: "region", Value: "westeurope", Usage: "region whose endpoints are probed"},
			&cli.StringFlag{Name: "near", Value: "westeurope-vm", Usage: "near vantage"},
			&cli.StringFlag{Name: "far", Value: "northeurope-vm", Usage: "far vantage"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		},
		Action: runDemo,
	}
}

// demoRow is one endpoint probed from one vantage.
type demoRow struct {
	Endpoint string           `json:"endpoint"`
	Vantage  string           `json:"vantage"`
	RouteKm  float64          `json:"route_km"`
	OneWay   time.Duration    `json:"one_way_ns"`
	Result   *tlsprobe.Result `json:"result"`
	BoundKm  float64          `json:"vacuum_bound_km"`
}

// vacuumKmPerNs is how far light in vacuum goes and back per nanosecond of
// round trip: c/2 = 149,896 km/s.
const vacuumKmPerNs = 299792.458 / 2 / 1e9

func runDemo(c *cli.Context) error {
	w, err := loadWorld(c.String("world"))
	if err != nil {
		return exit(exitUsage, err)
	}
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		return exit(exitCouldNot, fmt.Errorf("starting the lab: %w", err))
	}
	defer l.Close()
	roots, err := l.State.Roots()
	if err != nil {
		return exit(exitCouldNot, err)
	}
	region := c.String("region")
	var rows []demoRow
	ctx, stop := notifyContext(c.Context)
	defer stop()
	for _, e := range l.State.Catalog.Endpoints {
		if e.Region != region {
			continue
		}
		for _, vname := range []string{c.String("near"), c.String("far")} {
			v, err := l.State.Vantage(vname)
			if err != nil {
				return exit(exitUsage, err)
			}
			var nonce [32]byte
			if _, err := rand.Read(nonce[:]); err != nil {
				return exit(exitCouldNot, err)
			}
			method, _ := tlsprobe.ParseMethod(e.Echo.Method)
			res, err := tlsprobe.Probe(ctx, tlsprobe.Config{
				Endpoint: e.Address(),
				Nonce:    nonce,
				Echoes:   c.Int("echoes"),
				Method:   method,
				Roots:    roots,
				Dial:     v.Dialer(),
			})
			if err != nil {
				return exit(exitCouldNot, fmt.Errorf("probing %s from %s: %w", e.Hostname, vname, err))
			}
			d := v.Delays[e.Hostname]
			rows = append(rows, demoRow{
				Endpoint: e.Hostname, Vantage: vname, RouteKm: d.RouteKm, OneWay: time.Duration(d.OneWay),
				Result: res, BoundKm: res.MinEchoNs * vacuumKmPerNs,
			})
		}
	}
	if len(rows) == 0 {
		return usage("region %q has no endpoints in world %q", region, w.Name)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"world": w.Name, "rows": rows, "relay": l.RelayStats()})
	}
	printDemo(c.App.Writer, w.Name, rows)
	return nil
}

func printDemo(out io.Writer, world string, rows []demoRow) {
	fr := rows[0].Result.Frequency
	fmt.Fprintf(out, "poc demo — loopback lab %q; counter %s at %s\n", world, rows[0].Result.Counter, fr)
	fmt.Fprintf(out, "every figure below comes from a transcript that re-verified offline (chain, CertificateVerify, Finished, echoes)\n\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tmethod\tvantage\troute km\tadded RTT\thandshake\techo min\techo median\tkernel min\tK\tvacuum bound km\t")
	for _, r := range rows {
		res := r.Result
		kmin := "-"
		if res.MinEchoKernelNs > 0 {
			kmin = ms(res.MinEchoKernelNs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t%.0f\t\n",
			r.Endpoint, res.Conns[0].Method, r.Vantage, r.RouteKm, ms(float64(2*r.OneWay)),
			ms(res.Conns[0].HandshakeNs), ms(res.MinEchoNs), ms(res.MedianEchoNs), kmin, len(res.Echoes), r.BoundKm)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nEcho figures are by the cycle counter; 'kernel min' by the kernel's receive timestamps (without the probe's wake-up).\n")
	fmt.Fprintf(out, "The vacuum bound is the farthest a server holding the endpoint's key can be: (min echo RTT) × c / 2.\n")
	fmt.Fprintf(out, "It is an upper bound; latency can prove nearness, never farness, and cannot tell a relay in the same metro apart.\n")
}
