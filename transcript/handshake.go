package transcript

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types (RFC 8446 §4).
const (
	hsClientHello         uint8 = 1
	hsServerHello         uint8 = 2
	hsNewSessionTicket    uint8 = 4
	hsEndOfEarlyData      uint8 = 5
	hsEncryptedExtensions uint8 = 8
	hsCertificate         uint8 = 11
	hsCertificateRequest  uint8 = 13
	hsCertificateVerify   uint8 = 15
	hsFinished            uint8 = 20
	hsKeyUpdate           uint8 = 24
	hsMessageHash         uint8 = 254
)

// Extension numbers (RFC 8446 §4.2, RFC 6066, RFC 7301).
const (
	extServerName          uint16 = 0
	extALPN                uint16 = 16
	extPreSharedKey        uint16 = 41
	extEarlyData           uint16 = 42
	extSupportedVersions   uint16 = 43
	extKeyShare            uint16 = 51
	extECH                 uint16 = 0xfe0d
	versionTLS13           uint16 = 0x0304
	maxHandshakeMessageLen        = 1 << 18
)

// helloRetryRandom is the ServerHello.random that marks a HelloRetryRequest:
// SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

func handshakeName(t uint8) string {
	switch t {
	case hsClientHello:
		return "ClientHello"
	case hsServerHello:
		return "ServerHello"
	case hsNewSessionTicket:
		return "NewSessionTicket"
	case hsEndOfEarlyData:
		return "EndOfEarlyData"
	case hsEncryptedExtensions:
		return "EncryptedExtensions"
	case hsCertificate:
		return "Certificate"
	case hsCertificateRequest:
		return "CertificateRequest"
	case hsCertificateVerify:
		return "CertificateVerify"
	case hsFinished:
		return "Finished"
	case hsKeyUpdate:
		return "KeyUpdate"
	}
	return fmt.Sprintf("handshake type %d", t)
}

// hsMsg is one reassembled handshake message.
type hsMsg struct {
	typ      uint8
	raw      []byte // header included, as hashed into the transcript
	body     []byte
	firstRec int // index in Result.Records of the record with its first byte
	lastRec  int // and of the record with its last byte
}

// hsReader reassembles handshake messages from record fragments: one record
// may hold several messages and one message may span several records.
type hsReader struct {
	dir      Direction
	buf      []byte
	firstRec int
}

// add appends the handshake content of record rec and returns the messages
// it completes.
func (r *hsReader) add(frag []byte, rec int) ([]hsMsg, error) {
	if len(frag) == 0 {
		return nil, errf(ErrProtocol, "%s: record %d has an empty handshake fragment", r.dir, rec)
	}
	if len(r.buf) == 0 {
		r.firstRec = rec
	}
	r.buf = append(r.buf, frag...)
	var out []hsMsg
	for len(r.buf) >= 4 {
		n := int(r.buf[1])<<16 | int(r.buf[2])<<8 | int(r.buf[3])
		if n > maxHandshakeMessageLen {
			return out, errf(ErrHandshake, "%s: %s message starting in record %d claims %d bytes, limit %d", r.dir, handshakeName(r.buf[0]), r.firstRec, n, maxHandshakeMessageLen)
		}
		if len(r.buf) < 4+n {
			break
		}
		raw := bytes.Clone(r.buf[:4+n])
		out = append(out, hsMsg{typ: raw[0], raw: raw, body: raw[4:], firstRec: r.firstRec, lastRec: rec})
		r.buf = r.buf[4+n:]
		r.firstRec = rec
	}
	return out, nil
}

// pending says whether a message is incomplete.
func (r *hsReader) pending() bool { return len(r.buf) > 0 }

type clientHello struct {
	raw       []byte
	random    [32]byte
	sessionID []byte
	suites    []uint16
	sni       string
	alpn      []string
	versions  []uint16
	psk       bool
	earlyData bool
	ech       bool
}

// readExtensions splits an extensions block and rejects duplicates
// (RFC 8446 §4.2).
func readExtensions(s *cryptobyte.String, what string) (map[uint16][]byte, []uint16, error) {
	exts := map[uint16][]byte{}
	var order []uint16
	if s.Empty() {
		return exts, nil, nil
	}
	var block cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&block) || !s.Empty() {
		return nil, nil, errf(ErrHandshake, "%s: malformed extensions block", what)
	}
	for !block.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !block.ReadUint16(&typ) || !block.ReadUint16LengthPrefixed(&data) {
			return nil, nil, errf(ErrHandshake, "%s: malformed extension", what)
		}
		if _, dup := exts[typ]; dup {
			return nil, nil, errf(ErrHandshake, "%s: extension %d appears twice", what, typ)
		}
		exts[typ] = data
		order = append(order, typ)
	}
	return exts, order, nil
}

func parseClientHello(m hsMsg) (*clientHello, error) {
	ch := &clientHello{raw: m.raw}
	s := cryptobyte.String(m.body)
	var vers uint16
	var sid, cs, comp cryptobyte.String
	if !s.ReadUint16(&vers) || !s.CopyBytes(ch.random[:]) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16LengthPrefixed(&cs) || len(cs) == 0 || len(cs)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&comp) || len(comp) == 0 {
		return nil, errf(ErrHandshake, "ClientHello (%d bytes): malformed fixed fields", len(m.body))
	}
	ch.sessionID = bytes.Clone(sid)
	for !cs.Empty() {
		var id uint16
		cs.ReadUint16(&id)
		ch.suites = append(ch.suites, id)
	}
	exts, _, err := readExtensions(&s, "ClientHello")
	if err != nil {
		return nil, err
	}
	if d, ok := exts[extServerName]; ok {
		e := cryptobyte.String(d)
		var list cryptobyte.String
		if !e.ReadUint16LengthPrefixed(&list) || !e.Empty() || list.Empty() {
			return nil, errf(ErrHandshake, "ClientHello: malformed server_name extension")
		}
		for !list.Empty() {
			var nt uint8
			var name cryptobyte.String
			if !list.ReadUint8(&nt) || !list.ReadUint16LengthPrefixed(&name) || len(name) == 0 {
				return nil, errf(ErrHandshake, "ClientHello: malformed server_name entry")
			}
			if nt == 0 && ch.sni == "" {
				ch.sni = string(name)
			}
		}
	}
	if d, ok := exts[extALPN]; ok {
		e := cryptobyte.String(d)
		var list cryptobyte.String
		if !e.ReadUint16LengthPrefixed(&list) || !e.Empty() || list.Empty() {
			return nil, errf(ErrHandshake, "ClientHello: malformed ALPN extension")
		}
		for !list.Empty() {
			var p cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&p) || len(p) == 0 {
				return nil, errf(ErrHandshake, "ClientHello: malformed ALPN protocol name")
			}
			ch.alpn = append(ch.alpn, string(p))
		}
	}
	if d, ok := exts[extSupportedVersions]; ok {
		e := cryptobyte.String(d)
		var list cryptobyte.String
		if !e.ReadUint8LengthPrefixed(&list) || !e.Empty() || len(list) == 0 || len(list)%2 != 0 {
			return nil, errf(ErrHandshake, "ClientHello: malformed supported_versions extension")
		}
		for !list.Empty() {
			var v uint16
			list.ReadUint16(&v)
			ch.versions = append(ch.versions, v)
		}
	}
	_, ch.psk = exts[extPreSharedKey]
	_, ch.earlyData = exts[extEarlyData]
	_, ch.ech = exts[extECH]
	return ch, nil
}

func (ch *clientHello) offersTLS13() bool {
	for _, v := range ch.versions {
		if v == versionTLS13 {
			return true
		}
	}
	return false
}

func (ch *clientHello) offersSuite(id uint16) bool {
	for _, s := range ch.suites {
		if s == id {
			return true
		}
	}
	return false
}

type serverHello struct {
	raw           []byte
	legacyVersion uint16
	random        [32]byte
	sessionID     []byte
	suite         uint16
	version       uint16 // from supported_versions; 0 if absent
	hrr           bool
	psk           bool
}

func parseServerHello(m hsMsg) (*serverHello, error) {
	sh := &serverHello{raw: m.raw}
	s := cryptobyte.String(m.body)
	var sid cryptobyte.String
	var comp uint8
	if !s.ReadUint16(&sh.legacyVersion) || !s.CopyBytes(sh.random[:]) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16(&sh.suite) || !s.ReadUint8(&comp) {
		return nil, errf(ErrHandshake, "ServerHello (%d bytes): malformed fixed fields", len(m.body))
	}
	sh.sessionID = bytes.Clone(sid)
	sh.hrr = sh.random == helloRetryRandom
	exts, _, err := readExtensions(&s, "ServerHello")
	if err != nil {
		return nil, err
	}
	if d, ok := exts[extSupportedVersions]; ok {
		e := cryptobyte.String(d)
		if !e.ReadUint16(&sh.version) || !e.Empty() {
			return nil, errf(ErrHandshake, "ServerHello: malformed supported_versions extension")
		}
	}
	if comp != 0 && sh.version == versionTLS13 {
		return nil, errf(ErrHandshake, "ServerHello: legacy_compression_method %d, want 0", comp)
	}
	_, sh.psk = exts[extPreSharedKey]
	return sh, nil
}

// parseEncryptedExtensions returns the ALPN protocol the server selected, if
// any.
func parseEncryptedExtensions(m hsMsg) (alpn string, err error) {
	s := cryptobyte.String(m.body)
	exts, _, err := readExtensions(&s, "EncryptedExtensions")
	if err != nil {
		return "", err
	}
	if _, ok := exts[extEarlyData]; ok {
		return "", errf(ErrHandshake, "EncryptedExtensions: server accepted 0-RTT early data, which this package does not check")
	}
	if d, ok := exts[extALPN]; ok {
		e := cryptobyte.String(d)
		var list, p cryptobyte.String
		if !e.ReadUint16LengthPrefixed(&list) || !e.Empty() ||
			!list.ReadUint8LengthPrefixed(&p) || len(p) == 0 || !list.Empty() {
			return "", errf(ErrHandshake, "EncryptedExtensions: ALPN extension must name exactly one protocol")
		}
		alpn = string(p)
	}
	return alpn, nil
}

// parseCertificate returns the certificate_request_context and the DER
// certificates of a Certificate message (RFC 8446 §4.4.2), leaf first.
func parseCertificate(m hsMsg) (ctx []byte, certs [][]byte, err error) {
	s := cryptobyte.String(m.body)
	var c, list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&c) || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return nil, nil, errf(ErrHandshake, "Certificate message (%d bytes): malformed", len(m.body))
	}
	for !list.Empty() {
		var der, exts cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&der) || len(der) == 0 || !list.ReadUint16LengthPrefixed(&exts) {
			return nil, nil, errf(ErrHandshake, "Certificate message: malformed entry %d", len(certs))
		}
		certs = append(certs, bytes.Clone(der))
	}
	return bytes.Clone(c), certs, nil
}

func parseCertificateVerify(m hsMsg) (scheme uint16, sig []byte, err error) {
	s := cryptobyte.String(m.body)
	var sg cryptobyte.String
	if !s.ReadUint16(&scheme) || !s.ReadUint16LengthPrefixed(&sg) || len(sg) == 0 || !s.Empty() {
		return 0, nil, errf(ErrHandshake, "CertificateVerify (%d bytes): malformed", len(m.body))
	}
	return scheme, bytes.Clone(sg), nil
}

// messageHash is the synthetic message that replaces ClientHello1 in the
// transcript after a HelloRetryRequest (RFC 8446 §4.4.1).
func messageHash(s *suite, ch1 []byte) []byte {
	h := transcriptHash(s.hash, ch1)
	return append([]byte{hsMessageHash, 0, 0, byte(len(h))}, h...)
}
