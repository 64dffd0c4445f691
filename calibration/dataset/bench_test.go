package dataset

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/latencyproof/poc/internal/pqguard"
)

// BenchmarkReadParquet reads back an exported file of 96,000 samples with
// OpenParquet ("read"), and runs alone the structural check that every
// read starts with ("check", internal/pqguard), to show the check's share.
func BenchmarkReadParquet(b *testing.B) {
	h := testHeader()
	h.Plan.Rounds = 10000
	path := filepath.Join(b.TempDir(), "samples.jsonl")
	w, err := Create(path, h)
	if err != nil {
		b.Fatal(err)
	}
	writeUnits(b, w, 0, 30000)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	out := path + ".parquet"
	rows, err := ExportParquet(path, out)
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			p, err := OpenParquet(out)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := p.Read(); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
			p.Close()
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("check", func(b *testing.B) {
		f, err := os.Open(out)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(fi.Size())
		for b.Loop() {
			if _, err := pqguard.Check(f, fi.Size(), ParquetLimits); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}
