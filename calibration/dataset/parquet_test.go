package dataset

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/latencyproof/poc/internal/pqguard"
	"github.com/parquet-go/parquet-go"
)

func exportTest(t *testing.T, units int) (string, string) {
	t.Helper()
	in, _ := makeDataset(t, units)
	out := filepath.Join(filepath.Dir(in), "samples.parquet")
	if _, err := ExportParquet(in, out); err != nil {
		t.Fatal(err)
	}
	return in, out
}

func TestParquetRoundTrip(t *testing.T) {
	h := testHeader()
	in, out := exportTest(t, h.Plan.Units())
	wantH, want, err := ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	gotH, got, err := ReadParquet(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotH, wantH) {
		t.Fatalf("header: %+v", gotH)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("samples differ after the Parquet round trip")
	}
	// Nothing but the two files in the directory.
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 2 {
		t.Fatalf("%d directory entries", len(entries))
	}
}

// The columns are flat, timestamps are TIMESTAMP(NANOS) adjusted to UTC, and
// what does not apply is NULL.
func TestParquetSchema(t *testing.T) {
	_, out := exportTest(t, 5)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]parquet.Node{}
	for _, c := range pf.Schema().Fields() {
		if !c.Leaf() {
			t.Fatalf("column %s is not flat", c.Name())
		}
		cols[c.Name()] = c
	}
	for _, name := range []string{"campaign", "seq", "round", "vantage", "origin", "endpoint", "region", "rtt_ns", "rtt_cycles", "rtt_kernel_ns", "frequency_hz", "time", "error", "error_kind"} {
		if cols[name] == nil {
			t.Fatalf("no column %s", name)
		}
	}
	if ts := cols["time"].Type().LogicalType().String(); ts != "TIMESTAMP(isAdjustedToUTC=true,unit=NANOS)" {
		t.Fatalf("time column is %s, want TIMESTAMP(NANOS, UTC)", ts)
	}
	if cols["time"].Type().Kind() != parquet.Int64 {
		t.Fatal("time is not INT64")
	}
	for _, name := range []string{"rtt_ns", "rtt_cycles", "error"} {
		if !cols[name].Optional() {
			t.Errorf("%s is not nullable", name)
		}
	}
	if lt := cols["seq"].Type().LogicalType().String(); lt != "INT(64,false)" {
		t.Errorf("seq is %s, want INT(64,false)", lt)
	}
}

func TestParquetCorrupt(t *testing.T) {
	_, out := exportTest(t, 7)
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     []byte("PAR1PAR1"),
		"junk":      bytes.Repeat([]byte("poc!"), 100),
		"truncated": good[:len(good)/2],
		"no footer": append(append([]byte{}, good[:len(good)-8]...), 'P', 'A', 'R', '1', 'x', 'x', 'x', 'x'),
		"huge footer": func() []byte {
			b := append([]byte{}, good...)
			copy(b[len(b)-8:], []byte{0xff, 0xff, 0xff, 0x7f})
			return b
		}(),
		"not ours": func() []byte {
			var b bytes.Buffer
			type other struct{ A, B int64 }
			if err := parquet.Write(&b, []other{{1, 2}}); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}(),
	}
	// A page header whose statistics claim 2^31-1 bytes: parquet-go
	// allocated it before reading (found by FuzzReadParquet).
	cases["page header claim"] = func() []byte {
		pf, err := parquet.OpenFile(bytes.NewReader(good), int64(len(good)))
		if err != nil {
			t.Fatal(err)
		}
		off := pf.Metadata().RowGroups[0].Columns[2].MetaData.DataPageOffset // round
		b := append([]byte{}, good...)
		copy(b[off:], []byte{0x15, 0x00, 0x15, 0x02, 0x15, 0x02, 0x2c, 0x15, 0x02, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06,
			0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07})
		return b
	}()
	// Flip bytes all over the file: every result is a clean error or, where
	// the flip hit padding or statistics, a file that still checks out.
	for i := 4; i < len(good)-8; i += len(good) / 24 {
		b := append([]byte{}, good...)
		b[i] ^= 0x5a
		cases["flip at "+strconv.Itoa(i)] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "c.parquet")
			os.WriteFile(path, b, 0o644)
			_, _, err := ReadParquet(path)
			if strings.HasPrefix(name, "flip") && err == nil {
				return
			}
			if err == nil {
				t.Fatal("a corrupt file was accepted")
			}
			var pe *PosError
			if !errors.As(err, &pe) || pe.File != path {
				t.Fatalf("err %v does not name the file", err)
			}
			if !strings.HasPrefix(name, "flip") && !errors.Is(err, ErrParquet) {
				t.Fatalf("err = %v, want ErrParquet", err)
			}
			if (name == "huge footer" || name == "page header claim") && !errors.Is(err, pqguard.ErrMalformed) {
				t.Fatalf("err = %v, want pqguard.ErrMalformed", err)
			}
		})
	}
}

// A well-formed Parquet file whose content breaks the rules is refused with
// the row named, like a bad JSON line.
func TestParquetBadRows(t *testing.T) {
	h := testHeader()
	var rows []parquetRow
	for u := 0; u < 3; u++ {
		for _, s := range unitSamples(h, u) {
			s.Campaign, s.Seq = h.Campaign, uint64(len(rows))
			rows = append(rows, toRow(&s))
		}
	}
	var hdr bytes.Buffer
	encodeLine(&hdr, &h)
	write := func(rows []parquetRow) string {
		path := filepath.Join(t.TempDir(), "x.parquet")
		f, _ := os.Create(path)
		w := parquet.NewGenericWriter[parquetRow](f, parquet.KeyValueMetadata(ParquetHeaderKey, strings.TrimSpace(hdr.String())))
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		w.Close()
		f.Close()
		return path
	}
	if _, _, err := ReadParquet(write(rows)); err != nil {
		t.Fatalf("the unedited rows: %v", err)
	}
	edit := func(i int, f func(r *parquetRow)) []parquetRow {
		c := append([]parquetRow{}, rows...)
		f(&c[i])
		return c
	}
	nan := math.NaN()
	neg := -3.0
	cases := []struct {
		name string
		rows []parquetRow
		row  int64
		want error
	}{
		{"NaN rtt", edit(2, func(r *parquetRow) { r.RTTNs = &nan }), 2, ErrValue},
		{"negative rtt", edit(1, func(r *parquetRow) { r.RTTNs = &neg }), 1, ErrValue},
		{"seq gap", edit(5, func(r *parquetRow) { r.Seq = 9 }), 5, ErrSeq},
		{"incomplete unit", rows[:6], 4, ErrIncomplete},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(c.rows)
			_, _, err := ReadParquet(path)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var pe *PosError
			if !errors.As(err, &pe) || pe.File != path || pe.Row != c.row {
				t.Fatalf("err %v does not name row %d of %s", err, c.row, path)
			}
		})
	}
}

// Export reads its input strictly: a crashed campaign's file must be
// resumed first, and nothing is left behind.
func TestExportRefusesTorn(t *testing.T) {
	in, ref := makeDataset(t, 5)
	os.WriteFile(in, ref[:len(ref)-10], 0o644)
	out := filepath.Join(filepath.Dir(in), "o.parquet")
	if _, err := ExportParquet(in, out); !errors.Is(err, ErrTorn) {
		t.Fatalf("err = %v, want ErrTorn", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(in)); len(entries) != 1 {
		t.Fatalf("%d directory entries after a failed export", len(entries))
	}
}
