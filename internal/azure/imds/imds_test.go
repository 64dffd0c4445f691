package imds

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtures: a real TDREPORT (from the HCL report of an Azure TDX VM) and
// the quote the IMDS made of it.
func fixtures(t *testing.T) (report, quote []byte) {
	t.Helper()
	hcl, err := os.ReadFile(filepath.Join("testdata", "trustee_az-tdx-vtpm_hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	quote, err = os.ReadFile(filepath.Join("testdata", "trustee_az-tdx-vtpm_td-quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return hcl[32 : 32+TDReportSize], quote
}

// fakeIMDS answers like the IMDS after checking the request's form.
func fakeIMDS(t *testing.T, report []byte, respond func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != QuotePath {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if r.Header.Get("Metadata") != "true" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		var req map[string]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req) != 1 {
			t.Errorf("request body %v, %v", req, err)
		}
		got, err := base64.RawURLEncoding.Strict().DecodeString(req["report"])
		if err != nil || !bytes.Equal(got, report) {
			t.Errorf("report field: %v, equal %v", err, bytes.Equal(got, report))
		}
		respond(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func jsonQuote(s string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, s)
	}
}

func TestTDQuote(t *testing.T) {
	report, quote := fixtures(t)
	for name, enc := range map[string]*base64.Encoding{"unpadded": base64.RawURLEncoding, "padded": base64.URLEncoding} {
		t.Run(name, func(t *testing.T) {
			srv := fakeIMDS(t, report, jsonQuote(`{"quote":"`+enc.EncodeToString(quote)+`"}`))
			got, err := (&Client{BaseURL: srv.URL + "/"}).TDQuote(context.Background(), report)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, quote) {
				t.Error("quote differs")
			}
		})
	}
	var _ Quoter = &Client{}
}

func TestTDQuoteRefuses(t *testing.T) {
	report, quote := fixtures(t)
	status := func(code int, body string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.WriteHeader(code)
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter)
		want    error
	}{
		{"server error", status(500, "quote generation failed\x00\n"), ErrStatus},
		{"bad request", status(400, `{"error":"bad report"}`), ErrStatus},
		{"redirect", func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://example.invalid/")
			w.WriteHeader(http.StatusFound)
		}, ErrStatus},
		{"not JSON", jsonQuote(`quote`), ErrResponse},
		{"no quote", jsonQuote(`{"report":"x"}`), ErrResponse},
		{"empty quote", jsonQuote(`{"quote":""}`), ErrResponse},
		{"quote not a string", jsonQuote(`{"quote":5}`), ErrResponse},
		{"standard base64", jsonQuote(`{"quote":"` + base64.StdEncoding.EncodeToString(append(quote, 0xfb, 0xff)) + `"}`), ErrResponse},
		{"quote too large", jsonQuote(`{"quote":"` + base64.RawURLEncoding.EncodeToString(make([]byte, MaxQuoteSize+1)) + `"}`), ErrResponse},
		{"body too large", jsonQuote(`{"quote":"AAAA","pad":"` + strings.Repeat("x", maxResponse) + `"}`), ErrResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeIMDS(t, report, tc.respond)
			q, err := (&Client{BaseURL: srv.URL}).TDQuote(context.Background(), report)
			if !errors.Is(err, tc.want) || q != nil {
				t.Fatalf("TDQuote = %d bytes, %v; want %v", len(q), err, tc.want)
			}
		})
	}

	srv := fakeIMDS(t, report, status(503, "busy\x01\x02"+strings.Repeat("é", 400)))
	_, err := (&Client{BaseURL: srv.URL}).TDQuote(context.Background(), report)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 503 || !strings.HasPrefix(se.Body, "busy") || len(se.Body) > maxErrorBody || strings.ContainsAny(se.Body, "\x01\x02") {
		t.Errorf("status error %#v", se)
	}
}

func TestTDQuoteReportSize(t *testing.T) {
	called := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	defer srv.Close()
	for _, n := range []int{0, 1023, 1025, 1184} {
		if _, err := (&Client{BaseURL: srv.URL}).TDQuote(context.Background(), make([]byte, n)); !errors.Is(err, ErrReport) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	if called {
		t.Error("request sent for a bad report")
	}
}

func TestTDQuoteTimeout(t *testing.T) {
	report, _ := fixtures(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&Client{BaseURL: srv.URL}).TDQuote(ctx, report); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context deadline: %v", err)
	}
	hc := NewHTTPClient()
	hc.Timeout = 50 * time.Millisecond
	_, err := (&Client{BaseURL: srv.URL, HTTPClient: hc}).TDQuote(context.Background(), report)
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("client timeout: %v", err)
	}
}

func TestNewHTTPClient(t *testing.T) {
	hc := NewHTTPClient()
	if tr, ok := hc.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Error("default client may use a proxy")
	}
	if hc.Timeout != DefaultTimeout || hc.CheckRedirect == nil {
		t.Errorf("timeout %v, redirects checked %v", hc.Timeout, hc.CheckRedirect != nil)
	}
	if (&Client{}).BaseURL != "" || DefaultBaseURL != "http://169.254.169.254" {
		t.Error("base URL")
	}
}
