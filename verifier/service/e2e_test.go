package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/e2elab"
	proversvc "github.com/latencyproof/poc/prover/service"
	"github.com/latencyproof/poc/verifier"
)

// e2e is the end-to-end world (internal/e2elab, as in the verifier's own
// end-to-end test) with a verifier's key and policy, shared by the
// package's end-to-end tests.
type e2e struct {
	*e2elab.Env
	key    *verifier.ChallengeKey
	policy *verifier.Policy
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

// setup starts the shared environment once.
func setup(t testing.TB) *e2e {
	t.Helper()
	env := e2elab.Shared(t, e2elab.Options{Rounds: 100})
	e2eOnce.Do(func() {
		var key *verifier.ChallengeKey
		if key, e2eErr = verifier.NewChallengeKey(); e2eErr != nil {
			return
		}
		e2eEnv = &e2e{Env: env, key: key, policy: &verifier.Policy{
			Version: verifier.PolicyVersion,
			TEEs:    []string{evidence.TEESim},
			Counter: verifier.CounterPolicy{Sources: []string{"calibrated", "cpuid-0x15"}},
			// FRR 1e-6: the lab shares two cores with the rest of the test
			// run; relays 50 km away add a millisecond, far beyond any
			// threshold anyway.
			Latency: verifier.LatencyPolicy{Origin: "lab", MinEchoes: 8, FRR: 1e-6},
		}}
	})
	if e2eErr != nil {
		t.Fatal(e2eErr)
	}
	return e2eEnv
}

// options are the verifier's plumbing for the lab, with a nonce store.
func (e *e2e) options(nonces verifier.NonceStore) verifier.Options {
	roots, _ := e.Lab.State.Roots()
	return verifier.Options{
		ChallengeKey: e.key, Nonces: nonces, Collateral: e.Collateral, SimRoots: []*x509.Certificate{e.Sim.Root()},
		Profiles: e.Profiles, Catalog: &e.Lab.State.Catalog, EndpointRoots: roots,
	}
}

// nonceFile opens a nonce store on disk, closed when the test ends.
func nonceFile(t testing.TB, path string) *verifier.NonceFile {
	t.Helper()
	nf, err := verifier.OpenNonceFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nf.Close() })
	return nf
}

// verifierService starts a verifier service on loopback.
func (e *e2e) verifierService(t testing.TB, nonces verifier.NonceStore, mut func(*Config)) *httptest.Server {
	t.Helper()
	cfg := Config{Name: "e2e verifier", Policy: e.policy, Options: e.options(nonces)}
	if mut != nil {
		mut(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return srv
}

// proverService starts a prover service on loopback, probing the lab's
// westeurope endpoints from a vantage with the simulated TEE.
func (e *e2e) proverService(t testing.TB, vantage string, mut func(*proversvc.Config)) *httptest.Server {
	t.Helper()
	o, err := e.ProverOptions(vantage)
	if err != nil {
		t.Fatal(err)
	}
	cfg := proversvc.Config{Options: o, RatePerMinute: 6000, Burst: 100}
	if mut != nil {
		mut(&cfg)
	}
	svc, err := proversvc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return srv
}

// post sends a JSON body and returns the status and the answer's body.
func post(t testing.TB, client *http.Client, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// challengeFrom asks a verifier service for a challenge.
func challengeFrom(t testing.TB, verifierURL string) []byte {
	t.Helper()
	status, b := post(t, http.DefaultClient, verifierURL+PathChallenges, nil)
	if status != http.StatusOK {
		t.Fatalf("challenge: status %d: %s", status, b)
	}
	return b
}

// proofFrom asks a prover service to answer a challenge.
func proofFrom(t testing.TB, proverURL string, challenge []byte) []byte {
	t.Helper()
	status, b := post(t, http.DefaultClient, proverURL+proversvc.PathProofs, challenge)
	if status != http.StatusOK {
		t.Fatalf("proof: status %d: %s", status, b)
	}
	return b
}

// honestProof asks a prover service for a proof answering a fresh
// challenge of the verifier service at verifierURL, and checks with a dry
// run (verifier.Verify on a throw-away nonce store) that its round trips
// pass. On a loaded machine an honest campaign is now and then slowed past
// the lab profiles' thresholds: the latency verdict's false reject, which
// is not what these tests are about, so such a campaign is run again (up to
// 5 times). Any other refusal fails the test.
func (e *e2e) honestProof(t testing.TB, proverURL, verifierURL string) []byte {
	t.Helper()
	for attempt := 1; ; attempt++ {
		proof := proofFrom(t, proverURL, challengeFrom(t, verifierURL))
		p, err := evidence.Decode(bytes.NewReader(proof))
		if err != nil {
			t.Fatal(err)
		}
		res, err := verifier.Verify(context.Background(), p, e.policy, e.options(verifier.NewMemoryNonces()))
		if err == nil {
			return proof
		}
		if res.Outcome != verifier.RefusedLatency || attempt == 5 {
			t.Fatalf("an honest proof, attempt %d: %v", attempt, err)
		}
		t.Logf("attempt %d: an honest campaign was slowed past the thresholds (%v); again", attempt, err)
	}
}

// verify presents a proof to a verifier service.
func verify(t testing.TB, client *http.Client, verifierURL, query string, proof []byte) (int, Response) {
	t.Helper()
	url := verifierURL + PathVerifications
	if query != "" {
		url += "?" + query
	}
	status, b := post(t, client, url, proof)
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("status %d: the answer is not JSON: %v\n%s", status, err, b)
	}
	return status, r
}

// wantVerdict checks a verification's answer: 200, the outcome and reason.
func wantVerdict(t testing.TB, status int, r Response, outcome verifier.Outcome, reason string) {
	t.Helper()
	if status != http.StatusOK || r.Result == nil || r.Outcome != outcome || r.Reason != reason {
		var checks []verifier.Check
		if r.Result != nil {
			checks = r.Checks
		}
		t.Fatalf("status %d, outcome %q, reason %q; want 200, %q, %q\nchecks: %+v", status, outcomeOf(r), r.Reason, outcome, reason, checks)
	}
	if r.Accepted != (outcome == verifier.Accepted) {
		t.Fatalf("accepted %v with outcome %s", r.Accepted, r.Outcome)
	}
}

func outcomeOf(r Response) verifier.Outcome {
	if r.Result == nil {
		return ""
	}
	return r.Outcome
}

// The whole protocol over HTTP: challenge → proof → accepted.
func TestHTTPHonestProofAccepted(t *testing.T) {
	e := setup(t)
	v := e.verifierService(t, nonceFile(t, filepath.Join(t.TempDir(), "nonces.db")), nil)
	p := e.proverService(t, "westeurope-vm", nil)
	proof := e.honestProof(t, p.URL, v.URL)
	status, r := verify(t, http.DefaultClient, v.URL, "", proof)
	wantVerdict(t, status, r, verifier.Accepted, "")
	if r.Claim.Region != "westeurope" || len(r.Endpoints) != 2 || r.TEE != evidence.TEESim || !strings.HasPrefix(r.Verifier, "e2e verifier (key ") {
		t.Fatalf("result %+v", r.Result)
	}
}

// A prover behind a relay tens or hundreds of km away is refused by
// latency. The refusal uses the challenge up: a TD gets one attempt per
// challenge, not as many as it takes for chance to let a relay through.
func TestHTTPRelaysRefused(t *testing.T) {
	e := setup(t)
	v := e.verifierService(t, verifier.NewMemoryNonces(), nil)
	for _, vantage := range []string{"relay-50km", "relay-300km"} {
		t.Run(vantage, func(t *testing.T) {
			p := e.proverService(t, vantage, nil)
			proof := proofFrom(t, p.URL, challengeFrom(t, v.URL))
			status, r := verify(t, http.DefaultClient, v.URL, "", proof)
			wantVerdict(t, status, r, verifier.RefusedLatency, ReasonLatency)
			status, r = verify(t, http.DefaultClient, v.URL, "", proof)
			wantVerdict(t, status, r, verifier.RefusedPolicy, ReasonReplay)
		})
	}
}

// A replayed proof is refused, and still refused by a service restarted on
// the same nonce file.
func TestHTTPReplayRefusedAcrossRestart(t *testing.T) {
	e := setup(t)
	path := filepath.Join(t.TempDir(), "nonces.db")
	p := e.proverService(t, "westeurope-vm", nil)

	nf, err := verifier.OpenNonceFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first := e.verifierService(t, nf, nil)
	proof := e.honestProof(t, p.URL, first.URL)
	status, r := verify(t, http.DefaultClient, first.URL, "", proof)
	wantVerdict(t, status, r, verifier.Accepted, "")
	status, r = verify(t, http.DefaultClient, first.URL, "", proof)
	wantVerdict(t, status, r, verifier.RefusedPolicy, ReasonReplay)
	first.Close()
	if err := nf.Close(); err != nil {
		t.Fatal(err)
	}

	second := e.verifierService(t, nonceFile(t, path), nil)
	status, r = verify(t, http.DefaultClient, second.URL, "", proof)
	wantVerdict(t, status, r, verifier.RefusedPolicy, ReasonReplay)
	// The restarted service accepts fresh proofs.
	status, r = verify(t, http.DefaultClient, second.URL, "", e.honestProof(t, p.URL, second.URL))
	wantVerdict(t, status, r, verifier.Accepted, "")
}

// Each misuse is refused with its own reason: another verifier's
// challenge, an expired one, a proof bound to another application (per
// request or service-wide).
func TestHTTPRefusals(t *testing.T) {
	e := setup(t)
	nonces := verifier.NewMemoryNonces()
	v := e.verifierService(t, nonces, nil)
	appKey, otherKey := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	bound := e.proverService(t, "westeurope-vm", func(c *proversvc.Config) { c.Options.AppBinding = bytes.Repeat([]byte{0xab}, 32) })
	unbound := e.proverService(t, "westeurope-vm", nil)

	otherKeyVerifier := func() *httptest.Server {
		other, _ := verifier.NewChallengeKey()
		return e.verifierService(t, verifier.NewMemoryNonces(), func(c *Config) { c.Options.ChallengeKey = other })
	}()
	lateVerifier := e.verifierService(t, verifier.NewMemoryNonces(), func(c *Config) {
		c.Options.Now = func() time.Time { return time.Now().Add(time.Hour) }
	})
	requiresApp := e.verifierService(t, nonces, func(c *Config) { c.Options.AppBinding = bytes.Repeat([]byte{0xcd}, 32) })

	boundProof := e.honestProof(t, bound.URL, v.URL)
	unboundProof := proofFrom(t, unbound.URL, challengeFrom(t, v.URL))
	foreignProof := proofFrom(t, unbound.URL, challengeFrom(t, otherKeyVerifier.URL))

	tests := []struct {
		name     string
		verifier string
		query    string
		proof    []byte
		outcome  verifier.Outcome
		reason   string
	}{
		{"another verifier's challenge", v.URL, "", foreignProof, verifier.RefusedCrypto, ReasonForeignChallenge},
		{"expired challenge", lateVerifier.URL, "", boundProof, verifier.RefusedPolicy, ReasonChallengeExpired},
		{"bound to another application (request)", v.URL, "app_binding=" + otherKey, boundProof, verifier.RefusedPolicy, ReasonAppBinding},
		{"not bound (request)", v.URL, "app_binding=" + appKey, unboundProof, verifier.RefusedPolicy, ReasonAppBinding},
		{"bound to another application (service)", requiresApp.URL, "", boundProof, verifier.RefusedPolicy, ReasonAppBinding},
		{"not bound (service)", requiresApp.URL, "", unboundProof, verifier.RefusedPolicy, ReasonAppBinding},
		// Refusals up to the binding stage leave the challenge unused
		// (nothing yet shows the proof is the TD's): the proof, presented
		// as it should be, is accepted once.
		{"bound as asked", v.URL, "app_binding=" + appKey + "&claim=lab/westeurope", boundProof, verifier.Accepted, ""},
		{"bound as asked, again", v.URL, "app_binding=" + appKey, boundProof, verifier.RefusedPolicy, ReasonReplay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, r := verify(t, http.DefaultClient, tt.verifier, tt.query, tt.proof)
			wantVerdict(t, status, r, tt.outcome, tt.reason)
			if tt.outcome != verifier.Accepted && !strings.HasPrefix(r.Summary, "Refused") {
				t.Fatalf("summary %q", r.Summary)
			}
		})
	}
	// A request that contradicts the service's own requirement is a bad
	// request, not a verdict.
	status, r := verify(t, http.DefaultClient, requiresApp.URL, "app_binding="+appKey, unboundProof)
	if status != http.StatusBadRequest || r.Result != nil || r.Status != http.StatusBadRequest || r.Error == "" {
		t.Fatalf("contradicting binding: status %d, %+v", status, r)
	}
}
