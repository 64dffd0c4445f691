package dataset

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	h := testHeader()
	path, _ := makeDataset(t, h.Plan.Units())
	got, samples, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, h) {
		t.Fatalf("header read back as %+v", *got)
	}
	var want []Sample
	for u := 0; u < h.Plan.Units(); u++ {
		want = append(want, unitSamples(h, u)...)
	}
	if len(samples) != len(want) {
		t.Fatalf("%d samples, want %d", len(samples), len(want))
	}
	for i := range want {
		want[i].Campaign, want[i].Seq = h.Campaign, uint64(i)
		if !reflect.DeepEqual(samples[i], want[i]) {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, samples[i], want[i])
		}
	}
}

// The order is a pure function of seed, round and names, differs between
// rounds, and is a permutation.
func TestPlanOrder(t *testing.T) {
	p := Plan{Seed: 1, Endpoints: []string{"a", "b", "c", "d", "e", "f"}}
	seen := map[string]bool{}
	for r := 0; r < 8; r++ {
		o := p.Order(r)
		if !reflect.DeepEqual(o, p.Order(r)) {
			t.Fatal("order not deterministic")
		}
		if len(o) != len(p.Endpoints) {
			t.Fatal("order is not a permutation")
		}
		seen[strings.Join(o, ",")] = true
	}
	if len(seen) < 4 {
		t.Fatalf("8 rounds gave only %d distinct orders", len(seen))
	}
	// A fixed vector, so that a change of the algorithm cannot go unseen
	// (docs/datasets.md gives the same in Python).
	if got := strings.Join((Plan{Seed: 42, Endpoints: []string{"a", "b", "c"}}).Order(0), ","); got != orderVector {
		t.Fatalf("order of seed 42 round 0 is %s, want %s", got, orderVector)
	}
}

const orderVector = "b,a,c"

func TestWriterRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	w, err := Create(path, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h := w.Header()
	first := unitSamples(h, 0)
	// The plan's second unit first: refused.
	s := unitSamples(h, 1)[0]
	if err := w.Write(&s); !errors.Is(err, ErrOrder) {
		t.Fatalf("unit out of order: %v", err)
	}
	// Half a unit cannot be committed.
	if err := w.Write(&first[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("commit mid-unit: %v", err)
	}
	bad := first[1]
	bad.RTTNs = -1
	if err := w.Write(&bad); !errors.Is(err, ErrValue) {
		t.Fatalf("negative rtt: %v", err)
	}
	for _, s := range first[1:] {
		if err := w.Write(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if w.NextSeq() != uint64(len(first)) || w.Units() != 1 {
		t.Fatalf("next seq %d, units %d", w.NextSeq(), w.Units())
	}
	// A second writer is locked out, and Create never replaces a file.
	if _, _, err := OpenAppend(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v", err)
	}
	if _, err := Resume(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("resume while written: %v", err)
	}
	if _, err := Create(path, testHeader()); !errors.Is(err, ErrExists) {
		t.Fatalf("create over a dataset: %v", err)
	}
	// Nothing but the dataset is left in the directory.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries", len(entries))
	}
}

// Cutting a finished file anywhere in its last units, as a crash may, then
// resuming and writing the rest, gives back exactly the same file: nothing
// lost, nothing doubled.
func TestResumeAfterAnyCut(t *testing.T) {
	h := testHeader()
	total := h.Plan.Units()
	full, ref := makeDataset(t, total)
	// Cut at, just before, just after and in the middle of every line end
	// of the last 7 lines (the last units): whole units, partial
	// units, torn lines.
	ls := lines(ref)
	var cuts []int
	end := len(ref)
	for i := len(ls) - 2; i >= len(ls)-8; i-- {
		l := len(ls[i])
		cuts = append(cuts, end, end-1, end-l/2, end-l+1)
		end -= l
	}
	dir := t.TempDir()
	for _, cut := range cuts {
		path := filepath.Join(dir, "cut.jsonl")
		if err := os.WriteFile(path, ref[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		w, st, err := OpenAppend(path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if st.Torn != (ref[cut-1] != '\n') {
			t.Fatalf("cut at %d: torn = %v", cut, st.Torn)
		}
		writeUnits(t, w, st.Units, total)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, ref) {
			t.Fatalf("cut at %d (resumed at unit %d, seq %d): file differs from the uncut one", cut, st.Units, st.NextSeq)
		}
	}
	// A whole file resumes to itself and is done.
	st, err := Resume(full)
	if err != nil || !st.Done() || st.Cut != 0 {
		t.Fatalf("resume of a finished file: %+v %v", st, err)
	}
}

// badCase edits line n (1-based; the header is line 1) of a valid file.
type badCase struct {
	name string
	line int
	edit func(l string) string
	want error
}

func TestBadInput(t *testing.T) {
	path0, ref := makeDataset(t, 7)
	_ = path0
	ls := lines(ref)
	replace := func(old, new string) func(string) string {
		return func(l string) string {
			if !strings.Contains(l, old) {
				t.Fatalf("line has no %q: %s", old, l)
			}
			return strings.Replace(l, old, new, 1)
		}
	}
	cases := []badCase{
		{"malformed row", 3, func(l string) string { return l[:25] + "\n" }, ErrSyntax},
		{"not an object", 3, func(string) string { return "[1,2]\n" }, ErrSyntax},
		{"blank line", 3, func(string) string { return "\n" }, ErrSyntax},
		{"unknown field", 3, replace(`"round":`, `"colour":"blue","round":`), ErrField},
		{"field in other case", 3, replace(`"round":`, `"ROUND":`), ErrField},
		{"repeated field", 3, replace(`"round":0`, `"round":0,"round":0`), ErrField},
		{"null field", 3, replace(`"round":0`, `"round":null`), ErrValue},
		{"wrong type", 3, replace(`"round":0`, `"round":"0"`), ErrValue},
		{"torn line in the middle", 4, func(l string) string { return l[:len(l)/2] }, ErrSyntax},
		{"seq gap", 4, replace(`"seq":2`, `"seq":3`), ErrSeq},
		{"seq repeat", 4, replace(`"seq":2`, `"seq":1`), ErrSeq},
		{"NaN rtt", 3, func(l string) string { return rttRE(l, "NaN") }, ErrSyntax},
		{"negative rtt", 3, func(l string) string { return rttRE(l, "-5") }, ErrValue},
		{"zero rtt", 3, func(l string) string { return rttRE(l, "0") }, ErrValue},
		{"huge rtt", 3, func(l string) string { return rttRE(l, "1e999") }, ErrValue},
		{"other campaign", 3, replace(`"campaign":"test-1"`, `"campaign":"test-2"`), ErrSeq},
		{"other vantage", 3, replace(`"vantage":"v1"`, `"vantage":"v2"`), ErrSeq},
		{"echo out of order", 4, replace(`"echo":2`, `"echo":3`), ErrOrder},
		{"unit out of order", 2, func(l string) string { return strings.Replace(l, `"round":0`, `"round":1`, 1) }, ErrOrder},
		{"bad header", 1, replace(`"version":1`, `"version":2`), ErrHeader},
		{"header unknown field", 1, replace(`"plan":`, `"notes":"x","plan":`), ErrHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			for i, l := range ls {
				if i == c.line-1 {
					b.WriteString(c.edit(string(l)))
				} else {
					b.Write(l)
				}
			}
			path := filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := ReadFile(path)
			assertPos(t, err, c.want, path, c.line)
			_, err = Resume(path)
			assertPos(t, err, c.want, path, c.line)
			if after, _ := os.ReadFile(path); !bytes.Equal(after, b.Bytes()) {
				t.Fatal("resume changed a file it refused")
			}
		})
	}
}

// rttRE replaces a line's rtt_ns value.
func rttRE(l, v string) string {
	i := strings.Index(l, `"rtt_ns":`) + len(`"rtt_ns":`)
	j := i + strings.IndexByte(l[i:], ',')
	return l[:i] + v + l[j:]
}

func assertPos(t *testing.T, err, want error, file string, line int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var pe *PosError
	if !errors.As(err, &pe) || pe.File != file || pe.Line != int64(line) {
		t.Fatalf("err %v does not name %s line %d", err, file, line)
	}
}

// A torn last line: the reader refuses it, Resume cuts it (with the
// complete lines of its unfinished unit) and nothing else.
func TestTornTail(t *testing.T) {
	h := testHeader()
	_, ref := makeDataset(t, 4)
	unit4 := unitSamples(h, 4) // an error unit: one line
	unit5 := unitSamples(h, 5)
	_ = unit4
	path := filepath.Join(t.TempDir(), "d.jsonl")
	w, err := Create(path, h)
	if err != nil {
		t.Fatal(err)
	}
	writeUnits(t, w, 0, 6)
	w.Close()
	full, _ := os.ReadFile(path)
	ls := lines(full)
	// Keep unit 5's first two lines and half of its third.
	n := len(ls) - 1 - len(unit5) + 2 // lines up to unit 5's second
	var b bytes.Buffer
	for _, l := range ls[:n] {
		b.Write(l)
	}
	keep := b.Len()
	b.Write(ls[n][:len(ls[n])/2])
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadFile(path)
	assertPos(t, err, ErrTorn, path, n+1)
	// Without the torn line the reader reports the unfinished unit at its
	// first line.
	os.WriteFile(path, b.Bytes()[:keep], 0o644)
	_, _, err = ReadFile(path)
	assertPos(t, err, ErrIncomplete, path, n-1)
	os.WriteFile(path, b.Bytes(), 0o644)
	st, err := Resume(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Torn || st.CutLines != 2 || st.Units != 5 {
		t.Fatalf("resume: %+v", st)
	}
	got, _ := os.ReadFile(path)
	var five bytes.Buffer
	for _, l := range ls[:len(ls)-1-len(unit5)] {
		five.Write(l)
	}
	if !bytes.Equal(got, five.Bytes()) {
		t.Fatal("resume did not cut back to the end of unit 4")
	}
	_ = ref
}
