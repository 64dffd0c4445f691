package transcript

import (
	"crypto/x509"
	"net/http"
	"time"
)

// Stamp says that the bytes of one direction of a session from Offset on (up
// to the next Stamp's Offset) crossed the socket in one system call, and gives
// the cycle counter at that call: read just before a write was issued, or just
// after a read returned.
//
// KernelNs, optional, is the guest kernel's view of the same call in
// CLOCK_REALTIME nanoseconds: for a write, the clock read just before it; for
// a read, the kernel's software receive timestamp of the last segment the
// read returned (SO_TIMESTAMPNS), which precedes the reader's wake-up. Either
// every stamp of a session carries one or none does. A verifier may use the
// round trips derived from them only if it trusts the guest kernel (inside a
// TD it is measured) and after cross-checking them against the cycles.
type Stamp struct {
	Offset   int64  `json:"offset"`
	Cycles   uint64 `json:"cycles"`
	KernelNs int64  `json:"kernel_ns,omitempty"`
}

// Session is what the prover discloses about one TLS connection: the raw
// bytes each way, the NSS key log with the session's secrets, and optionally
// the cycle timestamps of the system calls that moved those bytes.
type Session struct {
	C2S      []byte  // client → server, as written to the TCP socket
	S2C      []byte  // server → client, as read from the TCP socket
	KeyLog   []byte  // NSS key log text; lines of other sessions are ignored
	C2STimes []Stamp // optional; if set, so must S2CTimes be
	S2CTimes []Stamp
}

// Options says what a Session must be checked against.
type Options struct {
	// ServerName is the name the leaf certificate must be valid for.
	ServerName string
	// Roots is the trust anchor pool for the server's chain. Required.
	Roots *x509.CertPool
	// At is the time at which the chain must be valid. Required: a verifier
	// chooses its time explicitly (the challenge time, or now).
	At time.Time
	// Nonce, if set, requires the ClientHello random to equal
	// ClientRandom(*Nonce, ConnIndex) and every echo to carry the value
	// derived from *Nonce and its index (EchoBase for the first echo of this
	// session, then counting up).
	Nonce     *[32]byte
	ConnIndex uint32
	EchoBase  uint32
	// MaxStreamBytes bounds each direction and the key log; zero means
	// DefaultMaxStreamBytes, a negative value is an error.
	MaxStreamBytes int
	// Chains, if set, remembers the certificate chains that verified, so
	// that sessions sharing a chain (the connections of one proof to one
	// endpoint) verify its signatures once. Share one between the
	// sessions of one verification; nil verifies every chain.
	Chains *ChainCache
}

// DefaultMaxStreamBytes bounds each direction of a session unless Options
// says otherwise. A probe's session is a handshake and a few dozen small
// echoes: kilobytes, not megabytes.
const DefaultMaxStreamBytes = 4 << 20

// Names of the checks, in the order Verify runs them.
const (
	CheckRecords           = "records"
	CheckClientHello       = "client_hello"
	CheckHandshakeDecrypt  = "handshake_decrypt"
	CheckCertificateChain  = "certificate_chain"
	CheckServerName        = "server_name"
	CheckCertificateVerify = "certificate_verify"
	CheckServerFinished    = "server_finished"
	CheckApplicationData   = "application_data"
	CheckEchoes            = "echoes"
	CheckTiming            = "timing"
)

// Check is the outcome of one named check. Err is the error that made it fail
// (nil when OK); Detail says in words what was found.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Err    error  `json:"-"`
}

// Direction of a record.
type Direction uint8

// Directions of a record.
const (
	ClientToServer Direction = iota
	ServerToClient
)

// Record is one TLS record of a session as found in the byte streams.
type Record struct {
	Dir    Direction `json:"dir"`
	Offset int64     `json:"offset"` // of the 5-byte header in its stream
	Length int       `json:"length"` // header included
	// Type is the outer content type; Inner the content type after
	// decryption (equal to Type for plaintext records), 0 if not decrypted.
	Type  uint8 `json:"type"`
	Inner uint8 `json:"inner"`
	// Cycles is the counter value at which the record was sent (c2s: the
	// write that carried its first byte) or received (s2c: the read that
	// delivered its last byte); 0 when the session has no timestamps.
	Cycles uint64 `json:"cycles,omitempty"`
	// KernelNs is the same moment by the kernel's clock (see Stamp), when
	// the session's stamps carry it.
	KernelNs int64 `json:"kernel_ns,omitempty"`
}

// Echo methods.
const (
	MethodH2Ping = "h2-ping"
	MethodHTTP1  = "http1"
)

// Echo is one authenticated round trip found in the application data.
type Echo struct {
	Index  uint32 `json:"index"`  // global echo index (EchoBase + position)
	Method string `json:"method"` // MethodH2Ping or MethodHTTP1
	// Value is the PING payload (hex) or the EchoHeader token.
	Value string `json:"value"`
	// Request and Answer index Result.Records: the record that carried the
	// request's first byte and the record that carried the answer's first byte.
	Request int `json:"request_record"`
	Answer  int `json:"answer_record"`
	// Status is the HTTP status of an http1 answer (0 for PINGs).
	Status int `json:"status,omitempty"`
	// HTTP is the http1 exchange as it went over the wire, for checks
	// that depend on what was asked and answered (a region-binding
	// request); nil for PINGs.
	HTTP *HTTPExchange `json:"http,omitempty"`
	// RTTCycles = Records[Answer].Cycles − Records[Request].Cycles, when the
	// session has timestamps.
	RTTCycles uint64 `json:"rtt_cycles,omitempty"`
	// RTTKernelNs = Records[Answer].KernelNs − Records[Request].KernelNs,
	// when the stamps carry kernel times.
	RTTKernelNs int64 `json:"rtt_kernel_ns,omitempty"`
}

// HTTPExchange is one HTTP/1.1 request and its response, as decrypted from a
// session.
type HTTPExchange struct {
	Host   string `json:"host"`
	Method string `json:"method"`
	// Target is the request target as sent (path and query).
	Target string `json:"target"`
	Status int    `json:"status"`
	// Header is the response's header.
	Header http.Header `json:"header,omitempty"`
	// BodySHA256 is the hex SHA-256 of the response body after transfer
	// decoding.
	BodySHA256 string `json:"body_sha256"`
}
