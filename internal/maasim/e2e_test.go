package maasim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/testing/testdata"

	client "github.com/latencyproof/poc/internal/maa"
	verifier "github.com/latencyproof/poc/verifier/maa"
)

// The whole MAA path over loopback HTTPS, with real artefacts: the real
// Azure TD quote and its HCL runtime JSON go through the prover's client to
// the service, which verifies the quote's DCAP chain against the Intel
// root and the runtime-data binding and signs a token; the verifier
// fetches the service's /certs and verifies the token, user-data and nonce
// included.
func TestEndToEndAzureQuote(t *testing.T) {
	svc := startService(t, Config{Quotes: dcap(t)})
	ctx := context.Background()

	c := &client.Client{HTTPClient: svc.Client()}
	token, err := c.Attest(ctx, svc.URL(), client.Request{Quote: azureQuote(t), RuntimeData: azureRuntime(t), Nonce: "bm9uY2UtMQ"})
	if err != nil {
		t.Fatal(err)
	}

	keys, err := verifier.NewFetcher(svc.URL(), verifier.FetcherOptions{Client: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier.Verify(ctx, []byte(token),
		verifier.Options{Keys: keys, UserData: make([]byte, 64), Nonce: "bm9uY2UtMQ"},
		verifier.Policy{Issuer: svc.URL()})
	if err != nil {
		t.Fatal(err)
	}
	q, err := parseQuote(azureQuote(t))
	if err != nil {
		t.Fatal(err)
	}
	body := q.GetTdQuoteBody()
	if !res.Verified || res.AttestationType != "tdxvm" || res.KeyID != testKey(t).ID() || res.Algorithm != "RS256" {
		t.Errorf("result %+v", res)
	}
	if !bytes.Equal(res.TDX.MRTD, body.GetMrTd()) || !bytes.Equal(res.TDX.ReportData, body.GetReportData()) || !bytes.Equal(res.TDX.RTMR[2], body.GetRtmrs()[2]) {
		t.Errorf("TDX claims differ from the quote")
	}
	if !res.UserData.Checked || res.UserData.Path != "x-ms-runtime.user-data" || !res.Nonce.Checked {
		t.Errorf("user-data %+v nonce %+v", res.UserData, res.Nonce)
	}
	if res.TCBStatus != DefaultTCBStatus || res.Claims[SimulatedClaim] != true || *res.TDX.Debug || *res.TDX.SeptVEDisable {
		t.Errorf("tcb %q simulated %v debug %v septve %v", res.TCBStatus, res.Claims[SimulatedClaim], *res.TDX.Debug, *res.TDX.SeptVEDisable)
	}
	if got := res.Expiry.Sub(res.IssuedAt); got != DefaultLifetime {
		t.Errorf("lifetime %v", got)
	}
	// x-ms-runtime is the HCL runtime JSON, as sent.
	var sent map[string]any
	if err := json.Unmarshal(azureRuntime(t), &sent); err != nil {
		t.Fatal(err)
	}
	rt, _ := res.Claims["x-ms-runtime"].(map[string]any)
	keysClaim, _ := rt["keys"].([]any)
	if len(keysClaim) != 2 || rt["user-data"] != sent["user-data"] {
		t.Errorf("x-ms-runtime %v", rt)
	}

	// The same token with another user-data expected is refused.
	_, err = verifier.Verify(ctx, []byte(token), verifier.Options{Keys: keys, UserData: bytes.Repeat([]byte{7}, 64)}, verifier.Policy{Issuer: svc.URL()})
	if !errors.Is(err, verifier.ErrUserData) {
		t.Errorf("wrong user-data: %v", err)
	}
}

// go-tdx-guest's test quote verifies; without runtime data MAA (and the
// service) issue a token with no x-ms-runtime.
func TestEndToEndGoTDXGuestQuote(t *testing.T) {
	svc := startService(t, Config{Quotes: dcap(t), TCBStatus: "OutOfDate"})
	ctx := context.Background()
	c := &client.Client{HTTPClient: svc.Client()}
	token, err := c.Attest(ctx, svc.URL(), client.Request{Quote: testdata.RawQuote})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := verifier.NewFetcher(svc.URL(), verifier.FetcherOptions{Client: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier.Verify(ctx, []byte(token), verifier.Options{Keys: keys}, verifier.Policy{Issuer: svc.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if res.TCBStatus != "OutOfDate" || res.UserData.Value != nil || res.UserData.Checked || res.TDX.ProtectionKeys == nil || !*res.TDX.ProtectionKeys {
		t.Errorf("%+v %+v", res.TCBStatus, res.UserData)
	}
	if _, ok := res.Claims["x-ms-runtime"]; ok {
		t.Error("x-ms-runtime without runtime data")
	}
	// Asked for user-data, the verifier refuses a token that has none.
	_, err = verifier.Verify(ctx, []byte(token), verifier.Options{Keys: keys, UserData: make([]byte, 64)}, verifier.Policy{Issuer: svc.URL()})
	if !errors.Is(err, verifier.ErrUserData) {
		t.Errorf("%v", err)
	}
}

// What MAA refuses, the service refuses, and the client reports MAA's
// error code.
func TestEndToEndRefusals(t *testing.T) {
	svc := startService(t, Config{Quotes: dcap(t)})
	flipped := append([]byte(nil), azureQuote(t)...)
	flipped[48+16+48+48+8+8+8] ^= 1 // a bit of MRTD
	emptyRoots := startService(t, Config{Quotes: DCAPVerifier{Roots: x509Pool(), Now: func() time.Time { return dcapTime }}})
	cases := []struct {
		name    string
		svc     *Service
		req     client.Request
		code    string
		errWant error
	}{
		{"runtime data not bound into the quote", svc, client.Request{Quote: testdata.RawQuote, RuntimeData: []byte(`{"user-data":"00"}`)}, "InvalidParameter", nil},
		{"runtime data of another VM", svc, client.Request{Quote: azureQuote(t), RuntimeData: append(azureRuntime(t)[:len(azureRuntime(t))-1:len(azureRuntime(t))-1], ' ', '}')}, "InvalidParameter", nil},
		{"quote body altered", svc, client.Request{Quote: flipped, RuntimeData: azureRuntime(t)}, "InvalidQuote", nil},
		{"quote truncated", svc, client.Request{Quote: azureQuote(t)[:1000]}, "InvalidQuote", nil},
		{"root not trusted", emptyRoots, client.Request{Quote: azureQuote(t), RuntimeData: azureRuntime(t)}, "InvalidQuote", nil},
		{"init-time data", svc, client.Request{Quote: azureQuote(t), InitTimeData: []byte(`{}`)}, "NotSupported", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &client.Client{HTTPClient: tc.svc.Client()}
			_, err := c.Attest(context.Background(), tc.svc.URL(), tc.req)
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != tc.code {
				t.Fatalf("%v, want code %s", err, tc.code)
			}
		})
	}
}

// The poc prover's own runtime data ({"user-data": hex(digest)}) through a
// service whose quote verifier only parses (standing in for the project's
// simulated TEE, whose quotes carry any REPORTDATA).
func TestEndToEndProverRuntimeData(t *testing.T) {
	digest := sha512.Sum512([]byte("proof body"))
	runtime, err := json.Marshal(map[string]string{"user-data": hex.EncodeToString(digest[:])})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(runtime)
	quote := withReportData(t, append(h[:], make([]byte, 32)...))

	svc := startService(t, Config{Quotes: parseOnly{}, Lifetime: time.Hour})
	ctx := context.Background()
	token, err := (&client.Client{HTTPClient: svc.Client()}).Attest(ctx, svc.URL(), client.Request{Quote: quote, RuntimeData: runtime})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := verifier.NewFetcher(svc.URL(), verifier.FetcherOptions{Client: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier.Verify(ctx, []byte(token), verifier.Options{Keys: keys, UserData: digest[:]}, verifier.Policy{Issuer: svc.URL(), MaxAge: verifier.Duration(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.UserData.Checked || res.Expiry.Sub(res.IssuedAt) != time.Hour {
		t.Errorf("%+v %v", res.UserData, res.Expiry.Sub(res.IssuedAt))
	}

	// Another instance (another key) does not vouch for this token.
	other := startService(t, Config{Quotes: parseOnly{}, Key: otherKey(t)})
	okeys, err := verifier.NewFetcher(other.URL(), verifier.FetcherOptions{Client: other.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifier.Verify(ctx, []byte(token), verifier.Options{Keys: okeys}, verifier.Policy{Issuer: other.URL()})
	if !errors.Is(err, verifier.ErrUnknownKey) {
		t.Errorf("token checked against another instance: %v", err)
	}
}

func otherKey(t *testing.T) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
