package azure

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadTPMQuote reads a recorded quote in trustee's hex JSON form: PCR i at
// position i, all 24 quoted.
func loadTPMQuote(t testing.TB, name string) *TPMQuote {
	t.Helper()
	var r struct {
		Signature string   `json:"signature"`
		Message   string   `json:"message"`
		PCRs      []string `json:"pcrs"`
	}
	if err := json.Unmarshal(readTestdata(t, name), &r); err != nil {
		t.Fatal(err)
	}
	q := &TPMQuote{Attest: mustHex(t, r.Message), Signature: mustHex(t, r.Signature)}
	for i, p := range r.PCRs {
		q.PCRs = append(q.PCRs, mustHex(t, p))
		q.Indices = append(q.Indices, uint32(i))
	}
	return q
}

func cloneQuote(q *TPMQuote) *TPMQuote {
	c := &TPMQuote{
		Attest:    append([]byte(nil), q.Attest...),
		Signature: append([]byte(nil), q.Signature...),
		Indices:   append([]uint32(nil), q.Indices...),
	}
	for _, p := range q.PCRs {
		c.PCRs = append(c.PCRs, append([]byte(nil), p...))
	}
	return c
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadPEMKey(t testing.TB, name string) *rsa.PublicKey {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("%s: %T", name, k)
	}
	return rk
}

func hclAKPub(t testing.TB, name string) *rsa.PublicKey {
	t.Helper()
	r, err := ParseHCLReport(readTestdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if r.Runtime.AKPub == nil {
		t.Fatalf("%s: no HCLAkPub", name)
	}
	return r.Runtime.AKPub
}

// trusteeEvidence is the recorded evidence of one Azure TDX VM: HCL report,
// TD quote and TPM quote, which verify together.
func trusteeEvidence(t testing.TB) Evidence {
	return Evidence{
		HCLReport: readTestdata(t, "trustee_az-tdx-vtpm_hcl-report.bin"),
		TDQuote:   readTestdata(t, "trustee_az-tdx-vtpm_td-quote.bin"),
		TPMQuote:  loadTPMQuote(t, "trustee_az-tdx-vtpm_tpm-quote.json"),
	}
}

// trusteeOptions expects what the recorded VM wrote: 64 zero bytes of
// user-data and the TPM nonce "challenge".
func trusteeOptions() Options {
	return Options{ExpectedUserData: make([]byte, 64), TPMNonce: []byte("challenge")}
}
