package verifier

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/e2elab"
	"github.com/latencyproof/poc/prover"
)

// e2e is the end-to-end world (internal/e2elab) with a verifier's key and
// policy: everything a proof needs, shared by the package's tests.
type e2e struct {
	*e2elab.Env
	key    *ChallengeKey
	policy *Policy
}

var (
	e2eOnce sync.Once
	e2eEnv  *e2e
	e2eErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2elab.CloseShared()
	os.Exit(code)
}

// setup starts the shared environment once for the package's tests: a
// campaign of 200 probes of 16 echoes per endpoint, on connections of 4
// as proofs carry them, so the profiles get a probe level of that shape.
func setup(t *testing.T) *e2e {
	t.Helper()
	env := e2elab.Shared(t, e2elab.Options{Rounds: 200})
	e2eOnce.Do(func() {
		var key *ChallengeKey
		if key, e2eErr = NewChallengeKey(); e2eErr != nil {
			return
		}
		e2eEnv = &e2e{Env: env, key: key, policy: &Policy{
			Version: PolicyVersion,
			TEEs:    []string{evidence.TEESim},
			Counter: CounterPolicy{Sources: []string{"calibrated", "cpuid-0x15"}},
			// FRR 1e-6, not the usual 1e-3. The probe level holds the stated
			// FRR when the machine's load is steady (docs/EVALUATION.md: 0 of
			// 4,800 honest probes at 1e-3). But a test run shares the two cores
			// with other packages' tests, whose load comes in bursts and moves
			// every round trip between calibration and proof: under such load
			// 19 of 300 honest proofs were refused at 1e-3 and 4 of 300 at
			// 1e-6 (with connections taken as independent; the per-echo model:
			// 57 and 15). No calibrated FRR covers a
			// distribution that shifts after calibration. Relays 50 km away
			// add a millisecond, far beyond the threshold anyway.
			Latency: LatencyPolicy{Origin: "lab", MinEchoes: 8, FRR: 1e-6},
		}}
	})
	if e2eErr != nil {
		t.Fatal(e2eErr)
	}
	return e2eEnv
}

// prove answers a fresh challenge from a vantage with the simulated TEE.
func (e *e2e) prove(t *testing.T, vantage string, mut func(*prover.Options)) (*evidence.Proof, evidence.Challenge) {
	t.Helper()
	ch, err := e.key.Issue("e2e verifier", time.Now(), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.ProverOptions(vantage)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(&o)
	}
	p, err := prover.Prove(context.Background(), ch, o)
	if err != nil {
		t.Fatal(err)
	}
	return p, ch
}

func (e *e2e) options() Options {
	roots, _ := e.EndpointRoots()
	return Options{
		ChallengeKey: e.key, Nonces: NewMemoryNonces(), Collateral: e.Collateral, SimRoots: []*x509.Certificate{e.Sim.Root()},
		Profiles: e.Profiles, Catalog: &e.Lab.State.Catalog, EndpointRoots: roots,
	}
}

func TestVerifyHonestProofAccepted(t *testing.T) {
	e := setup(t)
	p, _ := e.prove(t, "westeurope-vm", nil)
	res, err := Verify(context.Background(), p, e.policy, e.options())
	if err != nil {
		t.Fatalf("%v\n%+v", err, res.Checks)
	}
	if !res.Accepted || res.Outcome != Accepted || len(res.Endpoints) != 2 || res.Claim.Region != "westeurope" {
		t.Fatalf("result %+v", res)
	}
	stages := map[string]bool{}
	for _, c := range res.Checks {
		stages[c.Stage] = c.OK
	}
	for _, s := range []string{StageProof, StageChallenge, StageTEE, StageCounter, StageQuote, StageBinding, StageTranscripts, StageScope, StageLatency} {
		if !stages[s] {
			t.Errorf("stage %s not reported as passed", s)
		}
	}
	if !strings.HasPrefix(res.Summary, "Accepted") || !strings.Contains(res.Summary, "same metro") {
		t.Errorf("summary %q", res.Summary)
	}
	for _, ep := range res.Endpoints {
		// 200 calibration probes of the proof's shape: each endpoint's
		// probe is one draw of its probe level.
		if ep.Unit != "probe" || len(ep.Conns) != 4 {
			t.Errorf("%s decided per %q on connections %v", ep.Endpoint, ep.Unit, ep.Conns)
		}
		if ep.BoundKm <= 0 || ep.MinRTTNs <= 0 || ep.Decision != "accept" || len(ep.FAR) == 0 {
			t.Errorf("endpoint %+v", ep)
		}
	}
}

// Relays tens and hundreds of km away are refused by latency.
func TestVerifyRelaysRefused(t *testing.T) {
	e := setup(t)
	for _, vantage := range []string{"relay-50km", "relay-300km"} {
		t.Run(vantage, func(t *testing.T) {
			p, _ := e.prove(t, vantage, nil)
			res, err := Verify(context.Background(), p, e.policy, e.options())
			var se *StageError
			if !errors.As(err, &se) || se.Stage != StageLatency || res.Outcome != RefusedLatency {
				t.Fatalf("err = %v (outcome %s), want a latency refusal", err, res.Outcome)
			}
			if !strings.HasPrefix(res.Summary, "Refused") {
				t.Fatalf("summary %q", res.Summary)
			}
		})
	}
}

// The binding rules: each misuse is refused with its own reason.
func TestVerifyBindingRules(t *testing.T) {
	e := setup(t)
	appKey := sha256.Sum256([]byte("workload public key"))
	p, _ := e.prove(t, "westeurope-vm", func(o *prover.Options) { o.AppBinding = appKey[:] })
	other, _ := e.prove(t, "westeurope-vm", nil)
	otherKey, _ := NewChallengeKey()

	t.Run("replayed", func(t *testing.T) {
		o := e.options()
		o.AppBinding = appKey[:]
		if _, err := Verify(context.Background(), p, e.policy, o); err != nil {
			t.Fatalf("first presentation: %v", err)
		}
		res, err := Verify(context.Background(), p, e.policy, o)
		if !errors.Is(err, ErrReplay) || res.Outcome != RefusedPolicy {
			t.Fatalf("err = %v (%s), want ErrReplay", err, res.Outcome)
		}
	})
	tests := []struct {
		name    string
		proof   func() *evidence.Proof
		opts    func(o *Options)
		want    error
		outcome Outcome
	}{
		{"another verifier's challenge", func() *evidence.Proof { return p }, func(o *Options) { o.ChallengeKey = otherKey }, ErrForeignChallenge, RefusedCrypto},
		{"expired challenge", func() *evidence.Proof { return p }, func(o *Options) { o.Now = func() time.Time { return time.Now().Add(time.Hour) } }, ErrChallengeExpired, RefusedPolicy},
		{"bound to another application", func() *evidence.Proof { return p }, func(o *Options) { k := sha256.Sum256([]byte("another key")); o.AppBinding = k[:] }, ErrAppBinding, RefusedPolicy},
		{"not bound to the expected application", func() *evidence.Proof { return other }, func(o *Options) { o.AppBinding = appKey[:] }, ErrAppBinding, RefusedPolicy},
		{"quote from another proof", func() *evidence.Proof { q := cloneProof(t, p); q.Attestation = other.Attestation; return q }, nil, ErrBinding, RefusedCrypto},
		{"body altered after binding", func() *evidence.Proof { q := cloneProof(t, p); q.Body.CreatedUnixNano++; return q }, nil, ErrBinding, RefusedCrypto},
		{"transcript tampered", func() *evidence.Proof { q := cloneProof(t, p); q.Sessions[0].S2C[100] ^= 1; return q }, nil, evidence.ErrSessions, RefusedCrypto},
		{"counter source refused", func() *evidence.Proof { return p }, nil, ErrCounter, RefusedPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := e.options()
			o.AppBinding = appKey[:]
			pol := e.policy
			if tt.opts != nil {
				tt.opts(&o)
			}
			if tt.name == "counter source refused" {
				strict := *e.policy
				strict.Counter = CounterPolicy{}
				pol = &strict
			}
			res, err := Verify(context.Background(), tt.proof(), pol, o)
			if !errors.Is(err, tt.want) || res.Outcome != tt.outcome {
				t.Fatalf("err = %v (%s), want %v (%s)", err, res.Outcome, tt.want, tt.outcome)
			}
		})
	}
}

// The simulated TEE is refused unless the policy names it and its root is
// given; a simulated quote never passes as "tdx".
func TestVerifySimulatedTEEIsExplicit(t *testing.T) {
	e := setup(t)
	p, _ := e.prove(t, "westeurope-vm", nil)
	def := *e.policy
	def.TEEs = nil
	if _, err := Verify(context.Background(), p, &def, e.options()); !errors.Is(err, ErrTEE) {
		t.Fatalf("default policy: err = %v, want ErrTEE", err)
	}
	o := e.options()
	o.SimRoots = nil
	if res, err := Verify(context.Background(), p, e.policy, o); !errors.Is(err, ErrOptions) || res.Outcome != CouldNotCheck {
		t.Fatalf("no sim root: err = %v", err)
	}
	// Relabelled as real TDX (body and attestation), the simulated quote
	// must fail DCAP: Intel's root does not vouch for it.
	q := cloneProof(t, p)
	q.Body.TEE, q.Attestation.TEE = evidence.TEETDX, evidence.TEETDX
	tdxPolicy := *e.policy
	tdxPolicy.TEEs = []string{evidence.TEETDX}
	if res, err := Verify(context.Background(), q, &tdxPolicy, e.options()); err == nil || res.Outcome != RefusedCrypto {
		t.Fatalf("relabelled sim quote: err = %v, outcome %s", err, res.Outcome)
	}
}
