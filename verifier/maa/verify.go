package maa

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Result is the verified view of an MAA token: every field was read from a
// token whose signature verified with a trusted key and whose claims passed
// the policy. Verify returns a Result only on success.
type Result struct {
	// Verified is true: the signature, issuer, validity times,
	// attestation type and (when asked) user-data and nonce all checked.
	Verified bool `json:"verified"`
	// KeyID and Algorithm identify the key and algorithm that verified.
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`

	Issuer          string    `json:"iss"`
	AttestationType string    `json:"x-ms-attestation-type"`
	IssuedAt        time.Time `json:"iat"`
	NotBefore       time.Time `json:"nbf,omitzero"`
	Expiry          time.Time `json:"exp"`

	// TCBStatus is attester_tcb_status (TDX tokens); ComplianceStatus is
	// x-ms-compliance-status. Both are reported, not appraised.
	TCBStatus        string `json:"attester_tcb_status,omitempty"`
	ComplianceStatus string `json:"x-ms-compliance-status,omitempty"`
	// TDX are the TD quote fields MAA vouched for (tdx_mrtd, tdx_rtmr0-3,
	// tdx_report_data, tdx_td_attributes_*...); nil when absent.
	TDX *TDX `json:"tdx,omitempty"`
	// IsolationTEE is x-ms-isolation-tee of azurevm tokens; nil when
	// absent.
	IsolationTEE *IsolationTEE `json:"x-ms-isolation-tee,omitempty"`

	// UserData reports the runtime user-data claim and whether it was
	// compared with an expected value.
	UserData UserDataCheck `json:"user_data"`
	// Nonce reports the nonce claim and whether it was compared.
	Nonce NonceCheck `json:"nonce"`

	// Claims is every claim of the token (numbers as json.Number), for
	// display.
	Claims map[string]any `json:"claims"`
}

// UserDataCheck reports the runtime user-data claim.
type UserDataCheck struct {
	// Checked is true when Options.UserData was given and matched.
	Checked bool `json:"checked"`
	// Path is where the claim is read for this attestation type, e.g.
	// "x-ms-runtime.user-data"; empty when the type has none.
	Path string `json:"path,omitempty"`
	// Value is the claim's 64 bytes when present and well-formed.
	Value Hex `json:"value,omitempty"`
}

// NonceCheck reports the nonce claim.
type NonceCheck struct {
	// Checked is true when Options.Nonce was given and matched.
	Checked bool `json:"checked"`
	// Value is the claim, empty when absent.
	Value string `json:"value,omitempty"`
}

// Verify checks an MAA token and returns its verified view. The steps, each
// of which must pass before the next runs:
//
//  1. parse: size limit, compact JWS form, strict JSON (ParseToken);
//  2. header: no crit or b64, typ absent or JWT, alg in the allow-list
//     (before any key is looked up or used);
//  3. key: the KeySource's trusted keys with exactly the header's kid,
//     for the pinned issuer, of a type that goes with the alg;
//  4. signature, with jwx's jws.Verify;
//  5. policy: issuer, exp/nbf/iat with skew, max age, attestation type,
//     user-data, nonce; every mismatch is reported in one PolicyError.
//
// Errors wrap the sentinels in errors.go; see Indeterminate for telling
// "could not check" from "refused".
func Verify(ctx context.Context, token []byte, opts Options, pol Policy) (*Result, error) {
	eff, err := pol.resolve()
	if err != nil {
		return nil, err
	}
	if opts.Keys == nil {
		return nil, fmt.Errorf("%w: no key source", ErrConfig)
	}
	if opts.UserData != nil && len(opts.UserData) != 64 {
		return nil, fmt.Errorf("%w: expected user-data is %d bytes, want 64", ErrConfig, len(opts.UserData))
	}
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}

	tok, err := ParseToken(token, opts.MaxTokenBytes)
	if err != nil {
		return nil, fmt.Errorf("parsing token: %w", err)
	}
	alg, err := checkHeader(tok.Header, eff.algorithms)
	if err != nil {
		return nil, fmt.Errorf("checking header: %w", err)
	}
	key, err := verifySignature(ctx, tok, alg, eff.issuer, opts.Keys)
	if err != nil {
		return nil, fmt.Errorf("verifying signature: %w", err)
	}
	res, err := validate(tok.Claims, eff, opts, at)
	if err != nil {
		return nil, err
	}
	res.KeyID = key.ID
	res.Algorithm = alg.String()
	return res, nil
}

// checkHeader refuses headers this verifier does not understand and
// algorithms outside the allow-list.
func checkHeader(h Header, allowed []string) (jwa.SignatureAlgorithm, error) {
	if h.Critical {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("%w: crit header present (no extension is understood)", ErrMalformed)
	}
	if h.UnencodedPayload {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("%w: b64 header present (unencoded payloads are refused)", ErrMalformed)
	}
	if h.Type != "" && !strings.EqualFold(h.Type, "JWT") {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("%w: typ %q is not JWT", ErrMalformed, h.Type)
	}
	if !slices.Contains(allowed, h.Algorithm) {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("%w: alg %q (allowed: %v)", ErrAlgorithm, h.Algorithm, allowed)
	}
	alg, ok := jwa.LookupSignatureAlgorithm(h.Algorithm)
	if !ok {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("%w: alg %q unknown to jwx", ErrAlgorithm, h.Algorithm)
	}
	return alg, nil
}

// keyFitsAlg reports whether key may be used with alg: RSA (at least 2048
// bits) for RS256 and PS256, ECDSA P-256 for ES256, and the JWK's own alg,
// if it names one, equal to the token's.
func keyFitsAlg(k PublicKey, alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return (alg == "RS256" || alg == "PS256") && pub.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		return alg == "ES256" && pub.Curve == elliptic.P256()
	default:
		return false
	}
}

// verifySignature finds the trusted keys for the token's kid and verifies
// the signature with jwx. It returns the key that verified.
func verifySignature(ctx context.Context, tok *Token, alg jwa.SignatureAlgorithm, issuer string, src KeySource) (PublicKey, error) {
	kid := tok.Header.KeyID
	if kid == "" {
		// MAA always names its key. A token without a kid is not one
		// MAA issued — and must not become a "could not check".
		return PublicKey{}, fmt.Errorf("%w: token header names no kid", ErrMalformed)
	}
	keys, err := src.Keys(ctx, issuer, kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrKeyFetch) || errors.Is(err, ErrConfig) {
			return PublicKey{}, err
		}
		return PublicKey{}, fmt.Errorf("%w: %v", ErrKeyFetch, err)
	}
	if len(keys) == 0 {
		return PublicKey{}, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
	}
	var fit []PublicKey
	for _, k := range keys {
		if keyFitsAlg(k, alg.String()) {
			fit = append(fit, k)
		}
	}
	if len(fit) == 0 {
		return PublicKey{}, fmt.Errorf("%w: no trusted key %q of a type usable with %s", ErrAlgorithm, kid, alg)
	}
	if len(tok.Signature) == 0 {
		return PublicKey{}, fmt.Errorf("%w: empty signature", ErrSignature)
	}
	for _, k := range fit {
		payload, err := jws.Verify(tok.compact, jws.WithCompact(), jws.WithKey(alg, k.Key))
		if err != nil {
			continue
		}
		// jwx decoded the payload itself; it must be the very bytes
		// whose claims are about to be read.
		if !bytes.Equal(payload, tok.Payload) {
			return PublicKey{}, fmt.Errorf("%w: verified payload differs from the parsed one", ErrMalformed)
		}
		return k, nil
	}
	return PublicKey{}, fmt.Errorf("%w: kid %q, alg %s", ErrSignature, kid, alg)
}

// validate applies the policy to verified claims, collecting every
// mismatch.
func validate(c *Claims, eff effective, opts Options, at time.Time) (*Result, error) {
	var fails []error
	add := func(err error) { fails = append(fails, err) }

	if c.Issuer != eff.issuer {
		add(fmt.Errorf("%w: iss %q, pinned %q", ErrIssuer, c.Issuer, eff.issuer))
	}
	skew := eff.skew
	switch {
	case c.Expiry.IsZero():
		add(fmt.Errorf("%w: exp", ErrMissingClaim))
	case !at.Before(c.Expiry.Add(skew)):
		add(fmt.Errorf("%w: exp %s, now %s (skew %v)", ErrExpired, stamp(c.Expiry), stamp(at), skew))
	}
	if !c.NotBefore.IsZero() && at.Before(c.NotBefore.Add(-skew)) {
		add(fmt.Errorf("%w: nbf %s, now %s (skew %v)", ErrNotYetValid, stamp(c.NotBefore), stamp(at), skew))
	}
	switch {
	case c.IssuedAt.IsZero():
		add(fmt.Errorf("%w: iat", ErrMissingClaim))
	case c.IssuedAt.After(at.Add(skew)):
		add(fmt.Errorf("%w: iat %s, now %s (skew %v)", ErrIssuedInFuture, stamp(c.IssuedAt), stamp(at), skew))
	case eff.maxAge > 0 && at.Sub(c.IssuedAt) > eff.maxAge+skew:
		add(fmt.Errorf("%w: iat %s is more than %v before %s", ErrTooOld, stamp(c.IssuedAt), eff.maxAge, stamp(at)))
	}
	if !slices.Contains(eff.types, c.AttestationType) {
		add(fmt.Errorf("%w: %q (allowed: %v)", ErrAttestationType, c.AttestationType, eff.types))
	}

	res := &Result{
		Issuer:           c.Issuer,
		AttestationType:  c.AttestationType,
		IssuedAt:         c.IssuedAt,
		NotBefore:        c.NotBefore,
		Expiry:           c.Expiry,
		TCBStatus:        c.TCBStatus,
		ComplianceStatus: c.ComplianceStatus,
		TDX:              c.TDX,
		IsolationTEE:     c.IsolationTEE,
		Claims:           c.All,
	}

	// User-data: read (for the report) wherever the type puts it; compare
	// when an expected value was given.
	path, hasPath := runtimePath(c.AttestationType)
	var found []byte
	var foundErr error
	if hasPath {
		res.UserData.Path = strings.Join(path, ".")
		found, foundErr = userData(c.All, path)
		if foundErr == nil {
			res.UserData.Value = found
		}
	}
	if opts.UserData != nil {
		switch {
		case !hasPath:
			add(fmt.Errorf("%w: attestation type %q carries no runtime user-data", ErrUserData, c.AttestationType))
		case foundErr != nil:
			add(fmt.Errorf("%w: %s: %v", ErrUserData, res.UserData.Path, foundErr))
		case !bytes.Equal(found, opts.UserData):
			add(fmt.Errorf("%w: %s is %x, want %x", ErrUserData, res.UserData.Path, found, opts.UserData))
		default:
			res.UserData.Checked = true
		}
	}

	if c.Nonce != nil {
		res.Nonce.Value = *c.Nonce
	}
	if opts.Nonce != "" {
		switch {
		case c.Nonce == nil:
			add(fmt.Errorf("%w: token has no nonce claim", ErrNonce))
		case *c.Nonce != opts.Nonce:
			add(fmt.Errorf("%w: nonce %q, want %q", ErrNonce, *c.Nonce, opts.Nonce))
		default:
			res.Nonce.Checked = true
		}
	}

	if len(fails) > 0 {
		return nil, &PolicyError{Failures: fails}
	}
	res.Verified = true
	return res, nil
}

// userData reads the 64-byte user-data at path: a string of 128 hex
// characters (either case, as the HCL writes it).
func userData(all map[string]any, path []string) ([]byte, error) {
	v, ok := lookup(all, path)
	if !ok {
		return nil, errors.New("claim absent")
	}
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("claim is not a string")
	}
	if len(s) != 128 {
		return nil, fmt.Errorf("claim is %d characters, want 128 hex", len(s))
	}
	b := make([]byte, 64)
	if _, err := hex.Decode(b, []byte(s)); err != nil {
		return nil, fmt.Errorf("claim is not hex: %v", err)
	}
	return b, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
