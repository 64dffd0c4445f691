package azure

import (
	"errors"
	"fmt"
	"strings"
)

// Errors, one per check, matchable with errors.Is.
var (
	// ErrOptions: the caller's Options or arguments are unusable.
	ErrOptions = errors.New("invalid options")
	// ErrHCLReport: the HCL report does not parse.
	ErrHCLReport = errors.New("malformed HCL report")
	// ErrNotTDX: the HCL report carries no TDX report (SNP, for instance).
	ErrNotTDX = errors.New("HCL report is not from a TDX VM")
	// ErrTDQuote: the TD quote does not parse as a TDX v4 quote.
	ErrTDQuote = errors.New("malformed TD quote")
	// ErrRuntimeDataHash: the runtime data does not hash to REPORTDATA.
	ErrRuntimeDataHash = errors.New("runtime data does not hash to REPORTDATA")
	// ErrTDMismatch: the HCL report's TDREPORT and the quote are from
	// different TDs (or states).
	ErrTDMismatch = errors.New("TD report and TD quote disagree")
	// ErrUserData: user-data is absent or differs from the expected value.
	ErrUserData = errors.New("user-data mismatch")
	// ErrNoAKPub: the runtime data names no HCLAkPub.
	ErrNoAKPub = errors.New("runtime data has no HCLAkPub")
	// ErrTPMQuoteFormat: the TPM quote is malformed (sizes, magic, type,
	// PCR selection).
	ErrTPMQuoteFormat = errors.New("malformed TPM quote")
	// ErrTPMQuoteSignature: the TPM quote's signature does not verify
	// under the AK.
	ErrTPMQuoteSignature = errors.New("TPM quote signature invalid")
	// ErrTPMNonce: the TPM quote's extraData is not the expected nonce.
	ErrTPMNonce = errors.New("TPM quote nonce mismatch")
	// ErrPCRDigest: the PCR values given are not the ones quoted.
	ErrPCRDigest = errors.New("PCR values do not match the quote")
	// ErrAKCert: the AK certificate does not parse or does not chain to
	// the configured roots.
	ErrAKCert = errors.New("AK certificate invalid")
	// ErrAKMismatch: a key presented as the AK is not HCLAkPub.
	ErrAKMismatch = errors.New("AK is not the HCL report's HCLAkPub")
	// ErrPolicy: the verified evidence does not satisfy the policy.
	ErrPolicy = errors.New("policy not satisfied")
	// ErrPolicyInvalid: the policy itself is malformed.
	ErrPolicyInvalid = errors.New("invalid policy")
)

// CheckError says which check of Verify failed. Err wraps the check's
// sentinel error.
type CheckError struct {
	Step Step
	Err  error
}

func (e *CheckError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }

// Unwrap returns the check's error.
func (e *CheckError) Unwrap() error { return e.Err }

// TDMismatchError lists the fields in which the HCL report's TDREPORT and
// the TD quote's body differ. It unwraps to ErrTDMismatch.
type TDMismatchError struct {
	Fields []string
}

func (e *TDMismatchError) Error() string {
	return fmt.Sprintf("%v: %s differ", ErrTDMismatch, strings.Join(e.Fields, ", "))
}

// Unwrap returns ErrTDMismatch.
func (e *TDMismatchError) Unwrap() error { return ErrTDMismatch }

// Mismatch is one policy requirement that the evidence does not meet.
type Mismatch struct {
	Field string `json:"field"`
	Want  string `json:"want"`
	Got   string `json:"got"`
}

// PolicyError lists every mismatch between a Result and a Policy. It
// unwraps to ErrPolicy.
type PolicyError struct {
	Mismatches []Mismatch
}

func (e *PolicyError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = fmt.Sprintf("%s: want %s, got %s", m.Field, m.Want, m.Got)
	}
	return fmt.Sprintf("%v: %s", ErrPolicy, strings.Join(parts, "; "))
}

// Unwrap returns ErrPolicy.
func (e *PolicyError) Unwrap() error { return ErrPolicy }
