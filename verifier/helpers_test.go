package verifier

import (
	"bytes"
	"testing"

	"github.com/latencyproof/poc/evidence"
)

// cloneProof deep-copies a proof through its JSON form.
func cloneProof(t *testing.T, p *evidence.Proof) *evidence.Proof {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	q, err := evidence.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
