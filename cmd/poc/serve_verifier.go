package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/verifier"
	verifiersvc "github.com/latencyproof/poc/verifier/service"
)

func verifierCommand() *cli.Command {
	return &cli.Command{
		Name:  "verifier",
		Usage: "the verifier as a service",
		Subcommands: []*cli.Command{{
			Name:      "serve",
			Usage:     "issue challenges and verify proofs over HTTP: POST /v1/challenges, POST /v1/verifications",
			ArgsUsage: " ",
			Description: "POST /v1/challenges (body optional: {\"ttl\": \"10m\"}) issues a challenge authenticated\n" +
				"with --key (created, mode 0600, if the file does not exist). POST /v1/verifications\n" +
				"with a proof verifies it as 'poc verify' does and answers 200 with the result\n" +
				"whatever the verdict (query parameters app_binding=HEX, claim=PROVIDER/REGION);\n" +
				"400 when the body is not a proof. Answered challenges are kept in --nonces, so a\n" +
				"replayed proof is refused across restarts. GET /healthz, GET /metrics.\n" +
				"See docs/services.md and docs/openapi.yaml.",
			Flags: append(verifierFlags(true),
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8702", Usage: "listen on `ADDR`"},
				&cli.StringFlag{Name: "name", Value: verifiersvc.DefaultName, Usage: "the verifier's `NAME` in its challenges"},
				&cli.DurationFlag{Name: "default-ttl", Value: verifier.DefaultChallengeTTL, Usage: "a challenge lives `DURATION` unless the request asks"},
				&cli.DurationFlag{Name: "max-ttl", Value: verifiersvc.DefaultMaxTTL, Usage: "the longest `DURATION` a request may ask a challenge to live"},
				&cli.IntFlag{Name: "max-concurrent", Usage: "at most `N` verifications at once; 0 means GOMAXPROCS"},
				&cli.IntFlag{Name: "max-queue", Usage: "at most `N` requests waiting for a slot; 0 means 16 per slot"},
				&cli.DurationFlag{Name: "timeout", Value: verifiersvc.DefaultTimeout, Usage: "bound the wait for a slot to `DURATION`, and then reading and verifying a proof"},
				&cli.Int64Flag{Name: "max-body", Value: evidence.MaxProofBytes, Usage: "largest proof accepted, in `BYTES`"},
				&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate chain PEM `FILE` (with --tls-key)"},
				&cli.StringFlag{Name: "tls-key", Usage: "the TLS private key PEM `FILE`"},
				&cli.BoolFlag{Name: "log-json", Usage: "log JSON lines on stderr instead of text"},
			),
			Action: runVerifierServe,
		}},
	}
}

func runVerifierServe(c *cli.Context) (err error) {
	if c.Args().Present() {
		return usage("verifier serve takes no arguments")
	}
	if c.Int("max-concurrent") < 0 || c.Int("max-queue") < 0 || c.Duration("timeout") <= 0 ||
		c.Duration("default-ttl") <= 0 || c.Duration("max-ttl") <= 0 || c.Int64("max-body") <= 0 {
		return usage("--timeout, --default-ttl, --max-ttl and --max-body must be positive, --max-concurrent and --max-queue not negative")
	}
	tlsCfg, err := serverTLS(c)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(c)
	if err != nil {
		return err
	}
	// The service issues challenges, as 'poc challenge' does: it makes its
	// key on first start.
	key, err := loadOrCreateKey(c, true)
	if err != nil {
		return err
	}
	opts, err := verifyOptions(c, pol)
	if err != nil {
		return err
	}
	defer func() {
		if closer, ok := opts.Nonces.(io.Closer); ok {
			if cerr := closer.Close(); cerr != nil && err == nil {
				err = exit(exitCouldNot, fmt.Errorf("closing the nonce store: %w", cerr))
			}
		}
	}()
	if len(opts.SimRoots) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "warning: trusting the simulated TEE root %s: a proof it vouches for proves nothing about real hardware\n", c.String("sim-root"))
	}
	log := serviceLogger(c)
	svc, err := verifiersvc.New(verifiersvc.Config{
		Name:          c.String("name"),
		Policy:        pol,
		Options:       opts,
		DefaultTTL:    c.Duration("default-ttl"),
		MaxTTL:        c.Duration("max-ttl"),
		MaxConcurrent: c.Int("max-concurrent"),
		MaxQueue:      c.Int("max-queue"),
		Timeout:       c.Duration("timeout"),
		MaxBodyBytes:  c.Int64("max-body"),
		Logger:        log,
	})
	if err != nil {
		if errors.Is(err, verifiersvc.ErrConfig) {
			return exit(exitUsage, err)
		}
		return exit(exitCouldNot, err)
	}
	slots := c.Int("max-concurrent")
	if slots == 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	// The key's ID is public (it is in every challenge); the key is not.
	fmt.Fprintf(c.App.ErrWriter, "verifier service %q (key %s): nonces in %s, %d verification slots\n",
		c.String("name"), key.ID(), c.String("nonces"), slots)
	timeout := c.Duration("timeout")
	// A request may wait for a slot for the timeout, then read and verify
	// for as long again.
	return serveHTTP(c, "verifier service", svc, tlsCfg, log, timeout, 2*timeout+30*time.Second)
}
