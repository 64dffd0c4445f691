package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/verifier"
	"github.com/latencyproof/poc/verifier/dcap"
)

// Attestation inputs are small: bound every file read.
const (
	maxQuoteFile      = 256 << 10
	maxCollateralFile = 4 << 20
	maxTokenFile      = 256 << 10
	maxHCLFile        = 64 << 10
)

// stageError is one failed stage, as the JSON reports it.
type stageError struct {
	Stage string `json:"stage"`
	Error string `json:"error"`
}

// attestFlags are the trust and time flags the attestation commands share.
func attestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "collateral", Usage: "Intel collateral bundle `FILE` (dcap-qvl QuoteCollateralV3 JSON)"},
		&cli.BoolFlag{Name: "pcs", Usage: "fetch collateral from Intel PCS v4 (network)"},
		&cli.StringFlag{Name: "cache", Usage: "with --pcs: cache `DIR` for collateral (kept until nextUpdate)"},
		&cli.StringFlag{Name: "sim-root", Usage: "also trust this simulated TEE root `FILE` (development only: proves nothing about real hardware)"},
		&cli.StringFlag{Name: "at", Usage: "verify at this `RFC3339` time (default: now)"},
		&cli.StringFlag{Name: "policy", Usage: "policy `FILE` (docs/policy.md; default: UpToDate only, no debug TDs)"},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
	}
}

// verifyTime parses --at.
func verifyTime(c *cli.Context) (time.Time, error) {
	at := c.String("at")
	if at == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, usage("--at: %v", err)
	}
	return t, nil
}

// loadPolicy reads --policy, or the default.
func loadPolicy(c *cli.Context) (*verifier.Policy, error) {
	path := c.String("policy")
	if path == "" {
		return verifier.DefaultPolicy(), nil
	}
	p, err := verifier.ReadPolicyFile(path)
	if err != nil {
		if errors.Is(err, verifier.ErrPolicyFile) {
			return nil, exit(exitUsage, err)
		}
		return nil, exit(exitCouldNot, err)
	}
	return p, nil
}

// dcapOptions builds the DCAP verification options from the shared flags:
// Intel's root always; a simulated root only when named; collateral from a
// bundle or PCS.
func dcapOptions(c *cli.Context, at time.Time) (dcap.Options, []string, error) {
	opts := dcap.Options{At: at}
	roots := []string{"Intel SGX Root CA (embedded)"}
	if p := c.String("sim-root"); p != "" {
		certs, err := readCerts(p)
		if err != nil {
			return opts, nil, exit(exitCouldNot, err)
		}
		opts.Roots = append([]*x509.Certificate{dcap.IntelRootCA()}, certs...)
		for _, cert := range certs {
			roots = append(roots, "SIMULATED: "+cert.Subject.String())
		}
		fmt.Fprintf(c.App.ErrWriter, "warning: trusting the simulated TEE root %s: a quote it signs proves nothing about real hardware\n", p)
	}
	switch coll, pcs := c.String("collateral"), c.Bool("pcs"); {
	case coll != "" && pcs:
		return opts, nil, usage("give --collateral or --pcs, not both")
	case coll != "":
		b, err := readFileLimited(coll, maxCollateralFile)
		if err != nil {
			return opts, nil, exit(exitCouldNot, err)
		}
		col, err := dcap.ParseCollateral(b)
		if err != nil {
			return opts, nil, exit(exitCouldNot, fmt.Errorf("%s: %w", coll, err))
		}
		opts.Collateral = dcap.Bundle{Fixed: col}
	case pcs:
		opts.Collateral = &dcap.PCS{CacheDir: c.String("cache")}
	}
	return opts, roots, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := readFileLimited(path, maxPEMBytes)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return out, nil
}

// quoteReport is the JSON of 'poc quote verify'.
type quoteReport struct {
	Verified      bool         `json:"verified"`
	Accepted      bool         `json:"accepted"`
	QuoteVersion  uint16       `json:"quote_version,omitempty"`
	TCBStatus     string       `json:"tcb_status,omitempty"`
	AdvisoryIDs   []string     `json:"advisory_ids,omitempty"`
	FMSPC         string       `json:"fmspc,omitempty"`
	MRTD          string       `json:"mrtd,omitempty"`
	RTMRs         []string     `json:"rtmrs,omitempty"`
	ReportData    string       `json:"report_data,omitempty"`
	TDAttributes  any          `json:"td_attributes,omitempty"`
	TrustedRoots  []string     `json:"trusted_roots"`
	Errors        []stageError `json:"errors,omitempty"`
	PolicyErrors  []string     `json:"policy_errors,omitempty"`
	Result        *dcap.Result `json:"result,omitempty"`
	VerifiedAtUTC time.Time    `json:"verified_at"`
}

// verifyQuote runs DCAP verification and policy, filling the report, and
// returns the exit code.
func verifyQuote(ctx context.Context, quote []byte, opts dcap.Options, pol *verifier.Policy, rep *quoteReport) int {
	rep.VerifiedAtUTC = opts.At.UTC()
	if opts.Collateral == nil {
		rep.Errors = append(rep.Errors, stageError{"collateral", "could not check: no collateral (give --collateral FILE or --pcs)"})
		return exitCouldNot
	}
	res, err := dcap.Verify(ctx, quote, opts)
	if err != nil {
		stage := "verify"
		var se *dcap.StageError
		if errors.As(err, &se) {
			stage = se.Stage
		}
		rep.Errors = append(rep.Errors, stageError{stage, err.Error()})
		if errors.Is(err, dcap.ErrCouldNotCheck) {
			return exitCouldNot
		}
		return exitCrypto
	}
	rep.Verified, rep.Result = true, res
	rep.QuoteVersion, rep.TCBStatus, rep.AdvisoryIDs, rep.FMSPC = res.QuoteVersion, string(res.TCBStatus), res.AdvisoryIDs, res.FMSPC
	rep.MRTD, rep.RTMRs, rep.ReportData, rep.TDAttributes = res.MRTD, res.RTMRs[:], res.ReportData, res.TDAttributes
	if err := pol.Quote.Check(res); err != nil {
		for _, e := range unjoin(err) {
			rep.PolicyErrors = append(rep.PolicyErrors, e.Error())
		}
		return exitPolicy
	}
	rep.Accepted = true
	return exitOK
}

// unjoin splits an errors.Join into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func quoteCommand() *cli.Command {
	return &cli.Command{
		Name:  "quote",
		Usage: "TDX quotes",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "verify a TDX quote against Intel collateral and a policy",
			ArgsUsage: " ",
			Description: "The quote file may be raw bytes, hex or base64 (detected). The TCB status is\n" +
				"reported as Intel names it whenever signatures and collateral check out, even\n" +
				"when policy then refuses it. Exit: 0 accepted, 1 refused by a cryptographic or\n" +
				"collateral check, 2 refused by policy, 4 could not check (no collateral, PCS down).",
			Flags:  append([]cli.Flag{&cli.StringFlag{Name: "quote", Usage: "quote `FILE`", Required: true}}, attestFlags()...),
			Action: runQuoteVerify,
		}},
	}
}

func runQuoteVerify(c *cli.Context) error {
	if c.Args().Present() {
		return usage("quote verify takes no arguments")
	}
	at, err := verifyTime(c)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(c)
	if err != nil {
		return err
	}
	opts, roots, err := dcapOptions(c, at)
	if err != nil {
		return err
	}
	raw, err := readFileLimited(c.String("quote"), maxQuoteFile)
	if err != nil {
		return exit(exitCouldNot, err)
	}
	rep := quoteReport{TrustedRoots: roots}
	code := exitCrypto
	if quote, err := dcap.DecodeQuoteFile(raw); err != nil {
		rep.Errors = append(rep.Errors, stageError{"parse", err.Error()})
	} else {
		code = verifyQuote(c.Context, quote, opts, pol, &rep)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else {
		printQuote(c.App.Writer, &rep)
	}
	if code == exitOK {
		return nil
	}
	return exit(code, errSilent)
}

func printQuote(w io.Writer, r *quoteReport) {
	if r.Verified {
		fmt.Fprintf(w, "quote v%d verified at %s (roots: %s)\n", r.QuoteVersion, r.VerifiedAtUTC.Format(time.RFC3339), strings.Join(r.TrustedRoots, ", "))
		fmt.Fprintf(w, "TCB status   %s %v\n", r.TCBStatus, r.AdvisoryIDs)
		fmt.Fprintf(w, "FMSPC        %s\nMRTD         %s\n", r.FMSPC, r.MRTD)
		for i, m := range r.RTMRs {
			fmt.Fprintf(w, "RTMR%d        %s\n", i, m)
		}
		fmt.Fprintf(w, "REPORTDATA   %s\n", r.ReportData)
		if r.Result != nil {
			a := r.Result.TDAttributes
			fmt.Fprintf(w, "TD attrs     %s (debug %v, sept_ve_disable %v)\n", a.Hex, a.Debug, a.SEPTVEDisable)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "FAIL %s: %s\n", e.Stage, e.Error)
	}
	for _, e := range r.PolicyErrors {
		fmt.Fprintf(w, "REFUSED by policy: %s\n", e)
	}
	if r.Accepted {
		fmt.Fprintln(w, "accepted")
	}
}

// parseHexN parses an optional hex value of n bytes (any length if n is 0).
func parseHexN(flag, s string, n int) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || (n > 0 && len(b) != n) {
		return nil, usage("--%s must be %d bytes of hex", flag, n)
	}
	return b, nil
}
