package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/verifier"
)

// loadItem is one document the load test presents, again and again, with
// the verdict it must get.
type loadItem struct {
	name  string
	proof []byte
	// status, outcome and reason are the verdict of its first
	// presentation.
	status  int
	outcome verifier.Outcome
	reason  string
	// once: the verifier uses the challenge up (the attestation binds the
	// body to it), so exactly one presentation, the first to get there,
	// gets the verdict and every other is refused as a replay. Otherwise
	// every presentation gets it.
	once bool
}

// tamper flips a byte of a proof's first server-to-client transcript.
func tamper(t testing.TB, proof []byte) []byte {
	t.Helper()
	p, err := evidence.Decode(bytes.NewReader(proof))
	if err != nil {
		t.Fatal(err)
	}
	p.Sessions[0].S2C[100] ^= 1
	var buf bytes.Buffer
	if err := p.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The verifier service under bounded load on loopback: 200 verification
// requests from 8 concurrent clients, a mix of honest proofs (each
// presented many times, also concurrently), a relayed proof, a tampered
// one, one answering another verifier's challenge, and documents that are
// no proof. Not one 5xx or transport error, and every verdict consistent:
// a proof whose attestation binds it to one of this verifier's challenges
// gets its verdict exactly once (the honest ones accepted, the relayed one
// refused by latency, the tampered one for its sessions) and is refused as
// a replay otherwise; every other document always gets the same verdict.
func TestLoad(t *testing.T) {
	e := setup(t)
	const requests, clients, honest = 200, 8, 8
	v := e.verifierService(t, nonceFile(t, filepath.Join(t.TempDir(), "nonces.db")), nil)
	near := e.proverService(t, "westeurope-vm", nil)
	far := e.proverService(t, "relay-300km", nil)
	other, _ := verifier.NewChallengeKey()
	otherVerifier := e.verifierService(t, verifier.NewMemoryNonces(), func(c *Config) { c.Options.ChallengeKey = other })

	var items []loadItem
	for i := range honest {
		items = append(items, loadItem{name: fmt.Sprintf("honest-%d", i), proof: e.honestProof(t, near.URL, v.URL),
			status: http.StatusOK, outcome: verifier.Accepted, once: true})
	}
	items = append(items,
		loadItem{name: "relayed", proof: proofFrom(t, far.URL, challengeFrom(t, v.URL)),
			status: http.StatusOK, outcome: verifier.RefusedLatency, reason: ReasonLatency, once: true},
		loadItem{name: "tampered", proof: tamper(t, proofFrom(t, near.URL, challengeFrom(t, v.URL))),
			status: http.StatusOK, outcome: verifier.RefusedCrypto, reason: ReasonSessions, once: true},
		loadItem{name: "foreign", proof: proofFrom(t, near.URL, challengeFrom(t, otherVerifier.URL)),
			status: http.StatusOK, outcome: verifier.RefusedCrypto, reason: ReasonForeignChallenge},
		loadItem{name: "not a proof", proof: []byte(`{"version": 1, "body": {}}`),
			status: http.StatusBadRequest, outcome: verifier.RefusedCrypto, reason: ReasonMalformedProof},
		loadItem{name: "version 2", proof: []byte(`{"version": 2}`),
			status: http.StatusBadRequest, outcome: verifier.RefusedCrypto, reason: ReasonUnsupportedVersion},
	)
	order := make([]int, requests)
	for i := range order {
		order[i] = i % len(items)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	type outcome struct {
		item    int
		status  int
		outcome verifier.Outcome
		reason  string
		took    time.Duration
		err     error
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	work := make(chan int)
	results := make(chan outcome, requests)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				o := outcome{item: i}
				resp, err := client.Post(v.URL+PathVerifications, "application/json", bytes.NewReader(items[i].proof))
				if err == nil {
					var r Response
					err = json.NewDecoder(resp.Body).Decode(&r)
					resp.Body.Close()
					o.status, o.reason = resp.StatusCode, r.Reason
					if r.Result != nil {
						o.outcome = r.Outcome
					}
				}
				o.err, o.took = err, time.Since(t0)
				results <- o
			}
		}()
	}
	for _, i := range order {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	close(results)

	verdicts, replays, presented := make([]int, len(items)), make([]int, len(items)), make([]int, len(items))
	var took []time.Duration
	for o := range results {
		took = append(took, o.took)
		it := items[o.item]
		presented[o.item]++
		switch {
		case o.err != nil:
			t.Errorf("%s: %v", it.name, o.err)
		case o.status >= 500:
			t.Errorf("%s: status %d", it.name, o.status)
		case o.status == it.status && o.outcome == it.outcome && o.reason == it.reason:
			verdicts[o.item]++
		case it.once && o.status == http.StatusOK && o.outcome == verifier.RefusedPolicy && o.reason == ReasonReplay:
			replays[o.item]++
		default:
			t.Errorf("%s: status %d, outcome %s, reason %q; want %d, %s, %q", it.name, o.status, o.outcome, o.reason, it.status, it.outcome, it.reason)
		}
	}
	for i, it := range items {
		want := presented[i]
		if it.once {
			want = 1
		}
		if verdicts[i] != want {
			t.Errorf("%s: %d of %d presentations got %s %q, want %d", it.name, verdicts[i], presented[i], it.outcome, it.reason, want)
		}
	}
	slices.Sort(took)
	t.Logf("%d requests from %d clients in %v (%.0f/s); latency p50 %v, p95 %v, max %v",
		len(took), clients, elapsed.Round(time.Millisecond), float64(len(took))/elapsed.Seconds(),
		took[len(took)/2].Round(time.Microsecond), took[len(took)*95/100].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
}

// forgetfulNonces is a nonce store that records nothing: it lets a
// benchmark present one proof again and again.
type forgetfulNonces struct{}

func (forgetfulNonces) Seen(evidence.Hash) (bool, error)   { return false, nil }
func (forgetfulNonces) Use(evidence.Hash, time.Time) error { return nil }

// BenchmarkVerification measures verifications through the service: one
// honest proof, presented again and again to a service whose nonce store
// forgets, so that every stage runs (decoding, challenge, quote, binding,
// transcripts, latency) every time.
func BenchmarkVerification(b *testing.B) {
	e := setup(b)
	v := e.verifierService(b, forgetfulNonces{}, nil)
	near := e.proverService(b, "westeurope-vm", nil)
	proof := e.honestProof(b, near.URL, v.URL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.SetBytes(int64(len(proof)))
	b.ResetTimer()
	cpu0 := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(v.URL+PathVerifications, "application/json", bytes.NewReader(proof))
			if err != nil {
				b.Error(err)
				return
			}
			var r Response
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || r.Result == nil || r.Outcome != verifier.Accepted {
				b.Errorf("status %d, reason %q, %v", resp.StatusCode, r.Reason, err)
				return
			}
		}
	})
	// CPU time of client and server together (both in this process): on
	// a busy machine, wall time measures the load as much as the work.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
