package dcap

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

func addQuoteSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/quotes/*")
	for _, file := range files {
		f.Add(readTestdata(f, "quotes", filepath.Base(file)))
	}
	raw := quoteBytes(f, "teekit_tdx-v4-azure.v4.bin")
	f.Add(raw[:sigDataOff])
	f.Add(raw[:len(raw)/2])
}

func isParseSentinel(err error) bool {
	return errors.Is(err, ErrMalformedQuote) || errors.Is(err, ErrQuoteTooLarge) ||
		errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrNotTDX)
}

func FuzzParseQuote(f *testing.F) {
	addQuoteSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ParseQuote(data)
		if err != nil {
			if q != nil || !isParseSentinel(err) {
				t.Fatalf("ParseQuote = %v, %v", q != nil, err)
			}
			return
		}
		if q.Len()+q.Padding != len(data) || !bytes.Equal(q.Raw(), data[:q.Len()]) || len(q.PCKChain) != 3 {
			t.Fatalf("inconsistent quote: len %d padding %d of %d", q.Len(), q.Padding, len(data))
		}
		q2, err := ParseQuote(q.Raw())
		if err != nil || q2.ReportData != q.ReportData || q2.MRTD != q.MRTD || q2.PCK != q.PCK {
			t.Fatalf("re-parsing the quote: %v", err)
		}
	})
}

func FuzzDecodeQuoteFile(f *testing.F) {
	addQuoteSeeds(f)
	f.Add([]byte("0x0400"))
	f.Add([]byte("BAACAIEAAAAAAAAA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := DecodeQuoteFile(data)
		if err != nil {
			if !isParseSentinel(err) {
				t.Fatalf("DecodeQuoteFile: %v", err)
			}
			return
		}
		if _, err := ParseQuote(raw); err != nil && !isParseSentinel(err) {
			t.Fatalf("ParseQuote: %v", err)
		}
	})
}

func FuzzParseCollateral(f *testing.F) {
	files, _ := filepath.Glob("testdata/collateral/*.json")
	for _, file := range files {
		f.Add(readTestdata(f, "collateral", filepath.Base(file)))
	}
	f.Add([]byte(`{"tcb_info":"{}"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCollateral(data)
		if err != nil {
			if c != nil || !errors.Is(err, ErrMalformedCollateral) {
				t.Fatalf("ParseCollateral = %v, %v", c != nil, err)
			}
			return
		}
		b, err := MarshalCollateral(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseCollateral(b)
		if err != nil {
			t.Fatalf("re-parsing marshalled collateral: %v", err)
		}
		b2, _ := MarshalCollateral(c2)
		if !bytes.Equal(b, b2) {
			t.Fatal("marshal round trip is not stable")
		}
		_ = c.Dates()
		_ = c.nextUpdate()
	})
}

func FuzzVerify(f *testing.F) {
	addQuoteSeeds(f)
	opts := Options{Collateral: bundle(f, coll0080), At: at2025oct}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Verify(t.Context(), data, opts)
		if err != nil {
			var se *StageError
			if res != nil || !errors.As(err, &se) {
				t.Fatalf("Verify = %v, %v", res != nil, err)
			}
			return
		}
		if !res.Verified || res.TCBStatus == "" || res.FMSPC != "00806f050000" {
			t.Fatalf("result %+v", res)
		}
	})
}
