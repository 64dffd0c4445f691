package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/verifier"
	"github.com/latencyproof/poc/verifier/dcap"
	"github.com/latencyproof/poc/verifier/maa"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a proof: challenge, quote, binding, MAA, transcripts, region scope, latency",
		ArgsUsage: "PROOF",
		Description: "Every stage in order, failing closed. Exit: 0 accepted, 1 refused by a\n" +
			"cryptographic check (forged, altered, another verifier's challenge), 2 refused by\n" +
			"policy (TCB status, expired or replayed challenge, another application's binding,\n" +
			"an endpoint out of scope), 3 refused by latency, 4 could not check.\n" +
			"Flags may come before or after PROOF.",
		// 'poc verify PROOF --policy FILE ...' as the usage line says: flags
		// after the argument are parsed by interspersed, since urfave/cli
		// stops at the first argument (and then checks no required flag).
		SkipFlagParsing: true,
		HideHelpCommand: true,
		Flags: append(verifierFlags(false),
			&cli.StringFlag{Name: "at", Usage: "verify at this `RFC3339` time (default: now)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		),
		Action: runVerify,
	}
}

// verifierFlags are the flags 'poc verify' and 'poc verifier serve' share:
// policy, profiles, catalog, trust, key, nonce store, collateral, MAA keys,
// the application binding and the claim. A service must keep a nonce
// store: nonceRequired makes --nonces required.
func verifierFlags(nonceRequired bool) []cli.Flag {
	nonces := &cli.StringFlag{Name: "nonces", Usage: "record answered challenges in this `FILE` (replays refused across runs)"}
	if nonceRequired {
		nonces.Required = true
		nonces.Usage = "record answered challenges in this bbolt `FILE` (created 0600; replays refused across restarts)"
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "policy", Usage: "policy `FILE` (docs/policy.md; default: the strict policy)"},
		&cli.StringFlag{Name: "profiles", Usage: "calibrated profiles `FILE` (required)", Required: nonceRequired},
		&cli.StringFlag{Name: "catalog", Usage: "endpoint catalog `FILE` (default: the one in --lab)"},
		&cli.StringFlag{Name: "lab", Usage: "lab state `FILE`: its catalog, and its CA for the endpoints"},
		&cli.StringFlag{Name: "roots", Usage: "PEM `FILE` of the endpoints' roots (default: the system's, or the lab CA)"},
		&cli.StringFlag{Name: "key", Value: defaultKeyFile, Usage: "the verifier's challenge key `FILE`"},
		nonces,
		&cli.StringFlag{Name: "collateral", Usage: "Intel collateral bundle `FILE`"},
		&cli.BoolFlag{Name: "pcs", Usage: "fetch collateral from Intel PCS v4 (network)"},
		&cli.StringFlag{Name: "cache", Usage: "with --pcs: collateral cache `DIR`"},
		&cli.StringFlag{Name: "sim-root", Usage: "trust this simulated TEE root `FILE` for proofs made with --tee sim (development only)"},
		&cli.StringFlag{Name: "jwks", Usage: "MAA signing keys `FILE` (JWKS)"},
		&cli.BoolFlag{Name: "maa-fetch", Usage: "fetch MAA keys from the policy's issuer (network)"},
		&cli.StringFlag{Name: "bind-app", Usage: "the application binding the proof must carry, as `HEX`"},
		&cli.StringFlag{Name: "claim", Usage: "the claimed `PROVIDER/REGION` (default: the probed endpoints' region)"},
	}
}

// maxProofFile bounds a proof document (evidence.MaxProofBytes).
const maxProofFile = evidence.MaxProofBytes

// outcomeCode maps a verification outcome to the exit code.
func outcomeCode(o verifier.Outcome) int {
	switch o {
	case verifier.Accepted:
		return exitOK
	case verifier.RefusedCrypto:
		return exitCrypto
	case verifier.RefusedPolicy:
		return exitPolicy
	case verifier.RefusedLatency:
		return exitLatency
	}
	return exitCouldNot
}

func runVerify(cc *cli.Context) error {
	c, args, err := interspersed(cc)
	if err != nil || c == nil {
		return err
	}
	if len(args) != 1 {
		return usage("verify takes one argument, the proof file")
	}
	if c.String("profiles") == "" {
		return usage("the calibrated profiles are required: --profiles FILE")
	}
	at, err := verifyTime(c)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(c)
	if err != nil {
		return err
	}
	opts, err := verifyOptions(c, pol)
	if err != nil {
		return err
	}
	opts.Now = func() time.Time { return at }
	f, err := os.Open(args[0])
	if err != nil {
		return exit(exitCouldNot, err)
	}
	p, err := evidence.Decode(f)
	f.Close()
	var res *verifier.Result
	if err != nil {
		res = &verifier.Result{Outcome: verifier.RefusedCrypto, Summary: fmt.Sprintf("Refused: the proof is not a valid proof document: %v.", err),
			Checks: []verifier.Check{{Stage: verifier.StageProof, Detail: err.Error()}}, Limits: []string{}, SecondRoot: []string{}}
	} else {
		res, _ = verifier.Verify(c.Context, p, pol, opts)
	}
	if closer, ok := opts.Nonces.(io.Closer); ok {
		closer.Close()
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, res); err != nil {
			return err
		}
	} else {
		printResult(c.App.Writer, res)
	}
	if code := outcomeCode(res.Outcome); code != exitOK {
		return exit(code, errSilent)
	}
	return nil
}

// verifyOptions builds the verifier's plumbing from the flags.
func verifyOptions(c *cli.Context, pol *verifier.Policy) (verifier.Options, error) {
	var o verifier.Options
	var err error
	if o.ChallengeKey, err = loadOrCreateKey(c, false); err != nil {
		return o, err
	}
	pf, err := os.Open(c.String("profiles"))
	if err != nil {
		return o, exit(exitCouldNot, err)
	}
	o.Profiles, err = profile.Read(pf)
	pf.Close()
	if err != nil {
		return o, exit(exitCouldNot, fmt.Errorf("%s: %w", c.String("profiles"), err))
	}
	switch catPath, labPath := c.String("catalog"), c.String("lab"); {
	case catPath != "":
		cat, _, err := readCatalogOrState(catPath)
		if err != nil {
			return o, err
		}
		o.Catalog = cat
	case labPath != "":
		cat, _, err := readCatalogOrState(labPath)
		if err != nil {
			return o, err
		}
		o.Catalog = cat
	default:
		return o, usage("the endpoint catalog is required: --catalog FILE or --lab STATE")
	}
	switch roots, labPath := c.String("roots"), c.String("lab"); {
	case roots != "":
		if o.EndpointRoots, err = readRoots(roots); err != nil {
			return o, exit(exitCouldNot, err)
		}
	case labPath != "":
		_, st, err := readCatalogOrState(labPath)
		if err != nil {
			return o, err
		}
		if st == nil {
			return o, usage("--lab %s is not a lab state file", labPath)
		}
		if o.EndpointRoots, err = st.Roots(); err != nil {
			return o, exit(exitCouldNot, err)
		}
	}
	switch coll, pcs := c.String("collateral"), c.Bool("pcs"); {
	case coll != "" && pcs:
		return o, usage("give --collateral or --pcs, not both")
	case coll != "":
		b, err := readFileLimited(coll, maxCollateralFile)
		if err != nil {
			return o, exit(exitCouldNot, err)
		}
		col, err := dcap.ParseCollateral(b)
		if err != nil {
			return o, exit(exitCouldNot, fmt.Errorf("%s: %w", coll, err))
		}
		o.Collateral = dcap.Bundle{Fixed: col}
	case pcs:
		o.Collateral = &dcap.PCS{CacheDir: c.String("cache")}
	default:
		return o, usage("Intel collateral is required: --collateral FILE or --pcs")
	}
	if p := c.String("sim-root"); p != "" {
		if o.SimRoots, err = readCerts(p); err != nil {
			return o, exit(exitCouldNot, err)
		}
	}
	switch jwks, fetch := c.String("jwks"), c.Bool("maa-fetch"); {
	case jwks != "" && fetch:
		return o, usage("give --jwks or --maa-fetch, not both")
	case jwks != "":
		ks, err := maa.JWKSFile(jwks)
		if err != nil {
			return o, exit(exitCouldNot, err)
		}
		o.MAAKeys = ks
	case fetch:
		if pol.MAA == nil {
			return o, usage("--maa-fetch needs an maa issuer in the policy")
		}
		if o.MAAKeys, err = maa.NewFetcher(pol.MAA.Issuer, maa.FetcherOptions{}); err != nil {
			return o, exit(exitUsage, err)
		}
	}
	if o.AppBinding, err = parseHexN("bind-app", c.String("bind-app"), 0); err != nil {
		return o, err
	}
	if cl := c.String("claim"); cl != "" {
		prov, reg, ok := strings.Cut(cl, "/")
		if !ok || prov == "" || reg == "" {
			return o, usage("--claim %q: want PROVIDER/REGION", cl)
		}
		o.Claim = &verdict.Claim{Provider: prov, Region: reg}
	}
	if path := c.String("nonces"); path != "" {
		store, err := verifier.OpenNonceFile(path)
		if err != nil {
			return o, exit(exitCouldNot, err)
		}
		o.Nonces = store
	}
	return o, nil
}

func printResult(w io.Writer, r *verifier.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ch := range r.Checks {
		mark := "ok"
		if !ch.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, ch.Stage, ch.Detail)
	}
	tw.Flush()
	if len(r.Endpoints) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "endpoint\tregion\tK\tunit\tmin RTT\tthreshold\tvacuum bound\tdecision\tFRR\tFAR at 100 km\t")
		for _, e := range r.Endpoints {
			far := "-"
			for _, f := range e.FAR {
				if f.DistanceKm == 100 {
					far = fmt.Sprintf("%.1e", f.FAR)
				}
			}
			fmt.Fprintf(tw, "%s\t%s/%s\t%d\t%s\t%s\t%s\t%.0f km\t%s (%s)\t%.0e\t%s\t\n",
				e.Endpoint, e.Provider, e.Region, e.K, e.Unit, ms(e.MinRTTNs), ms(e.ThresholdNs), e.BoundKm, e.Decision, e.Reason, e.FRR, far)
		}
		tw.Flush()
	}
	if f := r.Feasible; f != nil {
		var names []string
		for _, c := range f.Candidates {
			names = append(names, c.Provider+"/"+c.Name)
		}
		fmt.Fprintf(w, "\nfeasible region: %d discs, empty %v; candidate regions: %s\n", len(f.Discs), f.Empty, strings.Join(names, ", "))
	}
	second := "none"
	if len(r.SecondRoot) > 0 {
		second = strings.Join(r.SecondRoot, ", ")
	}
	fmt.Fprintf(w, "second root of trust: %s\n", second)
	for _, l := range r.Limits {
		fmt.Fprintf(w, "limit: %s\n", l)
	}
	fmt.Fprintf(w, "\n%s\n", r.Summary)
}
