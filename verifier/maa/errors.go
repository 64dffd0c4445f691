package maa

import (
	"errors"
	"strings"
)

// Errors, one per kind of failure. Every error that Verify returns wraps
// exactly one of them (policy failures wrap one per mismatch, see
// PolicyError), so callers match with errors.Is and never read messages.
//
// Two of them mean "could not check" rather than "the token is bad":
// ErrUnknownKey (no trusted key carries the token's kid) and ErrKeyFetch
// (the key set could not be obtained). Indeterminate reports exactly these
// two, so a CLI can give an outage its own exit code.
var (
	// ErrConfig: the Policy or Options are unusable (no issuer pinned, no
	// key source, an expected user-data value that is not 64 bytes...).
	// Nothing about the token was decided.
	ErrConfig = errors.New("maa: invalid verification configuration")

	// ErrTooLarge: the token is longer than the size limit.
	ErrTooLarge = errors.New("maa: token too large")
	// ErrMalformed: the token is not a well-formed compact JWS carrying a
	// JSON claims object (bad base64url, bad JSON, duplicate member names,
	// claims of the wrong type, an unsupported header such as crit or b64).
	ErrMalformed = errors.New("maa: malformed token")
	// ErrAlgorithm: the header's alg is not allowed (only RS256, PS256 and
	// ES256 are, and Policy.Algorithms may narrow that), or no trusted key
	// with the token's kid is of a type that goes with that alg. Raised
	// before any key is used.
	ErrAlgorithm = errors.New("maa: signature algorithm not allowed")
	// ErrUnknownKey: no usable trusted key has the token's kid (or the
	// token names no kid). Could not check: the token may be genuine and
	// signed by a key this verifier does not have.
	ErrUnknownKey = errors.New("maa: no trusted key with the token's kid")
	// ErrKeyFetch: the issuer's key set could not be fetched or parsed.
	// Could not check.
	ErrKeyFetch = errors.New("maa: fetching the issuer's signing keys failed")
	// ErrSignature: the signature does not verify with the trusted key the
	// kid names. The token was altered or was not signed by that key.
	ErrSignature = errors.New("maa: signature does not verify")

	// ErrIssuer: iss is not the pinned issuer.
	ErrIssuer = errors.New("maa: issuer not the pinned one")
	// ErrMissingClaim: a claim the checks need (exp, iat) is absent.
	ErrMissingClaim = errors.New("maa: required claim missing")
	// ErrExpired: exp is in the past, beyond the allowed clock skew.
	ErrExpired = errors.New("maa: token expired")
	// ErrNotYetValid: nbf is in the future, beyond the allowed clock skew.
	ErrNotYetValid = errors.New("maa: token not yet valid")
	// ErrIssuedInFuture: iat is in the future, beyond the allowed clock skew.
	ErrIssuedInFuture = errors.New("maa: token issued in the future")
	// ErrTooOld: iat is older than Policy.MaxAge.
	ErrTooOld = errors.New("maa: token older than the policy allows")
	// ErrAttestationType: x-ms-attestation-type is not in the policy's list.
	ErrAttestationType = errors.New("maa: attestation type not allowed")
	// ErrUserData: the runtime user-data claim is absent or differs from
	// the expected 64 bytes.
	ErrUserData = errors.New("maa: runtime user-data mismatch")
	// ErrNonce: the nonce claim is absent or differs from the expected one.
	ErrNonce = errors.New("maa: nonce mismatch")
)

// PolicyError collects every policy mismatch of a token whose signature
// verified: issuer, validity times, attestation type, user-data, nonce.
// Unlike the cryptographic checks, which stop at the first failure, the
// policy checks all run so the report names every problem at once. Each
// entry wraps one of the sentinel errors above; errors.Is on the
// PolicyError matches any of them.
type PolicyError struct {
	Failures []error
}

// Error lists every failure.
func (e *PolicyError) Error() string {
	msgs := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		msgs[i] = strings.TrimPrefix(f.Error(), "maa: ")
	}
	return "maa: token refused by policy: " + strings.Join(msgs, "; ")
}

// Unwrap gives errors.Is and errors.As every failure.
func (e *PolicyError) Unwrap() []error { return e.Failures }

// Indeterminate reports whether err means that the token could not be
// checked (no trusted key with its kid, or the key set was unavailable)
// rather than that it was checked and refused.
func Indeterminate(err error) bool {
	return errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrKeyFetch)
}
