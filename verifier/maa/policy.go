package maa

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Defaults applied where a Policy or Options field is left at its zero
// value. Each is the strict choice, never "skip the check".
const (
	// DefaultMaxClockSkew bounds how far exp, nbf and iat may be off the
	// verifier's clock.
	DefaultMaxClockSkew = 5 * time.Minute
	// DefaultMaxTokenBytes bounds the token's length. Real MAA tokens are
	// 2.5-6 KB; a TDX token with the HCL runtime JSON stays under 10 KB.
	DefaultMaxTokenBytes = 64 << 10
	// maxClockSkewLimit refuses a policy whose skew would make validity
	// times meaningless.
	maxClockSkewLimit = 24 * time.Hour
)

// DefaultAttestationTypes is the x-ms-attestation-type allow-list used when
// Policy.AttestationTypes is empty: a token from MAA's Attest Tdx Vm API.
var DefaultAttestationTypes = []string{"tdxvm"}

// allowedAlgorithms is the fixed outer allow-list. Symmetric algorithms
// (HS*) would let anyone holding the public key forge tokens, "none" signs
// nothing, and MAA signs with RS256; PS256 and ES256 are accepted for
// issuers that use them.
var allowedAlgorithms = []string{"RS256", "PS256", "ES256"}

// Policy is what a person decides about MAA tokens: which issuer to trust,
// which attestation types, how much clock skew. It is data: JSON that can
// be reviewed and diffed. For example:
//
//	{
//	  "issuer": "https://sharedeus2.eus2.attest.azure.net",
//	  "attestation_types": ["tdxvm"],
//	  "max_clock_skew": "5m",
//	  "max_age": "8h"
//	}
type Policy struct {
	// Issuer is the exact "iss" value required (string equality, no
	// normalisation), e.g. "https://sharedeus2.eus2.attest.azure.net".
	// Required. A Fetcher fetches keys from Issuer + "/certs" and nowhere
	// else; the token's own jku header is never followed.
	Issuer string `json:"issuer"`
	// AttestationTypes allow-lists x-ms-attestation-type. Empty means
	// DefaultAttestationTypes (["tdxvm"]). Azure CVM guest-attestation
	// tokens say "azurevm", SGX tokens "sgx".
	AttestationTypes []string `json:"attestation_types,omitempty"`
	// Algorithms narrows the signature algorithms accepted, within RS256,
	// PS256 and ES256. Empty means all three; any other name is a
	// configuration error (it can narrow, never widen).
	Algorithms []string `json:"algorithms,omitempty"`
	// MaxClockSkew bounds the tolerance on exp, nbf and iat. Zero means
	// DefaultMaxClockSkew (5 minutes); at most 24 hours.
	MaxClockSkew Duration `json:"max_clock_skew,omitempty"`
	// MaxAge, when set, refuses tokens whose iat is older than this at the
	// verification time, however long their exp would allow. Zero means no
	// limit beyond exp (MAA tokens live 8 hours).
	MaxAge Duration `json:"max_age,omitempty"`
}

// Options are the plumbing of one verification: where keys come from, the
// clock, the values this particular token must carry. The zero value of
// each field is the safe default.
type Options struct {
	// Keys supplies the trusted signing keys. Required: a KeySet (offline,
	// e.g. JWKSFile) or a Fetcher (the pinned issuer's /certs).
	Keys KeySource
	// At is the time at which validity is judged. Zero means time.Now().
	At time.Time
	// UserData is the expected 64-byte runtime user-data (the proof
	// digest). When nil the claim is reported in the Result but not
	// checked; when set it must be exactly 64 bytes.
	UserData []byte
	// Nonce is the expected "nonce" claim (the nonce given to MAA's attest
	// call). Empty means not checked.
	Nonce string
	// MaxTokenBytes bounds the token length. Zero means
	// DefaultMaxTokenBytes.
	MaxTokenBytes int
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("5m", "8h0m0s"), so policies stay readable.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "5m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "5m" or "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parsing duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// effective is a Policy with its defaults filled in, checked for sense.
type effective struct {
	issuer     string
	types      []string
	algorithms []string
	skew       time.Duration
	maxAge     time.Duration
}

// resolve checks the policy and fills in defaults.
func (p Policy) resolve() (effective, error) {
	e := effective{
		issuer:     p.Issuer,
		types:      p.AttestationTypes,
		algorithms: p.Algorithms,
		skew:       time.Duration(p.MaxClockSkew),
		maxAge:     time.Duration(p.MaxAge),
	}
	if e.issuer == "" {
		return e, fmt.Errorf("%w: policy pins no issuer", ErrConfig)
	}
	if len(e.types) == 0 {
		e.types = DefaultAttestationTypes
	}
	for _, t := range e.types {
		if t == "" {
			return e, fmt.Errorf("%w: empty attestation type in policy", ErrConfig)
		}
	}
	if len(e.algorithms) == 0 {
		e.algorithms = allowedAlgorithms
	}
	for _, a := range e.algorithms {
		if !slices.Contains(allowedAlgorithms, a) {
			return e, fmt.Errorf("%w: policy algorithm %q is not one of %v", ErrConfig, a, allowedAlgorithms)
		}
	}
	switch {
	case e.skew < 0 || e.skew > maxClockSkewLimit:
		return e, fmt.Errorf("%w: clock skew %v outside [0, %v]", ErrConfig, e.skew, maxClockSkewLimit)
	case e.skew == 0:
		e.skew = DefaultMaxClockSkew
	}
	if e.maxAge < 0 {
		return e, fmt.Errorf("%w: negative max age %v", ErrConfig, e.maxAge)
	}
	return e, nil
}
