package maa

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifySynthetic(t *testing.T) {
	k := getKeys(t)
	res, err := Verify(context.Background(), sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()), testOptions(t), testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.KeyID != k.rsaKID || res.AttestationType != "tdxvm" || res.TCBStatus != "UpToDate" {
		t.Errorf("result %+v", res)
	}
	if !res.UserData.Checked || res.UserData.Path != "x-ms-runtime.user-data" || !bytes.Equal(res.UserData.Value, testUserData) {
		t.Errorf("user-data %+v", res.UserData)
	}
	if !res.Nonce.Checked || res.Nonce.Value != "bm9uY2UtMTIz" {
		t.Errorf("nonce %+v", res.Nonce)
	}
	if res.TDX == nil || len(res.TDX.MRTD) != 48 || res.TDX.Debug == nil || *res.TDX.Debug || res.TDX.SeamSVN == nil || *res.TDX.SeamSVN != 3 {
		t.Errorf("tdx %+v", res.TDX)
	}
	// The Result is displayable JSON with hex measurements.
	out, err := json.Marshal(res)
	if err != nil || !bytes.Contains(out, []byte(`"tdx_mrtd":"000000`)) {
		t.Errorf("json %s %v", out, err)
	}

	// Without expectations the values are reported, not checked.
	opts := testOptions(t)
	opts.UserData, opts.Nonce = nil, ""
	res, err = Verify(context.Background(), sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()), opts, testPolicy())
	if err != nil || res.UserData.Checked || res.Nonce.Checked || !bytes.Equal(res.UserData.Value, testUserData) {
		t.Fatalf("%v %+v %+v", err, res.UserData, res.Nonce)
	}
}

// The bad-input table: every way a token can be wrong, each with the one
// error kind it must produce.
func TestVerifyRefuses(t *testing.T) {
	k := getKeys(t)
	good := func() map[string]any { return tdxClaims() }
	with := func(mut func(map[string]any)) map[string]any { c := good(); mut(c); return c }
	rs := func(claims map[string]any) []byte { return sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), claims) }
	hdr := func(mut func(map[string]any)) map[string]any { h := rsHeader(k.rsaKID); mut(h); return h }
	goodTok := rs(good())
	parts := strings.Split(string(goodTok), ".")

	// The classic confusion: HS256 with the RSA public key as the secret.
	pkix, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	hs := func(secret []byte) []byte {
		return sign(t, "HS256", secret, hdr(func(h map[string]any) { h["alg"] = "HS256" }), good())
	}

	otherPayload := b64(mustJSON(t, with(func(c map[string]any) { c["attester_tcb_status"] = "OutOfDate" })))
	otherHeader := b64(mustJSON(t, hdr(func(h map[string]any) { h["x5t"] = "abc" })))
	iat := testNow.Add(-time.Minute).Unix()

	cases := []struct {
		name  string
		token []byte
		opts  func(*Options)
		pol   func(*Policy)
		want  error
	}{
		// Integrity.
		{"payload changed", []byte(parts[0] + "." + otherPayload + "." + parts[2]), nil, nil, ErrSignature},
		{"header changed", []byte(otherHeader + "." + parts[1] + "." + parts[2]), nil, nil, ErrSignature},
		{"signature truncated", []byte(parts[0] + "." + parts[1] + "." + parts[2][:40]), nil, nil, ErrSignature},
		{"signature of another key", sign(t, "RS256", k.rsa2, rsHeader(k.rsaKID), good()), nil, nil, ErrSignature},
		// Algorithms.
		{"alg none", []byte(b64(mustJSON(t, hdr(func(h map[string]any) { h["alg"] = "none" }))) + "." + parts[1] + "."), nil, nil, ErrAlgorithm},
		{"alg None with signature kept", []byte(b64(mustJSON(t, hdr(func(h map[string]any) { h["alg"] = "None" }))) + "." + parts[1] + "." + parts[2]), nil, nil, ErrAlgorithm},
		{"alg HS256, RSA public key PEM (PKIX) as secret", hs(pemPKIX), nil, nil, ErrAlgorithm},
		{"alg HS256, RSA public key PEM (PKCS1) as secret", hs(pemPKCS1), nil, nil, ErrAlgorithm},
		{"alg HS256, RSA public key DER as secret", hs(pkix), nil, nil, ErrAlgorithm},
		{"alg RS384", []byte(b64(mustJSON(t, hdr(func(h map[string]any) { h["alg"] = "RS384" }))) + "." + parts[1] + "." + parts[2]), nil, nil, ErrAlgorithm},
		{"alg ES256K", []byte(b64(mustJSON(t, hdr(func(h map[string]any) { h["alg"] = "ES256K" }))) + "." + parts[1] + "." + parts[2]), nil, nil, ErrAlgorithm},
		{"alg not a string", []byte(b64([]byte(`{"alg":256,"kid":"x"}`)) + "." + parts[1] + "." + parts[2]), nil, nil, ErrMalformed},
		{"alg missing", []byte(b64([]byte(`{"kid":"x"}`)) + "." + parts[1] + "." + parts[2]), nil, nil, ErrMalformed},
		{"ES256 header on an RSA kid", sign(t, "ES256", k.ec, hdr(func(h map[string]any) { h["alg"] = "ES256" }), good()), nil, nil, ErrAlgorithm},
		{"RS256 header on an EC kid", sign(t, "RS256", k.rsa, rsHeader(k.ecKID), good()), nil, nil, ErrAlgorithm},
		{"PS256 refused when policy narrows to RS256", sign(t, "PS256", k.rsa, hdr(func(h map[string]any) { h["alg"] = "PS256" }), good()), nil,
			func(p *Policy) { p.Algorithms = []string{"RS256"} }, ErrAlgorithm},
		// Keys.
		{"kid unknown", sign(t, "RS256", k.rsa, rsHeader("bm8tc3VjaC1rZXk="), good()), nil, nil, ErrUnknownKey},
		{"kid missing", sign(t, "RS256", k.rsa, hdr(func(h map[string]any) { delete(h, "kid") }), good()), nil, nil, ErrMalformed},
		{"kid changed to another trusted key", []byte(b64(mustJSON(t, rsHeader(k.rsa2KID))) + "." + parts[1] + "." + parts[2]), nil, nil, ErrSignature},
		{"embedded jwk header is not trusted", sign(t, "RS256", k.rsa, hdr(func(h map[string]any) {
			h["kid"] = "YXR0YWNrZXI="
			h["jwk"] = map[string]any{"kty": "RSA", "kid": "YXR0YWNrZXI=", "n": b64(k.rsa.N.Bytes()), "e": "AQAB"}
		}), good()), nil, nil, ErrUnknownKey},
		// Header form.
		{"crit header", sign(t, "RS256", k.rsa, hdr(func(h map[string]any) { h["crit"] = []string{"exp"} }), good()), nil, nil, ErrMalformed},
		{"b64 header", sign(t, "RS256", k.rsa, hdr(func(h map[string]any) { h["b64"] = true; h["crit"] = nil; delete(h, "crit") }), good()), nil, nil, ErrMalformed},
		{"typ not JWT", sign(t, "RS256", k.rsa, hdr(func(h map[string]any) { h["typ"] = "JOSE+JSON" }), good()), nil, nil, ErrMalformed},
		{"duplicate alg in header", makeToken(t, "RS256", k.rsa, []byte(`{"alg":"none","alg":"RS256","kid":"`+k.rsaKID+`"}`), mustJSON(t, good())), nil, nil, ErrMalformed},
		// Claims form (signed, so only the parser can catch them).
		{"duplicate iss in claims", makeToken(t, "RS256", k.rsa, mustJSON(t, rsHeader(k.rsaKID)),
			bytes.Replace(mustJSON(t, good()), []byte(`{`), []byte(`{"iss":"https://evil.example",`), 1)), nil, nil, ErrMalformed},
		{"duplicate user-data in runtime", makeToken(t, "RS256", k.rsa, mustJSON(t, rsHeader(k.rsaKID)),
			bytes.Replace(mustJSON(t, good()), []byte(`"user-data":`), []byte(`"user-data":"00","user-data":`), 1)), nil, nil, ErrMalformed},
		{"invalid UTF-8 in claims", makeToken(t, "RS256", k.rsa, mustJSON(t, rsHeader(k.rsaKID)),
			bytes.Replace(mustJSON(t, good()), []byte(`"jti":"6a1f"`), []byte("\"jti\":\"6a\xff\""), 1)), nil, nil, ErrMalformed},
		{"claims not an object", makeToken(t, "RS256", k.rsa, mustJSON(t, rsHeader(k.rsaKID)), []byte(`["iss"]`)), nil, nil, ErrMalformed},
		{"exp a string", rs(with(func(c map[string]any) { c["exp"] = "tomorrow" })), nil, nil, ErrMalformed},
		{"tdx_mrtd short", rs(with(func(c map[string]any) { c["tdx_mrtd"] = "00ff" })), nil, nil, ErrMalformed},
		{"x-ms-runtime a string", rs(with(func(c map[string]any) { c["x-ms-runtime"] = "{}" })), nil, nil, ErrMalformed},
		// Serialisation.
		{"truncated (two segments)", []byte(parts[0] + "." + parts[1]), nil, nil, ErrMalformed},
		{"four segments", []byte(string(goodTok) + ".AAAA"), nil, nil, ErrMalformed},
		{"garbage", []byte("not a token at all"), nil, nil, ErrMalformed},
		{"empty", nil, nil, nil, ErrMalformed},
		{"padded base64", []byte(parts[0] + "=." + parts[1] + "." + parts[2]), nil, nil, ErrMalformed},
		{"std base64 alphabet", []byte(strings.ReplaceAll(parts[0], "-", "+") + "+." + parts[1] + "." + parts[2]), nil, nil, ErrMalformed},
		{"inner whitespace", []byte(parts[0] + ". " + parts[1] + "." + parts[2]), nil, nil, ErrMalformed},
		{"JSON serialisation", mustJSON(t, map[string]any{"protected": parts[0], "payload": parts[1], "signature": parts[2]}), nil, nil, ErrMalformed},
		{"oversized", append(bytes.Repeat([]byte("A"), DefaultMaxTokenBytes), goodTok...), nil, nil, ErrTooLarge},
		{"over a lowered limit", goodTok, func(o *Options) { o.MaxTokenBytes = 100 }, nil, ErrTooLarge},
		// Times.
		{"expired", goodTok, func(o *Options) { o.At = time.Unix(iat+8*3600, 0).Add(DefaultMaxClockSkew) }, nil, ErrExpired},
		{"not yet valid", goodTok, func(o *Options) { o.At = time.Unix(iat, 0).Add(-DefaultMaxClockSkew - time.Second) }, nil, ErrNotYetValid},
		{"iat in the future", rs(with(func(c map[string]any) { c["iat"] = testNow.Add(time.Hour).Unix(); delete(c, "nbf") })), nil, nil, ErrIssuedInFuture},
		{"exp missing", rs(with(func(c map[string]any) { delete(c, "exp") })), nil, nil, ErrMissingClaim},
		{"iat missing", rs(with(func(c map[string]any) { delete(c, "iat") })), nil, nil, ErrMissingClaim},
		{"older than max age", goodTok, func(o *Options) { o.At = testNow.Add(3 * time.Hour) }, func(p *Policy) { p.MaxAge = Duration(time.Hour) }, ErrTooOld},
		// Policy.
		{"wrong issuer", rs(with(func(c map[string]any) { c["iss"] = "https://sharedeus2.eus2.attest.azure.net" })), nil, nil, ErrIssuer},
		{"issuer with trailing slash", rs(with(func(c map[string]any) { c["iss"] = testIssuer + "/" })), nil, nil, ErrIssuer},
		{"issuer missing", rs(with(func(c map[string]any) { delete(c, "iss") })), nil, nil, ErrIssuer},
		{"wrong attestation type", rs(with(func(c map[string]any) { c["x-ms-attestation-type"] = "sgx" })), nil, nil, ErrAttestationType},
		{"attestation type missing", rs(with(func(c map[string]any) { delete(c, "x-ms-attestation-type") })), nil, nil, ErrAttestationType},
		{"wrong user-data", goodTok, func(o *Options) { o.UserData = bytes.Repeat([]byte{0xee}, 64) }, nil, ErrUserData},
		{"user-data absent", rs(with(func(c map[string]any) { c["x-ms-runtime"] = map[string]any{} })), nil, nil, ErrUserData},
		{"runtime absent", rs(with(func(c map[string]any) { delete(c, "x-ms-runtime") })), nil, nil, ErrUserData},
		{"user-data 63 bytes", rs(with(func(c map[string]any) {
			c["x-ms-runtime"] = map[string]any{"user-data": hex.EncodeToString(testUserData[:63])}
		})), nil, nil, ErrUserData},
		{"user-data not hex", rs(with(func(c map[string]any) {
			c["x-ms-runtime"] = map[string]any{"user-data": strings.Repeat("zz", 64)}
		})), nil, nil, ErrUserData},
		{"user-data at top level only", rs(with(func(c map[string]any) {
			delete(c, "x-ms-runtime")
			c["user-data"] = hex.EncodeToString(testUserData)
		})), nil, nil, ErrUserData},
		{"wrong nonce", rs(with(func(c map[string]any) { c["nonce"] = "b3RoZXI=" })), nil, nil, ErrNonce},
		{"nonce absent", rs(with(func(c map[string]any) { delete(c, "nonce") })), nil, nil, ErrNonce},
		// Configuration.
		{"no key source", goodTok, func(o *Options) { o.Keys = nil }, nil, ErrConfig},
		{"no issuer pinned", goodTok, nil, func(p *Policy) { p.Issuer = "" }, ErrConfig},
		{"expected user-data 32 bytes", goodTok, func(o *Options) { o.UserData = make([]byte, 32) }, nil, ErrConfig},
		{"policy tries to widen algorithms", goodTok, nil, func(p *Policy) { p.Algorithms = []string{"HS256"} }, ErrConfig},
		{"absurd clock skew", goodTok, nil, func(p *Policy) { p.MaxClockSkew = Duration(48 * time.Hour) }, ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, pol := testOptions(t), testPolicy()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if tc.pol != nil {
				tc.pol(&pol)
			}
			res, err := Verify(context.Background(), tc.token, opts, pol)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if res != nil {
				t.Fatalf("a refused token returned a result")
			}
			if Indeterminate(err) != (tc.want == ErrUnknownKey || tc.want == ErrKeyFetch) {
				t.Errorf("Indeterminate(%v) wrong", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	k := getKeys(t)
	iat := testNow.Add(-time.Minute).Unix()
	cases := []struct {
		name  string
		token []byte
		opts  func(*Options)
		pol   func(*Policy)
	}{
		{"PS256", sign(t, "PS256", k.rsa, map[string]any{"alg": "PS256", "kid": k.rsaKID}, tdxClaims()), nil, nil},
		{"ES256", sign(t, "ES256", k.ec, map[string]any{"alg": "ES256", "kid": k.ecKID}, tdxClaims()), nil, nil},
		{"no typ", sign(t, "RS256", k.rsa, map[string]any{"alg": "RS256", "kid": k.rsaKID}, tdxClaims()), nil, nil},
		{"typ lowercase", sign(t, "RS256", k.rsa, map[string]any{"alg": "RS256", "kid": k.rsaKID, "typ": "jwt"}, tdxClaims()), nil, nil},
		{"trailing newline", append(sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()), '\n'), nil, nil},
		{"expired but within skew", sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()),
			func(o *Options) { o.At = time.Unix(iat+8*3600, 0).Add(DefaultMaxClockSkew - time.Second) }, nil},
		{"nbf ahead within skew", sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), tdxClaims()),
			func(o *Options) { o.At = time.Unix(iat, 0).Add(-DefaultMaxClockSkew + time.Second) }, nil},
		{"uppercase user-data hex", sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), func() map[string]any {
			c := tdxClaims()
			c["x-ms-runtime"] = map[string]any{"user-data": strings.ToUpper(hex.EncodeToString(testUserData))}
			return c
		}()), nil, nil},
		{"fractional dates", sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), func() map[string]any {
			c := tdxClaims()
			c["exp"] = float64(iat) + 3600.5
			return c
		}()), nil, nil},
		{"policy lists several types", sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), func() map[string]any {
			c := tdxClaims()
			c["x-ms-attestation-type"] = "sevsnpvm"
			return c
		}()), nil, func(p *Policy) { p.AttestationTypes = []string{"tdxvm", "sevsnpvm"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, pol := testOptions(t), testPolicy()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if tc.pol != nil {
				tc.pol(&pol)
			}
			res, err := Verify(context.Background(), tc.token, opts, pol)
			if err != nil || !res.Verified {
				t.Fatalf("%v", err)
			}
		})
	}
}

// Policy checks all run: one PolicyError names every mismatch.
func TestPolicyErrorCollectsAll(t *testing.T) {
	k := getKeys(t)
	c := tdxClaims()
	c["iss"] = "https://other.example"
	c["x-ms-attestation-type"] = "sgx"
	c["nonce"] = "x"
	opts := testOptions(t)
	opts.At = testNow.Add(9 * time.Hour)
	_, err := Verify(context.Background(), sign(t, "RS256", k.rsa, rsHeader(k.rsaKID), c), opts, testPolicy())
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("%v is not a PolicyError", err)
	}
	for _, want := range []error{ErrIssuer, ErrExpired, ErrAttestationType, ErrUserData, ErrNonce} {
		if !errors.Is(err, want) {
			t.Errorf("missing %v in %v", want, err)
		}
	}
	if len(pe.Failures) != 5 {
		t.Errorf("%d failures: %v", len(pe.Failures), pe.Failures)
	}
}

// The Microsoft docs' TDX claims example is unsigned; re-signed with a test
// key it exercises the whole tdxvm path on the documented claim shapes.
func TestMSDocsClaimsResigned(t *testing.T) {
	k := getKeys(t)
	payload := readTestdata(t, "msdocs_tdxvm_token_claims_example.json")
	tok := makeToken(t, "RS256", k.rsa, mustJSON(t, rsHeader(k.rsaKID)), payload)
	pol := Policy{Issuer: "https://maasand001.eus.attest.azure.net"}
	res, err := Verify(context.Background(), tok, Options{Keys: k.set, At: time.Unix(1697677487+60, 0)}, pol)
	if err != nil {
		t.Fatal(err)
	}
	if res.TDX == nil || res.TDX.MRTD.String() != "5be56d418d33661a6c21da77c9503a07e430b35eb92a0bd042a6b3c4e79b3c82bb1c594e770d0d129a0724669f1e953f" {
		t.Errorf("mrtd %v", res.TDX)
	}
	if res.UserData.Value != nil || res.UserData.Path != "x-ms-runtime.user-data" {
		t.Errorf("the example's runtime has no user-data: %+v", res.UserData)
	}
	_, err = Verify(context.Background(), tok, Options{Keys: k.set, At: time.Unix(1697677487+60, 0), UserData: make([]byte, 64)}, pol)
	if !errors.Is(err, ErrUserData) {
		t.Errorf("user-data asked of a token without it: %v", err)
	}
}

func TestPolicyJSON(t *testing.T) {
	in := `{"issuer":"https://sharedeus2.eus2.attest.azure.net","attestation_types":["tdxvm"],"max_clock_skew":"2m","max_age":"8h"}`
	var p Policy
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	if time.Duration(p.MaxClockSkew) != 2*time.Minute || time.Duration(p.MaxAge) != 8*time.Hour {
		t.Errorf("%+v", p)
	}
	out, err := json.Marshal(p)
	if err != nil || !strings.Contains(string(out), `"max_clock_skew":"2m0s"`) {
		t.Errorf("%s %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"max_clock_skew":300}`), &p); err == nil {
		t.Error("a bare number is ambiguous and refused")
	}
}
