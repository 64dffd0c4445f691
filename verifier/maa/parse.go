package maa

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// Token is a parsed but NOT verified MAA token. Nothing in it may be
// trusted: ParseToken only checks that the bytes are a well-formed compact
// JWS whose header and payload are strict JSON objects. Verify is the only
// way to a trusted view (Result).
type Token struct {
	// Header is the protected header.
	Header Header
	// Claims is the parsed payload.
	Claims *Claims
	// Payload is the decoded payload (the claims JSON) as received.
	Payload []byte
	// Signature is the decoded signature (empty for alg "none").
	Signature []byte

	compact []byte // the compact serialisation, surrounding whitespace removed
}

// Header is the JOSE protected header of a token. Only the members that the
// verifier acts on are kept; jku, x5u, x5c and jwk are never used to find a
// key (keys come only from the Options' KeySource).
type Header struct {
	// Algorithm is "alg" (required).
	Algorithm string `json:"alg"`
	// KeyID is "kid": matched as an exact string against trusted keys.
	KeyID string `json:"kid,omitempty"`
	// Type is "typ" ("JWT" for MAA).
	Type string `json:"typ,omitempty"`
	// JWKSetURL is "jku", kept for display only.
	JWKSetURL string `json:"jku,omitempty"`
	// Critical is true when a "crit" member is present; Verify refuses it
	// since it understands no extension.
	Critical bool `json:"-"`
	// UnencodedPayload is true when a "b64" member is present; Verify
	// refuses it (RFC 7797 payloads are not JWTs).
	UnencodedPayload bool `json:"-"`
}

// ParseToken splits and decodes a compact-serialised token without
// verifying anything. maxBytes bounds its length (zero means
// DefaultMaxTokenBytes); surrounding ASCII whitespace, such as the newline
// at the end of a file, is ignored. Errors wrap ErrTooLarge or
// ErrMalformed.
//
// The signature segment may be empty, so that a token claiming alg "none"
// parses and is then refused by Verify for its algorithm.
func ParseToken(token []byte, maxBytes int) (*Token, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes
	}
	if len(token) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(token), maxBytes)
	}
	compact := bytes.TrimSpace(token)
	parts := bytes.Split(compact, []byte{'.'})
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d dot-separated segments, want 3 (compact JWS)", ErrMalformed, len(parts))
	}
	if len(parts[0]) == 0 || len(parts[1]) == 0 {
		return nil, fmt.Errorf("%w: empty header or payload segment", ErrMalformed)
	}
	var dec [3][]byte
	for i, p := range parts {
		b, err := decodeSegment(p)
		if err != nil {
			return nil, fmt.Errorf("%w: segment %d: %v", ErrMalformed, i, err)
		}
		dec[i] = b
	}
	hdr, err := parseHeader(dec[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	claims, err := ParseClaims(dec[1])
	if err != nil {
		return nil, err
	}
	return &Token{Header: hdr, Claims: claims, Payload: dec[1], Signature: dec[2], compact: compact}, nil
}

// decodeSegment decodes unpadded base64url, refusing any byte outside the
// alphabet (padding, whitespace, '+', '/') and non-canonical trailing bits.
func decodeSegment(s []byte) ([]byte, error) {
	for _, c := range s {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return nil, fmt.Errorf("byte %q is not base64url", c)
		}
	}
	out := make([]byte, base64.RawURLEncoding.DecodedLen(len(s)))
	n, err := base64.RawURLEncoding.Strict().Decode(out, s)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

func parseHeader(b []byte) (Header, error) {
	var h Header
	m, err := decodeObject(b)
	if err != nil {
		return h, err
	}
	alg, ok := m["alg"].(string)
	if !ok {
		return h, fmt.Errorf("alg missing or not a string")
	}
	h.Algorithm = alg
	for name, dst := range map[string]*string{"kid": &h.KeyID, "typ": &h.Type, "jku": &h.JWKSetURL} {
		v, present := m[name]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return h, fmt.Errorf("%s is not a string", name)
		}
		*dst = s
	}
	_, h.Critical = m["crit"]
	_, h.UnencodedPayload = m["b64"]
	return h, nil
}
