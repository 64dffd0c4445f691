package tlsprobe

import "errors"

// Errors a Probe can return; they are wrapped with context, match them with
// errors.Is.
var (
	// ErrConfig: the probe's configuration is invalid.
	ErrConfig = errors.New("tlsprobe: invalid configuration")
	// ErrDial: the TCP connection could not be opened.
	ErrDial = errors.New("tlsprobe: dial failed")
	// ErrNoTLS13: the endpoint does not speak TLS 1.3.
	ErrNoTLS13 = errors.New("tlsprobe: endpoint does not support TLS 1.3")
	// ErrHandshake: the TLS handshake failed for another reason (certificate,
	// name, alert, timeout).
	ErrHandshake = errors.New("tlsprobe: TLS handshake failed")
	// ErrALPN: the server selected an application protocol that the chosen
	// echo method cannot use.
	ErrALPN = errors.New("tlsprobe: unusable ALPN protocol")
	// ErrEcho: an echo failed (protocol error, timeout, unexpected answer).
	ErrEcho = errors.New("tlsprobe: echo failed")
	// ErrBudget: the echo budget did not allow the echoes asked for.
	ErrBudget = errors.New("tlsprobe: echo budget exhausted")
	// ErrSelfCheck: the evidence the probe recorded does not verify.
	ErrSelfCheck = errors.New("tlsprobe: recorded session does not verify")
)
