package maasim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"
)

// FuzzAttest: every check of an attest request (JSON decoding, base64url,
// quote parsing, runtime-data binding and decoding) answers any body with
// a request error or success, never a panic. Signing is left out: RSA
// under coverage instrumentation is too slow to fuzz through.
func FuzzAttest(f *testing.F) {
	q := base64.RawURLEncoding.EncodeToString(testdata.RawQuote)
	f.Add([]byte(`{"quote":"` + q + `"}`))
	f.Add([]byte(`{"quote":"` + q + `","runtimeData":{"data":"e30","dataType":"JSON"},"nonce":"n"}`))
	f.Add([]byte(`{"quote":"AAAA","initTimeData":null}`))
	f.Add([]byte(`{}`))
	key, err := LoadKey("testdata/test-signing-key.pem")
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := Config{Key: key, Quotes: parseOnly{}, MaxRequestBytes: 64 << 10}.withDefaults()
	if err != nil {
		f.Fatal(err)
	}
	h := &handler{cfg: cfg, issuer: "https://127.0.0.1:1"}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, AttestPath+"?api-version="+APIVersion, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		p, err := h.prepare(httptest.NewRecorder(), req)
		var re *requestError
		switch {
		case err == nil:
			if p.body == nil || len(p.body.ReportData) != 64 {
				t.Fatalf("prepared without a body: %+v", p)
			}
		case !errors.As(err, &re):
			t.Fatalf("untyped error %v", err)
		}
	})
}

// FuzzParseQuote: raw quote bytes never panic out of parseQuote (see its
// comment for the go-tdx-guest panic it contains).
func FuzzParseQuote(f *testing.F) {
	f.Add(testdata.RawQuote)
	f.Add(readFile(f, "trustee_az-tdx-vtpm_td-quote.bin"))
	f.Fuzz(func(t *testing.T, quote []byte) {
		q, err := parseQuote(quote)
		if err != nil {
			if !errors.Is(err, ErrQuote) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		b := bodyOf(q)
		if len(b.ReportData) != 64 || len(b.MRTD) != 48 {
			t.Fatalf("body %+v", b)
		}
	})
}
