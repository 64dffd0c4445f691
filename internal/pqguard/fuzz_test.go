package pqguard

import (
	"bytes"
	"errors"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// FuzzCheck: any bytes are refused with one of the package's errors or
// pass; what passes, parquet-go opens and reads without a panic or an
// allocation beyond the limits (an out-of-memory end is fatal to the
// fuzzer, which reports it). Reading stops after 4,096 rows.
func FuzzCheck(f *testing.F) {
	f.Add(write(f, 100))
	f.Add(write(f, 300, parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(2), parquet.PageBufferSize(256)))
	f.Add(write(f, 10, parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(1)))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Check(bytes.NewReader(b), int64(len(b)), testLimits)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		defer func() {
			// parquet-go panics on some inconsistencies (the dataset
			// reader recovers); what matters here is that it ends.
			_ = recover()
		}()
		pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		if err != nil {
			return
		}
		r := parquet.NewReader(pf)
		defer r.Close()
		rows := make([]parquet.Row, 64)
		for n := 0; n < 4096; {
			k, err := r.ReadRows(rows)
			if err != nil || k == 0 {
				return // io.EOF, or an error parquet-go found itself
			}
			n += k
		}
	})
}
