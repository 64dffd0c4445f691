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
	"github.com/latencyproof/poc/timing"
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
	// Counter says which cycle-counter frequencies are believed.
	Counter CounterPolicy `json:"counter,omitzero"`
	// Latency is how the round trips are appraised.
	Latency LatencyPolicy `json:"latency,omitzero"`
	// Challenge bounds the verifier's tolerance of clock skew.
	ChallengeSkew maa.Duration `json:"challenge_skew,omitempty"`
}

// CounterPolicy says which cycle-counter frequencies are believed. A
// frequency turns cycles into time: one stated too low makes every round
// trip look shorter, so its source matters as much as its value.
type CounterPolicy struct {
	// Sources lists accepted frequency sources (timing.Source). Empty
	// means ["cpuid-0x15"]: inside a TD, CPUID leaf 0x15 is under the TDX
	// module's control; every other source is the host's word. A lab or
	// simulated policy may accept "calibrated".
	Sources []string `json:"sources,omitempty"`
	// MinHz and MaxHz bound a plausible frequency; zero means 500 MHz and
	// 10 GHz.
	MinHz uint64 `json:"min_hz,omitempty"`
	MaxHz uint64 `json:"max_hz,omitempty"`
}

// LatencyPolicy is how round trips are appraised (package
// calibration/verdict).
type LatencyPolicy struct {
	// FRR is the whole proof's false-reject rate (default 1e-3).
	FRR float64 `json:"frr,omitempty"`
	// FARTarget is the false-accept rate at which the resolution is
	// stated (default 1e-6).
	FARTarget float64 `json:"far_target,omitempty"`
	// DistancesKm are the relay distances the result states FAR at
	// (default 1, 10, 50, 100, 500).
	DistancesKm []float64 `json:"distances_km,omitempty"`
	// Origin is the origin of the profiles used: "real" (default) or
	// "lab". A lab profile is never used unless the policy says so.
	Origin string `json:"origin,omitempty"`
	// Clock is the clock round trips are appraised with: "counter"
	// (default: the cycle counter, vouched for by the TEE) or "kernel"
	// (the guest kernel's receive timestamps, cross-checked against the
	// counter; tighter, but trusts the guest kernel).
	Clock string `json:"clock,omitempty"`
	// MinEchoes is the least K per endpoint (default 8).
	MinEchoes int `json:"min_echoes,omitempty"`
	// AllowMissing lets a proof omit endpoints of the claimed region that
	// the profiles describe.
	AllowMissing bool `json:"allow_missing,omitempty"`
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
	for _, s := range p.Counter.Sources {
		if !timing.Source(s).Known() {
			errs = append(errs, fmt.Errorf("counter: unknown frequency source %q", s))
		}
	}
	if p.Counter.MaxHz != 0 && p.Counter.MinHz > p.Counter.MaxHz {
		errs = append(errs, errors.New("counter: min_hz above max_hz"))
	}
	l := p.Latency
	if l.FRR < 0 || l.FRR >= 1 || l.FARTarget < 0 || l.FARTarget >= 1 {
		errs = append(errs, errors.New("latency: frr and far_target must be in [0, 1)"))
	}
	for _, d := range l.DistancesKm {
		if !(d >= 0 && d <= 20040) {
			errs = append(errs, fmt.Errorf("latency: distance %v km is not on Earth", d))
		}
	}
	switch l.Origin {
	case "", "real", "lab":
	default:
		errs = append(errs, fmt.Errorf("latency: origin %q (want real or lab)", l.Origin))
	}
	switch l.Clock {
	case "", "counter", "kernel":
	default:
		errs = append(errs, fmt.Errorf("latency: clock %q (want counter or kernel)", l.Clock))
	}
	if l.MinEchoes < 0 || l.MinEchoes > evidence.MaxEchoesPerConn {
		errs = append(errs, fmt.Errorf("latency: min_echoes %d", l.MinEchoes))
	}
	if p.ChallengeSkew < 0 {
		errs = append(errs, errors.New("challenge_skew is negative"))
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
