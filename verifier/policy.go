package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/verifier/azure"
	"github.com/latencyproof/poc/verifier/dcap"
	"github.com/latencyproof/poc/verifier/maa"
)

// Policy says what a verifier accepts. It is data a person can review and
// diff (docs/policy.md, docs/policy.example.json); the zero value of every
// field is the strict choice.
type Policy struct {
	Version int `json:"version"`
	// TEEs lists the attestation sources accepted: "tdx", "azure-tdx",
	// "sim". Empty means ["tdx", "azure-tdx"]: the simulated TEE is only
	// ever accepted when a policy names it (and its root is given).
	TEEs []string `json:"tees,omitempty"`
	// Quote is the DCAP policy: accepted TCB statuses, debug, measurement
	// allow-lists.
	Quote dcap.Policy `json:"quote"`
	// Azure is what must hold of an Azure confidential VM's evidence.
	Azure azure.Policy `json:"azure,omitzero"`
	// MAA, when set, is the policy MAA tokens are checked against; with
	// RequireMAA a proof without a valid token is refused.
	MAA        *maa.Policy `json:"maa,omitempty"`
	RequireMAA bool        `json:"require_maa,omitempty"`
}

// PolicyVersion is the policy schema this package reads.
const PolicyVersion = 1

// MaxPolicyBytes bounds a policy file.
const MaxPolicyBytes = 1 << 20

// ErrPolicyFile: a policy file is malformed or contradicts itself.
var ErrPolicyFile = errors.New("invalid policy")

// DefaultPolicy is the policy used when none is given: TDX and Azure TDX,
// Intel's UpToDate only, no debug TDs, MAA not required.
func DefaultPolicy() *Policy { return &Policy{Version: PolicyVersion} }

// ReadPolicy reads a policy strictly: unknown fields refused, one document,
// at most MaxPolicyBytes, and the policy must validate.
func ReadPolicy(r io.Reader) (*Policy, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicyFile, err)
	}
	if len(b) > MaxPolicyBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrPolicyFile, MaxPolicyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicyFile, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the policy document", ErrPolicyFile)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// ReadPolicyFile reads a policy from a file.
func ReadPolicyFile(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ReadPolicy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Validate checks the policy for contradictions and unknown values.
func (p *Policy) Validate() error {
	var errs []error
	if p.Version != PolicyVersion {
		errs = append(errs, fmt.Errorf("version %d, want %d", p.Version, PolicyVersion))
	}
	for _, t := range p.TEEs {
		switch t {
		case evidence.TEETDX, evidence.TEEAzureTDX, evidence.TEESim:
		default:
			errs = append(errs, fmt.Errorf("tees: unknown TEE %q", t))
		}
	}
	for _, s := range p.Quote.AcceptedTCBStatuses {
		if s == dcap.StatusRevoked {
			errs = append(errs, errors.New("quote: a Revoked TCB is never acceptable"))
		}
	}
	if err := p.Azure.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("azure: %w", err))
	}
	if p.RequireMAA && p.MAA == nil {
		errs = append(errs, errors.New("require_maa without an maa policy (which issuer?)"))
	}
	if p.MAA != nil && p.MAA.Issuer == "" {
		errs = append(errs, errors.New("maa: issuer is required"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrPolicyFile, errors.Join(errs...))
	}
	return nil
}

// AllowsTEE reports whether the policy accepts an attestation source.
func (p *Policy) AllowsTEE(tee string) bool {
	if len(p.TEEs) == 0 {
		return tee == evidence.TEETDX || tee == evidence.TEEAzureTDX
	}
	return slices.Contains(p.TEEs, tee)
}
