package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/internal/maa"
	"github.com/latencyproof/poc/internal/simtee"
	"github.com/latencyproof/poc/prover"
	"github.com/latencyproof/poc/tlsprobe"
	"github.com/latencyproof/poc/verifier"
)

// defaultKeyFile is where 'poc challenge' and 'poc verify' keep the
// verifier's challenge key unless told otherwise.
const defaultKeyFile = "poc-verifier.key"

func challengeCommand() *cli.Command {
	return &cli.Command{
		Name:      "challenge",
		Usage:     "issue a challenge: a fresh nonce, its expiry and this verifier's identity, authenticated",
		ArgsUsage: " ",
		Description: "The challenge is authenticated with the verifier's secret key (--key; created,\n" +
			"mode 0600, if the file does not exist), so 'poc verify' with the same key\n" +
			"recognises its own challenges and refuses others'.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "ttl", Value: verifier.DefaultChallengeTTL, Usage: "how long the challenge may be answered"},
			&cli.StringFlag{Name: "key", Value: defaultKeyFile, Usage: "the verifier's challenge key `FILE`"},
			&cli.StringFlag{Name: "name", Value: "poc verifier", Usage: "the verifier's `NAME` in the challenge"},
			&cli.StringFlag{Name: "out", Usage: "write the challenge to `FILE` (default: stdout)"},
			&cli.BoolFlag{Name: "json", Usage: "print the challenge as JSON on stdout (the default form)"},
		},
		Action: runChallenge,
	}
}

// loadOrCreateKey reads the challenge key, creating it when asked to.
func loadOrCreateKey(c *cli.Context, create bool) (*verifier.ChallengeKey, error) {
	path := c.String("key")
	k, err := verifier.LoadChallengeKey(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		if errors.Is(err, os.ErrNotExist) {
			return nil, exit(exitUsage, withHint(err, "the challenge key is made by 'poc challenge --key FILE'"))
		}
		return nil, exit(exitCouldNot, err)
	}
	if k, err = verifier.NewChallengeKey(); err != nil {
		return nil, exit(exitCouldNot, err)
	}
	if err := verifier.SaveChallengeKey(path, k); err != nil {
		return nil, exit(exitCouldNot, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "created the challenge key %s (key %s); keep it secret\n", path, k.ID())
	return k, nil
}

func runChallenge(c *cli.Context) error {
	if c.Args().Present() {
		return usage("challenge takes no arguments")
	}
	k, err := loadOrCreateKey(c, true)
	if err != nil {
		return err
	}
	ch, err := k.Issue(c.String("name"), time.Now(), c.Duration("ttl"))
	if err != nil {
		return exit(exitUsage, err)
	}
	b, err := json.MarshalIndent(ch, "", "  ")
	if err != nil {
		return exit(exitCouldNot, err)
	}
	b = append(b, '\n')
	if out := c.String("out"); out != "" {
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return exit(exitCouldNot, err)
		}
		fmt.Fprintf(c.App.ErrWriter, "challenge %s written to %s; expires %s\n", ch.Nonce, out, time.Unix(ch.ExpiresUnix, 0).UTC().Format(time.RFC3339))
		return nil
	}
	_, err = c.App.Writer.Write(b)
	return err
}

// maxChallengeFile bounds a challenge file.
const maxChallengeFile = 64 << 10

// readChallenge reads a challenge document strictly.
func readChallenge(path string) (evidence.Challenge, error) {
	var ch evidence.Challenge
	b, err := readFileLimited(path, maxChallengeFile)
	if err != nil {
		return ch, exit(exitCouldNot, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		return ch, exit(exitUsage, fmt.Errorf("%s is not a challenge: %w", path, err))
	}
	return ch, nil
}

func proveCommand() *cli.Command {
	return &cli.Command{
		Name:      "prove",
		Usage:     "answer a challenge: probe the endpoints, bind the proof into the TEE's attestation",
		ArgsUsage: " ",
		Description: "Runs K timed echoes to each endpoint (one endpoint at a time), assembles the\n" +
			"proof body, and binds ReportData(body) with the TEE: 'tdx' (configfs-tsm or the\n" +
			"TDX guest device), 'azure-tdx' (vTPM, paravisor, IMDS; --maa for a token) or\n" +
			"'sim' (the simulated TEE in --sim-dir, for development).",
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "challenge", Usage: "challenge `FILE` from the verifier", Required: true},
		}, proverFlags()...),
			&cli.StringFlag{Name: "out", Usage: "write the proof to `FILE`", Required: true},
		),
		Action: runProve,
	}
}

// proverFlags are the flags 'poc prove' and 'poc prover serve' share: what
// to probe, from where, and how to attest.
func proverFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "endpoints", Usage: "endpoint catalog `FILE` (a lab state file works too)", Required: true},
		&cli.StringFlag{Name: "region", Usage: "probe only the endpoints of this `REGION`"},
		&cli.StringSliceFlag{Name: "endpoint", Usage: "probe only this catalog `NAME` (repeatable)"},
		&cli.StringFlag{Name: "tee", Usage: "attestation source: sim, tdx or azure-tdx", Required: true},
		&cli.StringFlag{Name: "sim-dir", Usage: "with --tee sim: the simulated TEE `DIR` (from 'poc sim init')"},
		&cli.StringFlag{Name: "lab", Usage: "lab state `FILE`: route and trust as the lab says"},
		&cli.StringFlag{Name: "vantage", Usage: "lab vantage `NAME` (with --lab)"},
		&cli.StringFlag{Name: "bind-app", Usage: "application binding, up to 64 bytes as `HEX` (e.g. SHA-256 of the workload's key)"},
		&cli.IntFlag{Name: "echoes", Value: prover.DefaultEchoes, Usage: "echoes `K` per endpoint"},
		&cli.IntFlag{Name: "echoes-per-conn", Value: tlsprobe.DefaultEchoesPerConn, Usage: "at most `N` echoes on one connection (the size the profiles were calibrated with; an endpoint's budget may allow fewer)"},
		&cli.StringFlag{Name: "maa", Usage: "with --tee azure-tdx: MAA instance `URL` to ask for a token"},
		&cli.BoolFlag{Name: "tpm-quote", Usage: "with --tee azure-tdx: add a vTPM quote by the AK"},
	}
}

// selectEndpoints picks the catalog entries to probe: regional, usable, and
// matching --region and --endpoint.
func selectEndpoints(c *cli.Context, cat *datasets.Catalog) ([]datasets.Endpoint, error) {
	names := map[string]bool{}
	for _, n := range c.StringSlice("endpoint") {
		names[n] = true
	}
	var out []datasets.Endpoint
	for _, e := range cat.Endpoints {
		if len(names) > 0 && !names[e.Name] {
			continue
		}
		if r := c.String("region"); r != "" && e.Region != r {
			continue
		}
		if e.Usable() != nil {
			continue
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, usage("no usable regional endpoint in the catalog matches --region/--endpoint")
	}
	return out, nil
}

func attester(c *cli.Context) (prover.Attester, error) {
	switch tee := c.String("tee"); tee {
	case evidence.TEESim:
		dir := c.String("sim-dir")
		if dir == "" {
			return nil, usage("--tee sim needs --sim-dir DIR ('poc sim init' makes one)")
		}
		s, err := simtee.Load(dir)
		if err != nil {
			return nil, exit(exitCouldNot, err)
		}
		return &prover.Sim{TEEHierarchy: s}, nil
	case evidence.TEETDX:
		return &prover.TDX{}, nil
	case evidence.TEEAzureTDX:
		a := &prover.Azure{TPMQuote: c.Bool("tpm-quote"), AKCert: true, MAAEndpoint: c.String("maa")}
		if a.MAAEndpoint != "" {
			a.MAA = &maa.Client{Auth: &maa.ManagedIdentity{}}
		}
		return a, nil
	default:
		return nil, usage("--tee %q: want sim, tdx or azure-tdx", tee)
	}
}

// proverOptions builds the prover's options from the flags of proverFlags.
func proverOptions(c *cli.Context) (prover.Options, error) {
	var opts prover.Options
	cat, st, err := readCatalogOrState(c.String("endpoints"))
	if err != nil {
		return opts, err
	}
	eps, err := selectEndpoints(c, cat)
	if err != nil {
		return opts, err
	}
	att, err := attester(c)
	if err != nil {
		return opts, err
	}
	app, err := parseHexN("bind-app", c.String("bind-app"), 0)
	if err != nil {
		return opts, err
	}
	opts = prover.Options{Endpoints: eps, Echoes: c.Int("echoes"), EchoesPerConn: c.Int("echoes-per-conn"), Attester: att, AppBinding: app}
	if labPath := c.String("lab"); labPath != "" || st != nil {
		if labPath != "" {
			if st, err = lab.ReadStateFile(labPath); err != nil {
				return opts, exit(exitCouldNot, fmt.Errorf("reading lab state: %w", err))
			}
		}
		if c.String("vantage") == "" {
			return opts, usage("a lab proof needs --vantage NAME")
		}
		v, err := st.Vantage(c.String("vantage"))
		if err != nil {
			return opts, exit(exitUsage, err)
		}
		if opts.Roots, err = st.Roots(); err != nil {
			return opts, exit(exitCouldNot, err)
		}
		opts.Dial = v.Dialer()
	}
	return opts, nil
}

func runProve(c *cli.Context) error {
	if c.Args().Present() {
		return usage("prove takes no arguments")
	}
	ch, err := readChallenge(c.String("challenge"))
	if err != nil {
		return err
	}
	opts, err := proverOptions(c)
	if err != nil {
		return err
	}
	ctx, stop := notifyContext(c.Context)
	defer stop()
	p, err := prover.Prove(ctx, ch, opts)
	if err != nil {
		code := exitCouldNot
		if errors.Is(err, prover.ErrOptions) {
			code = exitUsage
		}
		return exit(code, fmt.Errorf("proving: %w", err))
	}
	f, err := os.Create(c.String("out"))
	if err != nil {
		return exit(exitCouldNot, err)
	}
	if err := p.Encode(f); err != nil {
		f.Close()
		return exit(exitCouldNot, err)
	}
	if err := f.Close(); err != nil {
		return exit(exitCouldNot, err)
	}
	k := 0
	for _, pr := range p.Body.Probes {
		for _, cn := range pr.Conns {
			k += len(cn.EchoCycles)
		}
	}
	fmt.Fprintf(c.App.ErrWriter, "proof written to %s: %d endpoints, %d echoes, bound with %s\n", c.String("out"), len(p.Body.Probes), k, p.Attestation.TEE)
	return nil
}
