package maa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// KeySource supplies the trusted public keys that may have signed a token.
// Implementations: KeySet (a fixed JWKS, offline) and Fetcher (the pinned
// issuer's /certs over HTTPS, cached).
type KeySource interface {
	// Keys returns every trusted key whose kid equals kid exactly, for
	// tokens of the given issuer (Verify passes the policy's pinned
	// issuer, never the token's own iss or jku). When there is none the
	// error wraps ErrUnknownKey; when the keys could not be obtained it
	// wraps ErrKeyFetch.
	Keys(ctx context.Context, issuer, kid string) ([]PublicKey, error)
}

// PublicKey is one trusted signing key.
type PublicKey struct {
	// ID is the JWK "kid", compared as an exact string. MAA's kids are
	// base64 strings that are NOT certificate thumbprints (for SGX-backed
	// instances they are the hash in the MAA enclave's report data), so a
	// kid is never recomputed from the key.
	ID string
	// Key is *rsa.PublicKey (at least 2048 bits) or *ecdsa.PublicKey on
	// P-256.
	Key crypto.PublicKey
	// Alg is the JWK "alg" member, empty when absent. When set, a token
	// must use exactly that algorithm with this key.
	Alg string
	// Source is the key's "x-source-jku" annotation (the /certs URL it was
	// copied from), empty when absent. When set, the key is trusted only
	// for the issuer whose /certs URL it names.
	Source string
}

// SkippedKey records a JWKS entry that was not usable and why (weak RSA
// modulus, symmetric key, unknown curve, no kid...).
type SkippedKey struct {
	ID     string
	Reason string
}

// KeySet is a fixed set of trusted keys parsed from a JWKS document: the
// offline KeySource.
type KeySet struct {
	keys    []PublicKey
	skipped []SkippedKey
}

// maxJWKSBytes bounds a JWKS read from a file (the 2023 snapshot of MAA's
// sharedeus /certs is 21 KB).
const maxJWKSBytes = 1 << 20

// JWKSFile reads a JWKS JSON file, such as a saved copy of
// {issuer}/certs, into a KeySet. Errors wrap ErrKeyFetch.
func JWKSFile(path string) (*KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading key set: %v", ErrKeyFetch, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading key set %s: %v", ErrKeyFetch, path, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("%w: key set %s larger than %d bytes", ErrKeyFetch, path, maxJWKSBytes)
	}
	s, err := ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", path, err)
	}
	return s, nil
}

// ParseKeySet parses a JWKS document ({"keys": [...]}). Each entry becomes
// a PublicKey or, when unusable, a SkippedKey: a bad entry does not spoil
// the set, but a token naming its kid will not verify. Entries may carry
// the key as JWK members (n/e, crv/x/y) or, as MAA's /certs does, only as
// an x5c certificate; when both are given they must agree. The certificate
// chain is not validated: trust in the keys comes from where the set came
// from (the pinned issuer over TLS, or a file the user chose). Errors wrap
// ErrKeyFetch.
func ParseKeySet(data []byte) (*KeySet, error) {
	m, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: key set: %v", ErrKeyFetch, err)
	}
	arr, ok := m["keys"].([]any)
	if !ok {
		return nil, fmt.Errorf("%w: key set has no \"keys\" array", ErrKeyFetch)
	}
	s := &KeySet{}
	for i, e := range arr {
		obj, ok := e.(map[string]any)
		if !ok {
			s.skipped = append(s.skipped, SkippedKey{Reason: fmt.Sprintf("entry %d is not an object", i)})
			continue
		}
		kid, _ := obj["kid"].(string)
		pk, err := parseJWK(obj)
		if err != nil {
			s.skipped = append(s.skipped, SkippedKey{ID: kid, Reason: err.Error()})
			continue
		}
		s.keys = append(s.keys, pk)
	}
	return s, nil
}

// Len is the number of usable keys.
func (s *KeySet) Len() int { return len(s.keys) }

// All returns the usable keys.
func (s *KeySet) All() []PublicKey { return slices.Clone(s.keys) }

// Skipped returns the entries that were not usable, with the reason.
func (s *KeySet) Skipped() []SkippedKey { return slices.Clone(s.skipped) }

// Keys implements KeySource: the keys whose kid is exactly kid and whose
// x-source-jku annotation, if any, is issuer + "/certs".
func (s *KeySet) Keys(_ context.Context, issuer, kid string) ([]PublicKey, error) {
	var out []PublicKey
	for _, k := range s.keys {
		if k.ID != kid {
			continue
		}
		if k.Source != "" && k.Source != issuer+"/certs" {
			continue
		}
		out = append(out, k)
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, sk := range s.skipped {
		if sk.ID == kid {
			return nil, fmt.Errorf("%w: key %q present but unusable: %s", ErrUnknownKey, kid, sk.Reason)
		}
	}
	for _, k := range s.keys {
		if k.ID == kid {
			return nil, fmt.Errorf("%w: key %q is annotated for %s, not %s", ErrUnknownKey, kid, k.Source, issuer+"/certs")
		}
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// parseJWK turns one JWKS entry into a PublicKey.
func parseJWK(obj map[string]any) (PublicKey, error) {
	var pk PublicKey
	kid, ok := obj["kid"].(string)
	if !ok || kid == "" {
		return pk, fmt.Errorf("no kid")
	}
	pk.ID = kid
	if v, ok := obj["alg"]; ok {
		if pk.Alg, ok = v.(string); !ok {
			return pk, fmt.Errorf("alg is not a string")
		}
	}
	if v, ok := obj["x-source-jku"]; ok {
		if pk.Source, ok = v.(string); !ok {
			return pk, fmt.Errorf("x-source-jku is not a string")
		}
	}
	if v, ok := obj["use"]; ok && v != "sig" {
		return pk, fmt.Errorf("use is %v, not sig", v)
	}
	if v, ok := obj["key_ops"]; ok {
		ops, _ := v.([]any)
		if !slices.ContainsFunc(ops, func(op any) bool { s, _ := op.(string); return s == "verify" }) {
			return pk, fmt.Errorf("key_ops does not include verify")
		}
	}
	if _, ok := obj["d"]; ok {
		return pk, fmt.Errorf("entry carries private key material")
	}
	kty, _ := obj["kty"].(string)
	if kty != "RSA" && kty != "EC" {
		return pk, fmt.Errorf("kty %q is not RSA or EC", kty)
	}

	var fromJWK, fromCert crypto.PublicKey
	_, hasN := obj["n"]
	_, hasX := obj["x"]
	if hasN || hasX {
		raw, err := json.Marshal(obj)
		if err != nil {
			return pk, err
		}
		k, err := jwk.ParseKey(raw)
		if err != nil {
			return pk, fmt.Errorf("parsing JWK: %v", err)
		}
		var exported any
		if err := jwk.Export(k, &exported); err != nil {
			return pk, fmt.Errorf("exporting JWK: %v", err)
		}
		fromJWK = exported
	}
	if v, ok := obj["x5c"]; ok {
		c, err := firstCert(v)
		if err != nil {
			return pk, err
		}
		fromCert = c.PublicKey
	}
	switch {
	case fromJWK != nil && fromCert != nil:
		eq, ok := fromJWK.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !eq.Equal(fromCert) {
			return pk, fmt.Errorf("JWK members and x5c certificate hold different keys")
		}
		pk.Key = fromJWK
	case fromJWK != nil:
		pk.Key = fromJWK
	case fromCert != nil:
		pk.Key = fromCert
	default:
		return pk, fmt.Errorf("no key material (neither n/e, x/y nor x5c)")
	}
	if err := checkKeyStrength(pk.Key, kty); err != nil {
		return pk, err
	}
	return pk, nil
}

// firstCert parses the leaf of an x5c member (standard, padded base64 DER
// per RFC 7517).
func firstCert(v any) (*x509.Certificate, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("x5c is not a non-empty array")
	}
	s, ok := arr[0].(string)
	if !ok {
		return nil, fmt.Errorf("x5c[0] is not a string")
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("x5c[0]: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("x5c[0]: %v", err)
	}
	return c, nil
}

// checkKeyStrength refuses keys too weak to trust and keys whose type
// contradicts kty.
func checkKeyStrength(k crypto.PublicKey, kty string) error {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if kty != "RSA" {
			return fmt.Errorf("kty %s holds an RSA key", kty)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA modulus of %d bits, need at least 2048", k.N.BitLen())
		}
		return nil
	case *ecdsa.PublicKey:
		if kty != "EC" {
			return fmt.Errorf("kty %s holds an EC key", kty)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("EC curve %s, only P-256 is accepted", k.Curve.Params().Name)
		}
		return nil
	default:
		return fmt.Errorf("unsupported key type %T", k)
	}
}
