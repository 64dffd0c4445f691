package transcript

import (
	"crypto/hmac"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Alert descriptions this package names (RFC 8446 §6).
const (
	alertCloseNotify  uint8 = 0
	alertUserCanceled uint8 = 90
)

var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
	44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
	47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
	51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 115: "unknown_psk_identity",
	116: "certificate_required", 120: "no_application_protocol",
}

func alertName(d uint8) string {
	if n, ok := alertNames[d]; ok {
		return n
	}
	return fmt.Sprintf("alert %d", d)
}

// alertText describes an alert body for a message.
func alertText(b []byte) string {
	if len(b) != 2 {
		return fmt.Sprintf("(malformed, %d bytes)", len(b))
	}
	return fmt.Sprintf("%s (level %d)", alertName(b[1]), b[0])
}

func innerTypeName(t uint8) string {
	if t == 0 {
		return "record with no content type (all padding)"
	}
	return contentTypeName(t)
}

// segment says that plaintext from off on came from record rec.
type segment struct {
	off int64
	rec int
}

// appStream is one direction's application data plaintext, with the map
// from plaintext offsets back to the records that carried them.
type appStream struct {
	data    []byte
	segs    []segment
	records int
	closed  int // index in Result.Records of the close_notify or fatal alert; -1 if none
	lastRec int // last record of the direction; -1 if none
}

// recordAt returns the index in Result.Records of the record that carried
// plaintext byte off.
func (a *appStream) recordAt(off int64) int {
	i := sort.Search(len(a.segs), func(i int) bool { return a.segs[i].off > off })
	if i == 0 {
		return -1
	}
	return a.segs[i-1].rec
}

func (v *verifier) hasApplicationData() bool {
	return (v.app[0] != nil && len(v.app[0].data) > 0) || (v.app[1] != nil && len(v.app[1].data) > 0)
}

// 8. application_data

func (v *verifier) checkApplicationData() (string, error) {
	if err := v.clientFinished(); err != nil {
		return "", err
	}
	var parts []string
	for _, d := range []Direction{ClientToServer, ServerToClient} {
		label := map[Direction]string{ClientToServer: labelClientAP0, ServerToClient: labelServerAP0}[d]
		a, err := v.appDirection(d, label)
		if err != nil {
			return "", err
		}
		v.app[d] = a
		p := fmt.Sprintf("%s: %d records, %d bytes of application data", d, a.records, len(a.data))
		if n := v.res.KeyUpdates[d]; n > 0 {
			p += fmt.Sprintf(", %d KeyUpdates", n)
		}
		if d == ServerToClient && v.res.NewSessionTickets > 0 {
			p += fmt.Sprintf(", %d NewSessionTickets", v.res.NewSessionTickets)
		}
		for _, al := range v.res.Alerts {
			if al.Dir == d {
				p += ", alert " + alertName(al.Description)
			}
		}
		parts = append(parts, p)
	}
	return "client Finished verified; " + strings.Join(parts, "; "), nil
}

// clientFinished decrypts the client's handshake-keyed records and checks
// its Finished against the transcript through the server Finished (and the
// client's own Certificate and CertificateVerify, if the server asked).
func (v *verifier) clientFinished() error {
	key, err := newRecordKey(v.suite, v.clientHS)
	if err != nil {
		return errf(ErrDecrypt, "deriving the client handshake key: %v", err)
	}
	hr := hsReader{dir: ClientToServer}
	want := []uint8{hsFinished}
	if v.res.CertificateRequested {
		want = []uint8{hsCertificate}
	}
	idx := v.idx[ClientToServer]
	i := v.pos[ClientToServer]
	done := false
	for ; i < len(idx) && !done; i++ {
		r, b := v.rec(idx[i])
		switch r.Type {
		case typeChangeCipherSpec:
			continue
		case typeApplicationData:
		default:
			return errf(ErrHandshake, "%s: plaintext %s record after the ClientHello", v.where(idx[i]), contentTypeName(r.Type))
		}
		content, typ, ok := key.open(b)
		if !ok {
			return errf(ErrDecrypt, "%s: AEAD open failed (wrong key or altered bytes) under CLIENT_HANDSHAKE_TRAFFIC_SECRET, sequence %d", v.where(idx[i]), key.seq-1)
		}
		r.Inner = typ
		switch typ {
		case typeHandshake:
		case typeAlert:
			return errf(ErrHandshake, "%s: client sent alert %s before its Finished", v.where(idx[i]), alertText(content))
		default:
			return errf(ErrProtocol, "%s: inner %s before the client Finished", v.where(idx[i]), innerTypeName(typ))
		}
		if len(content) > maxPlaintext {
			return errf(ErrProtocol, "%s: %d bytes of plaintext, limit 2^14", v.where(idx[i]), len(content))
		}
		msgs, err := hr.add(content, idx[i])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if done || !slices.Contains(want, m.typ) {
				return errf(ErrHandshake, "%s: unexpected %s from the client under handshake keys", v.where(m.firstRec), handshakeName(m.typ))
			}
			switch m.typ {
			case hsCertificate:
				ctx, certs, err := parseCertificate(m)
				if err != nil {
					return err
				}
				if !slices.Equal(ctx, v.certReqCx) {
					return errf(ErrHandshake, "client Certificate context %x differs from the CertificateRequest's %x", ctx, v.certReqCx)
				}
				want = []uint8{hsFinished}
				if len(certs) > 0 {
					want = []uint8{hsCertificateVerify}
				}
			case hsCertificateVerify:
				want = []uint8{hsFinished}
			case hsFinished:
				th := transcriptHash(v.suite.hash, v.msgs...)
				if len(m.body) != v.suite.hash.Size() || !hmac.Equal(m.body, finishedMAC(v.suite.hash, v.clientHS, th)) {
					return errf(ErrClientFinished, "%s: MAC under CLIENT_HANDSHAKE_TRAFFIC_SECRET does not match the transcript (ClientHello..server Finished)", v.where(m.firstRec))
				}
				done = true
			}
			v.msgs = append(v.msgs, m.raw)
		}
		if done && hr.pending() {
			return errf(ErrHandshake, "%s: a handshake message follows the client Finished under handshake keys", v.where(idx[i]))
		}
	}
	v.pos[ClientToServer] = i
	if !done {
		return errf(ErrTruncated, "c2s ends before the client Finished")
	}
	return nil
}

// appDirection decrypts the application-keyed records of one direction:
// application data, post-handshake messages (NewSessionTicket from the
// server, KeyUpdate both ways) and alerts. Each KeyUpdate moves to the next
// traffic secret, with the sequence number back at zero. A close_notify or a
// fatal alert ends the direction: any record after it is an error.
func (v *verifier) appDirection(d Direction, label string) (*appStream, error) {
	a := &appStream{closed: -1, lastRec: -1}
	idx := v.idx[d][v.pos[d]:]
	if len(idx) == 0 {
		return a, nil
	}
	a.lastRec = idx[len(idx)-1]
	secret, err := v.keys.secret(label, v.suite)
	if err != nil {
		return nil, err
	}
	key, err := newRecordKey(v.suite, secret)
	if err != nil {
		return nil, errf(ErrDecrypt, "deriving the %s key: %v", label, err)
	}
	gen := 0
	hr := hsReader{dir: d}
	for n, gi := range idx {
		r, b := v.rec(gi)
		if a.closed >= 0 {
			rest := 0
			for _, j := range idx[n:] {
				rest += v.res.Records[j].Length
			}
			al := v.res.Alerts[len(v.res.Alerts)-1]
			return nil, errf(ErrAfterClose, "%s: %d records (%d bytes) follow the %s in %s", d, len(idx)-n, rest, alertName(al.Description), v.where(a.closed))
		}
		if r.Type != typeApplicationData {
			return nil, errf(ErrProtocol, "%s: plaintext %s record after the handshake", v.where(gi), contentTypeName(r.Type))
		}
		content, typ, ok := key.open(b)
		if !ok {
			return nil, errf(ErrDecrypt, "%s: AEAD open failed (wrong key or altered bytes) under application traffic secret %d, sequence %d", v.where(gi), gen, key.seq-1)
		}
		r.Inner = typ
		a.records++
		if len(content) > maxPlaintext {
			return nil, errf(ErrProtocol, "%s: %d bytes of plaintext, limit 2^14", v.where(gi), len(content))
		}
		if typ != typeHandshake && hr.pending() {
			return nil, errf(ErrProtocol, "%s: %s interleaved with a fragmented handshake message", v.where(gi), innerTypeName(typ))
		}
		switch typ {
		case typeApplicationData:
			if len(content) > 0 {
				a.segs = append(a.segs, segment{off: int64(len(a.data)), rec: gi})
				a.data = append(a.data, content...)
			}
		case typeHandshake:
			msgs, err := hr.add(content, gi)
			if err != nil {
				return nil, err
			}
			for k, m := range msgs {
				switch {
				case m.typ == hsKeyUpdate:
					if len(m.body) != 1 || m.body[0] > 1 {
						return nil, errf(ErrProtocol, "%s: malformed KeyUpdate", v.where(gi))
					}
					if k != len(msgs)-1 || hr.pending() {
						return nil, errf(ErrProtocol, "%s: data follows a KeyUpdate in the same record", v.where(gi))
					}
					secret = nextSecret(v.suite.hash, secret)
					if key, err = newRecordKey(v.suite, secret); err != nil {
						return nil, errf(ErrDecrypt, "deriving the next %s key: %v", d, err)
					}
					gen++
					v.res.KeyUpdates[d]++
				case m.typ == hsNewSessionTicket && d == ServerToClient:
					v.res.NewSessionTickets++
				default:
					return nil, errf(ErrHandshake, "%s: unexpected post-handshake %s", v.where(m.firstRec), handshakeName(m.typ))
				}
			}
		case typeAlert:
			if len(content) != 2 {
				return nil, errf(ErrProtocol, "%s: alert of %d bytes, want 2", v.where(gi), len(content))
			}
			v.res.Alerts = append(v.res.Alerts, Alert{Dir: d, Record: gi, Level: content[0], Description: content[1]})
			if content[1] != alertUserCanceled {
				a.closed = gi
			}
		default:
			return nil, errf(ErrProtocol, "%s: inner %s", v.where(gi), innerTypeName(typ))
		}
	}
	if hr.pending() {
		return nil, errf(ErrTruncated, "%s ends inside a post-handshake message", d)
	}
	return a, nil
}
