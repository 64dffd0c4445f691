package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/latencyproof/poc/evidence"
)

// FuzzVerify feeds proof documents, mutated from a real lab proof, through
// the whole pipeline (Decode, then Verify) with the verifier of the
// corpus's context (testdata/corpus: certificates, public keys, collateral,
// policy, profiles, catalog and a test-only challenge key; the clock pinned
// to the proof's challenge). Verify must never panic, must explain every
// refusal with a *StageError that its Result repeats, and must never
// accept a proof whose body differs from the honest one: no edit of the
// bytes can be re-bound without the simulated TEE's keys, which are not in
// testdata.
//
// The seeds are the honest proof and the corpus's mutated proofs that were
// not re-bound. A
// crasher saved under testdata/fuzz/FuzzVerify stays meaningful only as
// long as the corpus it came from: regenerating the corpus (-update)
// makes new keys. Each new interesting input is minimised, which on a
// proof of tens of kilobytes takes up to -fuzzminimizetime (60 s by
// default) during which no executions are counted: a short
// -fuzzminimizetime keeps the fuzzer moving.
func FuzzVerify(f *testing.F) {
	fv := loadCorpusContext(f, corpusDir)
	if _, err := decodeAndVerify(fv.base, fv.policy, fv.options()); err != nil {
		f.Fatalf("the seed, the corpus's honest proof, is refused by its own context: %v (regenerate the corpus: go test ./verifier -run TestCorpus -update)", err)
	}
	f.Add(fv.base)
	if raw, err := os.ReadFile(filepath.Join(corpusDir, "MANIFEST.json")); err == nil {
		var m corpusManifest
		if err := json.Unmarshal(raw, &m); err != nil {
			f.Fatal(err)
		}
		for _, e := range m.Entries {
			// Re-bound entries carry an attestation of another body,
			// made with the simulated TEE's keys: outside what the
			// fuzzer's attacker can do.
			if e.Proof == "" || e.Proof == "base.json" || e.Rebind {
				continue
			}
			b, err := os.ReadFile(filepath.Join(corpusDir, e.Proof))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pol := *fv.policy
		res, err := decodeAndVerify(data, &pol, fv.options())
		if res == nil {
			t.Fatalf("nil result (error %v)", err)
		}
		if err == nil {
			if !res.Accepted || res.Outcome != Accepted {
				t.Fatalf("no error, but the result says %s", res.Outcome)
			}
			p, derr := evidence.Decode(bytes.NewReader(data))
			if derr != nil {
				t.Fatalf("accepted a document that does not decode: %v", derr)
			}
			body, eerr := evidence.Encode(&p.Body)
			if eerr != nil {
				t.Fatalf("accepted a body that does not encode: %v", eerr)
			}
			if !bytes.Equal(body, fv.body) {
				t.Fatal("accepted a proof whose body differs from the honest one")
			}
			return
		}
		var se *StageError
		if !errors.As(err, &se) {
			t.Fatalf("error %T is not a *StageError: %v", err, err)
		}
		if res.Accepted || res.Outcome != se.Outcome {
			t.Fatalf("the result (%s, accepted %v) does not say what the error says (%s)", res.Outcome, res.Accepted, se.Outcome)
		}
	})
}
