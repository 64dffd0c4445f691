package maa

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRealKeySets(t *testing.T) {
	// MAA's own /certs form: x5c only, no n/e (jwx alone cannot read it).
	// One of the three certificates holds a 1024-bit key, refused.
	tea := keySetFile(t, "teaclave_sharedeus_certs_jwks_2023-09.json")
	if tea.Len() != 2 || len(tea.Skipped()) != 1 {
		t.Errorf("teaclave: %d keys, skipped %v", tea.Len(), tea.Skipped())
	}
	// 16 keys, six of them 1024-bit RSA, which are refused.
	sec := keySetFile(t, "secretnetwork_maa_signing_keys_jwks.json")
	if sec.Len() != 10 || len(sec.Skipped()) != 6 {
		t.Errorf("secretnetwork: %d keys, skipped %v", sec.Len(), sec.Skipped())
	}
	for _, sk := range append(sec.Skipped(), tea.Skipped()...) {
		if !strings.Contains(sk.Reason, "2048") {
			t.Errorf("skipped %q: %s", sk.ID, sk.Reason)
		}
	}
	ctx := context.Background()
	// A weak key's kid: known but unusable, reported as unknown key.
	if _, err := sec.Keys(ctx, "https://sharedweu.weu.attest.azure.net", "wiFDMG11GDLqd14z3T/DUYh/ZmGaVfY0s29siGgYOJs="); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("weak key: %v", err)
	}
	// Exact kid strings: these two differ by a trailing '=' and belong to
	// different instances.
	a, err := sec.Keys(ctx, "https://sharedeus2.eus2.attest.azure.net", "ZOub53V4dZuruzP0dOOH0axfyks=")
	if err != nil || len(a) != 1 {
		t.Fatalf("%v %v", a, err)
	}
	b, err := sec.Keys(ctx, "https://sharedweu.weu.attest.azure.net", "ZOub53V4dZuruzP0dOOH0axfyks")
	if err != nil || len(b) != 1 || b[0].Source == a[0].Source {
		t.Fatalf("%v %v", b, err)
	}
}

func selfSigned(t *testing.T, pub, priv any) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestParseKeySetEntries(t *testing.T) {
	k := getKeys(t)
	n := b64(k.rsa.N.Bytes())
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certRSA := selfSigned(t, &k.rsa.PublicKey, k.rsa)
	certRSA2 := selfSigned(t, &k.rsa2.PublicKey, k.rsa2)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		jwk  map[string]any
		ok   bool
	}{
		{"n/e", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB"}, true},
		{"x5c only", map[string]any{"kty": "RSA", "kid": "a", "x5c": []string{certRSA}}, true},
		{"n/e and matching x5c", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB", "x5c": []string{certRSA}}, true},
		{"n/e and another key's x5c", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB", "x5c": []string{certRSA2}}, false},
		{"use sig", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB", "use": "sig"}, true},
		{"use enc", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB", "use": "enc"}, false},
		{"key_ops without verify", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB", "key_ops": []string{"encrypt"}}, false},
		{"no kid", map[string]any{"kty": "RSA", "n": n, "e": "AQAB"}, false},
		{"oct", map[string]any{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}, false},
		{"private material", map[string]any{"kty": "RSA", "kid": "a", "n": n, "e": "AQAB", "d": b64(k.rsa.D.Bytes())}, false},
		{"1024-bit RSA", map[string]any{"kty": "RSA", "kid": "a", "n": b64(weak.N.Bytes()), "e": "AQAB"}, false},
		{"EC P-384", map[string]any{"kty": "EC", "kid": "a", "crv": "P-384", "x": b64(p384.X.FillBytes(make([]byte, 48))), "y": b64(p384.Y.FillBytes(make([]byte, 48)))}, false},
		{"kty EC holding an RSA cert", map[string]any{"kty": "EC", "kid": "a", "x5c": []string{certRSA}}, false},
		{"no key material", map[string]any{"kty": "RSA", "kid": "a"}, false},
		{"x5c garbage", map[string]any{"kty": "RSA", "kid": "a", "x5c": []string{"AAAA"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseKeySet(mustJSON(t, map[string]any{"keys": []any{tc.jwk}}))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Len() == 1; got != tc.ok {
				t.Fatalf("usable %v, want %v (skipped %v)", got, tc.ok, s.Skipped())
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"keys":{}}`, `{"keys":[],"keys":[]}`, `{"nokeys":[]}`} {
		if _, err := ParseKeySet([]byte(bad)); !errors.Is(err, ErrKeyFetch) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestJWKSFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := JWKSFile(filepath.Join(dir, "missing.json")); !errors.Is(err, ErrKeyFetch) {
		t.Errorf("missing: %v", err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"keys":[`+strings.Repeat(" ", maxJWKSBytes)+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := JWKSFile(big); !errors.Is(err, ErrKeyFetch) {
		t.Errorf("oversized: %v", err)
	}
}

// A JWK whose alg names another algorithm is not used for this one.
func TestKeyAlgPinned(t *testing.T) {
	k := getKeys(t)
	set, err := ParseKeySet(mustJSON(t, map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": k.rsaKID, "n": b64(k.rsa.N.Bytes()), "e": "AQAB", "alg": "PS256"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	opts.Keys = set
	if _, err := Verify(context.Background(), sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()), opts, testPolicy()); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("RS256 with a PS256 key: %v", err)
	}
	tok := sign(t, "PS256", k.rsa, map[string]any{"alg": "PS256", "kid": k.rsaKID}, tdxClaims())
	if _, err := Verify(context.Background(), tok, opts, testPolicy()); err != nil {
		t.Errorf("PS256 with a PS256 key: %v", err)
	}
}

// A KeySource that fails with an error of its own is reported as a fetch
// failure (could not check), not as a bad token.
type brokenSource struct{}

func (brokenSource) Keys(context.Context, string, string) ([]PublicKey, error) {
	return nil, errors.New("disk on fire")
}

func TestForeignKeySourceError(t *testing.T) {
	k := getKeys(t)
	opts := testOptions(t)
	opts.Keys = brokenSource{}
	_, err := Verify(context.Background(), sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()), opts, testPolicy())
	if !errors.Is(err, ErrKeyFetch) || !Indeterminate(err) {
		t.Errorf("%v", err)
	}
}
