package transcript

// Synthetic sessions for the error paths that no real client or server will
// produce (a TLS 1.2 ServerHello, a CertificateRequest after the handshake,
// a malformed KeyUpdate, ...). They are built with this package's own key
// schedule, so they prove parsing and control flow, not cryptography: the
// real sessions in verify_test.go and the RFC 8448 trace do that.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

type chSpec struct {
	random    [32]byte
	sid       []byte
	suites    []uint16
	versions  []uint16
	alpn      []string
	earlyData bool
	ech       bool
}

type shSpec struct {
	random  [32]byte
	sid     []byte
	suite   uint16
	version uint16 // 0 = no supported_versions
	psk     bool
}

type synth struct {
	t        *testing.T
	s        *suite
	ch       chSpec
	msgs     [][]byte
	c2s, s2c []byte
	secrets  map[string][]byte
	ckey     *recordKey
	skey     *recordKey
	sgen     []byte // current server application secret
	cgen     []byte
}

func newSynth(t *testing.T, suiteID uint16) *synth {
	y := &synth{t: t, s: suiteByID(suiteID), secrets: map[string][]byte{}}
	for i, l := range []string{labelClientHS, labelServerHS, labelClientAP0, labelServerAP0} {
		y.secrets[l] = bytes.Repeat([]byte{byte(i + 1)}, y.s.hash.Size())
	}
	y.ch = chSpec{
		random:   ClientRandom(testNonce, 0),
		sid:      bytes.Repeat([]byte{7}, 32),
		suites:   []uint16{suiteAES128GCMSHA256, suiteAES256GCMSHA384, suiteCHACHA20POLY1305SHA256},
		versions: []uint16{versionTLS13},
		alpn:     []string{"h2", "http/1.1"},
	}
	return y
}

func msg(typ uint8, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func clientHelloMsg(c chSpec) []byte {
	var b cryptobyte.Builder
	b.AddUint16(0x0303)
	b.AddBytes(c.random[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.sid) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range c.suites {
			b.AddUint16(s)
		}
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(extServerName)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(testHost)) })
			})
		})
		if len(c.alpn) > 0 {
			b.AddUint16(extALPN)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for _, p := range c.alpn {
						b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
					}
				})
			})
		}
		if len(c.versions) > 0 {
			b.AddUint16(extSupportedVersions)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
					for _, v := range c.versions {
						b.AddUint16(v)
					}
				})
			})
		}
		if c.earlyData {
			b.AddUint16(extEarlyData)
			b.AddUint16(0)
		}
		if c.ech {
			b.AddUint16(extECH)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		}
		b.AddUint16(extKeyShare)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16(0x001d)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
			})
		})
	})
	return msg(hsClientHello, b.BytesOrPanic())
}

func serverHelloMsg(s shSpec) []byte {
	var b cryptobyte.Builder
	b.AddUint16(0x0303)
	b.AddBytes(s.random[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.sid) })
	b.AddUint16(s.suite)
	b.AddUint8(0)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		if s.version != 0 {
			b.AddUint16(extSupportedVersions)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(s.version) })
		}
		if s.psk {
			b.AddUint16(extPreSharedKey)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0) })
		}
	})
	return msg(hsServerHello, b.BytesOrPanic())
}

func (y *synth) sh() shSpec {
	return shSpec{random: [32]byte{0x55}, sid: y.ch.sid, suite: y.s.id, version: versionTLS13}
}

// hello sends the ClientHello and the given ServerHello in plaintext.
func (y *synth) hello(sh shSpec) {
	ch := clientHelloMsg(y.ch)
	shm := serverHelloMsg(sh)
	y.c2s = append(y.c2s, rec(22, 0x0301, ch)...)
	y.s2c = append(y.s2c, rec(22, 0x0303, shm)...)
	y.msgs = [][]byte{ch, shm}
	y.keys()
}

func (y *synth) keys() {
	var err error
	if y.ckey, err = newRecordKey(y.s, y.secrets[labelClientHS]); err != nil {
		y.t.Fatal(err)
	}
	if y.skey, err = newRecordKey(y.s, y.secrets[labelServerHS]); err != nil {
		y.t.Fatal(err)
	}
}

func seal(k *recordKey, typ uint8, content []byte, pad int) []byte {
	var nonce [12]byte
	copy(nonce[:], k.iv[:])
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(k.seq >> (56 - 8*i))
	}
	k.seq++
	inner := append(append(bytes.Clone(content), typ), make([]byte, pad)...)
	n := len(inner) + k.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
	return append(hdr, k.aead.Seal(nil, nonce[:], inner, hdr)...)
}

// Message builders. Each is called when it is its turn, so that it sees the
// transcript up to itself.
type builder func(y *synth) []byte

func raw(b []byte) builder { return func(*synth) []byte { return b } }

func eeMsg(alpn string) builder {
	return func(y *synth) []byte {
		var b cryptobyte.Builder
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if alpn != "" {
				b.AddUint16(extALPN)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(alpn)) })
					})
				})
			}
		})
		return msg(hsEncryptedExtensions, b.BytesOrPanic())
	}
}

func certMsg(ctx []byte, ders ...[]byte) builder {
	return func(y *synth) []byte {
		var b cryptobyte.Builder
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ctx) })
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, d := range ders {
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(d) })
				b.AddUint16(0)
			}
		})
		return msg(hsCertificate, b.BytesOrPanic())
	}
}

func leafCert(y *synth) []byte {
	c := mustPKI(y.t).leaves["ecdsa"]
	return certMsg(nil, c.Certificate...)(y)
}

func cvMsg(y *synth) []byte {
	key := mustPKI(y.t).leaves["ecdsa"].PrivateKey.(*ecdsa.PrivateKey)
	d := sha256.Sum256(serverSignedContent(transcriptHash(y.s.hash, y.msgs...)))
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		y.t.Fatal(err)
	}
	return msg(hsCertificateVerify, append([]byte{0x04, 0x03, byte(len(sig) >> 8), byte(len(sig))}, sig...))
}

func finMsg(label string) builder {
	return func(y *synth) []byte {
		return msg(hsFinished, finishedMAC(y.s.hash, y.secrets[label], transcriptHash(y.s.hash, y.msgs...)))
	}
}

func crMsg(ctx []byte) builder {
	return func(y *synth) []byte {
		return msg(hsCertificateRequest, append(append([]byte{byte(len(ctx))}, ctx...), 0, 0))
	}
}

// send seals handshake messages into one record of direction d under its
// current key, adding them to the transcript.
func (y *synth) send(d Direction, bs ...builder) {
	var content []byte
	for _, b := range bs {
		m := b(y)
		y.msgs = append(y.msgs, m)
		content = append(content, m...)
	}
	y.record(d, typeHandshake, content)
}

// record seals one record of direction d under its current key.
func (y *synth) record(d Direction, typ uint8, content []byte) {
	if d == ClientToServer {
		y.c2s = append(y.c2s, seal(y.ckey, typ, content, 0)...)
	} else {
		y.s2c = append(y.s2c, seal(y.skey, typ, content, 0)...)
	}
}

// flight sends the usual server flight in one record.
func (y *synth) flight() {
	y.send(ServerToClient, eeMsg("h2"), leafCert, cvMsg, finMsg(labelServerHS))
}

// app sends the client Finished and moves both directions to the
// application keys.
func (y *synth) app() {
	y.send(ClientToServer, finMsg(labelClientHS))
	y.cgen, y.sgen = y.secrets[labelClientAP0], y.secrets[labelServerAP0]
	y.ckey, _ = newRecordKey(y.s, y.cgen)
	y.skey, _ = newRecordKey(y.s, y.sgen)
}

// keyUpdate sends a KeyUpdate in direction d and moves to the next key.
func (y *synth) keyUpdate(d Direction) {
	y.record(d, typeHandshake, msg(hsKeyUpdate, []byte{0}))
	if d == ClientToServer {
		y.cgen = nextSecret(y.s.hash, y.cgen)
		y.ckey, _ = newRecordKey(y.s, y.cgen)
	} else {
		y.sgen = nextSecret(y.s.hash, y.sgen)
		y.skey, _ = newRecordKey(y.s, y.sgen)
	}
}

func (y *synth) session() Session {
	var kl bytes.Buffer
	for l, v := range y.secrets {
		fmt.Fprintf(&kl, "%s %x %x\n", l, y.ch.random, v)
	}
	return Session{C2S: y.c2s, S2C: y.s2c, KeyLog: kl.Bytes()}
}

// standard builds a whole session up to the application phase.
func (y *synth) standard() *synth {
	y.hello(y.sh())
	y.flight()
	y.app()
	return y
}

var h2Hello = cat([]byte(h2Preface), ping(false, PingPayload(testNonce, 0)))

func TestSynthetic(t *testing.T) {
	p := mustPKI(t)
	opts := func() Options {
		n := testNonce
		return Options{ServerName: testHost, Roots: p.roots, At: testAt, Nonce: &n}
	}
	for _, tc := range []struct {
		name  string
		build func(y *synth)
		check string
		want  error
	}{
		// Successes through paths real sessions do not take.
		{"ok: HelloRetryRequest with SHA-384", func(y *synth) {
			*y = *newSynth(y.t, suiteAES256GCMSHA384)
			ch1 := clientHelloMsg(y.ch)
			hrr := y.sh()
			hrr.random = helloRetryRandom
			hrrm := serverHelloMsg(hrr)
			ch2 := clientHelloMsg(y.ch)
			shm := serverHelloMsg(y.sh())
			y.c2s = cat(rec(22, 0x0301, ch1), rec(20, 0x0303, []byte{1}), rec(22, 0x0303, ch2))
			y.s2c = cat(rec(22, 0x0303, hrrm), rec(20, 0x0303, []byte{1}), rec(22, 0x0303, shm))
			y.msgs = [][]byte{messageHash(y.s, ch1), hrrm, ch2, shm}
			y.keys()
			y.flight()
			y.app()
			y.record(ClientToServer, typeApplicationData, h2Hello)
			y.record(ServerToClient, typeApplicationData, ping(true, PingPayload(testNonce, 0)))
		}, "", nil},
		{"ok: client certificate requested and sent", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), crMsg([]byte{9}), leafCert, cvMsg, finMsg(labelServerHS))
			y.send(ClientToServer, certMsg([]byte{9}, []byte{1, 2, 3}), raw(msg(hsCertificateVerify, []byte{4, 3, 0, 1, 0})), finMsg(labelClientHS))
			y.cgen, y.sgen = y.secrets[labelClientAP0], y.secrets[labelServerAP0]
			y.ckey, _ = newRecordKey(y.s, y.cgen)
			y.skey, _ = newRecordKey(y.s, y.sgen)
		}, "", nil},
		{"ok: KeyUpdates, user_canceled, fragmented post-handshake message", func(y *synth) {
			y.standard()
			y.record(ClientToServer, typeApplicationData, h2Hello[:10])
			y.keyUpdate(ClientToServer)
			y.record(ClientToServer, typeApplicationData, h2Hello[10:])
			y.keyUpdate(ServerToClient)
			nst := msg(hsNewSessionTicket, make([]byte, 20))
			y.record(ServerToClient, typeHandshake, nst[:3])
			y.record(ServerToClient, typeHandshake, nst[3:])
			y.record(ServerToClient, typeApplicationData, ping(true, PingPayload(testNonce, 0)))
			y.record(ServerToClient, typeApplicationData, nil)
			y.record(ServerToClient, typeAlert, []byte{1, alertUserCanceled})
			y.record(ServerToClient, typeAlert, []byte{1, alertCloseNotify})
		}, "", nil},
		{"ok: change_cipher_spec inside the encrypted flight", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"))
			y.s2c = append(y.s2c, rec(20, 0x0303, []byte{1})...)
			y.send(ServerToClient, leafCert, cvMsg, finMsg(labelServerHS))
			y.c2s = append(y.c2s, rec(20, 0x0303, []byte{1})...)
			y.app()
		}, "", nil},

		// client_hello
		{"client without TLS 1.3", func(y *synth) { y.ch.versions = nil; y.hello(y.sh()) }, CheckClientHello, ErrNotTLS13},
		{"client offers 0-RTT", func(y *synth) { y.ch.earlyData = true; y.hello(y.sh()) }, CheckClientHello, ErrHandshake},
		{"client uses ECH", func(y *synth) { y.ch.ech = true; y.hello(y.sh()) }, CheckClientHello, ErrHandshake},
		{"server picks TLS 1.2", func(y *synth) { s := y.sh(); s.version = 0; y.hello(s) }, CheckClientHello, ErrNotTLS13},
		{"server says 0x0303 in supported_versions", func(y *synth) { s := y.sh(); s.version = 0x0303; y.hello(s) }, CheckClientHello, ErrNotTLS13},
		{"unsupported suite", func(y *synth) { s := y.sh(); s.suite = 0x1304; y.hello(s) }, CheckClientHello, ErrHandshake},
		{"suite not offered", func(y *synth) { y.ch.suites = []uint16{0x1301}; s := y.sh(); s.suite = 0x1302; y.hello(s) }, CheckClientHello, ErrHandshake},
		{"server selects a PSK", func(y *synth) { s := y.sh(); s.psk = true; y.hello(s) }, CheckClientHello, ErrHandshake},
		{"session id not echoed", func(y *synth) { s := y.sh(); s.sid = nil; y.hello(s) }, CheckClientHello, ErrHandshake},
		{"HelloRetryRequest, no second ClientHello", func(y *synth) {
			hrr := y.sh()
			hrr.random = helloRetryRandom
			y.c2s = rec(22, 0x0301, clientHelloMsg(y.ch))
			y.s2c = cat(rec(22, 0x0303, serverHelloMsg(hrr)), rec(22, 0x0303, serverHelloMsg(y.sh())))
		}, CheckClientHello, ErrHandshake},
		{"HelloRetryRequest, no second ServerHello", func(y *synth) {
			hrr := y.sh()
			hrr.random = helloRetryRandom
			y.c2s = rec(22, 0x0301, clientHelloMsg(y.ch))
			y.s2c = rec(22, 0x0303, serverHelloMsg(hrr))
		}, CheckClientHello, ErrTruncated},
		{"second ClientHello changes the random", func(y *synth) {
			hrr := y.sh()
			hrr.random = helloRetryRandom
			ch1 := clientHelloMsg(y.ch)
			y.ch.random[0] ^= 1
			y.c2s = cat(rec(22, 0x0301, ch1), rec(22, 0x0303, clientHelloMsg(y.ch)))
			y.s2c = cat(rec(22, 0x0303, serverHelloMsg(hrr)), rec(22, 0x0303, serverHelloMsg(y.sh())))
		}, CheckClientHello, ErrHandshake},
		{"second ClientHello offers early data", func(y *synth) {
			hrr := y.sh()
			hrr.random = helloRetryRandom
			ch1 := clientHelloMsg(y.ch)
			y.ch.earlyData = true
			y.c2s = cat(rec(22, 0x0301, ch1), rec(22, 0x0303, clientHelloMsg(y.ch)))
			y.s2c = cat(rec(22, 0x0303, serverHelloMsg(hrr)), rec(22, 0x0303, serverHelloMsg(y.sh())))
		}, CheckClientHello, ErrHandshake},
		{"suite changes after HelloRetryRequest", func(y *synth) {
			hrr := y.sh()
			hrr.random = helloRetryRandom
			sh := y.sh()
			sh.suite = 0x1303
			y.c2s = cat(rec(22, 0x0301, clientHelloMsg(y.ch)), rec(22, 0x0303, clientHelloMsg(y.ch)))
			y.s2c = cat(rec(22, 0x0303, serverHelloMsg(hrr)), rec(22, 0x0303, serverHelloMsg(sh)))
		}, CheckClientHello, ErrHandshake},
		{"two HelloRetryRequests", func(y *synth) {
			hrr := y.sh()
			hrr.random = helloRetryRandom
			y.c2s = cat(rec(22, 0x0301, clientHelloMsg(y.ch)), rec(22, 0x0303, clientHelloMsg(y.ch)))
			y.s2c = cat(rec(22, 0x0303, serverHelloMsg(hrr)), rec(22, 0x0303, serverHelloMsg(hrr)))
		}, CheckClientHello, ErrHandshake},
		{"two ClientHellos without a retry", func(y *synth) {
			y.c2s = cat(rec(22, 0x0301, clientHelloMsg(y.ch)), rec(22, 0x0303, clientHelloMsg(y.ch)))
			y.s2c = rec(22, 0x0303, serverHelloMsg(y.sh()))
		}, CheckClientHello, ErrHandshake},
		{"three ClientHellos", func(y *synth) {
			ch := rec(22, 0x0301, clientHelloMsg(y.ch))
			y.c2s = cat(ch, ch, ch)
			y.s2c = rec(22, 0x0303, serverHelloMsg(y.sh()))
		}, CheckClientHello, ErrHandshake},
		{"plaintext Finished from the client", func(y *synth) {
			y.hello(y.sh())
			y.c2s = append(y.c2s, rec(22, 0x0303, msg(hsFinished, make([]byte, 32)))...)
		}, CheckClientHello, ErrHandshake},
		{"plaintext alert from the server", func(y *synth) {
			y.c2s = rec(22, 0x0301, clientHelloMsg(y.ch))
			y.s2c = rec(21, 0x0303, []byte{2, 40})
		}, CheckClientHello, ErrHandshake},
		{"plaintext alert from the client", func(y *synth) {
			y.hello(y.sh())
			y.c2s = append(y.c2s, rec(21, 0x0303, []byte{2, 40})...)
		}, CheckClientHello, ErrHandshake},
		{"plaintext Certificate after ServerHello", func(y *synth) {
			y.hello(y.sh())
			y.s2c = append(y.s2c, rec(22, 0x0303, leafCert(y))...)
		}, CheckClientHello, ErrHandshake},
		{"ServerHello split by the start of encryption", func(y *synth) {
			y.c2s = rec(22, 0x0301, clientHelloMsg(y.ch))
			sh := serverHelloMsg(y.sh())
			y.s2c = cat(rec(22, 0x0303, sh[:10]), rec(23, 0x0303, make([]byte, 20)))
		}, CheckClientHello, ErrHandshake},
		{"ClientHello cut off", func(y *synth) {
			ch := clientHelloMsg(y.ch)
			y.c2s = rec(22, 0x0301, ch[:50])
			y.s2c = rec(22, 0x0303, serverHelloMsg(y.sh()))
		}, CheckClientHello, ErrTruncated},
		{"change_cipher_spec first", func(y *synth) {
			y.c2s = cat(rec(20, 0x0303, []byte{1}), rec(22, 0x0301, clientHelloMsg(y.ch)))
			y.s2c = rec(22, 0x0303, serverHelloMsg(y.sh()))
		}, CheckClientHello, ErrHandshake},
		{"malformed ClientHello", func(y *synth) {
			y.c2s = rec(22, 0x0301, msg(hsClientHello, []byte{3, 3, 1}))
			y.s2c = rec(22, 0x0303, serverHelloMsg(y.sh()))
		}, CheckClientHello, ErrHandshake},
		{"malformed ServerHello", func(y *synth) {
			y.c2s = rec(22, 0x0301, clientHelloMsg(y.ch))
			y.s2c = rec(22, 0x0303, msg(hsServerHello, []byte{3, 3}))
		}, CheckClientHello, ErrHandshake},
		{"no ServerHello", func(y *synth) {
			y.c2s = rec(22, 0x0301, clientHelloMsg(y.ch))
			y.s2c = rec(23, 0x0303, make([]byte, 20))
		}, CheckClientHello, ErrHandshake},

		// handshake_decrypt
		{"ALPN not offered", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h3"))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"server accepts early data", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, raw(msg(hsEncryptedExtensions, []byte{0, 4, 0, 42, 0, 0})))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"two ALPN protocols selected", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, raw(msg(hsEncryptedExtensions, []byte{0, 11, 0, 16, 0, 7, 0, 5, 2, 'h', '2', 1, 'x'})))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"Certificate before EncryptedExtensions", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, leafCert)
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"empty certificate list", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), certMsg(nil))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"certificate with a request context", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), certMsg([]byte{1}, []byte{1}))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"malformed Certificate", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), raw(msg(hsCertificate, []byte{0, 0, 0, 9, 0})))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"malformed CertificateVerify", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert, raw(msg(hsCertificateVerify, []byte{4, 3, 0})))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"malformed CertificateRequest", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), raw(msg(hsCertificateRequest, []byte{5})))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"alert in the flight", func(y *synth) {
			y.hello(y.sh())
			y.record(ServerToClient, typeAlert, []byte{2, 80})
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"application data in the flight", func(y *synth) {
			y.hello(y.sh())
			y.record(ServerToClient, typeApplicationData, []byte("early"))
		}, CheckHandshakeDecrypt, ErrProtocol},
		{"all-padding record in the flight", func(y *synth) {
			y.hello(y.sh())
			y.s2c = append(y.s2c, seal(y.skey, 0, nil, 3)...)
		}, CheckHandshakeDecrypt, ErrProtocol},
		{"plaintext handshake record after the ServerHello", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"))
			y.s2c = append(y.s2c, rec(22, 0x0303, leafCert(y))...)
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"message after server Finished in its record", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert, cvMsg, finMsg(labelServerHS), raw(msg(hsNewSessionTicket, make([]byte, 9))))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"partial message after server Finished", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert, cvMsg, finMsg(labelServerHS), raw([]byte{4, 0}))
		}, CheckHandshakeDecrypt, ErrHandshake},
		{"flight ends early", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert)
		}, CheckHandshakeDecrypt, ErrTruncated},
		{"oversized plaintext in the flight", func(y *synth) {
			y.hello(y.sh())
			y.record(ServerToClient, typeHandshake, make([]byte, maxPlaintext+1))
		}, CheckHandshakeDecrypt, ErrProtocol},
		{"wrong-length secret", func(y *synth) {
			y.standard()
			y.secrets[labelServerHS] = make([]byte, 48)
		}, CheckHandshakeDecrypt, ErrKeyLogFormat},

		// certificate_chain, certificate_verify, server_finished
		{"certificate that does not parse", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), certMsg(nil, []byte{0x30, 0x03, 1, 2, 3}), cvMsg, finMsg(labelServerHS))
		}, CheckCertificateChain, ErrCertificateChain},
		{"signature over another transcript", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert, func(y *synth) []byte {
				y.msgs = append(y.msgs, []byte("x"))
				m := cvMsg(y)
				y.msgs = y.msgs[:len(y.msgs)-1]
				return m
			}, finMsg(labelServerHS))
		}, CheckCertificateVerify, ErrCertificateVerify},
		{"server Finished wrong", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert, cvMsg, finMsg(labelClientHS))
		}, CheckServerFinished, ErrServerFinished},
		{"server Finished too short", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), leafCert, cvMsg, raw(msg(hsFinished, make([]byte, 12))))
		}, CheckServerFinished, ErrServerFinished},

		// application_data
		{"client Finished wrong", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.send(ClientToServer, finMsg(labelServerHS))
		}, CheckApplicationData, ErrClientFinished},
		{"client alert before Finished", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.record(ClientToServer, typeAlert, []byte{2, 42})
		}, CheckApplicationData, ErrHandshake},
		{"client Certificate without a request", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.send(ClientToServer, certMsg(nil))
		}, CheckApplicationData, ErrHandshake},
		{"client Certificate with the wrong context", func(y *synth) {
			y.hello(y.sh())
			y.send(ServerToClient, eeMsg("h2"), crMsg([]byte{9}), leafCert, cvMsg, finMsg(labelServerHS))
			y.send(ClientToServer, certMsg([]byte{8}))
		}, CheckApplicationData, ErrHandshake},
		{"client application data before Finished", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.record(ClientToServer, typeApplicationData, []byte("x"))
		}, CheckApplicationData, ErrProtocol},
		{"client plaintext handshake after the ClientHello", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.record(ClientToServer, typeHandshake, msg(hsFinished, nil)[:2])
			y.c2s = append(y.c2s, rec(22, 0x0303, []byte{1})...)
		}, CheckApplicationData, ErrHandshake},
		{"message after client Finished in its record", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.send(ClientToServer, finMsg(labelClientHS), raw([]byte{24, 0}))
		}, CheckApplicationData, ErrHandshake},
		{"oversized client plaintext", func(y *synth) {
			y.hello(y.sh())
			y.flight()
			y.record(ClientToServer, typeHandshake, make([]byte, maxPlaintext+1))
		}, CheckApplicationData, ErrProtocol},
		{"change_cipher_spec after the handshake", func(y *synth) {
			y.standard()
			y.s2c = append(y.s2c, rec(20, 0x0303, []byte{1})...)
		}, CheckApplicationData, ErrProtocol},
		{"malformed KeyUpdate", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeHandshake, msg(hsKeyUpdate, []byte{2}))
		}, CheckApplicationData, ErrProtocol},
		{"data after KeyUpdate in its record", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeHandshake, cat(msg(hsKeyUpdate, []byte{0}), msg(hsNewSessionTicket, make([]byte, 9))))
		}, CheckApplicationData, ErrProtocol},
		{"record under the old key after KeyUpdate", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeHandshake, msg(hsKeyUpdate, []byte{0}))
			y.record(ServerToClient, typeApplicationData, []byte("x"))
		}, CheckApplicationData, ErrDecrypt},
		{"NewSessionTicket from the client", func(y *synth) {
			y.standard()
			y.record(ClientToServer, typeHandshake, msg(hsNewSessionTicket, make([]byte, 9)))
		}, CheckApplicationData, ErrHandshake},
		{"post-handshake CertificateRequest", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeHandshake, msg(hsCertificateRequest, []byte{0, 0, 0}))
		}, CheckApplicationData, ErrHandshake},
		{"three-byte alert", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeAlert, []byte{1, 0, 0})
		}, CheckApplicationData, ErrProtocol},
		{"record after a fatal alert", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeAlert, []byte{2, 80})
			y.record(ServerToClient, typeApplicationData, []byte("x"))
		}, CheckApplicationData, ErrAfterClose},
		{"application data inside a fragmented message", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeHandshake, msg(hsNewSessionTicket, make([]byte, 9))[:4])
			y.record(ServerToClient, typeApplicationData, []byte("x"))
		}, CheckApplicationData, ErrProtocol},
		{"stream ends inside a post-handshake message", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeHandshake, msg(hsNewSessionTicket, make([]byte, 9))[:4])
		}, CheckApplicationData, ErrTruncated},
		{"all-padding application record", func(y *synth) {
			y.standard()
			y.s2c = append(y.s2c, seal(y.skey, 0, nil, 4)...)
		}, CheckApplicationData, ErrProtocol},
		{"unknown inner content type", func(y *synth) {
			y.standard()
			y.record(ServerToClient, 24, []byte("x"))
		}, CheckApplicationData, ErrProtocol},
		{"oversized application plaintext", func(y *synth) {
			y.standard()
			y.record(ServerToClient, typeApplicationData, make([]byte, maxPlaintext+1))
		}, CheckApplicationData, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := newSynth(t, suiteAES128GCMSHA256)
			tc.build(y)
			res, err := Verify(y.session(), opts())
			if tc.want == nil {
				if err != nil || !res.OK() {
					for _, c := range res.Checks {
						t.Logf("%s %v %s", c.Name, c.OK, c.Detail)
					}
					t.Fatalf("err %v", err)
				}
				return
			}
			var ce *CheckError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) || ce.Check != tc.check {
				t.Fatalf("err %v, want %v in %s", err, tc.want, tc.check)
			}
		})
	}
}
