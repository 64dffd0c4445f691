package transcript

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"
)

// FuzzRecords checks that record splitting never panics and that what it
// returns tiles the stream: records are contiguous, start at 0, and cover
// every byte when there is no error.
func FuzzRecords(f *testing.F) {
	rfc, _ := rfcSession(f)
	f.Add(rfc.C2S)
	f.Add(rfc.S2C)
	f.Add([]byte{22, 3, 1, 0, 1, 1})
	f.Add([]byte{20, 3, 3, 0, 1, 1, 23, 3, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := splitRecords(b, ClientToServer)
		off := int64(0)
		for _, r := range recs {
			if r.Offset != off || r.Length < 6 || r.Length > recordHeaderLen+maxCiphertext || off+int64(r.Length) > int64(len(b)) {
				t.Fatalf("record %+v after offset %d of %d", r, off, len(b))
			}
			off += int64(r.Length)
		}
		if err == nil && off != int64(len(b)) {
			t.Fatalf("records cover %d of %d bytes", off, len(b))
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrRecordFraming) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzVerify feeds altered recorded sessions (RFC 8448 and real Go
// sessions of every kind the harness records) to Verify, which must never
// panic, never report an internal error, and always return a Result whose
// last check explains a failure.
func FuzzVerify(f *testing.F) {
	rfc, rfcOpts := rfcSession(f)
	f.Add(rfc.C2S, rfc.S2C, rfc.KeyLog, uint8(0))
	seeds := []*recorded{
		recordGoSession(f, sessionConfig{alpn: "h2", echoes: 2}),
		recordGoSession(f, sessionConfig{alpn: "http/1.1", echoes: 2}),
		recordGoSession(f, sessionConfig{alpn: "h2", echoes: 1, hrr: true}),
		recordMiniSession(f, miniConfig{sessionConfig: sessionConfig{echoes: 2}, suite: tls.TLS_AES_256_GCM_SHA384, keyUpdate: 1, fragment: 100}),
	}
	for _, s := range seeds {
		f.Add(s.C2S, s.S2C, s.KeyLog, uint8(1))
	}
	goOpts := seeds[0].options()
	f.Fuzz(func(t *testing.T, c2s, s2c, keylog []byte, mode uint8) {
		o := rfcOpts
		if mode&1 == 1 {
			o = goOpts
		}
		s := Session{C2S: c2s, S2C: s2c, KeyLog: keylog}
		if mode&2 == 2 {
			// One stamp per record boundary, increasing across the
			// streams, so the timing check runs too.
			s.C2STimes = boundaryStamps(c2s, 0)
			s.S2CTimes = boundaryStamps(s2c, 1)
		}
		res, err := Verify(s, o)
		if res == nil {
			t.Fatal("nil Result")
		}
		if errors.Is(err, ErrInternal) {
			t.Fatalf("internal error: %v", err)
		}
		if err != nil {
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CheckError", err)
			}
			if res.OK() {
				t.Fatal("OK() with an error")
			}
			if c := checkByName(res, ce.Check); c == nil || c.OK || c.Err == nil {
				t.Fatalf("failed check %s not recorded", ce.Check)
			}
		} else if !res.OK() {
			t.Fatal("no error but not OK")
		}
	})
}

func boundaryStamps(b []byte, start uint64) []Stamp {
	var st []Stamp
	off := 0
	for i := uint64(0); off < len(b); i++ {
		st = append(st, Stamp{Offset: int64(off), Cycles: start + 2*i})
		if len(b)-off < 5 {
			break
		}
		off += 5 + int(b[off+3])<<8 | int(b[off+4])
	}
	return st
}

func TestBoundaryStamps(t *testing.T) {
	if st := boundaryStamps(bytes.Repeat([]byte{0}, 12), 1); len(st) != 3 || st[2].Offset != 10 {
		t.Errorf("%+v", st)
	}
}
