package maa

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"

// fakeMAA records the last request and answers with a fixed status and
// body.
type fakeMAA struct {
	*httptest.Server
	status  int
	body    string
	headers map[string]string
	got     struct {
		method, path, query, auth, ctype string
		body                             map[string]any
	}
	hits atomic.Int32
}

func newFake(t *testing.T, status int, body string) *fakeMAA {
	f := &fakeMAA{status: status, body: body}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		f.got.method, f.got.path, f.got.query = r.Method, r.URL.Path, r.URL.RawQuery
		f.got.auth, f.got.ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		data, _ := io.ReadAll(r.Body)
		f.got.body = nil
		json.Unmarshal(data, &f.got.body)
		for k, v := range f.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func TestAttestRequestShape(t *testing.T) {
	f := newFake(t, 200, `{"token":"`+testJWT+`"}`)
	c := &Client{HTTPClient: f.Client(), Auth: StaticToken("s3cr3t-bearer")}
	runtime := []byte(`{"user-data":"00ff"}`)
	quote := []byte{0x04, 0x00, 0xff, 0xfe}
	tok, err := c.Attest(context.Background(), f.URL+"/", Request{Quote: quote, RuntimeData: runtime, Nonce: "n1"})
	if err != nil || tok != testJWT {
		t.Fatalf("%q %v", tok, err)
	}
	g := f.got
	if g.method != "POST" || g.path != "/attest/TdxVm" || g.query != "api-version=2025-06-01" {
		t.Errorf("%s %s?%s", g.method, g.path, g.query)
	}
	if g.auth != "Bearer s3cr3t-bearer" || g.ctype != "application/json" {
		t.Errorf("auth %q ctype %q", g.auth, g.ctype)
	}
	if g.body["quote"] != base64.RawURLEncoding.EncodeToString(quote) || g.body["nonce"] != "n1" {
		t.Errorf("body %v", g.body)
	}
	rd, _ := g.body["runtimeData"].(map[string]any)
	if rd["dataType"] != "JSON" || rd["data"] != base64.RawURLEncoding.EncodeToString(runtime) {
		t.Errorf("runtimeData %v", rd)
	}
	if _, ok := g.body["initTimeData"]; ok {
		t.Error("initTimeData sent though not given")
	}

	// No token source: no Authorization header; optional fields omitted.
	c = &Client{HTTPClient: f.Client()}
	if _, err := c.Attest(context.Background(), f.URL, Request{Quote: quote, InitTimeData: []byte{1, 2}, InitTimeDataType: DataBinary}); err != nil {
		t.Fatal(err)
	}
	if f.got.auth != "" {
		t.Errorf("auth %q", f.got.auth)
	}
	if _, ok := f.got.body["runtimeData"]; ok {
		t.Error("runtimeData sent though not given")
	}
	if it, _ := f.got.body["initTimeData"].(map[string]any); it["dataType"] != "Binary" {
		t.Errorf("initTimeData %v", f.got.body["initTimeData"])
	}
}

func TestAttestErrors(t *testing.T) {
	const bearer = "s3cr3t-bearer"
	cases := []struct {
		name    string
		status  int
		body    string
		headers map[string]string
		check   func(t *testing.T, err error)
	}{
		{"MAA error body", 400, `{"error":{"code":"InvalidParameter","message":"The quote is malformed"}}`,
			map[string]string{"x-ms-request-id": "req-1"}, func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != "InvalidParameter" || ae.Message != "The quote is malformed" || ae.RequestID != "req-1" || ae.Temporary() {
					t.Errorf("%#v", ae)
				}
			}},
		{"error code only in header", 401, ``, map[string]string{"x-ms-error-code": "Unauthorized"}, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "Unauthorized" {
				t.Errorf("%#v", ae)
			}
		}},
		{"server echoes the bearer", 403, `{"error":{"code":"Forbidden","message":"token Bearer s3cr3t-bearer rejected"}}`,
			map[string]string{"x-ms-error-code": "bad s3cr3t-bearer"}, func(t *testing.T, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || strings.Contains(err.Error(), bearer) || strings.Contains(ae.Code, bearer) {
					t.Errorf("bearer leaked: %v", err)
				}
			}},
		{"plain text error, control characters", 503, "overloaded\x1b[31m\r\nretry", nil, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || !ae.Temporary() || strings.ContainsAny(ae.Message, "\x1b\r\n") {
				t.Errorf("%#v", ae)
			}
		}},
		{"huge error body", 500, `{"error":{"code":"X","message":"` + strings.Repeat("m", 10000) + `"}}`, nil, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || len(ae.Message) > maxErrorText+4 {
				t.Errorf("message of %d bytes", len(ae.Message))
			}
		}},
		{"200 without token", 200, `{"other":1}`, nil, func(t *testing.T, err error) {
			if !errors.Is(err, ErrResponse) {
				t.Error(err)
			}
		}},
		{"200 with non-JWS token", 200, `{"token":"abc"}`, nil, func(t *testing.T, err error) {
			if !errors.Is(err, ErrResponse) {
				t.Error(err)
			}
		}},
		{"200 not JSON", 200, `<html>`, nil, func(t *testing.T, err error) {
			if !errors.Is(err, ErrResponse) {
				t.Error(err)
			}
		}},
		{"response too large", 200, `{"token":"` + strings.Repeat("a", DefaultMaxResponseBytes) + `"}`, nil, func(t *testing.T, err error) {
			if !errors.Is(err, ErrResponse) {
				t.Error(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.status, tc.body)
			f.headers = tc.headers
			c := &Client{HTTPClient: f.Client(), Auth: StaticToken(bearer)}
			_, err := c.Attest(context.Background(), f.URL, Request{Quote: []byte{1}})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), bearer) {
				t.Fatalf("bearer token in error: %v", err)
			}
			tc.check(t, err)
		})
	}
}

func TestAttestRefusesRedirect(t *testing.T) {
	target := newFake(t, 200, `{"token":"`+testJWT+`"}`)
	redir := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redir.Close()
	client := redir.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(target.Certificate())
	c := &Client{HTTPClient: client, Auth: StaticToken("s3cr3t-bearer")}
	_, err := c.Attest(context.Background(), redir.URL, Request{Quote: []byte{1}})
	if !errors.Is(err, ErrTransport) || target.hits.Load() != 0 {
		t.Fatalf("%v; target hit %d times", err, target.hits.Load())
	}
}

type failingSource struct{}

func (failingSource) Token(context.Context) (string, error) { return "", errors.New("no identity") }

func TestAttestRequestErrors(t *testing.T) {
	f := newFake(t, 200, `{"token":"`+testJWT+`"}`)
	cases := []struct {
		name     string
		endpoint string
		req      Request
		auth     TokenSource
		want     error
	}{
		{"http endpoint", strings.Replace(f.URL, "https", "http", 1), Request{Quote: []byte{1}}, nil, ErrRequest},
		{"endpoint with query", f.URL + "?x=1", Request{Quote: []byte{1}}, nil, ErrRequest},
		{"endpoint with user info", strings.Replace(f.URL, "https://", "https://u:p@", 1), Request{Quote: []byte{1}}, nil, ErrRequest},
		{"no quote", f.URL, Request{}, nil, ErrRequest},
		{"runtime data not a JSON object", f.URL, Request{Quote: []byte{1}, RuntimeData: []byte(`[1]`)}, nil, ErrRequest},
		{"runtime data not JSON", f.URL, Request{Quote: []byte{1}, RuntimeData: []byte{0xff}}, nil, ErrRequest},
		{"unknown data type", f.URL, Request{Quote: []byte{1}, RuntimeData: []byte(`{}`), RuntimeDataType: "XML"}, nil, ErrRequest},
		{"type without data", f.URL, Request{Quote: []byte{1}, InitTimeDataType: DataJSON}, nil, ErrRequest},
		{"token source fails", f.URL, Request{Quote: []byte{1}}, failingSource{}, ErrAuth},
		{"token with newline", f.URL, Request{Quote: []byte{1}}, StaticToken("a\r\nX-Evil: 1"), ErrAuth},
		{"unreachable", "https://127.0.0.1:1", Request{Quote: []byte{1}}, nil, ErrTransport},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{HTTPClient: f.Client(), Auth: tc.auth}
			if _, err := c.Attest(context.Background(), tc.endpoint, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("%d requests sent for unusable inputs", n)
	}
}

func TestAttestContextCancel(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c := &Client{HTTPClient: srv.Client()}
	if _, err := c.Attest(ctx, srv.URL, Request{Quote: []byte{1}}); !errors.Is(err, ErrTransport) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
}

func TestManagedIdentity(t *testing.T) {
	var hits atomic.Int32
	var gotQuery, gotMeta string
	status, body := 200, `{"access_token":"mi-token-1","expires_on":"2000000000","token_type":"Bearer"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gotQuery, gotMeta = r.URL.RawQuery, r.Header.Get("Metadata")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	now := time.Unix(2000000000, 0).Add(-time.Hour)
	m := &ManagedIdentity{Endpoint: srv.URL, ClientID: "cid", Now: func() time.Time { return now }}
	for i := 0; i < 2; i++ {
		tok, err := m.Token(context.Background())
		if err != nil || tok != "mi-token-1" {
			t.Fatalf("%q %v", tok, err)
		}
	}
	if hits.Load() != 1 || gotMeta != "true" || !strings.Contains(gotQuery, "resource=https%3A%2F%2Fattest.azure.net") || !strings.Contains(gotQuery, "client_id=cid") {
		t.Errorf("hits %d meta %q query %q", hits.Load(), gotMeta, gotQuery)
	}
	// Near expiry it renews; a numeric expires_on is accepted too.
	now = time.Unix(2000000000, 0).Add(-time.Minute)
	body = `{"access_token":"mi-token-2","expires_on":2000003600}`
	if tok, err := m.Token(context.Background()); err != nil || tok != "mi-token-2" || hits.Load() != 2 {
		t.Fatalf("%q %v %d", tok, err, hits.Load())
	}
	// Errors carry IMDS's description, never a token.
	m = &ManagedIdentity{Endpoint: srv.URL}
	status, body = 400, `{"error":"invalid_request","error_description":"Identity not found","access_token":"leak"}`
	_, err := m.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Identity not found") || strings.Contains(err.Error(), "leak") {
		t.Errorf("%v", err)
	}
	status, body = 200, `{"access_token":"x","expires_on":"soon"}`
	if _, err := m.Token(context.Background()); err == nil || strings.Contains(err.Error(), `"x"`) {
		t.Errorf("%v", err)
	}

	// The client uses it.
	f := newFake(t, 200, `{"token":"`+testJWT+`"}`)
	status, body = 200, `{"access_token":"mi-token-3","expires_on":"4000000000"}`
	c := &Client{HTTPClient: f.Client(), Auth: &ManagedIdentity{Endpoint: srv.URL}}
	if _, err := c.Attest(context.Background(), f.URL, Request{Quote: []byte{1}}); err != nil || f.got.auth != "Bearer mi-token-3" {
		t.Fatalf("%v %q", err, f.got.auth)
	}
}

// A bearer token escaped in JSON is still redacted once decoded.
func TestParseErrorEscapedBearer(t *testing.T) {
	e := parseError(401, http.Header{}, []byte(`{"error":{"code":"c","message":"got s3cr3t\u002dbearer"}}`), "s3cr3t-bearer")
	if strings.Contains(e.Error(), "s3cr3t-bearer") {
		t.Fatal(e)
	}
}
