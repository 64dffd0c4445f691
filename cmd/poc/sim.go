package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/maasim"
	"github.com/latencyproof/poc/internal/simtee"
)

// Files 'poc sim init' adds beside the simulated DCAP hierarchy.
const (
	simMAAKeyFile  = "maa-signing-key.pem"
	simMAAJWKSFile = "maa-jwks.json"
)

func simCommand() *cli.Command {
	return &cli.Command{
		Name:  "sim",
		Usage: "the simulated TEE, for development and tests without TDX hardware",
		Subcommands: []*cli.Command{
			{
				Name:      "init",
				Usage:     "create a simulated DCAP hierarchy and MAA signing key in a directory",
				ArgsUsage: " ",
				Description: "Writes a fake \"Intel SGX Root CA\" (marked NOT Intel), a PCK chain with the SGX\n" +
					"extensions go-tdx-guest checks, TCB info and QE identity signed by a fake\n" +
					"TCB-signing certificate, PCK and root CRLs, a collateral bundle (collateral.json),\n" +
					"root.pem, and a local MAA signing key with its JWKS. Verifiers refuse its quotes\n" +
					"unless root.pem is trusted explicitly (--sim-root). Private keys are 0600 files.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Usage: "new `DIR` for the simulated TEE", Required: true},
					&cli.StringFlag{Name: "fmspc", Usage: "platform FMSPC as 12 hex digits (default " + simtee.DefaultFMSPC + ")"},
					&cli.BoolFlag{Name: "tcb-out-of-date", Usage: "publish a newer TCB level the platform lacks (its quotes are OutOfDate)"},
					&cli.BoolFlag{Name: "revoke-pck", Usage: "put the PCK certificate on the PCK CRL"},
					&cli.BoolFlag{Name: "overwrite", Usage: "replace an existing simulated TEE in DIR"},
				},
				Action: runSimInit,
			},
			{
				Name:      "quote",
				Usage:     "sign a TDX v4 quote with chosen report data",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Usage: "simulated TEE `DIR` (from 'poc sim init')", Required: true},
					&cli.StringFlag{Name: "report-data", Usage: "REPORTDATA, up to 64 bytes as `HEX` (zero-padded)", Required: true},
					&cli.StringFlag{Name: "out", Usage: "write the quote to `FILE`", Required: true},
				},
				Action: runSimQuote,
			},
		},
	}
}

func runSimInit(c *cli.Context) error {
	dir := c.String("dir")
	s, err := simtee.Init(dir, simtee.InitOptions{
		FMSPC:        c.String("fmspc"),
		TCBOutOfDate: c.Bool("tcb-out-of-date"),
		RevokePCK:    c.Bool("revoke-pck"),
		Overwrite:    c.Bool("overwrite"),
	})
	if err != nil {
		if errors.Is(err, simtee.ErrOptions) || errors.Is(err, simtee.ErrExists) || errors.Is(err, simtee.ErrNotSim) {
			return exit(exitUsage, err)
		}
		return exit(exitCouldNot, err)
	}
	keyPath := filepath.Join(dir, simMAAKeyFile)
	if c.Bool("overwrite") {
		_ = os.Remove(keyPath)
	}
	k, err := maasim.GenerateKey()
	if err != nil {
		return exit(exitCouldNot, err)
	}
	if err := maasim.SaveKey(keyPath, k); err != nil {
		return exit(exitCouldNot, err)
	}
	if err := os.WriteFile(filepath.Join(dir, simMAAJWKSFile), k.JWKS(), 0o644); err != nil {
		return exit(exitCouldNot, err)
	}
	m := s.Manifest()
	fmt.Fprintf(c.App.Writer, "simulated TEE in %s: FMSPC %s, TCB %s; trust %s explicitly (--sim-root) to accept its quotes\n",
		dir, m.FMSPC, m.TCBStatus, filepath.Join(dir, "root.pem"))
	fmt.Fprintf(c.App.Writer, "collateral: %s; MAA signing key %s (JWKS %s)\n",
		filepath.Join(dir, "collateral.json"), keyPath, filepath.Join(dir, simMAAJWKSFile))
	return nil
}

func runSimQuote(c *cli.Context) error {
	rd, err := hex.DecodeString(c.String("report-data"))
	if err != nil || len(rd) > 64 {
		return usage("--report-data must be at most 64 bytes of hex")
	}
	s, err := simtee.Load(c.String("dir"))
	if err != nil {
		return exit(exitCouldNot, err)
	}
	var data [64]byte
	copy(data[:], rd)
	q, err := s.Quote(data, simtee.TDOptions{})
	if err != nil {
		return exit(exitCouldNot, err)
	}
	if err := os.WriteFile(c.String("out"), q, 0o644); err != nil {
		return exit(exitCouldNot, err)
	}
	fmt.Fprintf(c.App.Writer, "wrote a %d-byte TDX v4 quote to %s\n", len(q), c.String("out"))
	return nil
}
