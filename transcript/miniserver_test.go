package transcript

// A scripted TLS 1.3 server, written for the tests from RFC 8446 with the
// standard library's primitives and independently of the verifier's code.
// Go's crypto/tls server always picks TLS_AES_128_GCM_SHA256 on machines
// with AES hardware (or ChaCha20 without), never TLS_AES_256_GCM_SHA384,
// and never sends KeyUpdate or fragments its flight. This server can: it
// takes any of the three suites, splits its handshake flight into small
// records, sends KeyUpdate, and can leave PINGs unanswered. Go's real TLS
// client on the other end checks everything it sends (certificate,
// CertificateVerify, Finished, every record), so a session that completes
// is a correct TLS 1.3 session.

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/net/http2"
)

type miniConfig struct {
	sessionConfig
	suite     uint16
	fragment  int  // max handshake bytes per encrypted record; 0 = one record
	ccs       bool // send a ChangeCipherSpec after the ServerHello
	keyUpdate int  // send KeyUpdate(update_requested) after answering PING n (1-based)
	padding   int  // zero padding added to every encrypted record
}

type miniKey struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
	sec  []byte
}

type miniServer struct {
	conn   net.Conn
	cfg    miniConfig
	cert   tls.Certificate
	h      crypto.Hash
	keyLen int
	in     *miniKey
	out    *miniKey
	appBuf []byte
	th     []byte // transcript so far
}

func (s *miniServer) expand(secret []byte, label string, ctx []byte, n int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(n))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("tls13 " + label)) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ctx) })
	out, err := hkdf.Expand(s.h.New, secret, string(b.BytesOrPanic()), n)
	if err != nil {
		panic(err)
	}
	return out
}

func (s *miniServer) hashOf(b []byte) []byte {
	d := s.h.New()
	d.Write(b)
	return d.Sum(nil)
}

func (s *miniServer) newKey(secret []byte) *miniKey {
	key := s.expand(secret, "key", nil, s.keyLen)
	iv := s.expand(secret, "iv", nil, 12)
	var a cipher.AEAD
	var err error
	if s.cfg.suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		a, err = chacha20poly1305.New(key)
	} else {
		var blk cipher.Block
		if blk, err = aes.NewCipher(key); err == nil {
			a, err = cipher.NewGCM(blk)
		}
	}
	if err != nil {
		panic(err)
	}
	return &miniKey{aead: a, iv: iv, sec: secret}
}

func (k *miniKey) nonce() []byte {
	n := bytes.Clone(k.iv)
	for i := 0; i < 8; i++ {
		n[4+i] ^= byte(k.seq >> (56 - 8*i))
	}
	k.seq++
	return n
}

func (s *miniServer) writeRaw(typ uint8, vers uint16, body []byte) error {
	h := []byte{typ, byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}
	_, err := s.conn.Write(append(h, body...))
	return err
}

func (s *miniServer) seal(typ uint8, content []byte) []byte {
	inner := append(bytes.Clone(content), typ)
	inner = append(inner, make([]byte, s.cfg.padding)...)
	n := len(inner) + s.out.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
	return append(hdr, s.out.aead.Seal(nil, s.out.nonce(), inner, hdr)...)
}

func (s *miniServer) writeSealed(typ uint8, content []byte) error {
	_, err := s.conn.Write(s.seal(typ, content))
	return err
}

func (s *miniServer) readRecord() (uint8, []byte, []byte, error) {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s.conn, hdr); err != nil {
		return 0, nil, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(s.conn, body); err != nil {
		return 0, nil, nil, err
	}
	return hdr[0], hdr, body, nil
}

// readSealed returns the next encrypted record's content and type,
// skipping ChangeCipherSpec.
func (s *miniServer) readSealed() (uint8, []byte, error) {
	for {
		typ, hdr, body, err := s.readRecord()
		if err != nil {
			return 0, nil, err
		}
		if typ == 20 {
			continue
		}
		if typ != 23 {
			return 0, nil, fmt.Errorf("mini: plaintext record type %d", typ)
		}
		pt, err := s.in.aead.Open(nil, s.in.nonce(), body, hdr)
		if err != nil {
			return 0, nil, fmt.Errorf("mini: open: %w", err)
		}
		i := len(pt) - 1
		for i >= 0 && pt[i] == 0 {
			i--
		}
		if i < 0 {
			return 0, nil, errors.New("mini: all padding")
		}
		return pt[i], pt[:i], nil
	}
}

func hsMessage(typ uint8, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func (s *miniServer) handshake() error {
	typ, _, ch, err := s.readRecord()
	if err != nil {
		return err
	}
	if typ != 22 || len(ch) < 4 || ch[0] != 1 {
		return errors.New("mini: expected a ClientHello record")
	}
	// Parse what the server needs: session id, ALPN offer, x25519 share.
	p := cryptobyte.String(ch[4:])
	var sid, suites, comp, exts cryptobyte.String
	if !p.Skip(2+32) || !p.ReadUint8LengthPrefixed(&sid) || !p.ReadUint16LengthPrefixed(&suites) ||
		!p.ReadUint8LengthPrefixed(&comp) || !p.ReadUint16LengthPrefixed(&exts) {
		return errors.New("mini: bad ClientHello")
	}
	var peer []byte
	for !exts.Empty() {
		var et uint16
		var ed cryptobyte.String
		if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&ed) {
			return errors.New("mini: bad extension")
		}
		if et == 51 {
			var shares cryptobyte.String
			ed.ReadUint16LengthPrefixed(&shares)
			for !shares.Empty() {
				var g uint16
				var k cryptobyte.String
				shares.ReadUint16(&g)
				shares.ReadUint16LengthPrefixed(&k)
				if g == 0x001d {
					peer = k
				}
			}
		}
	}
	if peer == nil {
		return errors.New("mini: no x25519 key share")
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	peerKey, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return err
	}
	shared, err := priv.ECDH(peerKey)
	if err != nil {
		return err
	}

	var random [32]byte
	rand.Read(random[:])
	var b cryptobyte.Builder
	b.AddUint16(0x0303)
	b.AddBytes(random[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sid) })
	b.AddUint16(s.cfg.suite)
	b.AddUint8(0)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(43)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0304) })
		b.AddUint16(51)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(0x001d)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(priv.PublicKey().Bytes()) })
		})
	})
	sh := hsMessage(2, b.BytesOrPanic())
	s.th = append(append([]byte{}, ch...), sh...)
	if err := s.writeRaw(22, 0x0303, sh); err != nil {
		return err
	}
	if s.cfg.ccs {
		if err := s.writeRaw(20, 0x0303, []byte{1}); err != nil {
			return err
		}
	}

	zeros := make([]byte, s.h.Size())
	early, _ := hkdf.Extract(s.h.New, zeros, nil)
	derived := s.expand(early, "derived", s.hashOf(nil), s.h.Size())
	hs, _ := hkdf.Extract(s.h.New, shared, derived)
	cHS := s.expand(hs, "c hs traffic", s.hashOf(s.th), s.h.Size())
	sHS := s.expand(hs, "s hs traffic", s.hashOf(s.th), s.h.Size())
	master, _ := hkdf.Extract(s.h.New, zeros, s.expand(hs, "derived", s.hashOf(nil), s.h.Size()))
	s.in, s.out = s.newKey(cHS), s.newKey(sHS)

	// EncryptedExtensions, Certificate, CertificateVerify, Finished.
	var flight []byte
	add := func(m []byte) { flight = append(flight, m...); s.th = append(s.th, m...) }
	var ee cryptobyte.Builder
	ee.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		if s.cfg.alpn != "" {
			b.AddUint16(16)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s.cfg.alpn)) })
				})
			})
		}
	})
	add(hsMessage(8, ee.BytesOrPanic()))
	var cm cryptobyte.Builder
	cm.AddUint8(0)
	cm.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, der := range s.cert.Certificate {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(der) })
			b.AddUint16(0)
		}
	})
	add(hsMessage(11, cm.BytesOrPanic()))
	signed := append(bytes.Repeat([]byte{0x20}, 64), "TLS 1.3, server CertificateVerify\x00"...)
	signed = append(signed, s.hashOf(s.th)...)
	scheme, sig, err := miniSign(s.cert.PrivateKey, signed)
	if err != nil {
		return err
	}
	var cv cryptobyte.Builder
	cv.AddUint16(scheme)
	cv.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	add(hsMessage(15, cv.BytesOrPanic()))
	add(hsMessage(20, s.finished(sHS)))
	for len(flight) > 0 {
		n := len(flight)
		if s.cfg.fragment > 0 && n > s.cfg.fragment {
			n = s.cfg.fragment
		}
		if err := s.writeSealed(22, flight[:n]); err != nil {
			return err
		}
		flight = flight[n:]
	}
	cAP := s.expand(master, "c ap traffic", s.hashOf(s.th), s.h.Size())
	sAP := s.expand(master, "s ap traffic", s.hashOf(s.th), s.h.Size())
	wantFin := hsMessage(20, s.finished(cHS))

	typ, fin, err := s.readSealed()
	if err != nil {
		return err
	}
	if typ != 22 || !hmac.Equal(fin, wantFin) {
		return fmt.Errorf("mini: bad client Finished (type %d)", typ)
	}
	s.in, s.out = s.newKey(cAP), s.newKey(sAP)
	// One NewSessionTicket: lifetime, age_add, nonce, ticket, no extensions.
	var nst cryptobyte.Builder
	nst.AddUint32(3600)
	nst.AddUint32(7)
	nst.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	nst.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("an opaque ticket")) })
	nst.AddUint16(0)
	return s.writeSealed(22, hsMessage(4, nst.BytesOrPanic()))
}

func (s *miniServer) finished(secret []byte) []byte {
	m := hmac.New(s.h.New, s.expand(secret, "finished", nil, s.h.Size()))
	m.Write(s.hashOf(s.th))
	return m.Sum(nil)
}

func miniSign(key crypto.PrivateKey, signed []byte) (uint16, []byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d := crypto.SHA256.New()
		d.Write(signed)
		sig, err := ecdsa.SignASN1(rand.Reader, k, d.Sum(nil))
		return 0x0403, sig, err
	case ed25519.PrivateKey:
		return 0x0807, ed25519.Sign(k, signed), nil
	case *rsa.PrivateKey:
		d := crypto.SHA256.New()
		d.Write(signed)
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		return 0x0804, sig, err
	}
	return 0, nil, fmt.Errorf("mini: key type %T", key)
}

// keyUpdate sends KeyUpdate(update_requested) and moves to the next key.
func (s *miniServer) keyUpdate() error {
	if err := s.writeSealed(22, hsMessage(24, []byte{1})); err != nil {
		return err
	}
	s.out = s.newKey(s.expand(s.out.sec, "traffic upd", nil, s.h.Size()))
	return nil
}

// Read returns application data, handling the client's KeyUpdate and
// close_notify.
func (s *miniServer) Read(p []byte) (int, error) {
	for len(s.appBuf) == 0 {
		typ, content, err := s.readSealed()
		if err != nil {
			return 0, err
		}
		switch typ {
		case 23:
			s.appBuf = content
		case 21:
			return 0, io.EOF
		case 22:
			if len(content) == 5 && content[0] == 24 {
				s.in = s.newKey(s.expand(s.in.sec, "traffic upd", nil, s.h.Size()))
				continue
			}
			return 0, fmt.Errorf("mini: post-handshake message %d", content[0])
		}
	}
	n := copy(p, s.appBuf)
	s.appBuf = s.appBuf[n:]
	return n, nil
}

// Write sends application data in one record.
func (s *miniServer) Write(p []byte) (int, error) {
	if err := s.writeSealed(23, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serveH2 speaks just enough HTTP/2: SETTINGS, PING answers, and an optional
// PING of its own; it ends at the client's close_notify with its own.
func (s *miniServer) serveH2() error {
	pre := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(s, pre); err != nil {
		return err
	}
	br := bufio.NewReader(s)
	fr := http2.NewFramer(s, br)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 15}); err != nil {
		return err
	}
	if s.cfg.serverPing {
		if err := fr.WritePing(false, [8]byte{'s', 'e', 'r', 'v', 'e', 'r'}); err != nil {
			return err
		}
	}
	pings := 0
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return s.writeSealed(21, []byte{1, 0})
		}
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return err
				}
			}
		case *http2.PingFrame:
			if f.IsAck() {
				continue
			}
			pings++
			if s.cfg.noAnswerFrom > 0 && pings >= s.cfg.noAnswerFrom {
				// Say something else, so that a record follows the PING.
				if err := fr.WriteWindowUpdate(0, 1); err != nil {
					return err
				}
				continue
			}
			if err := fr.WritePing(true, f.Data); err != nil {
				return err
			}
			if s.cfg.keyUpdate > 0 && pings%s.cfg.keyUpdate == 0 {
				if err := s.keyUpdate(); err != nil {
					return err
				}
			}
		}
	}
}

// recordMiniSession runs Go's TLS client against the scripted server and
// returns the recording.
func recordMiniSession(t testing.TB, cfg miniConfig) *recorded {
	t.Helper()
	p := mustPKI(t)
	if cfg.alpn == "" {
		cfg.alpn = "h2"
	}
	leaf := cfg.leaf
	if leaf == "" {
		leaf = "ecdsa"
	}
	srv := &miniServer{cfg: cfg, cert: p.leaves[leaf]}
	switch cfg.suite {
	case tls.TLS_AES_128_GCM_SHA256:
		srv.h, srv.keyLen = crypto.SHA256, 16
	case tls.TLS_AES_256_GCM_SHA384:
		srv.h, srv.keyLen = crypto.SHA384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		srv.h, srv.keyLen = crypto.SHA256, 32
	default:
		t.Fatalf("suite %#x", cfg.suite)
	}
	cc, sc := memPipe()
	srv.conn = sc
	srvErr := make(chan error, 1)
	go func() {
		err := srv.handshake()
		if err == nil {
			err = srv.serveH2()
		}
		sc.Close()
		srvErr <- err
	}()
	kl := &syncBuffer{}
	rec := &recorder{Conn: cc, clock: &fakeClock{}}
	c := tls.Client(rec, clientConfig(p, kl, cfg.sessionConfig))
	if err := c.Handshake(); err != nil {
		t.Fatalf("client handshake with the scripted server: %v (server: %v)", err, <-srvErr)
	}
	st := c.ConnectionState()
	n := cfg.echoes
	if cfg.noAnswerFrom > 0 {
		n = cfg.noAnswerFrom - 1
	}
	answered, err := h2Client(c, sessionConfig{echoes: n, echoBase: cfg.echoBase})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	if cfg.noAnswerFrom > 0 {
		// One PING the server will not answer; wait for the frame it
		// sends instead, so that its record follows the PING.
		fr := http2.NewFramer(c, c)
		if err := fr.WritePing(false, PingPayload(testNonce, cfg.echoBase+uint32(n))); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := f.(*http2.WindowUpdateFrame); ok {
				break
			}
		}
	}
	c.CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
	if err := <-srvErr; err != nil {
		t.Fatalf("scripted server: %v", err)
	}
	return &recorded{Session: rec.session(kl.Bytes()), roots: p.roots, suite: st.CipherSuite, alpn: st.NegotiatedProtocol, echoes: answered}
}
