package maa

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

var fuzzTokenFiles = []string{
	"teaclave_sgx_sharedeus_2023-09-26.jwt",
	"ms-cvm-guest-attestation_azurevm_sharedweu_2023-03-30.jwt",
	"ms-cvm-guest-attestation_azurevm_sharedeus2_2022-04-14.jwt",
	"jesserc_azurevm_sevsnp_sharedeus2_2025-01-12.jwt",
}

func seedTokens(f *testing.F) {
	for _, name := range fuzzTokenFiles {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(""))
	f.Add([]byte(".."))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Add([]byte(`{"payload":"e30","signatures":[]}`))
}

// FuzzParseToken: the parser never panics, and whatever it accepts
// re-parses to the same header and payload.
func FuzzParseToken(f *testing.F) {
	seedTokens(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseToken(data, 0)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := ParseToken(tok.compact, 0)
		if err != nil || again.Header != tok.Header || !bytes.Equal(again.Payload, tok.Payload) {
			t.Fatalf("re-parse differs: %v", err)
		}
	})
}

// FuzzParseClaims: claim extraction never panics.
func FuzzParseClaims(f *testing.F) {
	f.Add(readTestdata(f, "msdocs_tdxvm_token_claims_example.json"))
	f.Add([]byte(`{"x-ms-isolation-tee":{"x-ms-runtime":{"user-data":"00"}},"exp":1.5e9}`))
	f.Add([]byte(`{"a":[[[[{}]]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseClaims(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, typ := range []string{"tdxvm", "azurevm"} {
			if p, ok := runtimePath(typ); ok {
				userData(c.All, p)
			}
		}
	})
}

// FuzzParseKeySet: JWKS parsing never panics; what it accepts is usable.
func FuzzParseKeySet(f *testing.F) {
	f.Add(readTestdata(f, "teaclave_sharedeus_certs_jwks_2023-09.json"))
	f.Add(readTestdata(f, "secretnetwork_maa_signing_keys_jwks.json"))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"","y":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseKeySet(data)
		if err != nil {
			if !errors.Is(err, ErrKeyFetch) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, k := range s.All() {
			if k.ID == "" || k.Key == nil {
				t.Fatalf("accepted an empty key: %+v", k)
			}
		}
	})
}

// FuzzVerify drives the whole pipeline, jwx's signature check included,
// with the real key sets: never a panic, never success for anything but
// the real tokens' exact bytes.
func FuzzVerify(f *testing.F) {
	seedTokens(f)
	sec := keySetFile(f, "secretnetwork_maa_signing_keys_jwks.json")
	genuine := map[string]bool{}
	for _, name := range fuzzTokenFiles {
		genuine[string(bytes.TrimSpace(readTestdata(f, name)))] = true
	}
	pol := Policy{Issuer: "https://sharedweu.weu.attest.azure.net", AttestationTypes: []string{"azurevm"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Verify(context.Background(), data, Options{Keys: sec, At: time.Unix(1680173374+60, 0)}, pol)
		if err == nil && (!res.Verified || !genuine[string(bytes.TrimSpace(data))]) {
			t.Fatalf("accepted %q", data)
		}
	})
}
