package tpmquote

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	legacy "github.com/google/go-tpm/legacy/tpm2"
)

// recorded is the hex JSON form of the recorded quotes (trustee's names).
type recorded struct {
	Signature string   `json:"signature"`
	Message   string   `json:"message"`
	PCRs      []string `json:"pcrs"`
}

func loadRecorded(t testing.TB, name string) *Quote {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r recorded
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	q := &Quote{Attest: mustHex(t, r.Message), Signature: mustHex(t, r.Signature)}
	for i, p := range r.PCRs {
		q.PCRs = append(q.PCRs, mustHex(t, p))
		q.Indices = append(q.Indices, uint32(i))
	}
	return q
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAttestRecorded(t *testing.T) {
	for _, name := range []string{"trustee_az-tdx-vtpm_tpm-quote.json", "kinvolk_quote.decoded.json"} {
		t.Run(name, func(t *testing.T) {
			q := loadRecorded(t, name)
			a, err := ParseAttest(q.Attest)
			if err != nil {
				t.Fatal(err)
			}
			if string(a.ExtraData) != "challenge" {
				t.Errorf("extraData %q", a.ExtraData)
			}
			if len(a.Selections) != 1 || a.Selections[0].Hash != AlgSHA256 || !bytes.Equal(a.Selections[0].Select, []byte{0xff, 0xff, 0xff}) {
				t.Errorf("selections %+v", a.Selections)
			}
			if got := a.Selections[0].Indices(); !slices.Equal(got, q.Indices) {
				t.Errorf("indices %v", got)
			}
			if d := PCRDigest(q.PCRs); !bytes.Equal(d[:], a.PCRDigest) {
				t.Errorf("PCR digest %x, attest says %x", d, a.PCRDigest)
			}
			if len(a.QualifiedSigner) != 34 || a.QualifiedSigner[1] != 0x0b {
				t.Errorf("qualifiedSigner %x", a.QualifiedSigner)
			}
			// Cross-check with go-tpm's decoder.
			l, err := legacy.DecodeAttestationData(q.Attest)
			if err != nil {
				t.Fatal(err)
			}
			if l.ClockInfo.Clock != a.Clock || l.FirmwareVersion != a.FirmwareVersion || l.ClockInfo.ResetCount != a.ResetCount ||
				!bytes.Equal(l.AttestedQuoteInfo.PCRDigest, a.PCRDigest) {
				t.Error("go-tpm decodes differently")
			}
		})
	}
}

// TestKinvolkEncodings checks that the hex JSON is the bincode file.
func TestKinvolkEncodings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "kinvolk_quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	next := func() []byte {
		n := binary.LittleEndian.Uint64(b)
		out := b[8 : 8+n]
		b = b[8+n:]
		return out
	}
	sig, msg := next(), next()
	count := binary.LittleEndian.Uint64(b)
	b = b[8:]
	q := loadRecorded(t, "kinvolk_quote.decoded.json")
	if !bytes.Equal(sig, q.Signature) || !bytes.Equal(msg, q.Attest) || count != uint64(len(q.PCRs)) {
		t.Fatal("bincode and JSON differ")
	}
	for i := range count {
		if len(b) < 32 || !bytes.Equal(b[:32], q.PCRs[i]) {
			t.Fatalf("PCR %d differs", i)
		}
		b = b[32:]
	}
	if len(b) != 0 {
		t.Fatalf("%d trailing bytes", len(b))
	}
}

func TestParseAttestRefuses(t *testing.T) {
	good := loadRecorded(t, "trustee_az-tdx-vtpm_tpm-quote.json").Attest
	set := func(off int, v ...byte) []byte {
		b := append([]byte(nil), good...)
		copy(b[off:], v)
		return b
	}
	// Offsets in the recorded attest: name at 6 (0x22 bytes), extraData
	// size at 42, clock at 53, safe at 69, firmware at 70, count at 78,
	// hash at 82, sizeofSelect at 84, digest size at 88.
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"magic only", good[:4], ErrMalformed},
		{"bad magic", set(0, 0xff, 0x54, 0x43, 0x48), ErrMagic},
		{"certify, not quote", set(4, 0x80, 0x17), ErrNotQuote},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrMalformed},
		{"name too long", set(6, 0x00, 0x43), ErrMalformed},
		{"extraData too long", set(42, 0x00, 0x43), ErrMalformed},
		{"extraData beyond end", set(42, 0x00, 0x40), ErrMalformed},
		{"safe is 2", set(69, 2), ErrMalformed},
		{"too many selections", set(78, 0, 0, 0, 17), ErrMalformed},
		{"two selections, one present", set(78, 0, 0, 0, 2), ErrMalformed},
		{"sizeofSelect 0", set(84, 0), ErrMalformed},
		{"sizeofSelect 9", set(84, 9), ErrMalformed},
		{"digest too long", set(88, 0, 65), ErrMalformed},
		{"oversized", make([]byte, MaxAttestSize+1), ErrMalformed},
	}
	for i := 1; i < len(good); i++ {
		tests = append(tests, struct {
			name string
			in   []byte
			want error
		}{"cut", good[:i], ErrMalformed})
	}
	for _, tc := range tests {
		a, err := ParseAttest(tc.in)
		if !errors.Is(err, tc.want) || a != nil {
			t.Errorf("%s (%d bytes): %v, want %v", tc.name, len(tc.in), err, tc.want)
		}
	}
}

func TestIndices(t *testing.T) {
	s := PCRSelection{Hash: AlgSHA256, Select: []byte{0x81, 0x00, 0x02, 0x80}}
	if got := s.Indices(); !slices.Equal(got, []uint32{0, 7, 17, 31}) {
		t.Errorf("Indices = %v", got)
	}
}

func TestQuoteJSON(t *testing.T) {
	q := &Quote{Attest: []byte{1}, Signature: []byte{2}, PCRs: [][]byte{make([]byte, 32)}, Indices: []uint32{7}}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	// The same names as evidence.TPMQuote, so the two convert field by field.
	want := `{"attest":"AQ==","signature":"Ag==","pcrs":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],"pcr_indices":[7]}`
	if string(b) != want {
		t.Errorf("JSON %s", b)
	}
}

func FuzzParseAttest(f *testing.F) {
	f.Add(loadRecorded(f, "trustee_az-tdx-vtpm_tpm-quote.json").Attest)
	f.Add(loadRecorded(f, "kinvolk_quote.decoded.json").Attest)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAttest(b)
		if err != nil {
			if a != nil || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrMagic) || errors.Is(err, ErrNotQuote)) {
				t.Fatalf("attest %v, error %v", a != nil, err)
			}
			return
		}
		if a.Magic != GeneratedValue || a.Type != TagAttestQuote || len(a.ExtraData) > MaxExtraData {
			t.Fatalf("accepted %+v", a)
		}
		// Differential: where go-tpm's decoder can express the result
		// (one selection), it must read the same.
		if len(a.Selections) != 1 {
			return
		}
		l, err := legacy.DecodeAttestationData(b)
		if err != nil {
			// go-tpm refuses PCR bitmaps it cannot represent; that is
			// its limit, not a disagreement on the bytes.
			return
		}
		if !bytes.Equal(l.ExtraData, a.ExtraData) || !bytes.Equal(l.AttestedQuoteInfo.PCRDigest, a.PCRDigest) ||
			uint16(l.AttestedQuoteInfo.PCRSelection.Hash) != a.Selections[0].Hash {
			t.Fatalf("go-tpm reads %+v, we read %+v", l, a)
		}
		var want []uint32
		for _, p := range l.AttestedQuoteInfo.PCRSelection.PCRs {
			want = append(want, uint32(p))
		}
		slices.Sort(want)
		if got := a.Selections[0].Indices(); !slices.Equal(got, want) {
			t.Fatalf("go-tpm selects %v, we select %v", want, got)
		}
	})
}
