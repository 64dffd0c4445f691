package maa

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The real MAA tokens in testdata (see testdata/PROVENANCE.md), each with
// the key set it verifies with, at a pinned time inside its validity.
var realTokens = []struct {
	name, file, jwks, issuer, typ string
	iat                           int64
	want                          error
}{
	{"sgx sharedeus 2023", "teaclave_sgx_sharedeus_2023-09-26.jwt", "teaclave_sharedeus_certs_jwks_2023-09.json",
		"https://sharedeus.eus.attest.azure.net", "sgx", 1695737747, nil},
	{"azurevm sharedweu 2023", "ms-cvm-guest-attestation_azurevm_sharedweu_2023-03-30.jwt", "secretnetwork_maa_signing_keys_jwks.json",
		"https://sharedweu.weu.attest.azure.net", "azurevm", 1680173374, nil},
	{"azurevm sevsnp sharedeus2 2025", "jesserc_azurevm_sevsnp_sharedeus2_2025-01-12.jwt", "secretnetwork_maa_signing_keys_jwks.json",
		"https://sharedeus2.eus2.attest.azure.net", "azurevm", 1736697400, nil},
	{"azurevm sharedeus2 2022, key unknown", "ms-cvm-guest-attestation_azurevm_sharedeus2_2022-04-14.jwt", "secretnetwork_maa_signing_keys_jwks.json",
		"https://sharedeus2.eus2.attest.azure.net", "azurevm", 1649979780, ErrUnknownKey},
}

func TestRealTokens(t *testing.T) {
	for _, tc := range realTokens {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Keys: keySetFile(t, tc.jwks), At: time.Unix(tc.iat+3600, 0)}
			pol := Policy{Issuer: tc.issuer, AttestationTypes: []string{tc.typ}}
			res, err := Verify(context.Background(), readTestdata(t, tc.file), opts, pol)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if !Indeterminate(err) {
					t.Errorf("Indeterminate(%v) = false", err)
				}
				return
			}
			if !res.Verified || res.Issuer != tc.issuer || res.AttestationType != tc.typ || res.Algorithm != "RS256" {
				t.Errorf("result %+v", res)
			}
			if res.IssuedAt.Unix() != tc.iat || res.Expiry.Unix() != tc.iat+8*3600 {
				t.Errorf("iat %v exp %v", res.IssuedAt, res.Expiry)
			}
			if res.UserData.Checked || res.Nonce.Checked {
				t.Errorf("nothing was asked to be checked: %+v %+v", res.UserData, res.Nonce)
			}
			if len(res.Claims) == 0 || res.Claims["iss"] != tc.issuer {
				t.Errorf("claims map: %v", res.Claims["iss"])
			}
		})
	}
}

// The jesserc token is an azurevm token whose HCL runtime data sits under
// x-ms-isolation-tee.x-ms-runtime with user-data = 64 zero bytes: a real
// artefact for the user-data path.
func TestRealTokenUserData(t *testing.T) {
	token := readTestdata(t, "jesserc_azurevm_sevsnp_sharedeus2_2025-01-12.jwt")
	pol := Policy{Issuer: "https://sharedeus2.eus2.attest.azure.net", AttestationTypes: []string{"azurevm"}}
	opts := Options{Keys: keySetFile(t, "secretnetwork_maa_signing_keys_jwks.json"), At: time.Unix(1736697400+60, 0), UserData: make([]byte, 64)}
	res, err := Verify(context.Background(), token, opts, pol)
	if err != nil {
		t.Fatal(err)
	}
	if !res.UserData.Checked || res.UserData.Path != "x-ms-isolation-tee.x-ms-runtime.user-data" || !bytes.Equal(res.UserData.Value, make([]byte, 64)) {
		t.Errorf("user-data %+v", res.UserData)
	}
	if res.IsolationTEE == nil || res.IsolationTEE.AttestationType != "sevsnpvm" || res.IsolationTEE.ComplianceStatus != "azure-compliant-cvm" {
		t.Errorf("isolation tee %+v", res.IsolationTEE)
	}

	opts.UserData = bytes.Repeat([]byte{1}, 64)
	_, err = Verify(context.Background(), token, opts, pol)
	var pe *PolicyError
	if !errors.Is(err, ErrUserData) || !errors.As(err, &pe) || len(pe.Failures) != 1 {
		t.Fatalf("wrong user-data: %v", err)
	}
}

// Real tokens refused, each for one stated reason.
func TestRealTokensRefused(t *testing.T) {
	weu := readTestdata(t, "ms-cvm-guest-attestation_azurevm_sharedweu_2023-03-30.jwt")
	sgx := readTestdata(t, "teaclave_sgx_sharedeus_2023-09-26.jwt")
	secret := keySetFile(t, "secretnetwork_maa_signing_keys_jwks.json")
	teaclave := keySetFile(t, "teaclave_sharedeus_certs_jwks_2023-09.json")
	const weuIss, weuIat = "https://sharedweu.weu.attest.azure.net", 1680173374
	weuPol := Policy{Issuer: weuIss, AttestationTypes: []string{"azurevm"}}
	at := time.Unix(weuIat+60, 0)

	// Re-encode the payload with one claim changed, keeping the signature.
	parts := strings.Split(strings.TrimSpace(string(weu)), ".")
	payload, err := decodeSegment([]byte(parts[1]))
	if err != nil {
		t.Fatal(err)
	}
	changed := b64(bytes.Replace(payload, []byte(`"secureboot":true`), []byte(`"secureboot":false`), 1))
	sig, _ := decodeSegment([]byte(parts[2]))
	sig[10] ^= 1

	cases := []struct {
		name  string
		token []byte
		opts  Options
		pol   Policy
		want  error
	}{
		{"payload changed", []byte(parts[0] + "." + changed + "." + parts[2]), Options{Keys: secret, At: at}, weuPol, ErrSignature},
		{"signature bit flipped", []byte(parts[0] + "." + parts[1] + "." + b64(sig)), Options{Keys: secret, At: at}, weuPol, ErrSignature},
		{"expired", weu, Options{Keys: secret, At: time.Unix(weuIat+8*3600+301, 0)}, weuPol, ErrExpired},
		{"not yet valid", weu, Options{Keys: secret, At: time.Unix(weuIat-301, 0)}, weuPol, ErrNotYetValid},
		{"wrong issuer pinned", sgx, Options{Keys: teaclave, At: time.Unix(1695737747, 0)}, Policy{Issuer: "https://sharedeus2.eus2.attest.azure.net", AttestationTypes: []string{"sgx"}}, ErrIssuer},
		{"default policy wants tdxvm", weu, Options{Keys: secret, At: at}, Policy{Issuer: weuIss}, ErrAttestationType},
		{"azurevm without user-data", weu, Options{Keys: secret, At: at, UserData: make([]byte, 64)}, weuPol, ErrUserData},
		{"nonce asked, token has none at top level", weu, Options{Keys: secret, At: at, Nonce: "QURFMDEwMQ=="}, weuPol, ErrNonce},
		{"sgx token, key set of another instance", sgx, Options{Keys: secret, At: time.Unix(1695737747, 0)}, Policy{Issuer: "https://sharedeus.eus.attest.azure.net", AttestationTypes: []string{"sgx"}}, ErrUnknownKey},
		{"sgx has no runtime user-data", sgx, Options{Keys: teaclave, At: time.Unix(1695737747, 0), UserData: make([]byte, 64)}, Policy{Issuer: "https://sharedeus.eus.attest.azure.net", AttestationTypes: []string{"sgx"}}, ErrUserData},
		{"weu key used for eus2 issuer (x-source-jku)", weu, Options{Keys: secret, At: at}, Policy{Issuer: "https://sharedeus2.eus2.attest.azure.net", AttestationTypes: []string{"azurevm"}}, ErrUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(context.Background(), tc.token, tc.opts, tc.pol)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// Changing the kid of a real token: to an unknown kid is "could not check";
// to another trusted key's kid is a bad signature.
func TestRealTokenKidChanged(t *testing.T) {
	tok := readTestdata(t, "jesserc_azurevm_sevsnp_sharedeus2_2025-01-12.jwt")
	parts := strings.Split(strings.TrimSpace(string(tok)), ".")
	pol := Policy{Issuer: "https://sharedeus2.eus2.attest.azure.net", AttestationTypes: []string{"azurevm"}}
	opts := Options{Keys: keySetFile(t, "secretnetwork_maa_signing_keys_jwks.json"), At: time.Unix(1736697400+60, 0)}
	for _, tc := range []struct {
		kid  string
		want error
	}{
		{"J0pAPdfXXHqWWimgrH853wMIdh5/fLe1z6uSXYPXCa0", ErrUnknownKey},  // '=' dropped: exact match only
		{"j0pAPdfXXHqWWimgrH853wMIdh5/fLe1z6uSXYPXCa0=", ErrUnknownKey}, // case changed
		{"ZOub53V4dZuruzP0dOOH0axfyks=", ErrSignature},                  // another sharedeus2 key
	} {
		hdr := `{"alg":"RS256","jku":"https://sharedeus2.eus2.attest.azure.net/certs","kid":"` + tc.kid + `","typ":"JWT"}`
		forged := []byte(b64([]byte(hdr)) + "." + parts[1] + "." + parts[2])
		if _, err := Verify(context.Background(), forged, opts, pol); !errors.Is(err, tc.want) {
			t.Errorf("kid %q: %v, want %v", tc.kid, err, tc.want)
		}
	}
}
