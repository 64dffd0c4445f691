package hcl

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// Key IDs of the vTPM keys in the runtime data.
const (
	// KidAKPub names the vTPM attestation key, which signs TPM quotes.
	KidAKPub = "HCLAkPub"
	// KidEKPub names the vTPM endorsement key.
	KidEKPub = "HCLEkPub"
)

// Limits on the runtime JSON: far above what Azure writes, small enough
// that a hostile document cannot cost much.
const (
	maxKeys       = 16
	maxJSONDepth  = 16
	minRSAModulus = 1024 / 8
	maxRSAModulus = 8192 / 8
)

// RuntimeClaims is the decoded runtime data ("runtime claims") of an HCL
// report.
type RuntimeClaims struct {
	// Keys are the JWKs of the "keys" array, in order.
	Keys []JWK
	// AKPub is the key with kid HCLAkPub, nil when absent.
	AKPub *rsa.PublicKey
	// EKPub is the key with kid HCLEkPub, nil when absent.
	EKPub *rsa.PublicKey
	// VMConfig is "vm-configuration".
	VMConfig VMConfig
	// UserData is "user-data" hex-decoded: the 64 bytes the guest wrote to
	// NV index 0x01400002. Nil when the claim is absent (older reports
	// and reports made before any write).
	UserData []byte
}

// JWK is one entry of the "keys" array.
type JWK struct {
	Kid    string
	KeyOps []string
	Kty    string
	// Public is the RSA key when Kty is "RSA".
	Public *rsa.PublicKey
}

// VMConfig is the "vm-configuration" claim. Booleans are pointers: a claim
// the paravisor did not write is nil, never a silent false.
type VMConfig struct {
	CurrentTime                *int64           `json:"current-time,omitempty"`
	RootCertThumbprint         string           `json:"root-cert-thumbprint,omitempty"`
	ConsoleEnabled             *bool            `json:"console-enabled,omitempty"`
	InteractiveConsoleEnabled  *bool            `json:"interactive-console-enabled,omitempty"`
	SecureBoot                 *bool            `json:"secure-boot,omitempty"`
	TPMEnabled                 *bool            `json:"tpm-enabled,omitempty"`
	TPMPersisted               *bool            `json:"tpm-persisted,omitempty"`
	FilteredVPCIDevicesAllowed *bool            `json:"filtered-vpci-devices-allowed,omitempty"`
	VMUniqueID                 string           `json:"vmUniqueId,omitempty"`
	HardwareSealingPolicy      string           `json:"hardware-sealing-policy,omitempty"`
	VMGSProvisioner            *VMGSProvisioner `json:"vmgs-provisioner,omitempty"`
}

// VMGSProvisioner is the provenance of the VM guest state file.
type VMGSProvisioner struct {
	ID     string `json:"id"`
	Signer string `json:"signer"`
}

// ParseRuntimeClaims decodes runtime data. It refuses duplicate object keys
// anywhere, also when they differ only in case (two readers could
// otherwise see different claims in the same hashed bytes), a missing
// "keys" array or "vm-configuration", malformed RSA JWKs, two keys with the
// same kid, and user-data that is not hex. Claim names match exactly, never
// case-insensitively as encoding/json would. Unknown claims are ignored.
func ParseRuntimeClaims(b []byte) (*RuntimeClaims, error) {
	c, err := parseRuntimeClaims(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRuntimeData, err)
	}
	return c, nil
}

func parseRuntimeClaims(b []byte) (*RuntimeClaims, error) {
	if err := checkJSONObject(b); err != nil {
		return nil, err
	}
	top, err := object(b)
	if err != nil {
		return nil, err
	}
	var rawKeys []json.RawMessage
	if err := field(top, "keys", &rawKeys, true); err != nil {
		return nil, err
	}
	if len(rawKeys) > maxKeys {
		return nil, fmt.Errorf("%d keys, limit %d", len(rawKeys), maxKeys)
	}
	var vmc json.RawMessage
	if err := field(top, "vm-configuration", &vmc, true); err != nil {
		return nil, err
	}
	c := &RuntimeClaims{}
	if c.VMConfig, err = parseVMConfig(vmc); err != nil {
		return nil, fmt.Errorf("vm-configuration: %w", err)
	}
	seen := make(map[string]bool, len(rawKeys))
	for i, rk := range rawKeys {
		j, err := parseJWK(rk)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if seen[j.Kid] {
			return nil, fmt.Errorf("key %d: duplicate kid %q", i, j.Kid)
		}
		seen[j.Kid] = true
		switch j.Kid {
		case KidAKPub, KidEKPub:
			if j.Public == nil {
				return nil, fmt.Errorf("key %q has kty %q, want RSA", j.Kid, j.Kty)
			}
			if j.Kid == KidAKPub {
				c.AKPub = j.Public
			} else {
				c.EKPub = j.Public
			}
		}
		c.Keys = append(c.Keys, j)
	}
	var ud *string
	if err := field(top, "user-data", &ud, false); err != nil {
		return nil, err
	}
	if ud != nil {
		// The paravisor writes lower-case hex; accept either case, refuse
		// anything else.
		if c.UserData, err = hex.DecodeString(*ud); err != nil {
			return nil, fmt.Errorf("user-data: %w", err)
		}
	}
	return c, nil
}

func parseJWK(b []byte) (JWK, error) {
	m, err := object(b)
	if err != nil {
		return JWK{}, err
	}
	var j JWK
	var n, e string
	if err := firstErr(
		field(m, "kid", &j.Kid, true),
		field(m, "kty", &j.Kty, true),
		field(m, "key_ops", &j.KeyOps, false),
	); err != nil {
		return JWK{}, err
	}
	if j.Kty != "RSA" {
		return j, nil
	}
	if err := firstErr(field(m, "n", &n, true), field(m, "e", &e, true)); err != nil {
		return JWK{}, err
	}
	if j.Public, err = parseRSAJWK(n, e); err != nil {
		return JWK{}, fmt.Errorf("kid %q: %w", j.Kid, err)
	}
	return j, nil
}

func parseVMConfig(b []byte) (VMConfig, error) {
	m, err := object(b)
	if err != nil {
		return VMConfig{}, err
	}
	var v VMConfig
	err = firstErr(
		field(m, "current-time", &v.CurrentTime, false),
		field(m, "root-cert-thumbprint", &v.RootCertThumbprint, false),
		field(m, "console-enabled", &v.ConsoleEnabled, false),
		field(m, "interactive-console-enabled", &v.InteractiveConsoleEnabled, false),
		field(m, "secure-boot", &v.SecureBoot, false),
		field(m, "tpm-enabled", &v.TPMEnabled, false),
		field(m, "tpm-persisted", &v.TPMPersisted, false),
		field(m, "filtered-vpci-devices-allowed", &v.FilteredVPCIDevicesAllowed, false),
		field(m, "vmUniqueId", &v.VMUniqueID, false),
		field(m, "hardware-sealing-policy", &v.HardwareSealingPolicy, false),
	)
	if err != nil {
		return VMConfig{}, err
	}
	if raw, ok := m["vmgs-provisioner"]; ok {
		pm, err := object(raw)
		if err != nil {
			return VMConfig{}, fmt.Errorf("vmgs-provisioner: %w", err)
		}
		p := &VMGSProvisioner{}
		if err := firstErr(field(pm, "id", &p.ID, false), field(pm, "signer", &p.Signer, false)); err != nil {
			return VMConfig{}, fmt.Errorf("vmgs-provisioner: %w", err)
		}
		v.VMGSProvisioner = p
	}
	return v, nil
}

// object decodes a JSON object into its members, keyed exactly.
func object(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decoding JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("null where an object is expected")
	}
	return m, nil
}

// field decodes member name of m into dst. A JSON null counts as absent.
func field(m map[string]json.RawMessage, name string, dst any, required bool) error {
	raw, ok := m[name]
	if !ok || bytes.Equal(raw, []byte("null")) {
		if required {
			return fmt.Errorf("no %q", name)
		}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("decoding %q: %w", name, err)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parseRSAJWK decodes the base64url (unpadded, RFC 7518) modulus and
// exponent of an RSA JWK.
func parseRSAJWK(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.Strict().DecodeString(n)
	if err != nil {
		return nil, fmt.Errorf("decoding n: %w", err)
	}
	eb, err := base64.RawURLEncoding.Strict().DecodeString(e)
	if err != nil {
		return nil, fmt.Errorf("decoding e: %w", err)
	}
	if len(nb) == 0 || nb[0] == 0 {
		return nil, errors.New("n is empty or has a leading zero")
	}
	if len(nb) < minRSAModulus || len(nb) > maxRSAModulus {
		return nil, fmt.Errorf("modulus of %d bits outside [%d, %d]", 8*len(nb), 8*minRSAModulus, 8*maxRSAModulus)
	}
	if len(eb) == 0 || len(eb) > 4 || eb[0] == 0 {
		return nil, errors.New("e is empty, longer than 32 bits or has a leading zero")
	}
	var ev int
	for _, x := range eb {
		ev = ev<<8 | int(x)
	}
	if ev < 3 || ev%2 == 0 {
		return nil, fmt.Errorf("exponent %d is not an odd number above 1", ev)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: ev}, nil
}

// checkJSONObject checks that b is exactly one JSON object, nested no
// deeper than maxJSONDepth, with no object holding the same key twice.
// encoding/json keeps the last of duplicate keys, other parsers the first:
// refusing them keeps every reader of the hashed bytes in agreement.
func checkJSONObject(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []*frame
	first := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if len(stack) != 0 || first {
				return errors.New("unexpected end of JSON")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("decoding JSON: %w", err)
		}
		if first {
			if delim, ok := tok.(json.Delim); !ok || delim != '{' {
				return errors.New("runtime data is not a JSON object")
			}
		} else if len(stack) == 0 {
			return errors.New("data after the JSON object")
		}
		first = false
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObject && top.wantKey {
			if delim, ok := tok.(json.Delim); ok && delim == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key, ok := tok.(string)
			if !ok {
				return errors.New("object key is not a string")
			}
			folded := strings.ToLower(strings.ToUpper(key))
			if top.keys[folded] {
				return fmt.Errorf("duplicate key %q", key)
			}
			top.keys[folded] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.isObject {
			top.wantKey = true // this token is the value
		}
		if delim, ok := tok.(json.Delim); ok {
			switch delim {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObject: delim == '{', wantKey: delim == '{'})
			case ']':
				stack = stack[:len(stack)-1]
			}
		}
	}
}
