package dataset

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"testing"
)

// readAll reads a dataset from bytes with the streaming Reader.
func readAll(b []byte) (*Header, []Sample, error) {
	r, err := NewReader(bytes.NewReader(b), "fuzz.jsonl")
	if err != nil {
		return nil, nil, err
	}
	h := r.Header()
	var out []Sample
	for {
		s, err := r.Read()
		if err == io.EOF {
			return &h, out, nil
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
}

// FuzzReader: any bytes give samples or a positioned error, never a panic;
// what reads is what the Writer's encoding reads back to, and every error
// is one of the package's.
func FuzzReader(f *testing.F) {
	_, good := makeDataset(f, 3)
	f.Add(good)
	f.Add(good[:len(good)-5])
	ls := lines(good)
	f.Add(bytes.Join([][]byte{ls[0], ls[2], ls[1]}, nil))
	f.Add([]byte("{}\n"))
	f.Add(ls[0])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, samples, err := readAll(b)
		if err != nil {
			var pe *PosError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		var re bytes.Buffer
		if err := encodeLine(&re, h); err != nil {
			t.Fatal(err)
		}
		for i := range samples {
			if err := encodeLine(&re, &samples[i]); err != nil {
				t.Fatal(err)
			}
		}
		h2, s2, err := readAll(re.Bytes())
		if err != nil {
			t.Fatalf("re-encoded dataset does not read: %v", err)
		}
		if !reflect.DeepEqual(h, h2) || !reflect.DeepEqual(samples, s2) {
			t.Fatal("re-encoded dataset reads differently")
		}
	})
}

// FuzzReadParquet: any bytes give samples or an error, never a panic.
// FuzzReadParquet: any bytes give samples or an ErrParquet-wrapped error,
// never a panic, and never an allocation a file merely claims (the seed
// corpus in testdata/fuzz holds a footer and a page header found by this
// target that made parquet-go allocate gigabytes before internal/pqguard).
// What reads satisfies the checks on its own. Reading stops after 4,096
// rows: a valid file of many rows is a valid file, not a finding.
func FuzzReadParquet(f *testing.F) {
	in, _ := makeDataset(f, 3)
	out := in + ".parquet"
	if _, err := ExportParquet(in, out); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(out)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := NewParquetReader(bytes.NewReader(b), int64(len(b)), "fuzz.parquet")
		if err != nil {
			if !errors.Is(err, ErrParquet) {
				t.Fatalf("error not marked ErrParquet: %v", err)
			}
			return
		}
		defer p.Close()
		h := p.Header()
		chk := newChecker(&h)
		for i := 0; i < 4096; i++ {
			s, err := p.Read()
			if err != nil {
				return
			}
			if err := chk.check(&s); err != nil {
				t.Fatalf("sample %d accepted but invalid: %v", i, err)
			}
		}
	})
}
