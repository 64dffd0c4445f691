package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	proversvc "github.com/latencyproof/poc/prover/service"
)

func proverCommand() *cli.Command {
	return &cli.Command{
		Name:  "prover",
		Usage: "the prover as a service, inside the TD",
		Subcommands: []*cli.Command{{
			Name:      "serve",
			Usage:     "answer challenges over HTTP: POST /v1/proofs",
			ArgsUsage: " ",
			Description: "POST /v1/proofs with a challenge (JSON, as 'poc challenge' or 'poc verifier serve'\n" +
				"issue it) runs one measurement campaign, as 'poc prove' does, and answers with\n" +
				"the proof. One campaign at a time (a request during one is answered 503), at\n" +
				"most --rate a minute (429 beyond), each within --proof-timeout and the\n" +
				"challenge's expiry. GET /healthz, GET /metrics (Prometheus text format).\n" +
				"Listen on loopback or behind the TD's own network policy: see docs/services.md.",
			Flags: append(proverFlags(),
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8701", Usage: "listen on `ADDR`"},
				&cli.Float64Flag{Name: "rate", Value: proversvc.DefaultRatePerMinute, Usage: "at most `N` campaigns a minute, sustained"},
				&cli.IntFlag{Name: "burst", Value: proversvc.DefaultBurst, Usage: "at most `N` campaigns back to back"},
				&cli.DurationFlag{Name: "proof-timeout", Value: proversvc.DefaultProofTimeout, Usage: "bound one campaign to `DURATION`"},
				&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate chain PEM `FILE` (with --tls-key)"},
				&cli.StringFlag{Name: "tls-key", Usage: "the TLS private key PEM `FILE`"},
				&cli.BoolFlag{Name: "log-json", Usage: "log JSON lines on stderr instead of text"},
			),
			Action: runProverServe,
		}},
	}
}

func runProverServe(c *cli.Context) error {
	if c.Args().Present() {
		return usage("prover serve takes no arguments")
	}
	if c.Float64("rate") <= 0 || c.Int("burst") <= 0 || c.Duration("proof-timeout") <= 0 {
		return usage("--rate, --burst and --proof-timeout must be positive")
	}
	tlsCfg, err := serverTLS(c)
	if err != nil {
		return err
	}
	opts, err := proverOptions(c)
	if err != nil {
		return err
	}
	log := serviceLogger(c)
	svc, err := proversvc.New(proversvc.Config{
		Options:       opts,
		RatePerMinute: c.Float64("rate"),
		Burst:         c.Int("burst"),
		ProofTimeout:  c.Duration("proof-timeout"),
		Logger:        log,
	})
	if err != nil {
		return exit(exitUsage, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "prover service: %d endpoints, attesting with %s, at most %g campaigns a minute\n",
		len(opts.Endpoints), opts.Attester.TEE(), c.Float64("rate"))
	// A challenge is small: 30 s to read one is generous.
	return serveHTTP(c, "prover service", svc, tlsCfg, log, 30*time.Second, c.Duration("proof-timeout")+30*time.Second)
}

// serviceLogger logs to stderr, as text or JSON lines.
func serviceLogger(c *cli.Context) *slog.Logger {
	if c.Bool("log-json") {
		return slog.New(slog.NewJSONHandler(c.App.ErrWriter, nil))
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
}

// serverTLS loads --tls-cert and --tls-key; nil when neither is given.
func serverTLS(c *cli.Context) (*tls.Config, error) {
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, usage("give --tls-cert and --tls-key together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		// The error names the files, never the key's bytes.
		return nil, exit(exitCouldNot, fmt.Errorf("loading the TLS certificate: %w", err))
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// shutdownGrace is how long requests in progress may finish after a
// signal.
const shutdownGrace = 10 * time.Second

// serveHTTP serves h on --listen until SIGINT or SIGTERM, then shuts down
// gracefully. The server's timeouts bound slow clients: readTimeout the
// whole request (a handler may extend it), writeTimeout the whole exchange,
// so it must exceed the longest answer the handler takes to compute.
func serveHTTP(c *cli.Context, what string, h http.Handler, tlsCfg *tls.Config, log *slog.Logger, readTimeout, writeTimeout time.Duration) error {
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return exit(exitCouldNot, withHint(fmt.Errorf("listening on %s: %w", c.String("listen"), err),
			"choose another --listen address, or stop what holds this one"))
	}
	scheme := "http"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, stop := notifyContext(c.Context)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(c.App.ErrWriter, "%s listening on %s://%s\n", what, scheme, ln.Addr())
	select {
	case err := <-errc:
		return exit(exitCouldNot, fmt.Errorf("serving: %w", err))
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return exit(exitCouldNot, fmt.Errorf("serving: %w", err))
	}
	fmt.Fprintf(c.App.ErrWriter, "%s stopped\n", what)
	return nil
}
