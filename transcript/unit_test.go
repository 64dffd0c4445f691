package transcript

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func rec(typ uint8, vers uint16, body []byte) []byte {
	return append([]byte{typ, byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}, body...)
}

func TestSplitRecords(t *testing.T) {
	hs := rec(22, 0x0301, []byte{1, 2, 3})
	ccs := rec(20, 0x0303, []byte{1})
	big := make([]byte, maxCiphertext)
	for _, tc := range []struct {
		name   string
		stream []byte
		n      int
		want   error
	}{
		{"empty", nil, 0, nil},
		{"three records", cat(hs, ccs, rec(23, 0x0303, []byte{9, 9})), 3, nil},
		{"largest record", rec(23, 0x0303, big), 1, nil},
		{"too long", rec(23, 0x0303, append(big, 0)), 0, ErrRecordFraming},
		{"bad type", rec(24, 0x0303, []byte{1}), 0, ErrRecordFraming},
		{"type zero", rec(0, 0x0303, []byte{1}), 0, ErrRecordFraming},
		{"bad version", rec(22, 0x0302, []byte{1}), 0, ErrRecordFraming},
		{"TLS 1.3 version on the wire", rec(22, 0x0304, []byte{1}), 0, ErrRecordFraming},
		{"empty record", rec(22, 0x0303, nil), 0, ErrRecordFraming},
		{"ccs two bytes", rec(20, 0x0303, []byte{1, 1}), 0, ErrRecordFraming},
		{"ccs wrong byte", rec(20, 0x0303, []byte{0}), 0, ErrRecordFraming},
		{"partial header", cat(hs, []byte{22, 3}), 1, ErrTruncated},
		{"partial body", cat(hs, hs[:6]), 1, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := splitRecords(tc.stream, ServerToClient)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if len(recs) != tc.n {
				t.Fatalf("%d records, want %d", len(recs), tc.n)
			}
		})
	}
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseKeyLog(t *testing.T) {
	cr := [32]byte{0xaa}
	crHex := fmt.Sprintf("%x", cr)
	sec := strings.Repeat("11", 32)
	otherHex := strings.Repeat("bb", 32)
	for _, tc := range []struct {
		name string
		log  string
		want error
		n    int
	}{
		{"lines, comments, CRLF", "# comment\r\n\r\nCLIENT_HANDSHAKE_TRAFFIC_SECRET " + crHex + " " + sec + "\r\nSERVER_HANDSHAKE_TRAFFIC_SECRET " + otherHex + " " + sec + "\n", nil, 1},
		{"other session's TLS 1.2 line", "CLIENT_RANDOM " + otherHex + " " + strings.Repeat("22", 48) + "\nCLIENT_TRAFFIC_SECRET_0 " + crHex + " " + sec, nil, 1},
		{"same line twice", "CLIENT_TRAFFIC_SECRET_0 " + crHex + " " + sec + "\nCLIENT_TRAFFIC_SECRET_0 " + crHex + " " + sec, nil, 1},
		{"contradicting lines", "CLIENT_TRAFFIC_SECRET_0 " + crHex + " " + sec + "\nCLIENT_TRAFFIC_SECRET_0 " + crHex + " " + strings.Repeat("33", 32), ErrKeyLogFormat, 0},
		{"two fields", "CLIENT_TRAFFIC_SECRET_0 " + crHex, ErrKeyLogFormat, 0},
		{"four fields", "CLIENT_TRAFFIC_SECRET_0 " + crHex + " " + sec + " x", ErrKeyLogFormat, 0},
		{"lower-case label", "client_traffic_secret_0 " + crHex + " " + sec, ErrKeyLogFormat, 0},
		{"short random", "CLIENT_TRAFFIC_SECRET_0 " + crHex[:62] + " " + sec, ErrKeyLogFormat, 0},
		{"non-hex random", "CLIENT_TRAFFIC_SECRET_0 " + strings.Repeat("zz", 32) + " " + sec, ErrKeyLogFormat, 0},
		{"non-hex secret", "CLIENT_TRAFFIC_SECRET_0 " + crHex + " xyz", ErrKeyLogFormat, 0},
		{"huge secret", "CLIENT_TRAFFIC_SECRET_0 " + crHex + " " + strings.Repeat("11", 65), ErrKeyLogFormat, 0},
		{"malformed line of another session", "CLIENT_TRAFFIC_SECRET_0 " + crHex + " " + sec + "\nEXPORTER_SECRET " + otherHex, ErrKeyLogFormat, 0},
		{"only other sessions", "CLIENT_TRAFFIC_SECRET_0 " + otherHex + " " + sec, ErrKeyLogMismatch, 0},
		{"empty", "", ErrKeyLogMismatch, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kl, err := parseKeyLog([]byte(tc.log), cr)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && len(kl.secrets) != tc.n {
				t.Fatalf("%d secrets, want %d", len(kl.secrets), tc.n)
			}
		})
	}
	kl, err := parseKeyLog([]byte("SERVER_TRAFFIC_SECRET_0 "+crHex+" "+sec), cr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kl.secret(labelServerAP0, suiteByID(suiteAES256GCMSHA384)); !errors.Is(err, ErrKeyLogFormat) {
		t.Errorf("32-byte secret for a SHA-384 suite: %v", err)
	}
	if _, err := kl.secret(labelClientAP0, suiteByID(suiteAES128GCMSHA256)); !errors.Is(err, ErrKeyLogMissing) {
		t.Errorf("missing secret: %v", err)
	}
}

func TestHandshakeReader(t *testing.T) {
	r := hsReader{dir: ClientToServer}
	if _, err := r.add(nil, 0); !errors.Is(err, ErrProtocol) {
		t.Errorf("empty fragment: %v", err)
	}
	if _, err := r.add([]byte{1, 0xff, 0xff, 0xff}, 0); !errors.Is(err, ErrHandshake) {
		t.Errorf("huge message: %v", err)
	}
	r = hsReader{dir: ClientToServer}
	// Two messages, the second split across three fragments, its header too.
	m, err := r.add([]byte{20, 0, 0, 1, 0xaa, 20, 0}, 3)
	if err != nil || len(m) != 1 || m[0].firstRec != 3 || m[0].lastRec != 3 || !r.pending() {
		t.Fatalf("first: %v %+v", err, m)
	}
	if m, err = r.add([]byte{0, 2, 0xbb}, 4); err != nil || len(m) != 0 {
		t.Fatalf("second: %v %+v", err, m)
	}
	if m, err = r.add([]byte{0xcc}, 5); err != nil || len(m) != 1 || m[0].firstRec != 3 || m[0].lastRec != 5 || string(m[0].body) != "\xbb\xcc" || r.pending() {
		t.Fatalf("third: %v %+v", err, m)
	}
}

// signed returns a certificate holding pub (only the fields the signature
// check reads) and a signature by priv under scheme.
func signFor(t *testing.T, scheme uint16, priv crypto.Signer, th []byte) []byte {
	t.Helper()
	msg := serverSignedContent(th)
	var h crypto.Hash
	switch scheme {
	case schemeECDSAP256, schemePSSRSAE256, schemePSSPSS256:
		h = crypto.SHA256
	case schemeECDSAP384, schemePSSRSAE384, schemePSSPSS384:
		h = crypto.SHA384
	case schemeECDSAP521, schemePSSRSAE512, schemePSSPSS512:
		h = crypto.SHA512
	}
	var opts crypto.SignerOpts = h
	digest := msg
	if h != 0 {
		d := h.New()
		d.Write(msg)
		digest = d.Sum(nil)
	}
	if _, ok := priv.(*rsa.PrivateKey); ok {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	sig, err := priv.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func certFor(t *testing.T, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{PublicKey: pk, RawSubjectPublicKeyInfo: spki}
}

// pssCert has an id-RSASSA-PSS SubjectPublicKeyInfo, which crypto/x509
// cannot parse: PublicKey stays nil, as in a parsed certificate.
func pssCert(t *testing.T, pub *rsa.PublicKey) *x509.Certificate {
	t.Helper()
	key := x509.MarshalPKCS1PublicKey(pub)
	spki, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS}, asn1.BitString{Bytes: key, BitLength: 8 * len(key)}})
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{RawSubjectPublicKeyInfo: spki, PublicKeyAlgorithm: x509.UnknownPublicKeyAlgorithm}
}

func TestCertificateVerifySchemes(t *testing.T) {
	p := mustPKI(t)
	rk := p.leaves["rsa"].PrivateKey.(*rsa.PrivateKey)
	k256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	th := make([]byte, 32)
	rand.Read(th)
	rsaCert, pss := certFor(t, &rk.PublicKey), pssCert(t, &rk.PublicKey)
	for _, tc := range []struct {
		scheme uint16
		cert   *x509.Certificate
		key    crypto.Signer
	}{
		{schemePSSRSAE256, rsaCert, rk}, {schemePSSRSAE384, rsaCert, rk}, {schemePSSRSAE512, rsaCert, rk},
		{schemePSSPSS256, pss, rk}, {schemePSSPSS384, pss, rk}, {schemePSSPSS512, pss, rk},
		{schemeECDSAP256, certFor(t, &k256.PublicKey), k256},
		{schemeECDSAP384, certFor(t, &k384.PublicKey), k384},
		{schemeECDSAP521, certFor(t, &k521.PublicKey), k521},
		{schemeEd25519, certFor(t, ed.Public()), ed},
	} {
		t.Run(schemeName(tc.scheme), func(t *testing.T) {
			sig := signFor(t, tc.scheme, tc.key, th)
			if err := verifyCertificateVerify(tc.cert, tc.scheme, sig, th); err != nil {
				t.Fatalf("good signature: %v", err)
			}
			bad := append([]byte{}, sig...)
			bad[len(bad)/2] ^= 1
			if err := verifyCertificateVerify(tc.cert, tc.scheme, bad, th); !errors.Is(err, ErrCertificateVerify) {
				t.Errorf("altered signature: %v", err)
			}
			th2 := append([]byte{}, th...)
			th2[0] ^= 1
			if err := verifyCertificateVerify(tc.cert, tc.scheme, sig, th2); !errors.Is(err, ErrCertificateVerify) {
				t.Errorf("other transcript: %v", err)
			}
			if keyDescription(tc.cert) == "" {
				t.Error("no key description")
			}
		})
	}
	for _, tc := range []struct {
		name   string
		scheme uint16
		cert   *x509.Certificate
	}{
		{"rsae scheme, PSS key", schemePSSRSAE256, pss},
		{"pss scheme, rsaEncryption key", schemePSSPSS256, rsaCert},
		{"P-384 scheme, P-256 key", schemeECDSAP384, certFor(t, &k256.PublicKey)},
		{"ECDSA scheme, RSA key", schemeECDSAP256, rsaCert},
		{"Ed25519 scheme, ECDSA key", schemeEd25519, certFor(t, &k256.PublicKey)},
		{"RSA scheme, Ed25519 key", schemePSSRSAE256, certFor(t, ed.Public())},
		{"PKCS#1 v1.5 is not TLS 1.3", schemeRSAPKCS1SHA256, rsaCert},
		{"SHA-1", schemeECDSASHA1, certFor(t, &k256.PublicKey)},
		{"ed448", schemeEd448, certFor(t, ed.Public())},
		{"unknown", 0xfefe, rsaCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := verifyCertificateVerify(tc.cert, tc.scheme, []byte{1, 2, 3}, th); !errors.Is(err, ErrCertificateVerify) {
				t.Errorf("err %v", err)
			}
		})
	}
	for _, s := range []uint16{schemeRSAPKCS1SHA256, schemeRSAPKCS1SHA384, schemeRSAPKCS1SHA512, schemeECDSAP256, schemeECDSAP384, schemeECDSAP521,
		schemePSSRSAE256, schemePSSRSAE384, schemePSSRSAE512, schemeEd25519, schemeEd448, schemePSSPSS256, schemePSSPSS384, schemePSSPSS512,
		schemeRSAPKCS1SHA1, schemeECDSASHA1, 0x1234} {
		if schemeName(s) == "" {
			t.Errorf("no name for %#x", s)
		}
	}
}

func TestNames(t *testing.T) {
	for _, d := range []Direction{ClientToServer, ServerToClient, 7} {
		if d.String() == "" {
			t.Error("empty direction name")
		}
	}
	for _, ty := range []uint8{0, 1, 2, 4, 5, 8, 11, 13, 15, 20, 24, 99} {
		if handshakeName(ty) == "" || contentTypeName(ty) == "" || innerTypeName(ty) == "" || alertName(ty) == "" || h2FrameName(ty) == "" {
			t.Errorf("empty name for %d", ty)
		}
	}
	if alertText([]byte{1}) == "" || alertText([]byte{2, 40}) == "" {
		t.Error("empty alert text")
	}
	if (&CheckError{Check: CheckRecords, Err: ErrTruncated}).Error() == "" {
		t.Error("empty CheckError message")
	}
	var r *Result
	if r.OK() || (&Result{}).OK() {
		t.Error("OK of an empty result")
	}
}
