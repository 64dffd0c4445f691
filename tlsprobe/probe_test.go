package tlsprobe

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/transcript"
)

const testHost = "probe.test"

// pki is a throwaway CA with a leaf for testHost.
type pki struct {
	roots *x509.CertPool
	leaf  tls.Certificate
}

func newPKI(t testing.TB, names ...string) *pki {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		names = []string{testHost}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &pki{roots: pool, leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// listen starts a TLS listener on loopback and returns a dialer that sends
// every name to it.
func listen(t testing.TB, cfg *tls.Config) (net.Listener, DialFunc) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return tls.NewListener(ln, cfg), dial
}

// echoLog records the echo tokens an HTTP/1.1 server saw.
type echoLog struct {
	mu     sync.Mutex
	tokens []string
}

// startHTTP starts a net/http server: with h2 when h2 is true, else
// HTTP/1.1 only. closeAfter > 0 answers "Connection: close" on every
// closeAfter-th request of a connection.
func startHTTP(t testing.TB, p *pki, h2 bool, closeAfter int) (DialFunc, *echoLog) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.leaf}, MinVersion: tls.VersionTLS12}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	if h2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
		if err := http2.ConfigureServer(srv, &http2.Server{}); err != nil {
			t.Fatal(err)
		}
	} else {
		cfg.NextProtos = []string{"http/1.1"}
	}
	seen := &echoLog{}
	type ctxKey struct{}
	srv.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, ctxKey{}, new(atomic.Int64))
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.tokens = append(seen.tokens, r.Header.Get(transcript.EchoHeader))
		seen.mu.Unlock()
		n := r.Context().Value(ctxKey{}).(*atomic.Int64).Add(1)
		if closeAfter > 0 && n%int64(closeAfter) == 0 {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, "ok")
	})
	ln, dial := listen(t, cfg)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return dial, seen
}

func testNonce(b byte) [32]byte {
	var n [32]byte
	for i := range n {
		n[i] = b + byte(i)
	}
	return n
}

// clientRandomOnWire parses the first ClientHello in c2s by hand, without
// the transcript package, and returns its random.
func clientRandomOnWire(t *testing.T, c2s []byte) []byte {
	t.Helper()
	// record header (5) | handshake type 1 (1) | length (3) | version (2) | random (32)
	if len(c2s) < 43 || c2s[0] != 22 || c2s[5] != 1 {
		t.Fatalf("c2s does not start with a ClientHello record: % x", c2s[:min(len(c2s), 16)])
	}
	return c2s[11:43]
}

func TestProbeH2(t *testing.T) {
	p := newPKI(t)
	dial, _ := startHTTP(t, p, true, 0)
	nonce := testNonce(1)
	res, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: nonce, Echoes: 8, Roots: p.roots, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conns) != 1 || len(res.Echoes) != 8 {
		t.Fatalf("%d conns, %d echoes; want 1, 8", len(res.Conns), len(res.Echoes))
	}
	c := res.Conns[0]
	if c.ALPN != "h2" || c.Method != MethodH2Ping || c.Stop != "done" {
		t.Errorf("ALPN %q method %q stop %q; want h2, h2-ping, done", c.ALPN, c.Method, c.Stop)
	}
	if c.HandshakeCycles == 0 || res.MinEchoNs <= 0 || res.MedianEchoNs < res.MinEchoNs {
		t.Errorf("handshake %d cycles, echo min %v median %v", c.HandshakeCycles, res.MinEchoNs, res.MedianEchoNs)
	}
	for i, e := range res.Echoes {
		if e.Index != uint32(i) || e.Cycles == 0 {
			t.Errorf("echo %d: %+v", i, e)
		}
	}
	want := transcript.ClientRandom(nonce, 0)
	if got := clientRandomOnWire(t, c.Session.C2S); !bytes.Equal(got, want[:]) {
		t.Fatalf("ClientHello random %x, want the nonce-derived %x", got, want)
	}
	if c.KernelRTT == nil || c.KernelRTT.MinRTT <= 0 {
		t.Errorf("no kernel RTT: %+v", c.KernelRTT)
	}
	for _, label := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		if !bytes.Contains(c.Session.KeyLog, []byte(label+" ")) {
			t.Errorf("key log lacks %s", label)
		}
	}
	if len(c.Chain) != 1 || c.Chain[0].Subject.CommonName != testHost {
		t.Errorf("chain %v", c.Chain)
	}
	// A third party re-checks the session with the transcript package alone.
	r, err := transcript.Verify(c.Session, transcript.Options{ServerName: testHost, Roots: p.roots, At: time.Now(), Nonce: &nonce})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Echoes) != 8 || r.Echoes[3].RTTCycles != res.Echoes[3].Cycles {
		t.Fatalf("re-check found %d echoes; echo 3 %d cycles vs probe's %d", len(r.Echoes), r.Echoes[3].RTTCycles, res.Echoes[3].Cycles)
	}
}

func TestProbeHTTP1(t *testing.T) {
	p := newPKI(t)
	dial, log := startHTTP(t, p, false, 0)
	nonce := testNonce(2)
	res, err := Probe(context.Background(), Config{Endpoint: testHost + ":8443", Nonce: nonce, Echoes: 5, Roots: p.roots, Dial: dial,
		HTTP1: HTTP1Request{Method: "HEAD", Path: "/bucket/region-object", Header: http.Header{"X-Extra": {"1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Echoes) != 5 || res.Conns[0].Method != MethodHTTP1 || res.Conns[0].ALPN != "http/1.1" {
		t.Fatalf("%d echoes, method %q, ALPN %q", len(res.Echoes), res.Conns[0].Method, res.Conns[0].ALPN)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for i, tok := range log.tokens {
		if want := transcript.HTTP1Token(nonce, uint32(i)); tok != want {
			t.Errorf("request %d carried token %q, want %q", i, tok, want)
		}
	}
	if !bytes.Contains(res.Conns[0].Session.C2S, []byte{23, 3, 3}) {
		t.Error("no application data records")
	}
}

func TestProbeBudgetSpreadsEchoes(t *testing.T) {
	p := newPKI(t)
	dial, _ := startHTTP(t, p, true, 0)
	nonce := testNonce(3)
	res, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: nonce, Echoes: 8, Roots: p.roots, Dial: dial,
		Budget: Budget{EchoesPerConn: 3}})
	if err != nil {
		t.Fatal(err)
	}
	wantEchoes, wantBase := []int{3, 3, 2}, []uint32{0, 3, 6}
	if len(res.Conns) != 3 {
		t.Fatalf("%d connections, want 3", len(res.Conns))
	}
	for i, c := range res.Conns {
		if c.Echoes != wantEchoes[i] || c.EchoBase != wantBase[i] {
			t.Errorf("conn %d: %d echoes from %d; want %d from %d", i, c.Echoes, c.EchoBase, wantEchoes[i], wantBase[i])
		}
		want := transcript.ClientRandom(nonce, uint32(i))
		if got := clientRandomOnWire(t, c.Session.C2S); !bytes.Equal(got, want[:]) {
			t.Errorf("conn %d: ClientHello random %x, want %x", i, got, want)
		}
	}
	for i, e := range res.Echoes {
		if e.Index != uint32(i) {
			t.Errorf("echo %d has index %d", i, e.Index)
		}
	}
}

// Spacing is a lower bound on elapsed time: safe to assert on a busy machine.
func TestProbeSpacing(t *testing.T) {
	p := newPKI(t)
	dial, _ := startHTTP(t, p, true, 0)
	start := time.Now()
	_, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: testNonce(4), Echoes: 3, Roots: p.roots, Dial: dial,
		Budget: Budget{MinSpacing: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("3 echoes spaced 20ms took %v", el)
	}
}

func TestProbeConnectionClose(t *testing.T) {
	p := newPKI(t)
	dial, _ := startHTTP(t, p, false, 2)
	res, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: testNonce(5), Echoes: 5, Roots: p.roots, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conns) != 3 || res.Conns[0].Stop != "connection-close" || res.Conns[2].Stop != "done" || len(res.Echoes) != 5 {
		t.Fatalf("conns %d (%q … %q), echoes %d", len(res.Conns), res.Conns[0].Stop, res.Conns[len(res.Conns)-1].Stop, len(res.Echoes))
	}
}

// goawayServer speaks just enough HTTP/2 to answer maxPings PINGs per
// connection and then send GOAWAY, as Google front ends do on excess PINGs.
func goawayServer(t *testing.T, p *pki, maxPings int) DialFunc {
	t.Helper()
	ln, dial := listen(t, &tls.Config{Certificates: []tls.Certificate{p.leaf}, NextProtos: []string{"h2"}})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(c, preface); err != nil {
					return
				}
				fr := http2.NewFramer(c, c)
				_ = fr.WriteSettings()
				pings := 0
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						return
					}
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							_ = fr.WriteSettingsAck()
						}
					case *http2.PingFrame:
						if f.IsAck() {
							continue
						}
						if pings == maxPings {
							_ = fr.WriteGoAway(0, http2.ErrCodeEnhanceYourCalm, []byte("too_many_pings"))
							// Drain until the client closes.
							_, _ = io.Copy(io.Discard, c)
							return
						}
						pings++
						_ = fr.WritePing(true, f.Data)
					}
				}
			}(c)
		}
	}()
	return dial
}

func TestProbeGoAway(t *testing.T) {
	p := newPKI(t)
	dial := goawayServer(t, p, 2)
	res, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: testNonce(6), Echoes: 5, Roots: p.roots, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Echoes) != 5 || len(res.Conns) != 3 || res.Conns[0].Stop != "goaway" {
		t.Fatalf("%d echoes over %d conns, first stopped by %q", len(res.Echoes), len(res.Conns), res.Conns[0].Stop)
	}
}

func TestProbeGoAwayBeforeFirstEcho(t *testing.T) {
	p := newPKI(t)
	dial := goawayServer(t, p, 0)
	_, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: testNonce(7), Echoes: 2, Roots: p.roots, Dial: dial})
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("err = %v, want ErrBudget", err)
	}
}

func TestProbeErrors(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t, "other.test")
	h2Dial, _ := startHTTP(t, p, true, 0)
	h1Dial, _ := startHTTP(t, p, false, 0)
	wrongName, _ := startHTTP(t, other, true, 0)
	tls12, tls12Dial := listen(t, &tls.Config{Certificates: []tls.Certificate{p.leaf}, MaxVersion: tls.VersionTLS12})
	go func() {
		for {
			c, err := tls12.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	refused := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, "127.0.0.1:1")
	}
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"negative echoes", Config{Endpoint: testHost, Echoes: -1}, ErrConfig},
		{"too many echoes", Config{Endpoint: testHost, Echoes: MaxEchoes + 1}, ErrConfig},
		{"unknown method", Config{Endpoint: testHost, Method: "smoke-signal"}, ErrConfig},
		{"bad port", Config{Endpoint: testHost + ":99999"}, ErrConfig},
		{"no endpoint", Config{}, ErrConfig},
		{"header injection", Config{Endpoint: testHost, HTTP1: HTTP1Request{Header: http.Header{"X": {"a\r\nEvil: 1"}}}}, ErrConfig},
		{"echo header reserved", Config{Endpoint: testHost, HTTP1: HTTP1Request{Header: http.Header{"poc-echo": {"x"}}}}, ErrConfig},
		{"bad path", Config{Endpoint: testHost, HTTP1: HTTP1Request{Path: "no-slash"}}, ErrConfig},
		{"negative budget", Config{Endpoint: testHost, Budget: Budget{EchoesPerConn: -1}}, ErrConfig},
		{"refused", Config{Endpoint: testHost, Echoes: 1, Roots: p.roots, Dial: refused}, ErrDial},
		{"untrusted root", Config{Endpoint: testHost, Echoes: 1, Roots: other.roots, Dial: h2Dial}, ErrHandshake},
		{"wrong name", Config{Endpoint: testHost, Echoes: 1, Roots: other.roots, Dial: wrongName}, ErrHandshake},
		{"no TLS 1.3", Config{Endpoint: testHost, Echoes: 1, Roots: p.roots, Dial: tls12Dial}, ErrNoTLS13},
		{"h2-ping to an HTTP/1.1 server", Config{Endpoint: testHost, Echoes: 1, Method: MethodH2Ping, Roots: p.roots, Dial: h1Dial}, ErrALPN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 5 * time.Second
			_, err := Probe(context.Background(), tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// fakeClock advances by step on every reading: RTTs become exact multiples
// of step, and the frequency passes through to the result.
type fakeClock struct {
	mu   sync.Mutex
	now  uint64
	step uint64
}

func (c *fakeClock) Now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += c.step
	return c.now
}

func (c *fakeClock) Frequency() timing.Frequency {
	return timing.Frequency{Hz: 1_000_000_000, Source: timing.SourceCPUID15}
}

func TestProbeInjectedClock(t *testing.T) {
	p := newPKI(t)
	dial, _ := startHTTP(t, p, true, 0)
	res, err := Probe(context.Background(), Config{Endpoint: testHost, Nonce: testNonce(8), Echoes: 4, Roots: p.roots, Dial: dial,
		Clock: &fakeClock{step: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frequency.Source != timing.SourceCPUID15 {
		t.Fatalf("frequency %v did not come from the injected clock", res.Frequency)
	}
	for _, e := range res.Echoes {
		if e.Cycles == 0 || e.Cycles%1000 != 0 || e.Ns != float64(e.Cycles) {
			t.Fatalf("echo %+v is not a multiple of the fake clock's step", e)
		}
	}
}

func TestSplitEndpoint(t *testing.T) {
	tests := []struct{ in, host, addr string }{
		{"a.example", "a.example", "a.example:443"},
		{"a.example:8443", "a.example", "a.example:8443"},
		{"[::1]", "::1", "[::1]:443"},
		{"[::1]:443", "::1", "[::1]:443"},
	}
	for _, tt := range tests {
		h, a, err := SplitEndpoint(tt.in)
		if err != nil || h != tt.host || a != tt.addr {
			t.Errorf("SplitEndpoint(%q) = %q, %q, %v", tt.in, h, a, err)
		}
	}
	for _, bad := range []string{"", ":443", "a:0", "a:x", "[::1"} {
		if _, _, err := SplitEndpoint(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("SplitEndpoint(%q) err = %v, want ErrConfig", bad, err)
		}
	}
}

func TestCompleteRecords(t *testing.T) {
	rec := func(n int) []byte { return append([]byte{23, 3, 3, byte(n >> 8), byte(n)}, make([]byte, n)...) }
	b := append(rec(3), rec(10)...)
	for cut := 0; cut <= len(b); cut++ {
		got := completeRecords(b[:cut])
		want := 0
		if cut >= 8 {
			want = 8
		}
		if cut == len(b) {
			want = len(b)
		}
		if got != want {
			t.Errorf("cut %d: %d, want %d", cut, got, want)
		}
	}
}
