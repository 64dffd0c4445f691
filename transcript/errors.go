package transcript

import (
	"errors"
	"fmt"
)

// Sentinel errors. Verify wraps one of them (with %w) in a message that says
// what was found where, and the whole in a *CheckError naming the check, so a
// caller can branch with errors.Is and errors.As and a person can read the
// message. Errors of the standard library that explain a failure further
// (x509.CertificateInvalidError, x509.UnknownAuthorityError,
// x509.HostnameError) stay in the chain too.
var (
	// ErrRecordFraming: a stream does not split into TLS records (bad
	// content type, legacy version or length, or a malformed
	// ChangeCipherSpec).
	ErrRecordFraming = errors.New("bad TLS record framing")
	// ErrTruncated: a stream ends inside a record, or before the handshake
	// is complete.
	ErrTruncated = errors.New("truncated stream")
	// ErrTooLarge: an input exceeds Options.MaxStreamBytes.
	ErrTooLarge = errors.New("input too large")
	// ErrNotTLS13: the client did not offer, or the server did not select,
	// TLS 1.3.
	ErrNotTLS13 = errors.New("not TLS 1.3")
	// ErrHandshake: a handshake message is malformed, out of order, or asks
	// for a feature this package does not check (PSK, 0-RTT).
	ErrHandshake = errors.New("bad handshake")
	// ErrProtocol: a decrypted record breaks RFC 8446 (inner content type,
	// padding, alert or post-handshake message syntax).
	ErrProtocol = errors.New("TLS protocol violation")
	// ErrKeyLogFormat: the key log has a malformed or contradictory line.
	ErrKeyLogFormat = errors.New("malformed key log")
	// ErrKeyLogMismatch: the key log has no line for this session's
	// ClientHello random (it belongs to another session).
	ErrKeyLogMismatch = errors.New("key log is for another session")
	// ErrKeyLogMissing: the key log lacks a secret the session needs.
	ErrKeyLogMissing = errors.New("secret missing from key log")
	// ErrDecrypt: a record does not decrypt (wrong key, altered, reordered
	// or dropped records).
	ErrDecrypt = errors.New("decryption failed")
	// ErrCertificateChain: the server's chain does not verify to
	// Options.Roots at Options.At.
	ErrCertificateChain = errors.New("certificate chain not trusted")
	// ErrServerName: the leaf certificate is not valid for
	// Options.ServerName.
	ErrServerName = errors.New("certificate not valid for server name")
	// ErrCertificateVerify: the CertificateVerify signature does not verify
	// with the leaf's key over this transcript.
	ErrCertificateVerify = errors.New("bad CertificateVerify signature")
	// ErrServerFinished: the server Finished MAC does not match.
	ErrServerFinished = errors.New("bad server Finished")
	// ErrClientFinished: the client Finished MAC does not match.
	ErrClientFinished = errors.New("bad client Finished")
	// ErrAfterClose: records follow a close_notify or a fatal alert.
	ErrAfterClose = errors.New("data after connection closure")
	// ErrEcho: the application data does not hold well-formed, answered
	// echoes.
	ErrEcho = errors.New("bad echo")
	// ErrTiming: the timestamps are inconsistent with each other or with
	// the streams.
	ErrTiming = errors.New("bad timestamps")
	// ErrNonce: a value that must derive from Options.Nonce does not.
	ErrNonce = errors.New("nonce mismatch")
	// ErrOptions: Options lacks a required field, so a check could not be
	// made (a "could not check", not a "checked and said no").
	ErrOptions = errors.New("required option missing")
	// ErrInternal: Verify hit a bug in this package and recovered. It is
	// never the session's fault; please report it.
	ErrInternal = errors.New("internal error")
)

// CheckError is the error of one failed check: Check is its name (one of the
// Check* constants), Err the wrapped cause.
type CheckError struct {
	Check string
	Err   error
}

// Error returns "<check>: <cause>".
func (e *CheckError) Error() string { return e.Check + ": " + e.Err.Error() }

// Unwrap returns the cause, so errors.Is and errors.As see the sentinel.
func (e *CheckError) Unwrap() error { return e.Err }

// errf wraps a sentinel with a message that says what was found:
// "<sentinel>: <message>".
func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
