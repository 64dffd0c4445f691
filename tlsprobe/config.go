package tlsprobe

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/transcript"
)

// Method is how a probe times an echo.
type Method string

// Echo methods.
const (
	// MethodAuto uses PINGs when the server selected h2, else http1.
	MethodAuto Method = "auto"
	// MethodH2Ping sends HTTP/2 PING frames (RFC 9113 §6.7).
	MethodH2Ping Method = "h2-ping"
	// MethodHTTP1 sends small HTTP/1.1 keep-alive requests.
	MethodHTTP1 Method = "http1"
)

// ParseMethod parses an echo method name.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case MethodAuto, MethodH2Ping, MethodHTTP1:
		return m, nil
	case "":
		return MethodAuto, nil
	}
	return "", fmt.Errorf("%w: unknown echo method %q (want auto, h2-ping or http1)", ErrConfig, s)
}

// HTTP1Request is the request an http1 echo sends. The nonce-derived token is
// always added in the transcript.EchoHeader header.
type HTTP1Request struct {
	// Method defaults to GET.
	Method string `json:"method,omitempty"`
	// Path defaults to "/". An endpoint whose certificate serves every region
	// needs a path only its region can answer (a region-binding request).
	Path string `json:"path,omitempty"`
	// Header is added to every request. Host defaults to the server name.
	Header http.Header `json:"header,omitempty"`
}

// Budget limits how hard a probe may press one server. Servers ration PINGs
// (Google front ends answer excess with GOAWAY too_many_pings) and requests
// per connection, so K echoes may need several connections.
type Budget struct {
	// EchoesPerConn caps echoes on one connection; 0 means no cap.
	EchoesPerConn int `json:"echoes_per_conn,omitempty"`
	// MinSpacing is the least time between two echoes to the endpoint.
	MinSpacing time.Duration `json:"min_spacing,omitempty"`
	// MaxConns caps the connections one probe opens; 0 means
	// DefaultMaxConns.
	MaxConns int `json:"max_conns,omitempty"`
}

// DefaultMaxConns bounds the connections of one probe unless its Budget says
// otherwise.
const DefaultMaxConns = 64

// DefaultEchoesPerConn is the connection size proofs and calibration
// campaigns use unless told otherwise: a probe's K echoes go over
// connections of this many. Connections, not echoes, are the independent
// draws of a latency profile (a whole connection runs slow on a busy core or
// an unlucky ECMP path), so several short connections state a tighter
// threshold at the same false-reject rate than one long one.
const DefaultEchoesPerConn = 4

// ConnSize is the echoes per connection a probe uses: want (0 meaning
// DefaultEchoesPerConn), capped by the endpoint's own budget when it has
// one (catalog > 0).
func ConnSize(want, catalog int) int {
	if want == 0 {
		want = DefaultEchoesPerConn
	}
	if catalog > 0 && catalog < want {
		return catalog
	}
	return want
}

// DialFunc opens a TCP connection. The lab and tests inject one to route a
// name to a loopback address; the default is a net.Dialer. For TCP_INFO the
// returned connection must implement syscall.Conn (as *net.TCPConn does).
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Config describes one probe.
type Config struct {
	// Endpoint is HOST[:PORT]; the port defaults to 443. HOST is the TLS
	// server name.
	Endpoint string
	// Nonce seeds the ClientHello randoms and the echo payloads.
	Nonce [32]byte
	// Echoes is K, the number of echoes to time (0 times only handshakes).
	Echoes int
	// Method defaults to MethodAuto.
	Method Method
	// HTTP1 is the request of http1 echoes.
	HTTP1 HTTP1Request
	// Budget spreads the echoes over connections.
	Budget Budget
	// Roots verifies the server's chain; nil means the system pool.
	Roots *x509.CertPool
	// Dial opens TCP connections; nil means a net.Dialer.
	Dial DialFunc
	// Clock reads the cycle counter; nil means timing.System().
	Clock timing.Clock
	// Timeout bounds each connection (dial, handshake and echoes); zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Now is the time at which the probe re-checks its own evidence; nil
	// means time.Now.
	Now func() time.Time
}

// DefaultTimeout bounds one connection unless Config says otherwise.
const DefaultTimeout = 30 * time.Second

// MaxEchoes bounds K: a probe is a measurement, not a load test.
const MaxEchoes = 10000

// SplitEndpoint splits HOST[:PORT] into the server name and the dial address.
func SplitEndpoint(endpoint string) (host, addr string, err error) {
	if endpoint == "" {
		return "", "", fmt.Errorf("%w: no endpoint", ErrConfig)
	}
	host, port := endpoint, "443"
	switch h, p, err := net.SplitHostPort(endpoint); {
	case err == nil:
		host, port = h, p
	case strings.HasPrefix(endpoint, "["):
		if !strings.HasSuffix(endpoint, "]") {
			return "", "", fmt.Errorf("%w: endpoint %q: %v", ErrConfig, endpoint, err)
		}
		host = endpoint[1 : len(endpoint)-1]
	case strings.Count(endpoint, ":") == 1:
		return "", "", fmt.Errorf("%w: endpoint %q: %v", ErrConfig, endpoint, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("%w: endpoint %q: bad port %q", ErrConfig, endpoint, port)
	}
	if host == "" {
		return "", "", fmt.Errorf("%w: endpoint %q has no host", ErrConfig, endpoint)
	}
	return host, net.JoinHostPort(host, port), nil
}

func (c *Config) check() error {
	if c.Echoes < 0 || c.Echoes > MaxEchoes {
		return fmt.Errorf("%w: echoes %d not in [0, %d]", ErrConfig, c.Echoes, MaxEchoes)
	}
	if _, err := ParseMethod(string(c.Method)); err != nil {
		return err
	}
	if c.Budget.EchoesPerConn < 0 || c.Budget.MaxConns < 0 || c.Budget.MinSpacing < 0 {
		return fmt.Errorf("%w: negative budget %+v", ErrConfig, c.Budget)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrConfig)
	}
	if m := c.HTTP1.Method; m != "" && !validToken(m) {
		return fmt.Errorf("%w: bad HTTP method %q", ErrConfig, m)
	}
	if p := c.HTTP1.Path; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \r\n")) {
		return fmt.Errorf("%w: bad HTTP path %q", ErrConfig, p)
	}
	for k, vs := range c.HTTP1.Header {
		if !validToken(k) {
			return fmt.Errorf("%w: bad header name %q", ErrConfig, k)
		}
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(transcript.EchoHeader) {
			return fmt.Errorf("%w: header %q is set by the probe", ErrConfig, k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("%w: header %q has a line break", ErrConfig, k)
			}
		}
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 127 || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
