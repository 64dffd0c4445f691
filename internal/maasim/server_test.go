package maasim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"
	"github.com/google/go-tdx-guest/verify"

	verifier "github.com/latencyproof/poc/verifier/maa"
)

func x509Pool() *x509.CertPool { return x509.NewCertPool() }

func TestDCAPVerifier(t *testing.T) {
	ctx := context.Background()
	v := dcap(t)
	for name, q := range map[string][]byte{"go-tdx-guest": testdata.RawQuote, "azure": azureQuote(t)} {
		b, err := v.VerifyQuote(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b.MRTD) != 48 || len(b.ReportData) != 64 || len(b.RTMR[3]) != 48 || len(b.TDAttributes) != 8 {
			t.Errorf("%s: body %+v", name, b)
		}
	}
	// The Azure quote's REPORTDATA binds its HCL runtime JSON.
	b, _ := v.VerifyQuote(ctx, azureQuote(t))
	if h := sha256.Sum256(azureRuntime(t)); !bytes.Equal(h[:], b.ReportData[:32]) {
		t.Fatal("HCL runtime JSON not bound into the Azure quote")
	}

	rd := append([]byte(nil), testdata.RawQuote...)
	rd[48+520] ^= 1
	cases := []struct {
		name  string
		v     DCAPVerifier
		quote []byte
		is    error
	}{
		{"REPORTDATA altered", v, rd, verify.ErrHashVerificationFail},
		{"nil roots", DCAPVerifier{}, testdata.RawQuote, ErrQuote},
		{"other root", DCAPVerifier{Roots: x509Pool(), Now: v.Now}, testdata.RawQuote, ErrQuote},
		{"garbage", v, []byte("not a quote"), ErrQuote},
		{"empty", v, nil, ErrQuote},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.VerifyQuote(ctx, tc.quote)
			if !errors.Is(err, ErrQuote) || !errors.Is(err, tc.is) {
				t.Fatalf("%v", err)
			}
		})
	}
}

// rawPost posts body to the service with the given content type and
// query, returning status, MAA error code and body.
func rawPost(t *testing.T, svc *Service, path, query, ctype string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, svc.URL()+path+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := svc.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e apiError
	json.Unmarshal(data, &e)
	if e.Error.Code != "" && resp.Header.Get("x-ms-error-code") != e.Error.Code {
		t.Errorf("x-ms-error-code %q, body code %q", resp.Header.Get("x-ms-error-code"), e.Error.Code)
	}
	return resp.StatusCode, e.Error.Code, data
}

func TestAttestRequestErrors(t *testing.T) {
	svc := startService(t, Config{Quotes: parseOnly{}, MaxRequestBytes: 16 << 10})
	b64 := base64.RawURLEncoding.EncodeToString
	quote := b64(testdata.RawQuote)
	const q = "?api-version=2025-06-01"
	cases := []struct {
		name, path, query, ctype, body string
		status                         int
		code                           string
	}{
		{"ok without runtime data", AttestPath, q, "application/json", `{"quote":"` + quote + `"}`, 200, ""},
		{"padded base64 accepted", AttestPath, q, "application/json; charset=utf-8", `{"quote":"` + base64.URLEncoding.EncodeToString(testdata.RawQuote) + `"}`, 200, ""},
		{"no api-version", AttestPath, "", "application/json", `{"quote":"` + quote + `"}`, 400, "UnsupportedApiVersion"},
		{"old api-version", AttestPath, "?api-version=2022-08-01", "application/json", `{"quote":"` + quote + `"}`, 400, "UnsupportedApiVersion"},
		{"two api-versions", AttestPath, q + "&api-version=2025-06-01", "application/json", `{"quote":"` + quote + `"}`, 400, "UnsupportedApiVersion"},
		{"not JSON content type", AttestPath, q, "text/plain", `{"quote":"` + quote + `"}`, 415, "UnsupportedMediaType"},
		{"no content type", AttestPath, q, "", `{"quote":"` + quote + `"}`, 415, "UnsupportedMediaType"},
		{"unknown field", AttestPath, q, "application/json", `{"quote":"` + quote + `","draftPolicyForAttestation":"x"}`, 400, "InvalidRequest"},
		{"not JSON", AttestPath, q, "application/json", `quote=1`, 400, "InvalidRequest"},
		{"trailing data", AttestPath, q, "application/json", `{"quote":"` + quote + `"} {}`, 400, "InvalidRequest"},
		{"no quote", AttestPath, q, "application/json", `{"nonce":"x"}`, 400, "InvalidParameter"},
		{"quote not base64url", AttestPath, q, "application/json", `{"quote":"a+b/"}`, 400, "InvalidParameter"},
		{"quote not a quote", AttestPath, q, "application/json", `{"quote":"AAAA"}`, 400, "InvalidQuote"},
		{"runtime data not base64url", AttestPath, q, "application/json", `{"quote":"` + quote + `","runtimeData":{"data":"!!","dataType":"JSON"}}`, 400, "InvalidParameter"},
		{"runtime data hash mismatch", AttestPath, q, "application/json", `{"quote":"` + quote + `","runtimeData":{"data":"e30","dataType":"JSON"}}`, 400, "InvalidParameter"},
		{"init-time data", AttestPath, q, "application/json", `{"quote":"` + quote + `","initTimeData":{"data":"e30","dataType":"JSON"}}`, 400, "NotSupported"},
		{"nonce too long", AttestPath, q, "application/json", `{"quote":"` + quote + `","nonce":"` + strings.Repeat("n", maxNonce+1) + `"}`, 400, "InvalidParameter"},
		{"body too large", AttestPath, q, "application/json", `{"quote":"` + strings.Repeat("A", 20<<10) + `"}`, 413, "RequestTooLarge"},
		{"unknown path", "/attest/SgxEnclave", q, "application/json", `{}`, 404, "NotFound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := rawPost(t, svc, tc.path, tc.query, tc.ctype, []byte(tc.body))
			if status != tc.status || code != tc.code {
				t.Fatalf("%d %q, want %d %q: %s", status, code, tc.status, tc.code, body)
			}
		})
	}
	resp, err := svc.Client().Get(svc.URL() + AttestPath + q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET attest: %d", resp.StatusCode)
	}
}

// Runtime data types: JSON must be an object and is echoed; Binary is
// bound but not echoed.
func TestRuntimeDataTypes(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		name, dataType string
		data           []byte
		status         int
		echoed         bool
	}{
		{"JSON object", "JSON", []byte(`{"user-data":"ab","n":1.50}`), 200, true},
		{"json lowercase", "json", []byte(`{"a":1}`), 200, true},
		{"JSON array", "JSON", []byte(`[1]`), 400, false},
		{"Binary", "Binary", []byte{0, 1, 2}, 200, false},
		{"unknown type", "XML", []byte(`<a/>`), 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.Sum256(tc.data)
			quote := withReportData(t, append(h[:], make([]byte, 32)...))
			svc := startService(t, Config{Quotes: parseOnly{}})
			body := `{"quote":"` + b64(quote) + `","runtimeData":{"data":"` + b64(tc.data) + `","dataType":"` + tc.dataType + `"}}`
			status, _, resp := rawPost(t, svc, AttestPath, "?api-version="+APIVersion, "application/json", []byte(body))
			if status != tc.status {
				t.Fatalf("%d: %s", status, resp)
			}
			if status != 200 {
				return
			}
			var r struct{ Token string }
			if err := json.Unmarshal(resp, &r); err != nil {
				t.Fatal(err)
			}
			tok, err := verifier.ParseToken([]byte(r.Token), 0)
			if err != nil {
				t.Fatal(err)
			}
			if (tok.Claims.Runtime != nil) != tc.echoed {
				t.Fatalf("x-ms-runtime %v", tok.Claims.Runtime)
			}
			// Numbers are echoed exactly as sent.
			if tc.echoed && tc.name == "JSON object" && !bytes.Contains(tok.Payload, []byte(`"n":1.50`)) {
				t.Errorf("payload %s", tok.Payload)
			}
		})
	}
}

func TestCertsAndOpenID(t *testing.T) {
	svc := startService(t, Config{Quotes: parseOnly{}})
	resp, err := svc.Client().Get(svc.URL() + CertsPath)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(jwks, testKey(t).JWKS()) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/certs %s", jwks)
	}
	resp, err = svc.Client().Get(svc.URL() + OpenIDPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["issuer"] != svc.URL() || doc["jwks_uri"] != svc.URL()+CertsPath {
		t.Errorf("openid %v", doc)
	}
	if len(svc.CertificatePEM()) == 0 {
		t.Error("no certificate PEM")
	}
	// The default client does not trust the service; its own does.
	if _, err := http.Get(svc.URL() + CertsPath); err == nil {
		t.Error("reached the service without trusting its certificate")
	}
}

func TestStartRefuses(t *testing.T) {
	k := testKey(t)
	for _, cfg := range []Config{
		{Key: k, Quotes: parseOnly{}, Addr: "0.0.0.0:0"},
		{Key: k, Quotes: parseOnly{}, Addr: "192.0.2.1:0"},
		{Key: k, Quotes: parseOnly{}, Addr: "example.com:0"},
		{Key: k, Quotes: parseOnly{}, Addr: "no-port"},
		{Quotes: parseOnly{}},
		{Key: k},
	} {
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("started with %+v", cfg)
		}
	}
	if _, err := NewHandler(Config{Key: k, Quotes: parseOnly{}}, "https://x/"); err == nil {
		t.Error("issuer with trailing slash")
	}
	// localhost and ::1 are loopback.
	for _, addr := range []string{"localhost:0", "[::1]:0"} {
		s, err := Start(Config{Key: k, Quotes: parseOnly{}, Addr: addr})
		if err != nil {
			t.Logf("%s: %v (no IPv6 here?)", addr, err)
			continue
		}
		if err := s.Close(); err != nil || s.Close() != nil {
			t.Errorf("close: %v", err)
		}
	}
}

// A certificate from a given CA, as the project's lab CA would issue.
func TestStartWithGivenCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	tlsCert := srv.TLS.Certificates[0]
	pool := x509Pool()
	pool.AddCert(srv.Certificate())
	svc := startService(t, Config{Quotes: parseOnly{}, TLSCertificate: &tlsCert, TLSRoots: pool})
	resp, err := svc.Client().Get(svc.URL() + CertsPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(svc.CertificatePEM()) != 0 {
		t.Error("certificate PEM for a given certificate")
	}
	if _, err := Start(Config{Key: testKey(t), Quotes: parseOnly{}, TLSCertificate: &tlsCert}); err == nil {
		t.Error("certificate without roots")
	}
}

func TestKeyPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maa-signing.pem")
	k := testKey(t)
	if err := SaveKey(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	if err := SaveKey(path, k); !errors.Is(err, fs.ErrExist) {
		t.Errorf("overwrote an existing key: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	l, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID() != k.ID() || !l.Public().Equal(k.Public()) || !bytes.Equal(l.JWKS(), k.JWKS()) {
		t.Error("loaded key differs (the JWKS must be the same bytes)")
	}
	if len(k.ID()) != 44 || !strings.HasSuffix(k.ID(), "=") {
		t.Errorf("kid %q not MAA-shaped", k.ID())
	}
	// The JWKS reads as MAA's does: x5c only, one usable key.
	set, err := verifier.ParseKeySet(k.JWKS())
	if err != nil || set.Len() != 1 || set.All()[0].ID != k.ID() {
		t.Fatalf("%v %v", set, err)
	}
	for _, bad := range [][]byte{nil, []byte("junk"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")} {
		if _, err := ParseKeyPEM(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("loaded a missing key")
	}
}
