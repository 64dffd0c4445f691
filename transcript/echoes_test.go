package transcript

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// echoVerifier builds the state the echoes check reads: the plaintext of
// each direction, carried by records of at most chunk bytes (c2s records
// first, as in a Result).
func echoVerifier(alpn string, c2s, s2c []byte, chunk int, o Options) *verifier {
	v := &verifier{o: o, res: &Result{ALPN: alpn}}
	for d, data := range [][]byte{c2s, s2c} {
		a := &appStream{closed: -1, lastRec: -1}
		off := int64(0)
		for len(data) > 0 {
			n := min(chunk, len(data))
			i := len(v.res.Records)
			v.res.Records = append(v.res.Records, Record{Dir: Direction(d), Offset: off, Length: n + 22, Type: 23, Inner: 23})
			v.idx[d] = append(v.idx[d], i)
			a.segs = append(a.segs, segment{off: int64(len(a.data)), rec: i})
			a.data = append(a.data, data[:n]...)
			a.lastRec = i
			a.records++
			off += int64(n + 22)
			data = data[n:]
		}
		v.app[d] = a
	}
	return v
}

func frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	h := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[5:], stream)
	return append(h, payload...)
}

func ping(ack bool, p [8]byte) []byte {
	f := uint8(0)
	if ack {
		f = h2FlagAck
	}
	return frame(h2FramePing, f, 0, p[:])
}

func settings(kv ...uint32) []byte {
	var p []byte
	for i := 0; i+1 < len(kv); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(kv[i]))
		p = binary.BigEndian.AppendUint32(p, kv[i+1])
	}
	return frame(h2FrameSettings, 0, 0, p)
}

func TestH2Echoes(t *testing.T) {
	n := testNonce
	p0, p1 := PingPayload(n, 0), PingPayload(n, 1)
	pre := []byte(h2Preface)
	goaway := frame(h2FrameGoAway, 0, 0, append([]byte{0, 0, 0, 3, 0, 0, 0, 11}, strings.Repeat("d", 300)...))
	for _, tc := range []struct {
		name     string
		c2s, s2c []byte
		nonce    bool
		want     error
		echoes   int
		check    func(*testing.T, *verifier)
	}{
		{"two echoes", cat(pre, settings(), ping(false, p0), ping(false, p1)), cat(settings(), frame(4, 1, 0, nil), ping(true, p0), ping(true, p1)), true, nil, 2, nil},
		{"server ping and client ack are not echoes", cat(pre, ping(false, p0), ping(true, [8]byte{9})), cat(ping(false, [8]byte{9}), ping(true, p0)), true, nil, 1, nil},
		{"no client data", nil, settings(), false, nil, 0, nil},
		{"unanswered at the end, no stamps", cat(pre, ping(false, p0), ping(false, p1)), ping(true, p0), true, nil, 1, nil},
		{"goaway recorded", cat(pre, ping(false, p0), ping(false, p1)), cat(ping(true, p0), goaway), true, nil, 1, func(t *testing.T, v *verifier) {
			g := v.res.GoAway
			if g == nil || g.LastStreamID != 3 || g.ErrCode != 11 || len(g.Debug) != maxGoAwayDebug {
				t.Errorf("GoAway %+v", g)
			}
		}},
		{"partial s2c frame is noted", cat(pre, ping(false, p0)), cat(ping(true, p0), []byte{0, 0, 8, 6}), false, nil, 1, nil},
		{"larger frames after SETTINGS", cat(pre, frame(0, 0, 1, make([]byte, 20000))), settings(h2SettingsMaxFrame, 32768), false, nil, 0, nil},
		{"no preface", cat(settings(), ping(false, p0)), ping(true, p0), false, ErrEcho, 0, nil},
		{"partial c2s frame", cat(pre, ping(false, p0)[:12]), nil, false, ErrEcho, 0, nil},
		{"short PING", cat(pre, frame(h2FramePing, 0, 0, make([]byte, 7))), nil, false, ErrEcho, 0, nil},
		{"PING on a stream", cat(pre, frame(h2FramePing, 0, 1, make([]byte, 8))), nil, false, ErrEcho, 0, nil},
		{"answer with the wrong payload", cat(pre, ping(false, p0)), ping(true, p1), false, ErrEcho, 0, nil},
		{"answer to nothing", cat(pre, ping(false, p0)), cat(ping(true, p0), ping(true, p1)), false, ErrEcho, 0, nil},
		{"frame above the default max size", cat(pre, frame(0, 0, 1, make([]byte, 16385))), nil, false, ErrEcho, 0, nil},
		{"bad SETTINGS_MAX_FRAME_SIZE", cat(pre, ping(false, p0)), settings(h2SettingsMaxFrame, 100), false, ErrEcho, 0, nil},
		{"malformed SETTINGS", cat(pre, frame(h2FrameSettings, 0, 0, make([]byte, 5))), nil, false, ErrEcho, 0, nil},
		{"SETTINGS ACK with payload", cat(pre, ping(false, p0)), frame(h2FrameSettings, 1, 0, make([]byte, 6)), false, ErrEcho, 0, nil},
		{"malformed GOAWAY", cat(pre, ping(false, p0)), frame(h2FrameGoAway, 0, 0, make([]byte, 4)), false, ErrEcho, 0, nil},
		{"wrong ping payload with nonce", cat(pre, ping(false, p1)), ping(true, p1), true, ErrNonce, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{}
			if tc.nonce {
				o.Nonce = &n
			}
			for _, chunk := range []int{1, 7, 1 << 20} {
				v := echoVerifier("h2", tc.c2s, tc.s2c, chunk, o)
				d, err := v.checkEchoes()
				if !errors.Is(err, tc.want) {
					t.Fatalf("chunk %d: err %v, want %v", chunk, err, tc.want)
				}
				if err == nil && (d == "" || len(v.res.Echoes) != tc.echoes) {
					t.Fatalf("chunk %d: %d echoes, want %d (%s)", chunk, len(v.res.Echoes), tc.echoes, d)
				}
				if tc.check != nil {
					tc.check(t, v)
				}
			}
		})
	}
}

func TestH2EchoRecordMapping(t *testing.T) {
	p0 := PingPayload(testNonce, 0)
	c2s := cat([]byte(h2Preface), settings(), ping(false, p0))
	s2c := cat(settings(), ping(true, p0))
	v := echoVerifier("h2", c2s, s2c, 10, Options{})
	if _, err := v.checkEchoes(); err != nil {
		t.Fatal(err)
	}
	e := v.res.Echoes[0]
	// The PING frame header starts at plaintext offset 24+9 = 33: c2s record
	// 3 of 5. The ACK header starts at s2c offset 9: s2c record 0, whose
	// index in Records is 5, after the c2s records.
	if e.Request != 3 || e.Answer != 5 {
		t.Errorf("request %d answer %d", e.Request, e.Answer)
	}
}

func TestUnansweredEchoNeedsLaterServerRecord(t *testing.T) {
	p0, p1 := PingPayload(testNonce, 0), PingPayload(testNonce, 1)
	c2s := cat([]byte(h2Preface), ping(false, p0), ping(false, p1))
	s2c := cat(ping(true, p0), settings())
	// Records: c2s 0 = preface + PING 0, c2s 1 = PING 1, s2c (2) = ACK + SETTINGS.
	for _, tc := range []struct {
		name   string
		cycles []uint64
		want   error
	}{
		{"server's last record before the PING", []uint64{10, 30, 20}, nil},
		{"server's last record after the PING", []uint64{10, 15, 20}, ErrEcho},
		{"no stamps", nil, nil},
	} {
		v := echoVerifier("h2", c2s, s2c, 41, Options{})
		if len(v.res.Records) != 3 {
			t.Fatalf("%d records", len(v.res.Records))
		}
		v.cycles = tc.cycles
		if _, err := v.checkEchoes(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestHTTP1Echoes(t *testing.T) {
	n := testNonce
	tok := func(i uint32) string { return HTTP1Token(n, i) }
	get := func(i uint32) string {
		return "GET /e HTTP/1.1\r\nHost: x\r\n" + EchoHeader + ": " + tok(i) + "\r\n\r\n"
	}
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tc := range []struct {
		name     string
		c2s, s2c string
		nonce    bool
		want     error
		echoes   int
		status   int
	}{
		{"two GETs", get(0) + get(1), ok + ok, true, nil, 2, 200},
		{"HEAD has no body", "HEAD / HTTP/1.1\r\nHost: x\r\n" + EchoHeader + ": a\r\n\r\n", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, nil, 1, 204},
		{"POST with body, chunked answer", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" + EchoHeader + ": a\r\n\r\nabc",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false, nil, 1, 200},
		{"100 Continue first", get(0), "HTTP/1.1 100 Continue\r\n\r\n" + ok, true, nil, 1, 200},
		{"Connection: close ends", get(0) + get(1), "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\ntrailing junk", true, nil, 1, 200},
		{"client Connection: close ends", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + EchoHeader + ": a\r\n\r\n" + get(1), ok + ok, false, nil, 1, 200},
		{"incomplete response at the end", get(0) + get(1), ok + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true, nil, 1, 200},
		{"no responses", get(0), "", true, nil, 0, 0},
		{"no client data", "", ok, false, nil, 0, 0},
		{"no echo header", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ok, false, ErrEcho, 0, 0},
		{"two echo headers", "GET / HTTP/1.1\r\nHost: x\r\n" + EchoHeader + ": a\r\n" + EchoHeader + ": b\r\n\r\n", ok, false, ErrEcho, 0, 0},
		{"not HTTP", "\x00\x01\x02 hello\r\n\r\n", ok, false, ErrEcho, 0, 0},
		{"truncated request body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n" + EchoHeader + ": a\r\n\r\nabc", ok, false, ErrEcho, 0, 0},
		{"malformed response", get(0), "HTTP/1.1 OK\r\n\r\n", false, ErrEcho, 0, 0},
		{"switching protocols", get(0), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false, ErrEcho, 0, 0},
		{"wrong token", get(3), ok, true, ErrNonce, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{}
			if tc.nonce {
				o.Nonce = &n
			}
			for _, alpn := range []string{"http/1.1", ""} {
				v := echoVerifier(alpn, []byte(tc.c2s), []byte(tc.s2c), 13, o)
				d, err := v.checkEchoes()
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				if err != nil {
					continue
				}
				if len(v.res.Echoes) != tc.echoes || d == "" {
					t.Fatalf("%d echoes, want %d (%s)", len(v.res.Echoes), tc.echoes, d)
				}
				if tc.echoes > 0 && v.res.Echoes[0].Status != tc.status {
					t.Errorf("status %d, want %d", v.res.Echoes[0].Status, tc.status)
				}
			}
		})
	}
	v := echoVerifier("spdy/3", []byte("x"), nil, 10, Options{})
	if _, err := v.checkEchoes(); !errors.Is(err, ErrEcho) {
		t.Errorf("unknown ALPN: %v", err)
	}
}
