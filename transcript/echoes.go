package transcript

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// HTTP/2 (RFC 9113) constants used here.
const (
	h2Preface          = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2FrameHeaderLen   = 9
	h2DefaultMaxFrame  = 16384
	h2MaxMaxFrame      = 1<<24 - 1
	h2FrameSettings    = 0x4
	h2FramePing        = 0x6
	h2FrameGoAway      = 0x7
	h2FlagAck          = 0x1
	h2SettingsMaxFrame = 0x5
	maxGoAwayDebug     = 256
)

var h2FrameNames = []string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"}

func h2FrameName(t uint8) string {
	if int(t) < len(h2FrameNames) {
		return h2FrameNames[t]
	}
	return fmt.Sprintf("frame type %#x", t)
}

// 9. echoes

func (v *verifier) checkEchoes() (string, error) {
	v.prepareTimes()
	switch v.res.ALPN {
	case "h2":
		return v.h2Echoes()
	case "http/1.1", "":
		return v.http1Echoes()
	}
	return "", errf(ErrEcho, "ALPN %q has no echo method here (want h2 or http/1.1)", v.res.ALPN)
}

// answerExpected says whether an unanswered request written in record rec
// proves a missing answer: only with valid timestamps, and only if the
// server sent a record after it.
func (v *verifier) answerExpected(rec int) (bool, string) {
	s := v.app[ServerToClient]
	if v.cycles == nil || s.lastRec < 0 {
		return false, ""
	}
	last := s.lastRec
	if v.cycles[rec] < v.cycles[last] {
		return true, fmt.Sprintf("written at cycle %d, before the server's last record (%s) arrived at cycle %d", v.cycles[rec], v.where(last), v.cycles[last])
	}
	return false, ""
}

type h2Frame struct {
	off     int64
	typ     uint8
	flags   uint8
	stream  uint32
	payload []byte
	rec     int
}

// h2Frames splits one direction's plaintext into HTTP/2 frames. It returns
// the number of bytes of a trailing incomplete frame.
func h2Frames(a *appStream, start int) ([]h2Frame, int) {
	var out []h2Frame
	data := a.data
	off := start
	for len(data)-off >= h2FrameHeaderLen {
		h := data[off : off+h2FrameHeaderLen]
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if len(data)-off-h2FrameHeaderLen < n {
			break
		}
		out = append(out, h2Frame{
			off:     int64(off),
			typ:     h[3],
			flags:   h[4],
			stream:  binary.BigEndian.Uint32(h[5:9]) & 0x7fffffff,
			payload: data[off+h2FrameHeaderLen : off+h2FrameHeaderLen+n],
			rec:     a.recordAt(int64(off)),
		})
		off += h2FrameHeaderLen + n
	}
	return out, len(data) - off
}

// h2MaxFrame returns the largest SETTINGS_MAX_FRAME_SIZE that frames
// announce, or the default. Without a common clock the two directions cannot
// be ordered, so the largest value announced at any time is the bound.
func (v *verifier) h2MaxFrame(d Direction, frames []h2Frame) (uint32, error) {
	limit := uint32(h2DefaultMaxFrame)
	for _, f := range frames {
		if f.typ != h2FrameSettings {
			continue
		}
		if f.flags&h2FlagAck != 0 {
			if len(f.payload) != 0 {
				return 0, errf(ErrEcho, "%s SETTINGS ACK at plaintext offset %d (%s) has a payload", d, f.off, v.where(f.rec))
			}
			continue
		}
		if f.stream != 0 || len(f.payload)%6 != 0 {
			return 0, errf(ErrEcho, "%s malformed SETTINGS frame at plaintext offset %d (%s)", d, f.off, v.where(f.rec))
		}
		for p := f.payload; len(p) > 0; p = p[6:] {
			if binary.BigEndian.Uint16(p) != h2SettingsMaxFrame {
				continue
			}
			val := binary.BigEndian.Uint32(p[2:])
			if val < h2DefaultMaxFrame || val > h2MaxMaxFrame {
				return 0, errf(ErrEcho, "%s SETTINGS_MAX_FRAME_SIZE %d at plaintext offset %d is outside [16384, 2^24-1]", d, val, f.off)
			}
			limit = max(limit, val)
		}
	}
	return limit, nil
}

func (v *verifier) h2Echoes() (string, error) {
	c, s := v.app[ClientToServer], v.app[ServerToClient]
	if len(c.data) == 0 {
		return "h2: the client sent no application data: 0 echoes", nil
	}
	if !bytes.HasPrefix(c.data, []byte(h2Preface)) {
		return "", errf(ErrEcho, "c2s application data (%s) does not start with the HTTP/2 client preface", v.where(c.segs[0].rec))
	}
	cf, cpart := h2Frames(c, len(h2Preface))
	if cpart > 0 {
		return "", errf(ErrEcho, "c2s ends inside an HTTP/2 frame (%d bytes at plaintext offset %d)", cpart, len(c.data)-cpart)
	}
	sf, spart := h2Frames(s, 0)
	// Frames a side sends are bounded by what its peer announced.
	cmax, err := v.h2MaxFrame(ServerToClient, sf)
	if err != nil {
		return "", err
	}
	smax, err := v.h2MaxFrame(ClientToServer, cf)
	if err != nil {
		return "", err
	}
	type ping struct {
		payload [8]byte
		rec     int
	}
	var pings, acks []ping
	serverPings := 0
	for _, fs := range []struct {
		d      Direction
		frames []h2Frame
		limit  uint32
	}{{ClientToServer, cf, cmax}, {ServerToClient, sf, smax}} {
		for _, f := range fs.frames {
			if uint32(len(f.payload)) > fs.limit {
				return "", errf(ErrEcho, "%s HTTP/2 %s frame at plaintext offset %d (%s) is %d bytes, above the peer's SETTINGS_MAX_FRAME_SIZE %d",
					fs.d, h2FrameName(f.typ), f.off, v.where(f.rec), len(f.payload), fs.limit)
			}
			switch f.typ {
			case h2FramePing:
				if len(f.payload) != 8 || f.stream != 0 {
					return "", errf(ErrEcho, "%s malformed PING frame at plaintext offset %d (%s): %d bytes on stream %d, want 8 on stream 0",
						fs.d, f.off, v.where(f.rec), len(f.payload), f.stream)
				}
				p := ping{rec: f.rec}
				copy(p.payload[:], f.payload)
				ack := f.flags&h2FlagAck != 0
				switch {
				case fs.d == ClientToServer && !ack:
					pings = append(pings, p)
				case fs.d == ServerToClient && ack:
					acks = append(acks, p)
				case fs.d == ServerToClient:
					serverPings++
				}
			case h2FrameGoAway:
				if fs.d != ServerToClient || v.res.GoAway != nil {
					continue
				}
				if len(f.payload) < 8 || f.stream != 0 {
					return "", errf(ErrEcho, "s2c malformed GOAWAY frame at plaintext offset %d (%s)", f.off, v.where(f.rec))
				}
				dbg := f.payload[8:]
				if len(dbg) > maxGoAwayDebug {
					dbg = dbg[:maxGoAwayDebug]
				}
				v.res.GoAway = &GoAway{
					Record:       f.rec,
					LastStreamID: binary.BigEndian.Uint32(f.payload) & 0x7fffffff,
					ErrCode:      binary.BigEndian.Uint32(f.payload[4:]),
					Debug:        string(dbg),
				}
			}
		}
	}
	if v.o.Nonce != nil {
		for i, p := range pings {
			idx := v.o.EchoBase + uint32(i)
			if want := PingPayload(*v.o.Nonce, idx); p.payload != want {
				return "", errf(ErrNonce, "PING %d (%s) carries %x, want PingPayload(nonce, %d) = %x", i, v.where(p.rec), p.payload, idx, want)
			}
		}
	}
	for i, a := range acks {
		if i >= len(pings) {
			return "", errf(ErrEcho, "s2c PING ACK %d (%s) answers no PING of the client", i, v.where(a.rec))
		}
		if a.payload != pings[i].payload {
			return "", errf(ErrEcho, "s2c PING ACK %d (%s) carries %x, want %x (the client's PING %d)", i, v.where(a.rec), a.payload, pings[i].payload, i)
		}
		v.res.Echoes = append(v.res.Echoes, Echo{
			Index:   v.o.EchoBase + uint32(i),
			Method:  MethodH2Ping,
			Value:   hex.EncodeToString(a.payload[:]),
			Request: pings[i].rec,
			Answer:  a.rec,
		})
	}
	unanswered := pings[len(v.res.Echoes):]
	if v.res.GoAway == nil {
		for i, p := range unanswered {
			if ok, why := v.answerExpected(p.rec); ok {
				return "", errf(ErrEcho, "unanswered echo: PING %d (%s) %s", len(v.res.Echoes)+i, v.where(p.rec), why)
			}
		}
	}
	d := fmt.Sprintf("h2: %d PING echoes answered in order", len(v.res.Echoes))
	if len(unanswered) > 0 {
		d += fmt.Sprintf(", %d unanswered at the end", len(unanswered))
	}
	if serverPings > 0 {
		d += fmt.Sprintf(", %d server-initiated PINGs (not echoes)", serverPings)
	}
	if g := v.res.GoAway; g != nil {
		d += fmt.Sprintf(", server sent GOAWAY (error code %d, last stream %d)", g.ErrCode, g.LastStreamID)
	}
	if spart > 0 {
		d += fmt.Sprintf(", s2c ends inside a frame (%d bytes)", spart)
	}
	return d, nil
}

// offsetReader tells how much of a plaintext stream a bufio.Reader has
// consumed.
type offsetReader struct {
	r  *bytes.Reader
	br *bufio.Reader
	n  int
}

func newOffsetReader(b []byte) *offsetReader {
	r := bytes.NewReader(b)
	return &offsetReader{r: r, br: bufio.NewReader(r), n: len(b)}
}

func (o *offsetReader) offset() int64 { return int64(o.n - o.r.Len() - o.br.Buffered()) }

func incomplete(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (v *verifier) http1Echoes() (string, error) {
	c, s := v.app[ClientToServer], v.app[ServerToClient]
	type request struct {
		off   int64
		req   *http.Request
		token string
	}
	var reqs []request
	cr := newOffsetReader(c.data)
	for cr.offset() < int64(len(c.data)) {
		off := cr.offset()
		req, err := http.ReadRequest(cr.br)
		if err != nil {
			return "", fmt.Errorf("%w: c2s application data at plaintext offset %d (%s) is not an HTTP/1.1 request: %w", ErrEcho, off, v.where(c.recordAt(off)), err)
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return "", fmt.Errorf("%w: body of http1 request %d (%s): %w", ErrEcho, len(reqs), v.where(c.recordAt(off)), err)
		}
		vals := req.Header.Values(EchoHeader)
		if len(vals) != 1 || vals[0] == "" {
			return "", errf(ErrEcho, "http1 request %d (%s %.64q, %s) has %d %s headers, want one with a value", len(reqs), req.Method, req.URL.String(), v.where(c.recordAt(off)), len(vals), EchoHeader)
		}
		if v.o.Nonce != nil {
			idx := v.o.EchoBase + uint32(len(reqs))
			if want := HTTP1Token(*v.o.Nonce, idx); vals[0] != want {
				return "", errf(ErrNonce, "http1 request %d (%s) carries %s %.64q, want HTTP1Token(nonce, %d) = %s", len(reqs), v.where(c.recordAt(off)), EchoHeader, vals[0], idx, want)
			}
		}
		reqs = append(reqs, request{off: off, req: req, token: vals[0]})
	}
	sr := newOffsetReader(s.data)
	ended, note := "", ""
	for i, q := range reqs {
		off := sr.offset()
		if off >= int64(len(s.data)) {
			break
		}
		resp, err := http.ReadResponse(sr.br, q.req)
		for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			resp, err = http.ReadResponse(sr.br, q.req)
		}
		bodyHash := sha256.New()
		if err == nil {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				return "", errf(ErrEcho, "http1 response %d (%s) switches protocols", i, v.where(s.recordAt(off)))
			}
			_, err = io.Copy(bodyHash, resp.Body)
		}
		if err != nil {
			if incomplete(err) {
				note = fmt.Sprintf(", s2c ends inside response %d", i)
				break
			}
			return "", fmt.Errorf("%w: s2c application data at plaintext offset %d (%s) is not an HTTP/1.1 response to request %d: %w", ErrEcho, off, v.where(s.recordAt(off)), i, err)
		}
		v.res.Echoes = append(v.res.Echoes, Echo{
			Index:   v.o.EchoBase + uint32(i),
			Method:  MethodHTTP1,
			Value:   q.token,
			Request: c.recordAt(q.off),
			Answer:  s.recordAt(off),
			Status:  resp.StatusCode,
			HTTP: &HTTPExchange{
				Host:       q.req.Host,
				Method:     q.req.Method,
				Target:     q.req.RequestURI,
				Status:     resp.StatusCode,
				Header:     resp.Header,
				BodySHA256: hex.EncodeToString(bodyHash.Sum(nil)),
			},
		})
		if resp.Close || q.req.Close {
			ended = "Connection: close"
			break
		}
	}
	unanswered := reqs[len(v.res.Echoes):]
	if ended == "" {
		for i, q := range unanswered {
			if ok, why := v.answerExpected(c.recordAt(q.off)); ok {
				return "", errf(ErrEcho, "unanswered echo: http1 request %d (%s) %s", len(v.res.Echoes)+i, v.where(c.recordAt(q.off)), why)
			}
		}
	}
	d := fmt.Sprintf("http/1.1: %d request echoes answered in order", len(v.res.Echoes))
	if len(unanswered) > 0 {
		d += fmt.Sprintf(", %d unanswered", len(unanswered))
	}
	if ended != "" {
		d += ", ended by " + ended
		if rest := int64(len(s.data)) - sr.offset(); rest > 0 {
			d += fmt.Sprintf(" (%d more s2c bytes ignored)", rest)
		}
	}
	return d + note + statusSummary(v.res.Echoes), nil
}

func statusSummary(es []Echo) string {
	if len(es) == 0 {
		return ""
	}
	seen := map[int]int{}
	var order []int
	for _, e := range es {
		if seen[e.Status] == 0 {
			order = append(order, e.Status)
		}
		seen[e.Status]++
	}
	parts := make([]string, len(order))
	for i, st := range order {
		parts[i] = fmt.Sprintf("%d×%d", seen[st], st)
	}
	return "; statuses " + strings.Join(parts, ", ")
}
