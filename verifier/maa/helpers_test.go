package maa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// The test keys: generated once per test binary (RSA generation is slow on
// two vCPUs). Tokens are signed by hand with crypto/*, not with jwx, so
// that the tests cross-check the library the verifier is built on.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	rsaKID    string
	rsa2KID   string
	ecKID     string
	jwks      []byte
	set       *KeySet
}

var (
	keysOnce sync.Once
	keysVal  *testKeys
	keysErr  error
)

const testIssuer = "https://maa.test.example"

func getKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		k := &testKeys{rsaKID: "dGVzdC1yc2Eta2V5LTE=", rsa2KID: "dGVzdC1yc2Eta2V5LTI=", ecKID: "dGVzdC1lYy1rZXk="}
		if k.rsa, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		if k.rsa2, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		if k.ec, keysErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); keysErr != nil {
			return
		}
		k.jwks, keysErr = jwksOf(map[string]crypto.PublicKey{
			k.rsaKID: &k.rsa.PublicKey, k.rsa2KID: &k.rsa2.PublicKey, k.ecKID: &k.ec.PublicKey,
		})
		if keysErr != nil {
			return
		}
		k.set, keysErr = ParseKeySet(k.jwks)
		keysVal = k
	})
	if keysErr != nil {
		t.Fatalf("test keys: %v", keysErr)
	}
	return keysVal
}

// jwksOf builds a JWKS with jwx (its encoder, our parser).
func jwksOf(keys map[string]crypto.PublicKey) ([]byte, error) {
	set := jwk.NewSet()
	for kid, pub := range keys {
		k, err := jwk.Import(pub)
		if err != nil {
			return nil, err
		}
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return nil, err
		}
		if err := set.AddKey(k); err != nil {
			return nil, err
		}
	}
	return json.Marshal(set)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signRaw signs header.payload (already encoded) with alg and key.
func signRaw(t testing.TB, alg string, key any, signingInput string) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(signingInput))
	switch alg {
	case "RS256":
		s, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return s
	case "PS256":
		s, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return s
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(signingInput))
		return m.Sum(nil)
	default:
		return nil
	}
}

// makeToken assembles a compact JWS from raw header and payload bytes.
func makeToken(t testing.TB, alg string, key any, header, payload []byte) []byte {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	return []byte(in + "." + b64(signRaw(t, alg, key, in)))
}

// sign builds a token from maps.
func sign(t testing.TB, alg string, key any, header, claims map[string]any) []byte {
	t.Helper()
	return makeToken(t, alg, key, mustJSON(t, header), mustJSON(t, claims))
}

func rsHeader(kid string) map[string]any {
	return map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT", "jku": testIssuer + "/certs"}
}

var (
	testNow      = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	testUserData = func() []byte {
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(i * 3)
		}
		return b
	}()
)

// tdxClaims is a token body in the shape of MAA's TDX EAT profile.
func tdxClaims() map[string]any {
	iat := testNow.Add(-time.Minute).Unix()
	return map[string]any{
		"iss":                              testIssuer,
		"iat":                              iat,
		"nbf":                              iat,
		"exp":                              iat + 8*3600,
		"jti":                              "6a1f",
		"nonce":                            "bm9uY2UtMTIz",
		"x-ms-attestation-type":            "tdxvm",
		"x-ms-ver":                         "1.0",
		"eat_profile":                      "https://aka.ms/maa-eat-profile-tdxvm",
		"attester_tcb_status":              "UpToDate",
		"tdx_mrtd":                         hex.EncodeToString(make([]byte, 48)),
		"tdx_report_data":                  hex.EncodeToString(make([]byte, 64)),
		"tdx_td_attributes_debug":          false,
		"tdx_seamsvn":                      3,
		"x-ms-runtime":                     map[string]any{"user-data": hex.EncodeToString(testUserData), "vm-configuration": map[string]any{"secure-boot": true}},
		"x-ms-compliance-status":           "azure-compliant-cvm",
		"tdx_td_attributes_perfmon":        false,
		"tdx_td_attributes_septve_disable": true,
	}
}

func testPolicy() Policy { return Policy{Issuer: testIssuer} }

func testOptions(t testing.TB) Options {
	return Options{Keys: getKeys(t).set, At: testNow, UserData: testUserData, Nonce: "bm9uY2UtMTIz"}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keySetFile(t testing.TB, name string) *KeySet {
	t.Helper()
	s, err := JWKSFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bigOne is used to build deliberately weak keys.
var bigOne = big.NewInt(1)
