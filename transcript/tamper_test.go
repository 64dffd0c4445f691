package transcript

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

var (
	baseOnce       sync.Once
	baseH2, baseH1 *recorded
)

// baseSessions records one h2 and one http/1.1 session, shared by the
// tampering tests (each test mutates copies).
func baseSessions(t testing.TB) (h2, h1 *recorded) {
	baseOnce.Do(func() {
		baseH2 = recordGoSession(t, sessionConfig{alpn: "h2", echoes: 3})
		baseH1 = recordGoSession(t, sessionConfig{alpn: "http/1.1", echoes: 3})
	})
	if baseH2 == nil || baseH1 == nil {
		t.Fatal("recording the base sessions failed")
	}
	return baseH2, baseH1
}

func cloneSession(s Session) Session {
	return Session{
		C2S: bytes.Clone(s.C2S), S2C: bytes.Clone(s.S2C), KeyLog: bytes.Clone(s.KeyLog),
		C2STimes: append([]Stamp(nil), s.C2STimes...), S2CTimes: append([]Stamp(nil), s.S2CTimes...),
	}
}

func mustRecords(t testing.TB, b []byte, d Direction) []Record {
	t.Helper()
	r, err := splitRecords(b, d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// nthOfType returns the n-th record (from 0; negative counts from the end)
// of outer content type typ.
func nthOfType(t testing.TB, recs []Record, typ uint8, n int) Record {
	t.Helper()
	var m []Record
	for _, r := range recs {
		if r.Type == typ {
			m = append(m, r)
		}
	}
	if n < 0 {
		n += len(m)
	}
	if n < 0 || n >= len(m) {
		t.Fatalf("no record %d of type %d among %d", n, typ, len(m))
	}
	return m[n]
}

// keyShareOffset returns the stream offset of the key_share extension data
// in the first ClientHello.
func keyShareOffset(t testing.TB, c2s []byte) int {
	t.Helper()
	body := c2s[5+4:]
	s := cryptobyte.String(body)
	var sid, cs, comp, exts cryptobyte.String
	if !s.Skip(2+32) || !s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&cs) ||
		!s.ReadUint8LengthPrefixed(&comp) || !s.ReadUint16LengthPrefixed(&exts) {
		t.Fatal("ClientHello")
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		exts.ReadUint16(&typ)
		exts.ReadUint16LengthPrefixed(&data)
		if typ == extKeyShare {
			return 5 + 4 + (len(body) - len(exts) - len(data))
		}
	}
	t.Fatal("no key_share")
	return 0
}

func flipAt(b []byte, off int) { b[off] ^= 0x01 }

func dropKeyLogLine(kl []byte, label string) []byte {
	var out []string
	for _, l := range strings.Split(string(kl), "\n") {
		if !strings.HasPrefix(l, label+" ") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

func swapRecords(b []byte, a, c Record) []byte {
	if a.Offset > c.Offset {
		a, c = c, a
	}
	out := bytes.Clone(b[:a.Offset])
	out = append(out, b[c.Offset:c.Offset+int64(c.Length)]...)
	out = append(out, b[a.Offset+int64(a.Length):c.Offset]...)
	out = append(out, b[a.Offset:a.Offset+int64(a.Length)]...)
	return append(out, b[c.Offset+int64(c.Length):]...)
}

func TestTampering(t *testing.T) {
	h2, h1 := baseSessions(t)
	p := mustPKI(t)
	rfc, _ := rfcSession(t)
	other := [32]byte{1, 2, 3}

	type tc struct {
		name   string
		base   *recorded
		mutate func(t *testing.T, s *Session, o *Options)
		check  string
		want   error
	}
	h2c2s := mustRecords(t, h2.C2S, ClientToServer)
	h2s2c := mustRecords(t, h2.S2C, ServerToClient)
	cases := []tc{
		{"truncated c2s", h2, func(t *testing.T, s *Session, o *Options) { s.C2S = s.C2S[:len(s.C2S)-3] }, CheckRecords, ErrTruncated},
		{"truncated s2c header", h2, func(t *testing.T, s *Session, o *Options) { s.S2C = append(s.S2C, 23, 3) }, CheckRecords, ErrTruncated},
		{"empty s2c", h2, func(t *testing.T, s *Session, o *Options) { s.S2C = nil }, CheckRecords, ErrTruncated},
		{"s2c ends before server Finished", h2, func(t *testing.T, s *Session, o *Options) {
			sh := nthOfType(t, h2s2c, typeHandshake, 0)
			s.S2C = s.S2C[:sh.Offset+int64(sh.Length)]
		}, CheckHandshakeDecrypt, ErrTruncated},
		{"c2s ends before client Finished", h2, func(t *testing.T, s *Session, o *Options) {
			fin := nthOfType(t, h2c2s, typeApplicationData, 0)
			s.C2S = s.C2S[:fin.Offset]
		}, CheckApplicationData, ErrTruncated},
		{"bad content type", h2, func(t *testing.T, s *Session, o *Options) {
			s.S2C[nthOfType(t, h2s2c, typeApplicationData, 2).Offset] = 24
		}, CheckRecords, ErrRecordFraming},
		{"bad change_cipher_spec", h2, func(t *testing.T, s *Session, o *Options) {
			s.S2C[nthOfType(t, h2s2c, typeChangeCipherSpec, 0).Offset+5] = 2
		}, CheckRecords, ErrRecordFraming},
		{"oversized stream", h2, func(t *testing.T, s *Session, o *Options) { o.MaxStreamBytes = len(s.S2C) - 1 }, CheckRecords, ErrTooLarge},
		{"oversized key log", h2, func(t *testing.T, s *Session, o *Options) {
			s.KeyLog = append(s.KeyLog, bytes.Repeat([]byte("#"), DefaultMaxStreamBytes)...)
		}, CheckRecords, ErrTooLarge},
		{"negative MaxStreamBytes", h2, func(t *testing.T, s *Session, o *Options) { o.MaxStreamBytes = -1 }, CheckRecords, ErrOptions},
		{"reordered s2c application records", h2, func(t *testing.T, s *Session, o *Options) {
			s.S2C = swapRecords(s.S2C, nthOfType(t, h2s2c, typeApplicationData, -3), nthOfType(t, h2s2c, typeApplicationData, -2))
		}, CheckApplicationData, ErrDecrypt},
		{"reordered c2s application records", h2, func(t *testing.T, s *Session, o *Options) {
			s.C2S = swapRecords(s.C2S, nthOfType(t, h2c2s, typeApplicationData, 1), nthOfType(t, h2c2s, typeApplicationData, 2))
		}, CheckApplicationData, ErrDecrypt},
		{"ServerHello after the flight", h2, func(t *testing.T, s *Session, o *Options) {
			s.S2C = swapRecords(s.S2C, nthOfType(t, h2s2c, typeHandshake, 0), nthOfType(t, h2s2c, typeApplicationData, 0))
		}, CheckClientHello, ErrHandshake},
		{"flip in ClientHello random (nonce)", h2, func(t *testing.T, s *Session, o *Options) { flipAt(s.C2S, 11) }, CheckClientHello, ErrNonce},
		{"flip in ClientHello random (no nonce)", h2, func(t *testing.T, s *Session, o *Options) {
			flipAt(s.C2S, 11)
			o.Nonce = nil
		}, CheckHandshakeDecrypt, ErrKeyLogMismatch},
		{"flip in ClientHello key share", h2, func(t *testing.T, s *Session, o *Options) {
			flipAt(s.C2S, keyShareOffset(t, s.C2S)+20)
		}, CheckCertificateVerify, ErrCertificateVerify},
		{"flip in ServerHello random", h2, func(t *testing.T, s *Session, o *Options) { flipAt(s.S2C, 20) }, CheckCertificateVerify, ErrCertificateVerify},
		{"flip in server flight", h2, func(t *testing.T, s *Session, o *Options) {
			r := nthOfType(t, h2s2c, typeApplicationData, 0)
			flipAt(s.S2C, int(r.Offset)+r.Length/2)
		}, CheckHandshakeDecrypt, ErrDecrypt},
		{"flip in client Finished", h2, func(t *testing.T, s *Session, o *Options) {
			r := nthOfType(t, h2c2s, typeApplicationData, 0)
			flipAt(s.C2S, int(r.Offset)+10)
		}, CheckApplicationData, ErrDecrypt},
		{"flip in s2c application data", h2, func(t *testing.T, s *Session, o *Options) {
			r := nthOfType(t, h2s2c, typeApplicationData, -2)
			flipAt(s.S2C, int(r.Offset)+r.Length-1)
		}, CheckApplicationData, ErrDecrypt},
		{"flip in c2s application data", h1, func(t *testing.T, s *Session, o *Options) {
			r := nthOfType(t, mustRecords(t, s.C2S, ClientToServer), typeApplicationData, 2)
			flipAt(s.C2S, int(r.Offset)+7)
		}, CheckApplicationData, ErrDecrypt},
		{"bytes after close_notify", h2, func(t *testing.T, s *Session, o *Options) {
			r := nthOfType(t, h2s2c, typeApplicationData, -2)
			s.S2C = append(s.S2C, s.S2C[r.Offset:r.Offset+int64(r.Length)]...)
			s.S2CTimes = nil
			s.C2STimes = nil
		}, CheckApplicationData, ErrAfterClose},
		{"key log of another session", h2, func(t *testing.T, s *Session, o *Options) { s.KeyLog = rfc.KeyLog }, CheckHandshakeDecrypt, ErrKeyLogMismatch},
		{"key log with wrong secrets", h2, func(t *testing.T, s *Session, o *Options) { s.KeyLog = h1.KeyLog }, CheckHandshakeDecrypt, ErrDecrypt},
		{"malformed key log", h2, func(t *testing.T, s *Session, o *Options) { s.KeyLog = append(s.KeyLog, "CLIENT_RANDOM zz\n"...) }, CheckHandshakeDecrypt, ErrKeyLogFormat},
		{"missing CLIENT_HANDSHAKE_TRAFFIC_SECRET", h2, func(t *testing.T, s *Session, o *Options) {
			s.KeyLog = dropKeyLogLine(s.KeyLog, labelClientHS)
		}, CheckHandshakeDecrypt, ErrKeyLogMissing},
		{"missing SERVER_HANDSHAKE_TRAFFIC_SECRET", h2, func(t *testing.T, s *Session, o *Options) {
			s.KeyLog = dropKeyLogLine(s.KeyLog, labelServerHS)
		}, CheckHandshakeDecrypt, ErrKeyLogMissing},
		{"missing CLIENT_TRAFFIC_SECRET_0", h2, func(t *testing.T, s *Session, o *Options) {
			s.KeyLog = dropKeyLogLine(s.KeyLog, labelClientAP0)
		}, CheckApplicationData, ErrKeyLogMissing},
		{"missing SERVER_TRAFFIC_SECRET_0", h2, func(t *testing.T, s *Session, o *Options) {
			s.KeyLog = dropKeyLogLine(s.KeyLog, labelServerAP0)
		}, CheckApplicationData, ErrKeyLogMissing},
		{"certificate for another name", h2, func(t *testing.T, s *Session, o *Options) { o.ServerName = "other.test" }, CheckServerName, ErrServerName},
		{"no server name", h2, func(t *testing.T, s *Session, o *Options) { o.ServerName = "" }, CheckServerName, ErrOptions},
		{"expired certificate", h2, func(t *testing.T, s *Session, o *Options) { o.At = testNotAfter.Add(time.Hour) }, CheckCertificateChain, ErrCertificateChain},
		{"certificate not yet valid", h2, func(t *testing.T, s *Session, o *Options) { o.At = testNotBefore.Add(-time.Hour) }, CheckCertificateChain, ErrCertificateChain},
		{"untrusted root", h2, func(t *testing.T, s *Session, o *Options) { o.Roots = p.otherRoot }, CheckCertificateChain, ErrCertificateChain},
		{"no roots", h2, func(t *testing.T, s *Session, o *Options) { o.Roots = nil }, CheckCertificateChain, ErrOptions},
		{"no time", h2, func(t *testing.T, s *Session, o *Options) { o.At = time.Time{} }, CheckCertificateChain, ErrOptions},
		{"nonce mismatch (client random)", h2, func(t *testing.T, s *Session, o *Options) { o.Nonce = &other }, CheckClientHello, ErrNonce},
		{"nonce mismatch (connection index)", h2, func(t *testing.T, s *Session, o *Options) { o.ConnIndex = 1 }, CheckClientHello, ErrNonce},
		{"nonce mismatch (PING payload)", h2, func(t *testing.T, s *Session, o *Options) { o.EchoBase = 1 }, CheckEchoes, ErrNonce},
		{"nonce mismatch (http1 token)", h1, func(t *testing.T, s *Session, o *Options) { o.EchoBase = 5 }, CheckEchoes, ErrNonce},
		{"stamps decreasing", h2, func(t *testing.T, s *Session, o *Options) { s.S2CTimes[1].Cycles = s.S2CTimes[0].Cycles - 1 }, CheckTiming, ErrTiming},
		{"stamps not starting at 0", h2, func(t *testing.T, s *Session, o *Options) { s.C2STimes[0].Offset = 1 }, CheckTiming, ErrTiming},
		{"stamp offsets not increasing", h2, func(t *testing.T, s *Session, o *Options) { s.C2STimes[1].Offset = 0 }, CheckTiming, ErrTiming},
		{"stamp beyond the stream", h2, func(t *testing.T, s *Session, o *Options) {
			s.S2CTimes = append(s.S2CTimes, Stamp{Offset: int64(len(s.S2C)), Cycles: 1 << 62})
		}, CheckTiming, ErrTiming},
		{"stamps for one direction only", h2, func(t *testing.T, s *Session, o *Options) { s.S2CTimes = nil }, CheckTiming, ErrTiming},
		{"answers before requests", h2, func(t *testing.T, s *Session, o *Options) {
			for i := range s.S2CTimes {
				s.S2CTimes[i].Cycles = 1
			}
		}, CheckTiming, ErrTiming},
		{"echo answered before it was sent", h1, func(t *testing.T, s *Session, o *Options) {
			// Every c2s write after the handshake happens "late".
			for i := range s.C2STimes {
				if i > 2 {
					s.C2STimes[i].Cycles += 1 << 40
				}
			}
		}, CheckTiming, ErrTiming},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := cloneSession(c.base.Session)
			o := c.base.options()
			c.mutate(t, &s, &o)
			res, err := Verify(s, o)
			t.Logf("%v", err)
			if res == nil {
				t.Fatal("nil Result")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var ce *CheckError
			if !errors.As(err, &ce) || ce.Check != c.check {
				t.Fatalf("err = %v, want a CheckError of %s", err, c.check)
			}
			if res.OK() {
				t.Fatal("OK() is true")
			}
			failed := checkByName(res, c.check)
			if failed == nil || failed.OK || !errors.Is(failed.Err, c.want) || failed.Detail == "" {
				t.Fatalf("check %s: %+v", c.check, failed)
			}
			// Crypto checks stop at the first failure; the name check does
			// not stop the ones after it.
			last := res.Checks[len(res.Checks)-1]
			if c.check == CheckServerName {
				if last.Name != CheckTiming || !last.OK {
					t.Errorf("checks after server_name did not all run: %v", checkNames(res))
				}
			} else if last.Name != c.check {
				t.Errorf("checks ran past the failure: %v", checkNames(res))
			}
		})
	}
}

// TestCertificateErrors checks that the chain errors keep x509's own error
// for errors.As.
func TestCertificateErrors(t *testing.T) {
	h2, _ := baseSessions(t)
	p := mustPKI(t)
	o := h2.options()
	o.At = testNotAfter.Add(time.Hour)
	_, err := Verify(h2.Session, o)
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("expired: %v", err)
	}
	o = h2.options()
	o.Roots = p.otherRoot
	_, err = Verify(h2.Session, o)
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("untrusted: %v", err)
	}
	o = h2.options()
	o.ServerName = "other.test"
	_, err = Verify(h2.Session, o)
	var he x509.HostnameError
	if !errors.As(err, &he) {
		t.Errorf("name: %v", err)
	}
}

// TestReframedHandshake re-frames the plaintext handshake records: a
// ClientHello and a ServerHello split across several records (and the
// ClientHello's header split too) must still verify, because record
// boundaries are not part of the transcript.
func TestReframedHandshake(t *testing.T) {
	h2, _ := baseSessions(t)
	s := cloneSession(h2.Session)
	s.C2STimes, s.S2CTimes = nil, nil
	split := func(b []byte, d Direction, cuts ...int) []byte {
		r := mustRecords(t, b, d)[0]
		body := b[5:r.Length]
		var out []byte
		prev := 0
		for _, c := range append(cuts, len(body)) {
			out = append(out, b[0], b[1], b[2], byte((c-prev)>>8), byte(c-prev))
			out = append(out, body[prev:c]...)
			prev = c
		}
		return append(out, b[r.Length:]...)
	}
	s.C2S = split(s.C2S, ClientToServer, 2, 100, 101)
	s.S2C = split(s.S2C, ServerToClient, 40)
	res, err := Verify(s, h2.options())
	if err != nil || !res.OK() {
		t.Fatalf("re-framed session: %v", err)
	}
}

// A ChainCache answers only for the chain, the roots and the time it saw
// succeed: another time or another pool verifies afresh (and fails as it
// should), a failure is never remembered, and the cached answer is the
// uncached one.
func TestChainCache(t *testing.T) {
	h2, _ := baseSessions(t)
	p := mustPKI(t)
	cc := &ChainCache{}
	o := h2.options()
	o.Chains = cc
	plain, err := Verify(h2.Session, h2.options())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := Verify(h2.Session, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Checks[3] != plain.Checks[3] {
			t.Fatalf("cached chain check %+v, uncached %+v", r.Checks[3], plain.Checks[3])
		}
	}
	if len(cc.good) != 1 {
		t.Fatalf("%d chains cached, want 1", len(cc.good))
	}
	expired := o
	expired.At = testNotAfter.Add(time.Hour)
	var inv x509.CertificateInvalidError
	if _, err := Verify(h2.Session, expired); !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("expired, with a cache that holds the chain at another time: %v", err)
	}
	other := o
	other.Roots = p.otherRoot
	var ua x509.UnknownAuthorityError
	if _, err := Verify(h2.Session, other); !errors.As(err, &ua) {
		t.Errorf("untrusted, with a cache that holds the chain for other roots: %v", err)
	}
	if len(cc.good) != 1 {
		t.Fatalf("%d chains cached after two failures, want 1", len(cc.good))
	}
}
