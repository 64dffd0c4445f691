package transcript

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// NSS key log labels of the TLS 1.3 secrets this package uses.
const (
	labelClientHS  = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	labelServerHS  = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	labelClientAP0 = "CLIENT_TRAFFIC_SECRET_0"
	labelServerAP0 = "SERVER_TRAFFIC_SECRET_0"
)

// keyLog holds the secrets of one session (one client random) taken from an
// NSS key log.
type keyLog struct {
	secrets map[string][]byte
	lines   int // well-formed secret lines, for all sessions
}

// parseKeyLog reads an NSS key log (the format of tls.Config.KeyLogWriter:
// "LABEL <client random hex> <secret hex>" per line) and keeps the lines of
// the session whose ClientHello random is cr. Blank lines and '#' comments
// are allowed; any other line must be well formed, whatever session it
// belongs to, because a log that is corrupt in one place cannot be trusted in
// another. Two different values for one label of this session contradict
// each other and are an error too.
func parseKeyLog(log []byte, cr [32]byte) (*keyLog, error) {
	kl := &keyLog{secrets: map[string][]byte{}}
	for i, line := range bytes.Split(log, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := bytes.Fields(line)
		if len(f) != 3 {
			return nil, errf(ErrKeyLogFormat, "line %d has %d fields, want 3 (LABEL client_random secret)", i+1, len(f))
		}
		label := string(f[0])
		if !validLabel(label) {
			return nil, errf(ErrKeyLogFormat, "line %d: label %.40q is not an upper-case NSS label", i+1, label)
		}
		random, err := hex.DecodeString(string(f[1]))
		if err != nil || len(random) != 32 {
			return nil, errf(ErrKeyLogFormat, "line %d: client random %.80q is not 32 bytes of hex", i+1, f[1])
		}
		secret, err := hex.DecodeString(string(f[2]))
		if err != nil || len(secret) == 0 || len(secret) > 64 {
			return nil, errf(ErrKeyLogFormat, "line %d: secret is not 1 to 64 bytes of hex", i+1)
		}
		kl.lines++
		if !bytes.Equal(random, cr[:]) {
			continue
		}
		if old, ok := kl.secrets[label]; ok && !bytes.Equal(old, secret) {
			return nil, errf(ErrKeyLogFormat, "line %d: second, different %s for this session", i+1, label)
		}
		kl.secrets[label] = secret
	}
	if len(kl.secrets) == 0 {
		return nil, errf(ErrKeyLogMismatch, "key log has %d secret lines, none for client random %x", kl.lines, cr)
	}
	return kl, nil
}

func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// secret returns this session's secret for label, which must be as long as
// the cipher suite's hash.
func (kl *keyLog) secret(label string, s *suite) ([]byte, error) {
	v, ok := kl.secrets[label]
	if !ok {
		return nil, errf(ErrKeyLogMissing, "key log has no %s for this session", label)
	}
	if len(v) != s.hash.Size() {
		return nil, fmt.Errorf("%w: %s is %d bytes, %s needs %d", ErrKeyLogFormat, label, len(v), s.name, s.hash.Size())
	}
	return v, nil
}
