package transcript

// The recording harness: a real crypto/tls client talks to a real server
// (crypto/tls with x/net/http2 or net/http, or the scripted TLS 1.3 server in
// miniserver_test.go) over an in-memory connection. A wrapper around the
// client's net.Conn records the bytes each way and stamps every Read and
// Write with a fake, strictly increasing cycle counter, and the client's
// KeyLogWriter fills the key log: exactly what the prover discloses.

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// testAt is the pinned time of the harness: certificates are valid from
// testNotBefore to testNotAfter, and clients and verifier check at testAt.
var (
	testNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	testNotAfter  = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	testAt        = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testNonce     = [32]byte{0: 0x70, 1: 0x6f, 2: 0x63, 31: 0x01}
)

const testHost = "endpoint.test"

// ---- in-memory connection ----

// memBuf is one direction of a memConn: writes never block, reads return
// at most one write's bytes at a time (so a read may deliver several TLS
// records, or part of one when the reader's buffer is small).
type memBuf struct {
	mu       sync.Mutex
	cond     *sync.Cond
	chunks   [][]byte
	closed   bool
	expired  bool // read deadline in the past
	wexpired bool // write deadline in the past
}

func newMemBuf() *memBuf {
	b := &memBuf{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *memBuf) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	if b.wexpired {
		return 0, os.ErrDeadlineExceeded
	}
	b.chunks = append(b.chunks, bytes.Clone(p))
	b.cond.Broadcast()
	return len(p), nil
}

func (b *memBuf) read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.chunks) == 0 && !b.closed && !b.expired {
		b.cond.Wait()
	}
	if b.expired {
		return 0, os.ErrDeadlineExceeded
	}
	if len(b.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.chunks[0])
	if n == len(b.chunks[0]) {
		b.chunks = b.chunks[1:]
	} else {
		b.chunks[0] = b.chunks[0][n:]
	}
	return n, nil
}

func (b *memBuf) close() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *memBuf) setExpired(exp bool) {
	b.mu.Lock()
	b.expired = exp
	b.cond.Broadcast()
	b.mu.Unlock()
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

type memConn struct {
	in, out *memBuf
	name    string
}

// memPipe returns the two ends of a buffered in-memory connection.
func memPipe() (client, server net.Conn) {
	a, b := newMemBuf(), newMemBuf()
	return &memConn{in: a, out: b, name: "client"}, &memConn{in: b, out: a, name: "server"}
}

func (c *memConn) Read(p []byte) (int, error)  { return c.in.read(p) }
func (c *memConn) Write(p []byte) (int, error) { return c.out.write(p) }
func (c *memConn) Close() error {
	c.out.close()
	c.in.close()
	return nil
}
func (c *memConn) LocalAddr() net.Addr           { return memAddr(c.name) }
func (c *memConn) RemoteAddr() net.Addr          { return memAddr("peer-of-" + c.name) }
func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(t time.Time) error {
	// crypto/tls sets a deadline of "now" after sending close_notify, so
	// that nothing more is written; writes never block here otherwise.
	c.out.mu.Lock()
	c.out.wexpired = !t.IsZero() && !t.After(time.Now())
	c.out.mu.Unlock()
	return nil
}
func (c *memConn) SetReadDeadline(t time.Time) error {
	// Only "now or in the past" matters: net/http uses it to abort a
	// background read. Later deadlines never fire in these short tests.
	c.in.setExpired(!t.IsZero() && !t.After(time.Now()))
	return nil
}

// ---- recording ----

// fakeClock is a cycle counter that only goes up.
type fakeClock struct{ n atomic.Uint64 }

func (c *fakeClock) next() uint64 { return c.n.Add(1000) }

// recorder wraps the client's connection and records what crosses it.
type recorder struct {
	net.Conn
	clock    *fakeClock
	mu       sync.Mutex
	c2s, s2c []byte
	c2sT     []Stamp
	s2cT     []Stamp
}

// Write stamps the counter just before the write is issued and records
// the bytes the connection took.
func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cycles := r.clock.next()
	n, err := r.Conn.Write(p)
	if n > 0 {
		r.c2sT = append(r.c2sT, Stamp{Offset: int64(len(r.c2s)), Cycles: cycles})
		r.c2s = append(r.c2s, p[:n]...)
	}
	return n, err
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.mu.Lock()
		r.s2cT = append(r.s2cT, Stamp{Offset: int64(len(r.s2c)), Cycles: r.clock.next()})
		r.s2c = append(r.s2c, p[:n]...)
		r.mu.Unlock()
	}
	return n, err
}

// nonceRand makes the ClientHello random ClientRandom(nonce, conn): the
// first 32 bytes it returns, then crypto/rand.
type nonceRand struct {
	mu     sync.Mutex
	prefix []byte
}

func (r *nonceRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	n := copy(p, r.prefix)
	r.prefix = r.prefix[n:]
	r.mu.Unlock()
	if n < len(p) {
		if _, err := rand.Read(p[n:]); err != nil {
			return n, err
		}
	}
	return len(p), nil
}

// recorded is one recorded session with what the verifier needs.
type recorded struct {
	Session
	roots  *x509.CertPool
	suite  uint16
	alpn   string
	echoes int // echoes the client saw answered
}

func (r *recorded) options() Options {
	n := testNonce
	return Options{ServerName: testHost, Roots: r.roots, At: testAt, Nonce: &n}
}

func (r *recorder) session(keylog []byte) Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Session{
		C2S: bytes.Clone(r.c2s), S2C: bytes.Clone(r.s2c), KeyLog: bytes.Clone(keylog),
		C2STimes: append([]Stamp(nil), r.c2sT...), S2CTimes: append([]Stamp(nil), r.s2cT...),
	}
}

// ---- certificates ----

type testPKI struct {
	root      *x509.Certificate
	rootKey   crypto.Signer
	inter     *x509.Certificate
	interKey  crypto.Signer
	roots     *x509.CertPool
	leaves    map[string]tls.Certificate // by key type: "ecdsa", "ed25519", "rsa"
	otherRoot *x509.CertPool             // a different CA, trusted by nobody here
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

func mustPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = newPKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// newCA makes a CA certificate. The root's key is derived from its name, so
// that every test process trusts the same root: fuzzing workers can then
// verify sessions that another process recorded as seeds.
func newCA(name string, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	var k *ecdsa.PrivateKey
	var err error
	if parent == nil {
		scalar := sha256.Sum256([]byte("poc transcript test key: " + name))
		k, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
	} else {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             testNotBefore.AddDate(-1, 0, 0),
		NotAfter:              testNotAfter.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, k, err
}

func newLeaf(names []string, cn string, pub crypto.PublicKey, priv crypto.Signer, ca *x509.Certificate, caKey crypto.Signer, chain ...*x509.Certificate) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     names,
		NotBefore:    testNotBefore,
		NotAfter:     testNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	c := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	c.Leaf, err = x509.ParseCertificate(der)
	return c, err
}

func newPKI() (*testPKI, error) {
	p := &testPKI{leaves: map[string]tls.Certificate{}}
	var err error
	if p.root, p.rootKey, err = newCA("poc test root", nil, nil); err != nil {
		return nil, err
	}
	if p.inter, p.interKey, err = newCA("poc test intermediate", p.root, p.rootKey); err != nil {
		return nil, err
	}
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.root)
	other, _, err := newCA("someone else's root", nil, nil)
	if err != nil {
		return nil, err
	}
	p.otherRoot = x509.NewCertPool()
	p.otherRoot.AddCert(other)

	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	for name, kp := range map[string]struct {
		pub  crypto.PublicKey
		priv crypto.Signer
	}{"ecdsa": {&ek.PublicKey, ek}, "ed25519": {edPub, edKey}, "rsa": {&rk.PublicKey, rk}} {
		if p.leaves[name], err = newLeaf([]string{testHost}, testHost, kp.pub, kp.priv, p.inter, p.interKey, p.inter); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ---- sessions ----

type sessionConfig struct {
	leaf         string // key type of the server leaf; "" = ecdsa
	alpn         string // "h2" or "http/1.1"
	echoes       int
	hrr          bool // server prefers P-256, forcing a HelloRetryRequest
	clientAuth   bool // server sends a CertificateRequest
	goAwayAfter  int  // h2: after this many echoes, provoke a GOAWAY (0 = never)
	closeAfter   int  // http1: the response to request n (1-based) says Connection: close
	connIndex    uint32
	echoBase     uint32
	serverPing   bool // h2 (mini server): the server sends a PING of its own
	noAnswerFrom int  // h2 (mini server): stop answering PINGs from this echo (1-based)
}

func clientConfig(p *testPKI, kl io.Writer, cfg sessionConfig) *tls.Config {
	cr := ClientRandom(testNonce, cfg.connIndex)
	return &tls.Config{
		RootCAs:      p.roots,
		ServerName:   testHost,
		NextProtos:   []string{cfg.alpn},
		MinVersion:   tls.VersionTLS13,
		KeyLogWriter: kl,
		Rand:         &nonceRand{prefix: cr[:]},
		Time:         func() time.Time { return testAt },
		// A session cache makes the client send psk_key_exchange_modes,
		// so that servers send NewSessionTickets (never used here).
		ClientSessionCache: tls.NewLRUClientSessionCache(1),
	}
}

func serverConfig(p *testPKI, cfg sessionConfig) *tls.Config {
	leaf := cfg.leaf
	if leaf == "" {
		leaf = "ecdsa"
	}
	c := &tls.Config{
		Certificates: []tls.Certificate{p.leaves[leaf]},
		NextProtos:   []string{cfg.alpn},
		MinVersion:   tls.VersionTLS13,
		Time:         func() time.Time { return testAt },
	}
	if cfg.hrr {
		c.CurvePreferences = []tls.CurveID{tls.CurveP256}
	}
	if cfg.clientAuth {
		c.ClientAuth = tls.RequestClientCert
	}
	return c
}

// syncBuffer is a KeyLogWriter safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// recordGoSession runs one session between Go's TLS client and a Go server
// (x/net/http2 for h2, net/http for http/1.1) and returns the recording.
func recordGoSession(t testing.TB, cfg sessionConfig) *recorded {
	t.Helper()
	p := mustPKI(t)
	cc, sc := memPipe()
	srvDone := make(chan struct{})
	stls := tls.Server(sc, serverConfig(p, cfg))
	var ln *oneConnListener
	switch cfg.alpn {
	case "h2":
		go func() {
			defer close(srvDone)
			if err := stls.Handshake(); err != nil {
				return
			}
			(&http2.Server{}).ServeConn(stls, &http2.ServeConnOpts{Handler: http.NotFoundHandler()})
			stls.Close()
		}()
	case "http/1.1":
		n := 0
		var mu sync.Mutex
		srv := &http.Server{
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				i := n
				mu.Unlock()
				if cfg.closeAfter > 0 && i == cfg.closeAfter {
					w.Header().Set("Connection", "close")
				}
				io.Copy(io.Discard, r.Body)
				switch r.URL.Path {
				case "/chunked":
					w.Write([]byte("first part "))
					w.(http.Flusher).Flush()
					w.Write([]byte("second part"))
				default:
					w.Header().Set("Content-Length", "4")
					w.Write([]byte("pong"))
				}
			}),
		}
		ln = &oneConnListener{c: stls, done: make(chan struct{})}
		go func() {
			defer close(srvDone)
			srv.Serve(ln)
		}()
	default:
		t.Fatalf("unknown alpn %q", cfg.alpn)
	}
	kl := &syncBuffer{}
	rec := &recorder{Conn: cc, clock: &fakeClock{}}
	c := tls.Client(rec, clientConfig(p, kl, cfg))
	if err := c.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	st := c.ConnectionState()
	answered := 0
	var err error
	switch cfg.alpn {
	case "h2":
		answered, err = h2Client(c, cfg)
	case "http/1.1":
		answered, err = http1Client(c, cfg)
	}
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	c.CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
	if ln != nil {
		ln.Close()
	}
	<-srvDone
	return &recorded{Session: rec.session(kl.Bytes()), roots: p.roots, suite: st.CipherSuite, alpn: st.NegotiatedProtocol, echoes: answered}
}

// h2Client sends the preface and SETTINGS, then cfg.echoes PINGs one at a
// time, each with the nonce-derived payload, and waits for each ACK. It
// ACKs the server's own PINGs. With goAwayAfter it then sends a DATA frame
// on stream 0, which the server answers with GOAWAY(PROTOCOL_ERROR), and
// one more PING that stays unanswered.
func h2Client(c io.ReadWriter, cfg sessionConfig) (int, error) {
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, err
	}
	fr := http2.NewFramer(c, c)
	fr.AllowIllegalWrites = true // for the DATA frame on stream 0
	if err := fr.WriteSettings(); err != nil {
		return 0, err
	}
	answered := 0
	wait := func(want [8]byte) (bool, error) {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return false, err
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					if err := fr.WriteSettingsAck(); err != nil {
						return false, err
					}
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					if err := fr.WritePing(true, f.Data); err != nil {
						return false, err
					}
					continue
				}
				if f.Data != want {
					return false, fmt.Errorf("PING ACK %x, want %x", f.Data, want)
				}
				return true, nil
			case *http2.GoAwayFrame:
				return false, nil
			}
		}
	}
	for i := 0; i < cfg.echoes; i++ {
		if cfg.goAwayAfter > 0 && i == cfg.goAwayAfter {
			// DATA on stream 0 is a connection error: the server sends
			// GOAWAY and closes.
			if err := fr.WriteData(0, false, []byte("x")); err != nil {
				return answered, err
			}
			payload := PingPayload(testNonce, cfg.echoBase+uint32(i))
			if err := fr.WritePing(false, payload); err != nil {
				return answered, err
			}
			if ok, err := wait([8]byte{}); err != nil || ok {
				return answered, fmt.Errorf("expected GOAWAY, got ok=%v err=%v", ok, err)
			}
			return answered, nil
		}
		payload := PingPayload(testNonce, cfg.echoBase+uint32(i))
		if err := fr.WritePing(false, payload); err != nil {
			return answered, err
		}
		ok, err := wait(payload)
		if err != nil {
			return answered, err
		}
		if !ok {
			return answered, nil
		}
		answered++
	}
	return answered, nil
}

// http1Client sends cfg.echoes keep-alive requests, each with the echo
// header, cycling through GET, HEAD, POST with a body, and GET of a chunked
// response.
func http1Client(c io.ReadWriter, cfg sessionConfig) (int, error) {
	br := bufio.NewReader(c)
	answered := 0
	for i := 0; i < cfg.echoes; i++ {
		var req *http.Request
		var err error
		switch i % 4 {
		case 0:
			req, err = http.NewRequest("GET", "https://"+testHost+"/echo", nil)
		case 1:
			req, err = http.NewRequest("HEAD", "https://"+testHost+"/echo", nil)
		case 2:
			req, err = http.NewRequest("POST", "https://"+testHost+"/echo", strings.NewReader("a small body"))
		case 3:
			req, err = http.NewRequest("GET", "https://"+testHost+"/chunked", nil)
		}
		if err != nil {
			return answered, err
		}
		req.Header.Set(EchoHeader, HTTP1Token(testNonce, cfg.echoBase+uint32(i)))
		if err := req.Write(c); err != nil {
			return answered, err
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return answered, err
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return answered, err
		}
		resp.Body.Close()
		answered++
		if resp.Close {
			break
		}
	}
	return answered, nil
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	mu   sync.Mutex
	c    net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, errors.New("listener closed")
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return memAddr("listener") }
