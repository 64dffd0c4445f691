package azure

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/latencyproof/poc/internal/azure/tpmquote"
)

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *rsa.PrivateKey
)

// fuzzAK is a local AK: the fuzzer's messages are signed with it so that
// VerifyTPMQuote gets past the signature and into parsing TPMS_ATTEST.
func fuzzAK(t testing.TB) *rsa.PrivateKey {
	fuzzKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 1024) // small: signing dominates each run
		if err != nil {
			t.Fatal(err)
		}
		fuzzKey = k
	})
	return fuzzKey
}

// FuzzVerifyTPMQuote feeds arbitrary TPMS_ATTEST bytes and PCR values,
// validly signed, to VerifyTPMQuote: it must never panic, and whatever it
// accepts must be a quote with the expected nonce whose digest covers the
// PCR values given.
func FuzzVerifyTPMQuote(f *testing.F) {
	for _, name := range []string{"trustee_az-tdx-vtpm_tpm-quote.json", "kinvolk_quote.decoded.json"} {
		q := loadTPMQuote(f, name)
		f.Add(q.Attest, bytes.Join(q.PCRs, nil), []byte("challenge"))
	}
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18}, []byte{}, []byte("x"))
	f.Fuzz(func(t *testing.T, attest, pcrBlob, nonce []byte) {
		key := fuzzAK(t)
		d := sha256.Sum256(attest)
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		q := &TPMQuote{Attest: attest, Signature: sig}
		for len(pcrBlob) >= 32 {
			q.PCRs, pcrBlob = append(q.PCRs, pcrBlob[:32]), pcrBlob[32:]
		}
		// Label the values with the quote's own selection where it parses,
		// so that the digest comparison is reached.
		if a, err := tpmquote.ParseAttest(attest); err == nil {
			for _, s := range a.Selections {
				q.Indices = append(q.Indices, s.Indices()...)
			}
		}
		res, err := VerifyTPMQuote(q, &key.PublicKey, nonce)
		if err != nil {
			if res != nil {
				t.Fatal("result with an error")
			}
			for _, e := range []error{ErrTPMQuoteFormat, ErrTPMNonce, ErrPCRDigest} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error class: %v", err)
		}
		a, err := tpmquote.ParseAttest(attest)
		if err != nil {
			t.Fatalf("accepted an attest that does not parse: %v", err)
		}
		if !bytes.Equal(res.Nonce, nonce) || len(nonce) == 0 {
			t.Fatalf("accepted nonce %x, expected %x", res.Nonce, nonce)
		}
		if dg := tpmquote.PCRDigest(q.PCRs); !bytes.Equal(dg[:], a.PCRDigest) {
			t.Fatal("accepted PCR values that do not hash to pcrDigest")
		}
		if len(res.PCRs) != len(q.PCRs) {
			t.Fatalf("%d PCRs in the result, %d given", len(res.PCRs), len(q.PCRs))
		}
	})
}

// FuzzVerify mutates the HCL report and TD quote of real evidence: Verify
// must never panic, and whatever it accepts must bind the runtime data to
// the quote.
func FuzzVerify(f *testing.F) {
	in := trusteeEvidence(f)
	f.Add(in.HCLReport, in.TDQuote)
	f.Add(readTestdata(f, "kinvolk_hcl-report-tdx.bin"), readTestdata(f, "teekit_tdx-v4-azure.v4.bin"))
	f.Fuzz(func(t *testing.T, report, quote []byte) {
		res, err := Verify(Evidence{HCLReport: report, TDQuote: quote}, Options{})
		if err != nil {
			var ce *CheckError
			if res != nil || !errors.As(err, &ce) {
				t.Fatalf("result %v, error %v", res != nil, err)
			}
			return
		}
		rep, err := ParseHCLReport(report)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(rep.RuntimeData)
		if !bytes.Equal(res.TD.ReportData[:32], sum[:]) || !bytes.Equal(rep.TD.ReportData[:32], sum[:]) {
			t.Fatal("accepted evidence whose runtime data does not hash to REPORTDATA")
		}
	})
}
