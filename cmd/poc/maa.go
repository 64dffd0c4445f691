package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/verifier/maa"
)

func maaCommand() *cli.Command {
	return &cli.Command{
		Name:  "maa",
		Usage: "Microsoft Azure Attestation tokens",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "verify an MAA token: signature, issuer, times, attestation type, user-data",
			ArgsUsage: " ",
			Description: "Keys come from a JWKS file (--jwks) or the issuer's /certs (--fetch, needs\n" +
				"--issuer). Exit: 0 verified, 1 refused (signature, algorithm, issuer, times,\n" +
				"type, user-data), 4 could not check (no key for the token's kid, fetch failed).",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "token", Usage: "JWT `FILE`", Required: true},
				&cli.StringFlag{Name: "jwks", Usage: "JWKS `FILE` of the issuer's signing keys"},
				&cli.BoolFlag{Name: "fetch", Usage: "fetch the keys from ISSUER/certs (network)"},
				&cli.StringFlag{Name: "issuer", Usage: "pin the issuer to this `URL` (required with --fetch)"},
				&cli.StringSliceFlag{Name: "type", Usage: "accepted x-ms-attestation-type (repeatable; default tdxvm)"},
				&cli.StringFlag{Name: "user-data", Usage: "expected runtime user-data, 64 bytes as `HEX`"},
				&cli.StringFlag{Name: "at", Usage: "verify at this `RFC3339` time (default: now)"},
				&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
			},
			Action: runMAAVerify,
		}},
	}
}

type maaReport struct {
	Verified     bool         `json:"verified"`
	IssuerPinned bool         `json:"issuer_pinned"`
	Result       *maa.Result  `json:"result,omitempty"`
	Errors       []stageError `json:"errors,omitempty"`
}

func runMAAVerify(c *cli.Context) error {
	if c.Args().Present() {
		return usage("maa verify takes no arguments")
	}
	jwks, fetch, issuer := c.String("jwks"), c.Bool("fetch"), c.String("issuer")
	switch {
	case jwks == "" && !fetch:
		return usage("the keys are required: --jwks FILE or --fetch")
	case jwks != "" && fetch:
		return usage("give --jwks or --fetch, not both")
	case fetch && issuer == "":
		return usage("--fetch needs --issuer URL: keys are only ever fetched from the pinned issuer")
	}
	at, err := verifyTime(c)
	if err != nil {
		return err
	}
	ud, err := parseHexN("user-data", c.String("user-data"), 64)
	if err != nil {
		return err
	}
	tok, err := readFileLimited(c.String("token"), maxTokenFile)
	if err != nil {
		return exit(exitCouldNot, err)
	}
	tok = []byte(strings.TrimSpace(string(tok)))
	rep := maaReport{IssuerPinned: issuer != ""}
	if issuer == "" {
		// With a key file the keys are pinned; the issuer is then the
		// token's own, and the report says it was not pinned.
		if t, err := maa.ParseToken(tok, 0); err == nil && t.Claims != nil {
			issuer = t.Claims.Issuer
		}
		fmt.Fprintln(c.App.ErrWriter, "warning: no --issuer: the token's own issuer is accepted (pin it in production)")
	}
	var keys maa.KeySource
	if jwks != "" {
		ks, err := maa.JWKSFile(jwks)
		if err != nil {
			return exit(exitCouldNot, err)
		}
		keys = ks
	} else {
		f, err := maa.NewFetcher(issuer, maa.FetcherOptions{})
		if err != nil {
			return exit(exitUsage, err)
		}
		keys = f
	}
	pol := maa.Policy{Issuer: issuer, AttestationTypes: c.StringSlice("type")}
	res, verr := maa.Verify(c.Context, tok, maa.Options{Keys: keys, At: at, UserData: ud}, pol)
	code := exitOK
	if verr != nil {
		rep.Errors = append(rep.Errors, stageError{"maa", verr.Error()})
		code = exitCrypto
		if maa.Indeterminate(verr) {
			code = exitCouldNot
		}
		var pe *maa.PolicyError
		if errors.As(verr, &pe) {
			code = exitPolicy
		}
	} else {
		rep.Verified, rep.Result = true, res
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else {
		printMAA(c.App.Writer, &rep, at)
	}
	if code == exitOK {
		return nil
	}
	return exit(code, errSilent)
}

func printMAA(w io.Writer, r *maaReport, at time.Time) {
	if res := r.Result; res != nil {
		fmt.Fprintf(w, "token verified at %s: issuer %s (pinned: %v), kid %s, %s\n", at.UTC().Format(time.RFC3339), res.Issuer, r.IssuerPinned, res.KeyID, res.Algorithm)
		fmt.Fprintf(w, "type %s, issued %s, expires %s\n", res.AttestationType, res.IssuedAt.UTC().Format(time.RFC3339), res.Expiry.UTC().Format(time.RFC3339))
		if res.TCBStatus != "" {
			fmt.Fprintf(w, "attester_tcb_status %s\n", res.TCBStatus)
		}
		fmt.Fprintf(w, "user-data checked: %v\n", res.UserData.Checked)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "FAIL %s: %s\n", e.Stage, e.Error)
	}
}
