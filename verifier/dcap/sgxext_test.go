package dcap

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"path/filepath"
	"testing"

	tdxpcs "github.com/google/go-tdx-guest/pcs"
)

// sameAsGoTDXGuest reports whether our reading of an SGX extension agrees
// with go-tdx-guest's, or both fail.
func sameAsGoTDXGuest(t *testing.T, cert *x509.Certificate) (ours PCKInfo, ourErr, theirErr error) {
	t.Helper()
	ours, ourErr = sgxExtension(cert)
	theirs, theirErr := tdxpcs.PckCertificateExtensions(cert)
	if ourErr != nil || theirErr != nil {
		return ours, ourErr, theirErr
	}
	if hex.EncodeToString(ours.FMSPC[:]) != theirs.FMSPC || hex.EncodeToString(ours.PCEID[:]) != theirs.PCEID ||
		hex.EncodeToString(ours.PPID[:]) != theirs.PPID || ours.PCESVN != theirs.TCB.PCESvn ||
		string(ours.TCBComponents[:]) != string(theirs.TCB.CPUSvnComponents) || string(ours.CPUSVN[:]) != string(theirs.TCB.CPUSvn) {
		t.Errorf("disagreement: ours %+v, go-tdx-guest %+v", ours, theirs)
	}
	return ours, nil, nil
}

func TestSGXExtensionMatchesGoTDXGuest(t *testing.T) {
	files, _ := filepath.Glob("testdata/quotes/*")
	n := 0
	for _, f := range files {
		raw, err := DecodeQuoteFile(readTestdata(t, "quotes", filepath.Base(f)))
		if err != nil || len(raw) < sigDataOff {
			continue
		}
		if filepath.Base(f) == "go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat" {
			raw = raw[:sprE4Len]
		}
		q, err := ParseQuote(raw)
		if err != nil {
			continue
		}
		if _, ourErr, theirErr := sameAsGoTDXGuest(t, q.PCKChain[0]); ourErr != nil || theirErr != nil {
			t.Errorf("%s: ours %v, go-tdx-guest %v", f, ourErr, theirErr)
		}
		n++
	}
	f := newFakeDCAP(t, defaultFakeConfig())
	if _, ourErr, theirErr := sameAsGoTDXGuest(t, f.leaf); ourErr != nil || theirErr != nil {
		t.Errorf("fake: ours %v, go-tdx-guest %v", ourErr, theirErr)
	}
	if n != 11 {
		t.Errorf("checked %d real PCK certificates, want 11", n)
	}
}

// FuzzSGXExtension compares our SGX extension reader with go-tdx-guest's
// on arbitrary extension values: where both accept, they must agree.
func FuzzSGXExtension(f *testing.F) {
	for _, name := range []string{"teekit_tdx-v4-azure.v4.bin", "trustee_tdx_quote_6.dat", "dcap-qvl_tdx_quote.v4.dat"} {
		q, err := ParseQuote(quoteBytes(f, name))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range q.PCKChain[0].Extensions {
			if e.Id.Equal(oidSGXExtension) {
				f.Add(e.Value)
			}
		}
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		// go-tdx-guest wants exactly six extensions.
		cert := &x509.Certificate{Extensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 35}}, {Id: asn1.ObjectIdentifier{2, 5, 29, 31}},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 14}}, {Id: asn1.ObjectIdentifier{2, 5, 29, 15}},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}}, {Id: oidSGXExtension, Value: value},
		}}
		sameAsGoTDXGuest(t, cert)
	})
}
