package tlsprobe

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/transcript"
)

// KernelRTT is the kernel's own estimate of the connection's round trip
// (TCP_INFO), reported beside the probe's figures as a diagnostic. It is not
// evidence: nothing binds it to the session.
type KernelRTT struct {
	SmoothedRTT time.Duration `json:"srtt_ns"`
	RTTVar      time.Duration `json:"rttvar_ns"`
	MinRTT      time.Duration `json:"min_rtt_ns"`
}

// Conn is one TLS connection of a probe.
type Conn struct {
	Index       uint32 `json:"index"`
	Address     string `json:"address"`
	ALPN        string `json:"alpn"`
	Method      Method `json:"method"`
	CipherSuite string `json:"cipher_suite"`
	// HandshakeCycles runs from the ClientHello written to the server
	// Finished received.
	HandshakeCycles uint64  `json:"handshake_cycles"`
	HandshakeNs     float64 `json:"handshake_ns"`
	// EchoBase is the index of this connection's first echo in the probe.
	EchoBase uint32 `json:"echo_base"`
	Echoes   int    `json:"echoes"`
	// Stop says why the connection ended: "done", "budget", "goaway" or
	// "connection-close".
	Stop      string     `json:"stop"`
	KernelRTT *KernelRTT `json:"kernel_rtt,omitempty"`
	Started   time.Time  `json:"started"`
	// Session is the evidence: bytes, timestamps and key log.
	Session transcript.Session `json:"-"`
	// Chain is the server's certificate chain as sent, leaf first.
	Chain []*x509.Certificate `json:"-"`
}

// Sample is one timed echo.
type Sample struct {
	Index  uint32  `json:"index"`
	Conn   uint32  `json:"conn"`
	Cycles uint64  `json:"cycles"`
	Ns     float64 `json:"ns"`
	// KernelNs is the same round trip from the request's write to the
	// kernel's receive timestamp of the answer, which leaves out the
	// probe's wake-up; 0 where the kernel gives no timestamps.
	KernelNs int64 `json:"kernel_ns,omitempty"`
}

// Result is what a probe measured, with the evidence for it.
type Result struct {
	Endpoint   string           `json:"endpoint"`
	ServerName string           `json:"server_name"`
	Nonce      string           `json:"nonce"`
	Counter    timing.Kind      `json:"counter"`
	Frequency  timing.Frequency `json:"frequency"`
	Conns      []Conn           `json:"conns"`
	Echoes     []Sample         `json:"echoes"`
	// MinEchoNs and MedianEchoNs summarise Echoes (0 when there are none).
	MinEchoNs    float64 `json:"min_echo_ns"`
	MedianEchoNs float64 `json:"median_echo_ns"`
	// MinEchoKernelNs and MedianEchoKernelNs summarise the echoes' kernel
	// round trips, when every echo has one.
	MinEchoKernelNs    float64 `json:"min_echo_kernel_ns,omitempty"`
	MedianEchoKernelNs float64 `json:"median_echo_kernel_ns,omitempty"`
}

// Probe runs one probe of one endpoint: K echoes over as many connections as
// the budget needs, each connection's evidence re-checked before it counts.
func Probe(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	host, addr, err := SplitEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	p := &prober{cfg: cfg, host: host, addr: addr}
	p.defaults()
	if p.roots == nil {
		if p.roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("%w: loading system roots: %v", ErrConfig, err)
		}
	}
	freq := p.clock.Frequency()
	res := &Result{
		Endpoint:   cfg.Endpoint,
		ServerName: host,
		Nonce:      hex.EncodeToString(cfg.Nonce[:]),
		Counter:    timing.CounterKind(),
		Frequency:  freq,
	}
	remaining := cfg.Echoes
	for conn := 0; ; conn++ {
		if conn >= p.maxConns {
			return res, fmt.Errorf("%w: %d of %d echoes done after %d connections", ErrBudget, cfg.Echoes-remaining, cfg.Echoes, conn)
		}
		want := remaining
		if per := cfg.Budget.EchoesPerConn; per > 0 && want > per {
			want = per
		}
		c, err := p.conn(ctx, uint32(conn), uint32(cfg.Echoes-remaining), want)
		if err != nil {
			return res, err
		}
		res.Conns = append(res.Conns, *c)
		remaining -= c.Echoes
		if remaining == 0 {
			break
		}
		if c.Echoes == 0 {
			return res, fmt.Errorf("%w: connection %d ended (%s) before its first echo", ErrBudget, conn, c.Stop)
		}
	}
	for _, c := range res.Conns {
		res.Echoes = append(res.Echoes, p.samples[c.Index]...)
	}
	res.MinEchoNs, res.MedianEchoNs = summarise(res.Echoes, func(s Sample) float64 { return s.Ns })
	res.MinEchoKernelNs, res.MedianEchoKernelNs = summarise(res.Echoes, func(s Sample) float64 { return float64(s.KernelNs) })
	return res, nil
}

// summarise returns the min and median of f over the samples, or zeros when
// there are none or f is zero for any of them.
func summarise(s []Sample, f func(Sample) float64) (min, median float64) {
	ns := make([]float64, len(s))
	for i, e := range s {
		if ns[i] = f(e); ns[i] == 0 {
			return 0, 0
		}
	}
	if len(ns) == 0 {
		return 0, 0
	}
	sort.Float64s(ns)
	if n := len(ns); n%2 == 1 {
		median = ns[n/2]
	} else {
		median = (ns[n/2-1] + ns[n/2]) / 2
	}
	return ns[0], median
}

type prober struct {
	cfg       Config
	host      string
	addr      string
	clock     timing.Clock
	dial      DialFunc
	roots     *x509.CertPool
	now       func() time.Time
	timeout   time.Duration
	maxConns  int
	lastEcho  time.Time
	samples   map[uint32][]Sample
	freqCache timing.Frequency
}

func (p *prober) defaults() {
	p.clock = p.cfg.Clock
	if p.clock == nil {
		p.clock = timing.System()
	}
	p.dial = p.cfg.Dial
	if p.dial == nil {
		d := &net.Dialer{}
		p.dial = d.DialContext
	}
	p.roots = p.cfg.Roots
	p.now = p.cfg.Now
	if p.now == nil {
		p.now = time.Now
	}
	p.timeout = p.cfg.Timeout
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	p.maxConns = p.cfg.Budget.MaxConns
	if p.maxConns == 0 {
		p.maxConns = DefaultMaxConns
	}
	p.samples = make(map[uint32][]Sample)
	p.freqCache = p.clock.Frequency()
}

// helloRand feeds crypto/tls the nonce-derived ClientHello random on its
// first read, and the system's randomness after that (session ID, key
// shares). crypto/tls reads the random first; a test that parses the
// ClientHello on the wire holds it to that.
type helloRand struct {
	random [32]byte
	used   bool
}

func (h *helloRand) Read(b []byte) (int, error) {
	if !h.used {
		h.used = true
		if len(b) != len(h.random) {
			return 0, fmt.Errorf("tlsprobe: first read from Rand is %d bytes, not the 32-byte ClientHello random", len(b))
		}
		return copy(b, h.random[:]), nil
	}
	return rand.Read(b)
}

// conn runs one connection: dial, handshake, up to want echoes, close, then
// re-checks the recorded session.
func (p *prober) conn(ctx context.Context, index, echoBase uint32, want int) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	started := p.now()
	raw, err := p.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDial, p.addr, err)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	rec := newRecorder(raw, p.clock)
	var keylog bytes.Buffer
	tlsCfg := &tls.Config{
		ServerName:   p.host,
		RootCAs:      p.roots,
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		NextProtos:   p.alpn(),
		KeyLogWriter: &keylog,
		Rand:         &helloRand{random: transcript.ClientRandom(p.cfg.Nonce, index)},
		Time:         p.now,
	}
	tc := tls.Client(rec, tlsCfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if noTLS13(rec.s2c) {
			return nil, fmt.Errorf("%w: %s: %v", ErrNoTLS13, p.cfg.Endpoint, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrHandshake, p.cfg.Endpoint, err)
	}
	st := tc.ConnectionState()
	c := &Conn{
		Index:       index,
		Address:     raw.RemoteAddr().String(),
		ALPN:        st.NegotiatedProtocol,
		CipherSuite: tls.CipherSuiteName(st.CipherSuite),
		EchoBase:    echoBase,
		Started:     started,
		Chain:       st.PeerCertificates,
	}
	method, err := p.method(c.ALPN)
	if err != nil {
		return nil, err
	}
	c.Method = method
	if want > 0 {
		switch method {
		case MethodH2Ping:
			c.Echoes, c.Stop, err = p.h2Echoes(tc, echoBase, want)
		case MethodHTTP1:
			c.Echoes, c.Stop, err = p.http1Echoes(tc, echoBase, want)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s connection %d: %v", ErrEcho, p.cfg.Endpoint, index, err)
		}
	} else {
		c.Stop = "done"
	}
	if k, err := kernelRTT(raw); err == nil {
		c.KernelRTT = k
	}
	// close_notify, then the socket: a clean end the verifier can see.
	_ = tc.Close()
	c.Session = rec.session(keylog.Bytes())
	if err := p.selfCheck(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *prober) alpn() []string {
	if p.cfg.Method == MethodHTTP1 {
		// Offering h2 would let the server pick a protocol the http1
		// method cannot use.
		return []string{"http/1.1"}
	}
	return []string{"h2", "http/1.1"}
}

func (p *prober) method(alpn string) (Method, error) {
	switch p.cfg.Method {
	case MethodH2Ping:
		if alpn != "h2" {
			return "", fmt.Errorf("%w: %s selected %q, h2-ping needs h2", ErrALPN, p.cfg.Endpoint, alpn)
		}
		return MethodH2Ping, nil
	case MethodHTTP1:
		if alpn != "" && alpn != "http/1.1" {
			return "", fmt.Errorf("%w: %s selected %q, http1 needs http/1.1", ErrALPN, p.cfg.Endpoint, alpn)
		}
		return MethodHTTP1, nil
	}
	if alpn == "h2" {
		return MethodH2Ping, nil
	}
	return MethodHTTP1, nil
}

// pace waits until the budget's minimum spacing since the previous echo has
// passed.
func (p *prober) pace() {
	if p.cfg.Budget.MinSpacing <= 0 || p.lastEcho.IsZero() {
		p.lastEcho = time.Now()
		return
	}
	if d := p.cfg.Budget.MinSpacing - time.Since(p.lastEcho); d > 0 {
		time.Sleep(d)
	}
	p.lastEcho = time.Now()
}

// selfCheck verifies the recorded session exactly as a verifier would and
// takes the handshake and echo round trips from that verification.
func (p *prober) selfCheck(c *Conn) error {
	nonce := p.cfg.Nonce
	r, err := transcript.Verify(c.Session, transcript.Options{
		ServerName: p.host,
		Roots:      p.roots,
		At:         p.now(),
		Nonce:      &nonce,
		ConnIndex:  c.Index,
		EchoBase:   c.EchoBase,
	})
	if err != nil {
		return fmt.Errorf("%w: %s connection %d: %w", ErrSelfCheck, p.cfg.Endpoint, c.Index, err)
	}
	if len(r.Echoes) != c.Echoes {
		return fmt.Errorf("%w: %s connection %d: %d echoes timed, %d found in the transcript", ErrSelfCheck, p.cfg.Endpoint, c.Index, c.Echoes, len(r.Echoes))
	}
	f := p.freqCache
	c.HandshakeCycles = r.HandshakeCycles
	c.HandshakeNs = f.Nanoseconds(r.HandshakeCycles)
	for _, e := range r.Echoes {
		p.samples[c.Index] = append(p.samples[c.Index], Sample{Index: e.Index, Conn: c.Index, Cycles: e.RTTCycles, Ns: f.Nanoseconds(e.RTTCycles), KernelNs: e.RTTKernelNs})
	}
	return nil
}

// noTLS13 reports whether the server's first bytes refuse TLS 1.3: a
// protocol_version alert, or a ServerHello that does not select 1.3.
func noTLS13(s2c []byte) bool {
	v, err := transcript.ServerVersion(s2c)
	if err != nil {
		return errors.Is(err, transcript.ErrNotTLS13)
	}
	return v != tls.VersionTLS13
}
