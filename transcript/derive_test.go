package transcript

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// The derivations are protocol: another implementation must get the same
// bytes. The vectors were computed with Python's hmac, not with this code.
func TestDeriveVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/derive-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []struct {
			Nonce        string `json:"nonce"`
			Index        uint32 `json:"index"`
			ClientRandom string `json:"client_random"`
			PingPayload  string `json:"ping_payload"`
			HTTP1Token   string `json:"http1_token"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range doc.Vectors {
		nb, err := hex.DecodeString(v.Nonce)
		if err != nil || len(nb) != 32 {
			t.Fatalf("bad nonce %q", v.Nonce)
		}
		var n [32]byte
		copy(n[:], nb)
		cr := ClientRandom(n, v.Index)
		pp := PingPayload(n, v.Index)
		if got := hex.EncodeToString(cr[:]); got != v.ClientRandom {
			t.Errorf("ClientRandom(%s, %d) = %s, want %s", v.Nonce, v.Index, got, v.ClientRandom)
		}
		if got := hex.EncodeToString(pp[:]); got != v.PingPayload {
			t.Errorf("PingPayload(%s, %d) = %s, want %s", v.Nonce, v.Index, got, v.PingPayload)
		}
		if got := HTTP1Token(n, v.Index); got != v.HTTP1Token {
			t.Errorf("HTTP1Token(%s, %d) = %s, want %s", v.Nonce, v.Index, got, v.HTTP1Token)
		}
	}
}
