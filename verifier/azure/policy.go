package azure

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxPCRIndex is the highest PCR index a policy may name (a TPM 2.0 PC
// client TPM, and Azure's vTPM, have PCRs 0 to 23).
const MaxPCRIndex = 23

// Policy says what verified Azure evidence must show. It is data, meant to
// be reviewed and diffed as JSON; Check reports every mismatch at once.
// The zero Policy requires nothing beyond what Verify already checked.
type Policy struct {
	// RequireUserData requires that user-data was checked against the
	// expected proof digest.
	RequireUserData bool `json:"require_user_data,omitempty"`
	// RequireTPMQuote requires a verified TPM quote.
	RequireTPMQuote bool `json:"require_tpm_quote,omitempty"`
	// RequireAKCert requires a verified AK certificate.
	RequireAKCert bool `json:"require_ak_cert,omitempty"`
	// RequiredPCRs must all be covered by the verified TPM quote (which
	// is then required).
	RequiredPCRs []uint32 `json:"required_pcrs,omitempty"`
	// PCRs maps a PCR index (a decimal string in JSON) to the hex SHA-256
	// value it must hold in the verified TPM quote.
	PCRs map[uint32]string `json:"pcrs,omitempty"`
	// VMConfig constrains the runtime data's vm-configuration.
	VMConfig VMConfigPolicy `json:"vm_configuration,omitzero"`
}

// VMConfigPolicy constrains vm-configuration. A nil flag is not
// constrained; a set flag must be present in the runtime data with that
// value.
type VMConfigPolicy struct {
	SecureBoot                 *bool `json:"secure_boot,omitempty"`
	TPMEnabled                 *bool `json:"tpm_enabled,omitempty"`
	TPMPersisted               *bool `json:"tpm_persisted,omitempty"`
	ConsoleEnabled             *bool `json:"console_enabled,omitempty"`
	InteractiveConsoleEnabled  *bool `json:"interactive_console_enabled,omitempty"`
	FilteredVPCIDevicesAllowed *bool `json:"filtered_vpci_devices_allowed,omitempty"`
	// VMUniqueIDs, when not empty, lists the acceptable vmUniqueId values
	// (compared ignoring case).
	VMUniqueIDs []string `json:"vm_unique_ids,omitempty"`
}

// ParsePolicy reads a policy from JSON, refusing unknown fields (a typo in
// a policy must not silently loosen it) and invalid values.
func ParsePolicy(b []byte) (*Policy, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var p Policy
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: decoding: %w", ErrPolicyInvalid, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: data after the policy", ErrPolicyInvalid)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks the policy's own values. Errors wrap ErrPolicyInvalid.
func (p *Policy) Validate() error {
	for _, i := range p.RequiredPCRs {
		if i > MaxPCRIndex {
			return fmt.Errorf("%w: required PCR %d above %d", ErrPolicyInvalid, i, MaxPCRIndex)
		}
	}
	for i, v := range p.PCRs {
		if i > MaxPCRIndex {
			return fmt.Errorf("%w: PCR %d above %d", ErrPolicyInvalid, i, MaxPCRIndex)
		}
		if b, err := hex.DecodeString(v); err != nil || len(b) != 32 {
			return fmt.Errorf("%w: PCR %d value %q is not 64 hex digits", ErrPolicyInvalid, i, v)
		}
	}
	return nil
}

// Check reports every way r falls short of the policy, as a *PolicyError
// wrapping ErrPolicy. r must come from Verify.
func (p *Policy) Check(r *Result) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: no verification result", ErrPolicy)
	}
	var ms []Mismatch
	add := func(field, want, got string) { ms = append(ms, Mismatch{Field: field, Want: want, Got: got}) }
	checked := func(c Step) string {
		if r.Did(c) {
			return "checked"
		}
		for _, n := range r.NotChecked {
			if n.Step == c {
				return "not checked (" + n.Reason + ")"
			}
		}
		return "not checked"
	}

	if p.RequireUserData && !r.UserDataChecked {
		add("user-data", "checked", checked(StepUserData))
	}
	needTPM := p.RequireTPMQuote || len(p.RequiredPCRs) > 0 || len(p.PCRs) > 0
	if needTPM && r.TPM == nil {
		add("tpm-quote", "verified", checked(StepTPMQuote))
	}
	if p.RequireAKCert && r.AKCert == nil {
		add("ak-cert", "verified", checked(StepAKCert))
	}
	if r.TPM != nil {
		for _, i := range p.RequiredPCRs {
			if _, ok := r.TPM.PCRs[i]; !ok {
				add(fmt.Sprintf("pcr[%d]", i), "quoted", "not in the quote's selection")
			}
		}
		idx := make([]uint32, 0, len(p.PCRs))
		for i := range p.PCRs {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		for _, i := range idx {
			want := strings.ToLower(p.PCRs[i])
			got, ok := r.TPM.PCRs[i]
			switch {
			case !ok:
				add(fmt.Sprintf("pcr[%d]", i), want, "not in the quote's selection")
			case hex.EncodeToString(got) != want:
				add(fmt.Sprintf("pcr[%d]", i), want, hex.EncodeToString(got))
			}
		}
	}

	v, c := p.VMConfig, r.VMConfig
	flag := func(name string, want, got *bool) {
		switch {
		case want == nil:
		case got == nil:
			add("vm-configuration."+name, strconv.FormatBool(*want), "absent")
		case *want != *got:
			add("vm-configuration."+name, strconv.FormatBool(*want), strconv.FormatBool(*got))
		}
	}
	flag("secure-boot", v.SecureBoot, c.SecureBoot)
	flag("tpm-enabled", v.TPMEnabled, c.TPMEnabled)
	flag("tpm-persisted", v.TPMPersisted, c.TPMPersisted)
	flag("console-enabled", v.ConsoleEnabled, c.ConsoleEnabled)
	flag("interactive-console-enabled", v.InteractiveConsoleEnabled, c.InteractiveConsoleEnabled)
	flag("filtered-vpci-devices-allowed", v.FilteredVPCIDevicesAllowed, c.FilteredVPCIDevicesAllowed)
	if len(v.VMUniqueIDs) > 0 && !slices.ContainsFunc(v.VMUniqueIDs, func(id string) bool { return strings.EqualFold(id, c.VMUniqueID) }) {
		add("vm-configuration.vmUniqueId", "one of "+strings.Join(v.VMUniqueIDs, ", "), strconv.Quote(c.VMUniqueID))
	}

	if ms != nil {
		return &PolicyError{Mismatches: ms}
	}
	return nil
}
