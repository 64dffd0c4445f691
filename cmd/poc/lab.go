package main

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/lab"
)

func labCommand() *cli.Command {
	return &cli.Command{
		Name:  "lab",
		Usage: "the loopback lab: TLS endpoints and delay relays standing in for cloud regions",
		Subcommands: []*cli.Command{{
			Name:      "serve",
			Usage:     "run the lab until interrupted, publishing its state file",
			ArgsUsage: " ",
			Description: "Starts one TLS 1.3 server per endpoint of the world (HTTP/2 or HTTP/1.1-only)\n" +
				"with a certificate from a fresh lab CA, and for every vantage one delay relay\n" +
				"per endpoint. The state file names the CA, the catalog and each vantage's\n" +
				"routes; pass it to 'poc probe --lab'. It is removed when the lab stops.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "world", Usage: "world `FILE` (default: the built-in world, datasets/lab-world.json)"},
				&cli.StringFlag{Name: "state-out", Usage: "write the lab state to `FILE`", Required: true},
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1", Usage: "loopback `ADDRESS` to listen on"},
				&cli.Uint64Flag{Name: "seed", Usage: "jitter seed"},
				&cli.BoolFlag{Name: "verbose", Usage: "log server and relay errors to stderr"},
			},
			Action: runLabServe,
		}},
	}
}

func loadWorld(path string) (*lab.World, error) {
	if path == "" {
		return lab.DefaultWorld()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return lab.ReadWorld(f)
}

func runLabServe(c *cli.Context) error {
	if c.Args().Present() {
		return usage("lab serve takes no arguments, got %q", c.Args().Slice())
	}
	w, err := loadWorld(c.String("world"))
	if err != nil {
		if errors.Is(err, lab.ErrWorld) {
			return exit(exitUsage, err)
		}
		return exit(exitCouldNot, err)
	}
	opts := lab.Options{Host: c.String("listen"), Seed: c.Uint64("seed")}
	if c.Bool("verbose") {
		opts.ErrorLog = log.New(c.App.ErrWriter, "lab: ", log.LstdFlags|log.Lmicroseconds)
	}
	l, err := lab.Start(w, opts)
	if err != nil {
		return exit(exitCouldNot, fmt.Errorf("starting the lab: %w", err))
	}
	defer l.Close()
	path := c.String("state-out")
	if err := l.State.WriteFile(path); err != nil {
		return exit(exitCouldNot, fmt.Errorf("writing state: %w", err))
	}
	defer os.Remove(path)
	fmt.Fprintf(c.App.ErrWriter, "lab %q: %d endpoints, %d vantages; state in %s; interrupt to stop\n",
		w.Name, len(w.Endpoints), len(w.Vantages), path)
	ctx, stop := notifyContext(c.Context)
	defer stop()
	<-ctx.Done()
	st := l.RelayStats()
	fmt.Fprintf(c.App.ErrWriter, "lab stopping; relay lateness over %d chunks: median %v, p99 %v, max %v\n",
		st.Count, st.Median, st.P99, st.Max)
	return nil
}
