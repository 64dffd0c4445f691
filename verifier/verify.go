package verifier

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/verifier/azure"
	"github.com/latencyproof/poc/verifier/dcap"
	"github.com/latencyproof/poc/verifier/maa"
)

// Stages of verification, in the order they run.
const (
	StageProof       = "proof"
	StageChallenge   = "challenge"
	StageTEE         = "tee"
	StageCounter     = "counter"
	StageQuote       = "quote"
	StageBinding     = "binding"
	StageMAA         = "maa"
	StageTranscripts = "transcripts"
	StageScope       = "scope"
	StageLatency     = "latency"
)

// Outcome is the kind of verdict, which a program acts on (the CLI maps it
// to its exit codes).
type Outcome string

// Outcomes.
const (
	// Accepted: every check passed and the latencies support the claim.
	Accepted Outcome = "accepted"
	// RefusedCrypto: the evidence does not verify — malformed, forged,
	// altered, or answering another verifier's challenge.
	RefusedCrypto Outcome = "refused-crypto"
	// RefusedPolicy: the evidence is sound but the policy says no (TCB
	// status, debug TD, expired or replayed challenge, another
	// application's binding, an endpoint out of its region's scope).
	RefusedPolicy Outcome = "refused-policy"
	// RefusedLatency: the round trips do not support the claimed region.
	RefusedLatency Outcome = "refused-latency"
	// CouldNotCheck: something the verifier needs was missing or
	// unreachable (collateral, keys, profiles): no verdict on the proof.
	CouldNotCheck Outcome = "could-not-check"
)

// StageError is the error that ended verification: its stage and outcome.
type StageError struct {
	Stage   string
	Outcome Outcome
	Err     error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// Errors of the binding rules; each is a refusal with its own reason.
var (
	// ErrReplay: a proof for this challenge was already presented.
	ErrReplay = errors.New("challenge already used (replayed proof)")
	// ErrAppBinding: the proof is bound to another application key.
	ErrAppBinding = errors.New("proof bound to another application")
	// ErrBinding: the attestation does not bind this proof body.
	ErrBinding = errors.New("attestation does not bind the proof")
	// ErrTEE: the TEE kind is not accepted or contradicts itself.
	ErrTEE = errors.New("TEE not accepted")
	// ErrCounter: the counter frequency is not believed.
	ErrCounter = errors.New("counter frequency not accepted")
	// ErrScope: an endpoint does not stand for its region.
	ErrScope = errors.New("endpoint out of scope")
	// ErrOptions: the verifier lacks something it needs.
	ErrOptions = errors.New("verifier options incomplete")
)

// NonceStore remembers which challenges have been answered, so that a
// proof cannot be presented twice. Implementations must be safe for
// concurrent use and Use must be atomic.
type NonceStore interface {
	// Seen reports whether the nonce was used.
	Seen(nonce evidence.Hash) (bool, error)
	// Use records the nonce until expires, and fails with ErrReplay if it
	// was recorded already.
	Use(nonce evidence.Hash, expires time.Time) error
}

// Options are the verifier's plumbing: keys, trust anchors, data sources.
type Options struct {
	// ChallengeKey authenticates this verifier's challenges. Required.
	ChallengeKey *ChallengeKey
	// Nonces records answered challenges; nil means replays are not
	// detected (the result says so).
	Nonces NonceStore
	// Collateral gives Intel collateral for quotes. Required.
	Collateral dcap.Source
	// SimRoots are simulated TEE roots trusted for proofs whose TEE is
	// "sim" (and only those), when the policy accepts "sim".
	SimRoots []*x509.Certificate
	// MAAKeys verifies MAA tokens; required when a token is to be checked.
	MAAKeys maa.KeySource
	// AKRoots verify the Azure vTPM AK certificate (Microsoft's root in
	// production).
	AKRoots *x509.CertPool
	// Profiles are the calibrated datacenter profiles. Required.
	Profiles *profile.File
	// Catalog describes the endpoints: region, coordinates, scope.
	// Required.
	Catalog *datasets.Catalog
	// EndpointRoots verify the endpoints' certificates; nil means the
	// system pool.
	EndpointRoots *x509.CertPool
	// AppBinding, when set, is the application binding the proof must
	// carry (e.g. SHA-256 of the workload key the verifier is about to
	// trust): a proof bound to another is refused.
	AppBinding []byte
	// Claim is the region the prover must be in; nil means the region of
	// the endpoints it probed (all of them must then be of one region).
	Claim *verdict.Claim
	// Now is the verifier's clock; nil means time.Now.
	Now func() time.Time
}

// Check is one stage's outcome, for people and programs.
type Check struct {
	Stage  string `json:"stage"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// FARAt is a false-accept rate at a relay distance.
type FARAt struct {
	DistanceKm float64 `json:"distance_km"`
	FAR        float64 `json:"far"`
}

// EndpointResult is the latency appraisal of one endpoint.
type EndpointResult struct {
	Endpoint string `json:"endpoint"`
	Provider string `json:"provider"`
	Region   string `json:"region"`
	Method   string `json:"method"`
	InClaim  bool   `json:"in_claimed_region"`
	K        int    `json:"k"`
	// Conns are the echoes per connection; Unit what the verdict took as
	// one independent draw: "probe" (the profile's probe level of this
	// shape), "connection" or "echo" (whose stated FRR is optimistic; the
	// limits say so).
	Conns       []int            `json:"conns,omitempty"`
	Unit        string           `json:"unit"`
	MinRTTNs    float64          `json:"min_rtt_ns"`
	ThresholdNs float64          `json:"threshold_ns"`
	BoundKm     float64          `json:"vacuum_bound_km"`
	Decision    verdict.Decision `json:"decision"`
	Reason      verdict.Reason   `json:"reason"`
	FRR         float64          `json:"frr"`
	FAR         []FARAt          `json:"far"`
	Scope       string           `json:"scope"`
}

// Result is what a verification established. Only Accepted means the
// proof was accepted; the rest explains.
type Result struct {
	Accepted bool    `json:"accepted"`
	Outcome  Outcome `json:"outcome"`
	// Summary is one sentence a person can read.
	Summary string  `json:"summary"`
	Checks  []Check `json:"checks"`

	Verifier  string        `json:"verifier,omitempty"`
	TEE       string        `json:"tee,omitempty"`
	TCBStatus string        `json:"tcb_status,omitempty"`
	Claim     verdict.Claim `json:"claim"`
	// SecondRoot names the roots of trust besides the TDX quote that
	// vouched for this TD ("maa", "vtpm"); empty when there were none.
	SecondRoot []string `json:"second_root"`

	Endpoints    []EndpointResult  `json:"endpoints,omitempty"`
	Feasible     *verdict.Feasible `json:"feasible_region,omitempty"`
	ResolutionKm float64           `json:"resolution_km,omitempty"`
	FAR          []FARAt           `json:"far,omitempty"`
	FRR          float64           `json:"frr,omitempty"`
	// Limits are what this verdict cannot show.
	Limits []string `json:"limits"`
}

type run struct {
	ctx  context.Context
	p    *evidence.Proof
	pol  *Policy
	o    Options
	now  time.Time
	res  *Result
	rd   [evidence.ReportDataSize]byte
	dres *dcap.Result
}

// Verify checks a proof in order, failing closed: the challenge (fresh,
// ours, unexpired, not replayed), the TEE and counter, the quote (DCAP
// chain, collateral, TCB status and measurements against policy), the
// binding of the body into the attestation (and the application binding),
// MAA, the transcripts (every session re-verified, every round trip
// recomputed), each endpoint's region scope, and the latency verdict.
//
// The Result is never nil. The error, when there is one, is a *StageError
// naming the stage and the outcome; Result.Outcome carries the same.
func Verify(ctx context.Context, p *evidence.Proof, pol *Policy, opts Options) (*Result, error) {
	r := &run{ctx: ctx, p: p, pol: pol, o: opts, res: &Result{Limits: []string{}, SecondRoot: []string{}}}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	r.now = now()
	err := r.verify()
	if err != nil {
		var se *StageError
		if !errors.As(err, &se) {
			se = &StageError{Stage: StageProof, Outcome: CouldNotCheck, Err: err}
			err = se
		}
		r.res.Outcome = se.Outcome
		r.res.Checks = append(r.res.Checks, Check{Stage: se.Stage, OK: false, Detail: se.Err.Error()})
		r.res.Summary = fmt.Sprintf("Refused at the %s stage (%s): %v.", se.Stage, se.Outcome, se.Err)
		if se.Outcome == CouldNotCheck {
			r.res.Summary = fmt.Sprintf("Could not check the proof at the %s stage: %v.", se.Stage, se.Err)
		}
		return r.res, err
	}
	r.res.Accepted, r.res.Outcome = true, Accepted
	return r.res, nil
}

func fail(stage string, o Outcome, err error) error {
	return &StageError{Stage: stage, Outcome: o, Err: err}
}

func (r *run) ok(stage, format string, a ...any) {
	r.res.Checks = append(r.res.Checks, Check{Stage: stage, OK: true, Detail: fmt.Sprintf(format, a...)})
}

func (r *run) verify() error {
	p, pol, o := r.p, r.pol, r.o
	if p == nil || pol == nil {
		return fail(StageProof, CouldNotCheck, fmt.Errorf("%w: no proof or no policy", ErrOptions))
	}
	if o.ChallengeKey == nil || o.Collateral == nil || o.Profiles == nil || o.Catalog == nil {
		return fail(StageProof, CouldNotCheck, fmt.Errorf("%w: the challenge key, collateral, profiles and catalog are required", ErrOptions))
	}
	if p.Version != evidence.Version {
		return fail(StageProof, RefusedCrypto, fmt.Errorf("%w: version %d", evidence.ErrUnsupportedVersion, p.Version))
	}
	rd, err := evidence.ReportData(&p.Body)
	if err != nil {
		return fail(StageProof, RefusedCrypto, err)
	}
	r.rd = rd
	r.ok(StageProof, "proof format v%d; report data %x…", p.Version, rd[:8])
	for _, step := range []func() error{r.challenge, r.tee, r.counter, r.quote, r.binding, r.consume, r.maa, r.transcriptsAndLatency} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) challenge() error {
	c := &r.p.Body.Challenge
	skew := time.Duration(r.pol.ChallengeSkew)
	if skew == 0 {
		skew = time.Minute
	}
	if err := r.o.ChallengeKey.CheckChallenge(c, r.now, skew); err != nil {
		out := RefusedPolicy
		if errors.Is(err, ErrForeignChallenge) {
			out = RefusedCrypto
		}
		return fail(StageChallenge, out, err)
	}
	r.res.Verifier = c.Verifier
	if r.o.Nonces == nil {
		r.res.Limits = append(r.res.Limits, "replays are not detected: this verification keeps no record of answered challenges")
	} else {
		seen, err := r.o.Nonces.Seen(c.Nonce)
		if err != nil {
			return fail(StageChallenge, CouldNotCheck, fmt.Errorf("reading the nonce store: %w", err))
		}
		if seen {
			return fail(StageChallenge, RefusedPolicy, ErrReplay)
		}
	}
	r.ok(StageChallenge, "issued by %s at %s, expires %s, not answered before",
		c.Verifier, time.Unix(c.IssuedUnix, 0).UTC().Format(time.RFC3339), time.Unix(c.ExpiresUnix, 0).UTC().Format(time.RFC3339))
	return nil
}

func (r *run) tee() error {
	b, a := &r.p.Body, &r.p.Attestation
	if b.TEE != a.TEE {
		return fail(StageTEE, RefusedCrypto, fmt.Errorf("%w: the body says %q, the attestation %q", ErrTEE, b.TEE, a.TEE))
	}
	if a.Azure != nil && a.TEE != evidence.TEEAzureTDX {
		// Evidence nothing binds or checks must not ride along unnoticed.
		return fail(StageTEE, RefusedCrypto, fmt.Errorf("%w: Azure evidence in a %q proof", ErrTEE, a.TEE))
	}
	if !r.pol.AllowsTEE(b.TEE) {
		return fail(StageTEE, RefusedPolicy, fmt.Errorf("%w: %q is not in the policy's tees", ErrTEE, b.TEE))
	}
	if b.TEE == evidence.TEESim {
		if len(r.o.SimRoots) == 0 {
			return fail(StageTEE, CouldNotCheck, fmt.Errorf("%w: a simulated-TEE proof needs the simulated root", ErrOptions))
		}
		r.res.Limits = append(r.res.Limits, "the TEE is SIMULATED: this proof says nothing about real hardware")
	}
	r.res.TEE = b.TEE
	r.ok(StageTEE, "%s, accepted by policy", b.TEE)
	return nil
}

func (r *run) counter() error {
	c := r.p.Body.Counter
	pol := r.pol.Counter
	sources := pol.Sources
	if len(sources) == 0 {
		sources = []string{string(timing.SourceCPUID15)}
	}
	if !slices.Contains(sources, c.Source) {
		return fail(StageCounter, RefusedPolicy, fmt.Errorf("%w: source %q is not in %v (only the TDX module's CPUID leaf 0x15 is vouched for)", ErrCounter, c.Source, sources))
	}
	lo, hi := pol.MinHz, pol.MaxHz
	if lo == 0 {
		lo = 500_000_000
	}
	if hi == 0 {
		hi = 10_000_000_000
	}
	if c.Hz < lo || c.Hz > hi {
		return fail(StageCounter, RefusedPolicy, fmt.Errorf("%w: %d Hz is outside [%d, %d]", ErrCounter, c.Hz, lo, hi))
	}
	r.ok(StageCounter, "%s at %.3f MHz (%s)", c.Kind, float64(c.Hz)/1e6, c.Source)
	return nil
}

// quote verifies the TD quote's DCAP chain and policy; on Azure, first the
// HCL report chain that binds it.
func (r *run) quote() error {
	a := &r.p.Attestation
	opts := dcap.Options{Collateral: r.o.Collateral, At: r.now}
	if a.TEE == evidence.TEESim {
		// Only a proof that says "sim" may chain to a simulated root: a
		// simulated quote can never pass as real hardware.
		opts.Roots = r.o.SimRoots
	}
	quote := a.Quote
	if a.TEE == evidence.TEEAzureTDX {
		if a.Azure == nil {
			return fail(StageQuote, RefusedCrypto, errors.New("an azure-tdx proof without Azure evidence"))
		}
		in := azure.Evidence{HCLReport: a.Azure.HCLReport, TDQuote: a.Quote, AKCert: a.Azure.AKCert}
		if q := a.Azure.TPMQuote; q != nil {
			in.TPMQuote = &azure.TPMQuote{Attest: q.Attest, Signature: q.Signature, PCRs: q.PCRs, Indices: q.Indices}
		}
		ares, err := azure.Verify(in, azure.Options{ExpectedUserData: r.rd[:], TPMNonce: r.rd[:32], AKRoots: r.o.AKRoots, Now: func() time.Time { return r.now }})
		if err != nil {
			stage, out := StageQuote, RefusedCrypto
			if errors.Is(err, azure.ErrUserData) || errors.Is(err, azure.ErrTPMNonce) {
				stage = StageBinding
			}
			return fail(stage, out, err)
		}
		if err := r.pol.Azure.Check(ares); err != nil {
			return fail(StageQuote, RefusedPolicy, err)
		}
		if ares.AKCert != nil {
			r.res.SecondRoot = append(r.res.SecondRoot, "vtpm")
		}
		quote = ares.TDQuote
		r.ok(StageQuote, "Azure HCL report: SHA-256 of its runtime data binds the TD quote; user-data is this proof's report data; vTPM quote %v", ares.TPM != nil)
	}
	res, err := dcap.Verify(r.ctx, quote, opts)
	if err != nil {
		out := RefusedCrypto
		if errors.Is(err, dcap.ErrCouldNotCheck) {
			out = CouldNotCheck
		}
		return fail(StageQuote, out, err)
	}
	r.res.TCBStatus = string(res.TCBStatus)
	if err := r.pol.Quote.Check(res); err != nil {
		return fail(StageQuote, RefusedPolicy, err)
	}
	r.dres = res
	r.ok(StageQuote, "TDX v%d quote, DCAP chain and collateral valid, TCB %s, MRTD %.16s…", res.QuoteVersion, res.TCBStatus, res.MRTD)
	return nil
}

func (r *run) binding() error {
	a := &r.p.Attestation
	if a.TEE != evidence.TEEAzureTDX {
		if got := r.dres.ReportDataBytes(); got != r.rd {
			return fail(StageBinding, RefusedCrypto, fmt.Errorf("%w: the quote's REPORTDATA %x… is not this body's %x…", ErrBinding, got[:8], r.rd[:8]))
		}
	}
	if want := r.o.AppBinding; want != nil && !bytes.Equal(r.p.Body.AppBinding, want) {
		return fail(StageBinding, RefusedPolicy, fmt.Errorf("%w: bound to %x, want %x", ErrAppBinding, r.p.Body.AppBinding, want))
	}
	detail := "REPORTDATA = ReportData(body)"
	if a.TEE == evidence.TEEAzureTDX {
		detail = "HCL user-data = ReportData(body); vTPM nonce = its first 32 bytes"
	}
	if len(r.p.Body.AppBinding) > 0 {
		detail += fmt.Sprintf("; application binding %x", r.p.Body.AppBinding)
		if r.o.AppBinding == nil {
			r.res.Limits = append(r.res.Limits, "the application binding was not compared with an expected key")
		}
	}
	r.ok(StageBinding, "%s", detail)
	return nil
}

func (r *run) maa() error {
	tok := r.p.Attestation.MAAToken
	if tok == "" {
		if r.pol.RequireMAA {
			return fail(StageMAA, RefusedPolicy, errors.New("the policy requires an MAA token and the proof has none"))
		}
		return nil
	}
	if r.pol.MAA == nil {
		r.res.Limits = append(r.res.Limits, "the proof's MAA token was not checked: the policy names no MAA issuer")
		return nil
	}
	if r.o.MAAKeys == nil {
		return fail(StageMAA, CouldNotCheck, fmt.Errorf("%w: no MAA keys", ErrOptions))
	}
	res, err := maa.Verify(r.ctx, []byte(tok), maa.Options{Keys: r.o.MAAKeys, At: r.now, UserData: r.rd[:]}, *r.pol.MAA)
	if err != nil {
		var pe *maa.PolicyError
		out := RefusedCrypto
		switch {
		case maa.Indeterminate(err):
			out = CouldNotCheck
		case errors.Is(err, maa.ErrUserData):
			// The token vouches for another proof: a binding failure.
		case errors.As(err, &pe):
			out = RefusedPolicy
		}
		return fail(StageMAA, out, err)
	}
	if res.TDX != nil && r.dres != nil && len(res.TDX.MRTD) > 0 && !strings.EqualFold(res.TDX.MRTD.String(), r.dres.MRTD) {
		return fail(StageMAA, RefusedCrypto, fmt.Errorf("the MAA token vouches for MRTD %s, the quote is of %s", res.TDX.MRTD, r.dres.MRTD))
	}
	r.res.SecondRoot = append(r.res.SecondRoot, "maa")
	r.ok(StageMAA, "token from %s (%s), user-data = this proof's report data", res.Issuer, res.AttestationType)
	return nil
}

// consume records the challenge as answered. It runs once the attestation is
// known to bind this body to this challenge — before the transcripts and the
// latency are judged — so that each challenge gives a TD exactly one
// attempt: a prover refused for its round trips cannot try again and again
// with the same challenge until chance lets a far relay through. (A proof
// refused before this point is not the TD's: it cannot use the challenge up.)
func (r *run) consume() error {
	if r.o.Nonces == nil {
		return nil
	}
	c := &r.p.Body.Challenge
	if err := r.o.Nonces.Use(c.Nonce, time.Unix(c.ExpiresUnix, 0)); err != nil {
		if errors.Is(err, ErrReplay) {
			return fail(StageChallenge, RefusedPolicy, ErrReplay)
		}
		return fail(StageChallenge, CouldNotCheck, fmt.Errorf("recording the nonce: %w", err))
	}
	return nil
}

func (r *run) transcriptsAndLatency() error {
	p, o := r.p, r.o
	if err := p.CheckSessions(); err != nil {
		return fail(StageTranscripts, RefusedCrypto, err)
	}
	roots := o.EndpointRoots
	if roots == nil {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return fail(StageTranscripts, CouldNotCheck, fmt.Errorf("loading system roots: %w", err))
		}
	}
	at := time.Unix(p.Body.Challenge.IssuedUnix, 0)
	probes, err := checkTranscripts(p, roots, at)
	if err != nil {
		return fail(StageTranscripts, RefusedCrypto, err)
	}
	n := 0
	for _, pe := range probes {
		n += len(pe.EchoCycles)
	}
	r.ok(StageTranscripts, "%d sessions re-verified (chain at the challenge time, CertificateVerify, Finished, nonce-derived values); %d echo round trips recomputed from their stamps", len(p.Sessions), n)

	entries, scopes, err := r.scope(probes)
	if err != nil {
		return err
	}
	return r.latency(probes, entries, scopes)
}

// scope checks that every probed endpoint is in the catalog, regional, and
// that every session shows it answered for its region.
func (r *run) scope(probes []ProbeEvidence) ([]datasets.Endpoint, []string, error) {
	var entries []datasets.Endpoint
	var bases []string
	for i, pe := range probes {
		pr := &r.p.Body.Probes[i]
		e, ok := r.o.Catalog.Lookup(pr.Endpoint)
		if !ok {
			return nil, nil, fail(StageScope, RefusedPolicy, fmt.Errorf("%w: %q is not in the catalog", ErrScope, pr.Endpoint))
		}
		if e.Hostname != pr.Hostname || e.Port != int(pr.Port) {
			return nil, nil, fail(StageScope, RefusedPolicy, fmt.Errorf("%w: %s is %s:%d in the catalog, the proof probed %s:%d", ErrScope, e.Name, e.Hostname, e.Port, pr.Hostname, pr.Port))
		}
		basis := ""
		for j, ev := range pe.Scope {
			sr, err := e.ScopeCheck(ev)
			if err != nil {
				return nil, nil, fail(StageScope, RefusedPolicy, fmt.Errorf("%w: %s connection %d: %w", ErrScope, e.Name, j, err))
			}
			basis = string(sr.Basis)
		}
		entries = append(entries, e)
		bases = append(bases, basis)
	}
	r.ok(StageScope, "%d endpoints regional, each session in its region's scope", len(entries))
	return entries, bases, nil
}

func (r *run) latency(probes []ProbeEvidence, entries []datasets.Endpoint, bases []string) error {
	lp := r.pol.Latency
	hz := float64(r.p.Body.Counter.Hz)
	clock := profile.ClockCounter
	if lp.Clock == "kernel" {
		clock = profile.ClockKernel
	}
	minK := lp.MinEchoes
	if minK == 0 {
		minK = 8
	}
	claim := r.o.Claim
	var obs []verdict.Observation
	for i, pe := range probes {
		if len(pe.EchoCycles) < minK {
			return fail(StageLatency, RefusedPolicy, fmt.Errorf("%s: %d echoes, the policy asks for at least %d", pe.Endpoint, len(pe.EchoCycles), minK))
		}
		rtts := make([]float64, len(pe.EchoCycles))
		for j, c := range pe.EchoCycles {
			rtts[j] = float64(c) * 1e9 / hz
		}
		if clock == profile.ClockKernel {
			if len(pe.EchoKernelNs) != len(rtts) {
				return fail(StageLatency, RefusedPolicy, fmt.Errorf("%s: the policy appraises kernel timestamps and the proof has none", pe.Endpoint))
			}
			for j, k := range pe.EchoKernelNs {
				// The kernel's stamp precedes the reader's wake-up, so its
				// round trip is shorter than the counter's, never longer
				// (beyond 1% and 20 µs for clock granularity).
				if float64(k) > rtts[j]*1.01+20e3 {
					return fail(StageLatency, RefusedCrypto, fmt.Errorf("%s echo %d: the kernel's round trip %.0f ns exceeds the counter's %.0f ns: the frequency or the kernel's clock is wrong", pe.Endpoint, j, float64(k), rtts[j]))
				}
				rtts[j] = float64(k)
			}
		}
		// The echoes per connection, in the order pe's echoes follow them
		// (checkTranscripts matched each connection's count with its
		// transcript): the verdict takes connections, not echoes, as
		// independent.
		var conns []int
		for _, c := range r.p.Body.Probes[i].Conns {
			if n := len(c.EchoCycles); n > 0 {
				conns = append(conns, n)
			}
		}
		obs = append(obs, verdict.Observation{Endpoint: entries[i].Name, Method: pe.Method, RTTs: rtts, Conns: conns})
		if claim == nil {
			claim = &verdict.Claim{Provider: entries[i].Provider, Region: entries[i].Region}
		} else if r.o.Claim == nil && (claim.Provider != entries[i].Provider || claim.Region != entries[i].Region) {
			return fail(StageLatency, CouldNotCheck, fmt.Errorf("%w: the proof probes several regions; say which one is claimed", ErrOptions))
		}
	}
	r.res.Claim = *claim
	var regions []verdict.Region
	seen := map[string]bool{}
	for _, e := range r.o.Catalog.Endpoints {
		k := e.Provider + "/" + e.Region
		if !seen[k] {
			seen[k] = true
			regions = append(regions, verdict.Region{Provider: e.Provider, Name: e.Region, Lat: e.Lat, Lon: e.Lon})
		}
	}
	vo := verdict.Options{FRR: lp.FRR, FARTarget: lp.FARTarget, DistancesKm: lp.DistancesKm, Origin: profile.Origin(lp.Origin), Clock: clock, AllowMissing: lp.AllowMissing}
	if vo.DistancesKm == nil {
		vo.DistancesKm = []float64{1, 10, 50, 100, 500}
	}
	pv, err := verdict.DecideProof(r.o.Profiles, *claim, obs, regions, vo)
	if err != nil {
		out := CouldNotCheck
		if errors.Is(err, verdict.ErrRTT) || errors.Is(err, verdict.ErrNoEchoes) {
			out = RefusedCrypto
		}
		return fail(StageLatency, out, err)
	}
	all := append(append([]verdict.Verdict{}, pv.Endpoints...), pv.Others...)
	for _, v := range all {
		er := EndpointResult{
			Endpoint: v.Endpoint, Provider: v.Provider, Region: v.Region, Method: v.Method,
			InClaim: v.Provider == claim.Provider && v.Region == claim.Region,
			K:       v.K, Conns: v.Conns, Unit: v.Unit, MinRTTNs: v.MinNs, ThresholdNs: v.Threshold, BoundKm: v.BoundKm,
			Decision: v.Decision, Reason: v.Reason, FRR: v.FRR,
		}
		for _, f := range v.FAR {
			er.FAR = append(er.FAR, FARAt{DistanceKm: f.DistanceKm, FAR: f.FAR})
		}
		for i, e := range entries {
			if e.Name == v.Endpoint {
				er.Scope = bases[i]
			}
		}
		r.res.Endpoints = append(r.res.Endpoints, er)
	}
	feasible := pv.Feasible
	r.res.Feasible, r.res.ResolutionKm, r.res.FRR = &feasible, pv.ResolutionKm, pv.FRR
	for _, f := range pv.FAR {
		r.res.FAR = append(r.res.FAR, FARAt{DistanceKm: f.DistanceKm, FAR: f.FAR})
	}
	r.res.Limits = append(r.res.Limits, pv.Limitations...)
	if len(r.res.SecondRoot) == 0 {
		r.res.Limits = append(r.res.Limits, "no second root of trust (MAA token or vTPM AK certificate): a TDX attestation key extracted from a TD elsewhere would go unnoticed")
	}
	if pv.Decision != verdict.Accept {
		reasons := make([]string, len(pv.Reasons))
		for i, x := range pv.Reasons {
			reasons[i] = string(x)
		}
		for _, v := range pv.Endpoints {
			if v.Decision != verdict.Accept {
				reasons = append(reasons, fmt.Sprintf("%s %s (min %.3f ms, threshold %.3f ms)", v.Endpoint, v.Reason, v.MinNs/1e6, v.Threshold/1e6))
			}
		}
		r.res.Summary = r.sentence(false, reasons)
		return fail(StageLatency, RefusedLatency, fmt.Errorf("the round trips do not support %s/%s: %s", claim.Provider, claim.Region, strings.Join(reasons, ", ")))
	}
	r.ok(StageLatency, "%d endpoints of %s/%s within their thresholds at FRR %.0e; resolution %.0f km at FAR %.0e",
		len(pv.Endpoints), claim.Provider, claim.Region, pv.FRR, pv.ResolutionKm, pv.FARTarget)
	r.res.Summary = r.sentence(true, nil)
	return nil
}

// sentence writes the summary a person reads.
func (r *run) sentence(accepted bool, reasons []string) string {
	c := r.res.Claim
	minNs, bound := math.Inf(1), math.Inf(1)
	for _, e := range r.res.Endpoints {
		if e.InClaim {
			minNs = math.Min(minNs, e.MinRTTNs)
			bound = math.Min(bound, e.BoundKm)
		}
	}
	second := "no second root of trust"
	if len(r.res.SecondRoot) > 0 {
		second = "second root of trust: " + strings.Join(r.res.SecondRoot, ", ")
	}
	if !accepted {
		return fmt.Sprintf("Refused: the TD's round trips (fastest %.3f ms) do not support a place in %s/%s (%s).", minNs/1e6, c.Provider, c.Region, strings.Join(reasons, ", "))
	}
	return fmt.Sprintf("Accepted: this %s TD (TCB %s) answered %s/%s's endpoints within their calibrated thresholds, fastest round trip %.3f ms, so it is within %.0f km of them in vacuum; a relay in the same metro cannot be excluded; %s.",
		r.res.TEE, r.res.TCBStatus, c.Provider, c.Region, minNs/1e6, bound, second)
}
