package quoteabi

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"
)

func TestParse(t *testing.T) {
	q, err := Parse(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.GetTdQuoteBody().GetReportData()) != 64 {
		t.Fatal("no report data")
	}
	// This quote makes go-tdx-guest's parser panic (found by fuzzing the
	// MAA service): it must come back as an error.
	crash, err := os.ReadFile("testdata/qe-auth-length.quote")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"parser panic": crash,
		"empty":        nil,
		"truncated":    testdata.RawQuote[:100],
		"oversized":    make([]byte, MaxQuoteBytes+1),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(testdata.RawQuote)
	if b, err := os.ReadFile("testdata/qe-auth-length.quote"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := Parse(b); err == nil && q.GetTdQuoteBody() == nil {
			t.Fatal("a parsed quote without a body")
		}
	})
}
