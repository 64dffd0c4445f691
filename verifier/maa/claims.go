package maa

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Claim names used by MAA tokens. The TDX ones follow Microsoft's "Azure
// Attestation EAT profile for Intel TDX"
// (eat_profile https://aka.ms/maa-eat-profile-tdxvm).
const (
	claimIssuer          = "iss"
	claimIssuedAt        = "iat"
	claimNotBefore       = "nbf"
	claimExpiry          = "exp"
	claimJWTID           = "jti"
	claimNonce           = "nonce"
	claimAttestationType = "x-ms-attestation-type"
	claimVersion         = "x-ms-ver"
	claimPolicyHash      = "x-ms-policy-hash"
	claimCompliance      = "x-ms-compliance-status"
	claimRuntime         = "x-ms-runtime"
	claimIsolationTEE    = "x-ms-isolation-tee"
	claimTCBStatus       = "attester_tcb_status"
	claimEATProfile      = "eat_profile"
	claimDebugStatus     = "dbgstat"
	claimIntendedUse     = "intuse"
	claimUserData        = "user-data" // inside the runtime object
)

// Hex is a byte string shown as lowercase hex (in JSON too), the way MAA
// writes measurements.
type Hex []byte

// String returns the lowercase hex encoding.
func (h Hex) String() string { return hex.EncodeToString(h) }

// MarshalJSON writes the lowercase hex encoding as a JSON string.
func (h Hex) MarshalJSON() ([]byte, error) { return json.Marshal(h.String()) }

// UnmarshalJSON reads a hex string (either case).
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Claims is the typed view of a token's payload. A Claims returned by
// ParseClaims or ParseToken is unverified; the one inside a Result was
// checked by Verify.
type Claims struct {
	Issuer    string    `json:"iss,omitempty"`
	IssuedAt  time.Time `json:"iat,omitzero"`
	NotBefore time.Time `json:"nbf,omitzero"`
	Expiry    time.Time `json:"exp,omitzero"`
	JWTID     string    `json:"jti,omitempty"`
	// Nonce is the "nonce" claim: MAA echoes the nonce given to the
	// attest call. Nil when absent.
	Nonce *string `json:"nonce,omitempty"`

	AttestationType  string `json:"x-ms-attestation-type,omitempty"`
	Version          string `json:"x-ms-ver,omitempty"`
	PolicyHash       string `json:"x-ms-policy-hash,omitempty"`
	ComplianceStatus string `json:"x-ms-compliance-status,omitempty"`
	// TCBStatus is attester_tcb_status: MAA's appraisal of the platform's
	// TCB level against Intel's collateral (UpToDate, OutOfDate, ...).
	TCBStatus   string `json:"attester_tcb_status,omitempty"`
	EATProfile  string `json:"eat_profile,omitempty"`
	DebugStatus string `json:"dbgstat,omitempty"`
	IntendedUse string `json:"intuse,omitempty"`

	// TDX holds the tdx_* claims; nil when the token has none.
	TDX *TDX `json:"tdx,omitempty"`
	// IsolationTEE is x-ms-isolation-tee, present in Azure CVM
	// guest-attestation (azurevm) tokens; nil when absent.
	IsolationTEE *IsolationTEE `json:"x-ms-isolation-tee,omitempty"`
	// Runtime is x-ms-runtime: the runtime-data JSON object given to the
	// attest call, echoed by MAA. Nil when absent.
	Runtime map[string]any `json:"x-ms-runtime,omitempty"`

	// All is every claim, numbers as json.Number, for display.
	All map[string]any `json:"-"`
}

// TDX holds the TD quote body fields that MAA copies into tdx_* claims.
// Byte fields are nil when the claim is absent, pointers likewise.
type TDX struct {
	MRTD          Hex    `json:"tdx_mrtd,omitempty"`
	RTMR          [4]Hex `json:"tdx_rtmr"`
	ReportData    Hex    `json:"tdx_report_data,omitempty"`
	MRSeam        Hex    `json:"tdx_mrseam,omitempty"`
	MRSignerSeam  Hex    `json:"tdx_mrsignerseam,omitempty"`
	MRConfigID    Hex    `json:"tdx_mrconfigid,omitempty"`
	MROwner       Hex    `json:"tdx_mrowner,omitempty"`
	MROwnerConfig Hex    `json:"tdx_mrownerconfig,omitempty"`
	TDAttributes  Hex    `json:"tdx_td_attributes,omitempty"`
	SeamAttrs     Hex    `json:"tdx_seam_attributes,omitempty"`
	XFAM          Hex    `json:"tdx_xfam,omitempty"`
	TEETCBSVN     Hex    `json:"tdx_tee_tcb_svn,omitempty"`
	SeamSVN       *int64 `json:"tdx_seamsvn,omitempty"`

	Debug          *bool `json:"tdx_td_attributes_debug,omitempty"`
	SeptVEDisable  *bool `json:"tdx_td_attributes_septve_disable,omitempty"`
	ProtectionKeys *bool `json:"tdx_td_attributes_protection_keys,omitempty"`
	KeyLocker      *bool `json:"tdx_td_attributes_key_locker,omitempty"`
	Perfmon        *bool `json:"tdx_td_attributes_perfmon,omitempty"`
}

// IsolationTEE is the x-ms-isolation-tee object of an azurevm token: what
// MAA concluded about the hardware TEE under the Azure paravisor.
type IsolationTEE struct {
	AttestationType  string         `json:"x-ms-attestation-type,omitempty"`
	ComplianceStatus string         `json:"x-ms-compliance-status,omitempty"`
	Runtime          map[string]any `json:"x-ms-runtime,omitempty"`
	All              map[string]any `json:"-"`
}

// hex claim name → expected decoded length and destination.
type hexField struct {
	name string
	size int
	dst  *Hex
}

func (t *TDX) hexFields() []hexField {
	return []hexField{
		{"tdx_mrtd", 48, &t.MRTD},
		{"tdx_rtmr0", 48, &t.RTMR[0]},
		{"tdx_rtmr1", 48, &t.RTMR[1]},
		{"tdx_rtmr2", 48, &t.RTMR[2]},
		{"tdx_rtmr3", 48, &t.RTMR[3]},
		{"tdx_report_data", 64, &t.ReportData},
		{"tdx_mrseam", 48, &t.MRSeam},
		{"tdx_mrsignerseam", 48, &t.MRSignerSeam},
		{"tdx_mrconfigid", 48, &t.MRConfigID},
		{"tdx_mrowner", 48, &t.MROwner},
		{"tdx_mrownerconfig", 48, &t.MROwnerConfig},
		{"tdx_td_attributes", 8, &t.TDAttributes},
		{"tdx_seam_attributes", 8, &t.SeamAttrs},
		{"tdx_xfam", 8, &t.XFAM},
		{"tdx_tee_tcb_svn", 16, &t.TEETCBSVN},
	}
}

func (t *TDX) boolFields() map[string]**bool {
	return map[string]**bool{
		"tdx_td_attributes_debug":           &t.Debug,
		"tdx_td_attributes_septve_disable":  &t.SeptVEDisable,
		"tdx_td_attributes_protection_keys": &t.ProtectionKeys,
		"tdx_td_attributes_key_locker":      &t.KeyLocker,
		"tdx_td_attributes_perfmon":         &t.Perfmon,
	}
}

// ParseClaims parses a token payload (a JSON object) into Claims, checking
// only form: registered claims and the claims this package reads must have
// the types the MAA profile gives them, hex claims their exact lengths.
// It decides nothing about trust. Errors wrap ErrMalformed.
func ParseClaims(payload []byte) (*Claims, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	c := &Claims{All: m}
	if err := c.fill(m); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return c, nil
}

func (c *Claims) fill(m map[string]any) error {
	strs := map[string]*string{
		claimIssuer:          &c.Issuer,
		claimJWTID:           &c.JWTID,
		claimAttestationType: &c.AttestationType,
		claimVersion:         &c.Version,
		claimPolicyHash:      &c.PolicyHash,
		claimCompliance:      &c.ComplianceStatus,
		claimTCBStatus:       &c.TCBStatus,
		claimEATProfile:      &c.EATProfile,
		claimDebugStatus:     &c.DebugStatus,
		claimIntendedUse:     &c.IntendedUse,
	}
	for name, dst := range strs {
		if err := optString(m, name, dst); err != nil {
			return err
		}
	}
	if v, ok := m[claimNonce]; ok {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s is not a string", claimNonce)
		}
		c.Nonce = &s
	}
	for name, dst := range map[string]*time.Time{claimIssuedAt: &c.IssuedAt, claimNotBefore: &c.NotBefore, claimExpiry: &c.Expiry} {
		if v, ok := m[name]; ok {
			t, err := numericDate(v)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			*dst = t
		}
	}
	if v, ok := m[claimRuntime]; ok {
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", claimRuntime)
		}
		c.Runtime = obj
	}
	if v, ok := m[claimIsolationTEE]; ok {
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", claimIsolationTEE)
		}
		iso := &IsolationTEE{All: obj}
		if err := optString(obj, claimAttestationType, &iso.AttestationType); err != nil {
			return fmt.Errorf("%s: %v", claimIsolationTEE, err)
		}
		if err := optString(obj, claimCompliance, &iso.ComplianceStatus); err != nil {
			return fmt.Errorf("%s: %v", claimIsolationTEE, err)
		}
		if rv, ok := obj[claimRuntime]; ok {
			r, ok := rv.(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s is not an object", claimIsolationTEE, claimRuntime)
			}
			iso.Runtime = r
		}
		c.IsolationTEE = iso
	}
	tdx, err := parseTDX(m)
	if err != nil {
		return err
	}
	c.TDX = tdx
	return nil
}

// parseTDX reads the tdx_* claims; nil when there are none.
func parseTDX(m map[string]any) (*TDX, error) {
	t := &TDX{}
	found := false
	for _, f := range t.hexFields() {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		found = true
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s is not a string", f.name)
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != f.size {
			return nil, fmt.Errorf("%s is not %d bytes of hex", f.name, f.size)
		}
		*f.dst = b
	}
	for name, dst := range t.boolFields() {
		v, ok := m[name]
		if !ok {
			continue
		}
		found = true
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s is not a boolean", name)
		}
		*dst = &b
	}
	if v, ok := m["tdx_seamsvn"]; ok {
		found = true
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("tdx_seamsvn is not a number")
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || i < 0 {
			return nil, fmt.Errorf("tdx_seamsvn is not a non-negative integer")
		}
		t.SeamSVN = &i
	}
	if !found {
		return nil, nil
	}
	return t, nil
}

func optString(m map[string]any, name string, dst *string) error {
	v, ok := m[name]
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s is not a string", name)
	}
	*dst = s
	return nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are nonsense and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

// numericDate reads an RFC 7519 NumericDate: seconds since the epoch,
// possibly fractional. A date that is present must be a number in
// [0, year 9999].
func numericDate(v any) (time.Time, error) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("not a number")
	}
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		if i < 0 || i > maxNumericDate {
			return time.Time{}, fmt.Errorf("%d out of range", i)
		}
		return time.Unix(i, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%s is not a date", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// runtimePath names where the runtime user-data claim sits for an
// attestation type; ok is false for types that carry none.
//
//   - tdxvm (Attest Tdx Vm): the runtimeData JSON given to the attest call
//     is echoed as x-ms-runtime. The prover sends either the Azure HCL
//     runtime JSON read from vTPM NV index 0x01400001 (keys,
//     vm-configuration, user-data) or its own {"user-data": ...}; either
//     way the 64 bytes are x-ms-runtime.user-data, 128 hex characters.
//   - azurevm (Azure CVM guest attestation): MAA puts the HCL runtime JSON
//     under x-ms-isolation-tee.x-ms-runtime, so user-data is
//     x-ms-isolation-tee.x-ms-runtime.user-data.
//   - sevsnpvm (Attest Sev Snp Vm): like tdxvm.
func runtimePath(attestationType string) ([]string, bool) {
	switch attestationType {
	case "tdxvm", "sevsnpvm":
		return []string{claimRuntime, claimUserData}, true
	case "azurevm":
		return []string{claimIsolationTEE, claimRuntime, claimUserData}, true
	default:
		return nil, false
	}
}

// lookup follows path through nested objects.
func lookup(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = obj[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}
