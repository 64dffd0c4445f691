package verifier

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/latencyproof/poc/evidence"
)

// A verifier authenticates the challenges it issues with a secret key, so it
// recognises its own challenges without keeping a list of them, and refuses
// proofs that answer another verifier's challenge.

// KeySize is the size of a challenge key's secret.
const KeySize = 32

// ChallengeKey is a verifier's secret for authenticating its challenges.
// Never log it.
type ChallengeKey struct {
	secret [KeySize]byte
}

// NewChallengeKey draws a fresh random key.
func NewChallengeKey() (*ChallengeKey, error) {
	k := &ChallengeKey{}
	if _, err := rand.Read(k.secret[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// ID names the key without revealing it: the first 8 bytes of
// SHA-256("poc/v1 challenge key id" ‖ secret), in hex. It is part of the
// verifier identity written into challenges.
func (k *ChallengeKey) ID() string {
	h := sha256.New()
	h.Write([]byte("poc/v1 challenge key id"))
	h.Write(k.secret[:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// keyFileHeader starts a key file, so a file of another kind is not taken
// for a key.
const keyFileHeader = "poc challenge key v1\n"

// SaveChallengeKey writes the key to a new file readable by its owner only;
// it never overwrites an existing file.
func SaveChallengeKey(path string, k *ChallengeKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(keyFileHeader + hex.EncodeToString(k.secret[:]) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// ErrKeyFile: a challenge key file is not one.
var ErrKeyFile = errors.New("not a challenge key file")

// LoadChallengeKey reads a key written by SaveChallengeKey. It refuses a file
// that others can read.
func LoadChallengeKey(path string) (*ChallengeKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %v); chmod 600 it", ErrKeyFile, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 256 {
		return nil, fmt.Errorf("%w: %s is too large", ErrKeyFile, path)
	}
	body, ok := strings.CutPrefix(string(b), keyFileHeader)
	if !ok {
		return nil, fmt.Errorf("%w: %s lacks the header", ErrKeyFile, path)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(body))
	if err != nil || len(raw) != KeySize {
		return nil, fmt.Errorf("%w: %s does not hold a %d-byte key", ErrKeyFile, path, KeySize)
	}
	k := &ChallengeKey{}
	copy(k.secret[:], raw)
	return k, nil
}

// tag computes the challenge's authenticator.
func (k *ChallengeKey) tag(c *evidence.Challenge) []byte {
	m := hmac.New(sha256.New, k.secret[:])
	m.Write([]byte("poc/v1 challenge\x00"))
	m.Write(c.Nonce[:])
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(len(c.Verifier)))
	m.Write(n[:4])
	m.Write([]byte(c.Verifier))
	binary.BigEndian.PutUint64(n[:], uint64(c.IssuedUnix))
	m.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(c.ExpiresUnix))
	m.Write(n[:])
	return m.Sum(nil)
}

// Challenge limits.
const (
	// MaxChallengeTTL bounds how long a challenge may live: a proof is a
	// measurement of now, not of last week.
	MaxChallengeTTL = 24 * time.Hour
	// DefaultChallengeTTL is the lifetime of a challenge unless asked.
	DefaultChallengeTTL = 10 * time.Minute
)

// Issue makes a challenge: a fresh random nonce, the verifier's identity
// (name and key ID), the issue time and expiry, authenticated with the key.
func (k *ChallengeKey) Issue(name string, now time.Time, ttl time.Duration) (evidence.Challenge, error) {
	if ttl <= 0 || ttl > MaxChallengeTTL {
		return evidence.Challenge{}, fmt.Errorf("challenge lifetime %v not in (0, %v]", ttl, MaxChallengeTTL)
	}
	c := evidence.Challenge{
		Verifier:    fmt.Sprintf("%s (key %s)", name, k.ID()),
		IssuedUnix:  now.Unix(),
		ExpiresUnix: now.Add(ttl).Unix(),
	}
	if len(c.Verifier) > evidence.MaxStringLen {
		return evidence.Challenge{}, fmt.Errorf("verifier name is too long")
	}
	if _, err := rand.Read(c.Nonce[:]); err != nil {
		return evidence.Challenge{}, err
	}
	c.Tag = k.tag(&c)
	return c, nil
}

// Challenge errors; each is a refusal of the proof with its own reason.
var (
	// ErrForeignChallenge: the challenge was not issued with this key
	// (another verifier's, or forged, or altered).
	ErrForeignChallenge = errors.New("challenge not issued by this verifier")
	// ErrChallengeExpired: the challenge's lifetime is over.
	ErrChallengeExpired = errors.New("challenge expired")
	// ErrChallengeNotYetValid: the challenge claims to be issued in the
	// future (beyond the allowed clock skew).
	ErrChallengeNotYetValid = errors.New("challenge issued in the future")
)

// CheckChallenge checks that a challenge is this key's, unaltered, and live
// at now (with the given clock skew allowed on the issue time only).
func (k *ChallengeKey) CheckChallenge(c *evidence.Challenge, now time.Time, skew time.Duration) error {
	if !hmac.Equal(c.Tag, k.tag(c)) {
		return fmt.Errorf("%w (verifier %q)", ErrForeignChallenge, c.Verifier)
	}
	issued, expires := time.Unix(c.IssuedUnix, 0), time.Unix(c.ExpiresUnix, 0)
	if issued.After(now.Add(skew)) {
		return fmt.Errorf("%w: issued %s, now %s", ErrChallengeNotYetValid, issued.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !now.Before(expires) {
		return fmt.Errorf("%w at %s (now %s)", ErrChallengeExpired, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}
