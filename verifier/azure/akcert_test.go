package azure

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"
)

// A local stand-in for Microsoft's vTPM CA hierarchy: root → intermediate
// → AK leaf, as on Azure (the NV index holds the leaf only).
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var akNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func newCA(t testing.TB, name string, parent *testCA) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             akNow.AddDate(-1, 0, 0),
		NotAfter:              akNow.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	signer, signerCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// issueAK certifies pub as an AK the way a TPM certificate is shaped: an
// empty subject and, when criticalSAN is set, a critical subjectAltName
// holding only a directoryName (TPM manufacturer attributes).
func issueAK(t testing.TB, ca *testCA, pub crypto.PublicKey, criticalSAN bool, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		NotBefore:    akNow.AddDate(0, -1, 0),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// tcg-kp-AIKCertificate
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 3}},
	}
	if criticalSAN {
		dirName, err := asn1.Marshal(pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 1}, Value: "id:4D534654"}, // TPM manufacturer
		}}.ToRDNSequence())
		if err != nil {
			t.Fatal(err)
		}
		san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirName}})
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSubjectAltName, Critical: true, Value: san}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pool(cas ...*testCA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c.cert)
	}
	return p
}

func TestVerifyAKCert(t *testing.T) {
	root := newCA(t, "Test Virtual TPM Root", nil)
	inter := newCA(t, "Test Virtual TPM CA - 03", root)
	otherRoot := newCA(t, "Someone else's root", nil)
	hclAK := hclAKPub(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	otherAK := loadPEMKey(t, "kinvolk_akpub.pem")
	good := issueAK(t, inter, hclAK, true, akNow.AddDate(1, 0, 0))
	// The NV index is larger than the certificate: DER, then padding.
	nv := append(append([]byte(nil), good...), make([]byte, 300)...)

	if c, err := x509.ParseCertificate(good); err != nil || len(c.UnhandledCriticalExtensions) != 1 {
		t.Fatalf("test certificate: %v, unhandled %v", err, c.UnhandledCriticalExtensions)
	}
	cert, err := VerifyAKCert(nv, hclAK, pool(root), pool(inter), akNow)
	if err != nil {
		t.Fatalf("VerifyAKCert: %v", err)
	}
	if len(cert.UnhandledCriticalExtensions) != 0 {
		t.Errorf("critical SAN still unhandled: %v", cert.UnhandledCriticalExtensions)
	}
	if _, err := VerifyAKCert(issueAK(t, inter, hclAK, false, akNow.AddDate(1, 0, 0)), hclAK, pool(root), pool(inter), akNow); err != nil {
		t.Errorf("without SAN: %v", err)
	}

	tests := []struct {
		name          string
		nv            []byte
		roots, inters *x509.CertPool
		now           time.Time
		want          error
	}{
		{"untrusted root", nv, pool(otherRoot), pool(inter), akNow, ErrAKCert},
		{"intermediate missing", nv, pool(root), nil, akNow, ErrAKCert},
		{"expired", nv, pool(root), pool(inter), akNow.AddDate(2, 0, 0), ErrAKCert},
		{"not yet valid", nv, pool(root), pool(inter), akNow.AddDate(-2, 0, 0), ErrAKCert},
		{"certifies another AK", issueAK(t, inter, otherAK, true, akNow.AddDate(1, 0, 0)), pool(root), pool(inter), akNow, ErrAKMismatch},
		{"garbage", []byte("not a certificate"), pool(root), pool(inter), akNow, ErrAKCert},
		{"empty", nil, pool(root), pool(inter), akNow, ErrAKCert},
		{"truncated", good[:len(good)-10], pool(root), pool(inter), akNow, ErrAKCert},
		{"signature flipped", func() []byte {
			b := append([]byte(nil), good...)
			b[len(b)-5] ^= 1
			return b
		}(), pool(root), pool(inter), akNow, ErrAKCert},
		{"no roots", nv, nil, pool(inter), akNow, ErrOptions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyAKCert(tc.nv, hclAK, tc.roots, tc.inters, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyAKCert = %v, want %v", err, tc.want)
			}
		})
	}

	// Through Verify: checked with roots, reported as not checked without.
	in := trusteeEvidence(t)
	in.AKCert = nv
	opts := trusteeOptions()
	opts.AKRoots, opts.AKIntermediates, opts.Now = pool(root), pool(inter), func() time.Time { return akNow }
	res, err := Verify(in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Did(StepAKCert) || res.AKCert == nil {
		t.Errorf("AK certificate not checked: %v", res.Checked)
	}
	opts.AKRoots = pool(otherRoot)
	_, err = Verify(in, opts)
	var ce *CheckError
	if !errors.Is(err, ErrAKCert) || !errors.As(err, &ce) || ce.Step != StepAKCert {
		t.Errorf("other root: %v", err)
	}
	opts.AKRoots = nil
	res, err = Verify(in, opts)
	if err != nil || res.AKCert != nil || res.Did(StepAKCert) {
		t.Errorf("no roots: %v, %v", err, res.Checked)
	}
}
