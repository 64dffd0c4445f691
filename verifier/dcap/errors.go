package dcap

import (
	"errors"
	"fmt"
)

// Stages of verification, in the order Verify runs them. A *StageError
// names the stage that refused the quote, so a caller (the CLI) can map it
// to an exit code without reading messages.
const (
	// StageParse: the quote bytes are not a well-formed TDX v4 quote.
	StageParse = "parse"
	// StagePCKChain: the PCK certificate chain in the quote does not lead to
	// a trusted root at the verification time.
	StagePCKChain = "pck_chain"
	// StageQuoteSignature: the attestation key's signature over the quote
	// header and TD body does not verify.
	StageQuoteSignature = "quote_signature"
	// StageQEReport: the QE report is not signed by the PCK key, or its
	// report data does not bind the attestation key.
	StageQEReport = "qe_report"
	// StageCollateral: the collateral could not be obtained, or is not
	// signed by the trusted root, not valid at the verification time, or
	// not about this platform.
	StageCollateral = "collateral"
	// StageRevocation: the PCK certificate or its issuing CA is revoked.
	StageRevocation = "revocation"
	// StageTCB: the quote does not match the collateral's TDX module or QE
	// identity, or no TCB level applies to it.
	StageTCB = "tcb"
)

// StageError is the error Verify returns: the stage that failed and why.
// Match the cause with errors.Is against the sentinels below.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *StageError) Unwrap() error { return e.Err }

func stageErr(stage string, err error) error { return &StageError{Stage: stage, Err: err} }

// Sentinel causes. Errors returned by this package wrap exactly one of these
// (policy errors wrap ErrPolicy or ErrInvalidPolicy).
var (
	// ErrMalformedQuote: the bytes do not follow the quote layout.
	ErrMalformedQuote = errors.New("malformed quote")
	// ErrQuoteTooLarge: the input exceeds MaxQuoteSize.
	ErrQuoteTooLarge = errors.New("quote too large")
	// ErrUnsupportedVersion: the quote is not version 4.
	ErrUnsupportedVersion = errors.New("unsupported quote version")
	// ErrNotTDX: the quote is not a TDX quote (for example an SGX enclave quote).
	ErrNotTDX = errors.New("not a TDX quote")

	// ErrPCKChain: the PCK certificate chain is invalid or untrusted.
	ErrPCKChain = errors.New("PCK certificate chain not trusted")
	// ErrQuoteSignature: the quote signature does not verify.
	ErrQuoteSignature = errors.New("quote signature invalid")
	// ErrQEReport: the QE report signature or its binding of the attestation key is invalid.
	ErrQEReport = errors.New("QE report invalid")

	// ErrMalformedCollateral: collateral could not be parsed.
	ErrMalformedCollateral = errors.New("malformed collateral")
	// ErrCollateralSignature: a collateral signature or issuer chain does not verify to a trusted root.
	ErrCollateralSignature = errors.New("collateral signature invalid")
	// ErrCollateralExpired: a piece of collateral (or a certificate of its
	// issuer chain) is past its nextUpdate / notAfter at the verification time.
	ErrCollateralExpired = errors.New("collateral expired")
	// ErrCollateralNotYetValid: a piece of collateral was issued after the verification time.
	ErrCollateralNotYetValid = errors.New("collateral not yet valid")
	// ErrFMSPCMismatch: the TCB info is for another platform (FMSPC) than the PCK certificate.
	ErrFMSPCMismatch = errors.New("TCB info FMSPC does not match the PCK certificate")
	// ErrTCBInfoMismatch: the TCB info is not TDX TCB info v3 or names another PCE.
	ErrTCBInfoMismatch = errors.New("TCB info does not apply to this quote")
	// ErrQEIdentity: the QE identity is not a TD_QE identity, or the QE
	// report does not match it (MRSIGNER, ISVPRODID, MISCSELECT, ATTRIBUTES).
	ErrQEIdentity = errors.New("QE identity mismatch")
	// ErrRevoked: the PCK certificate or its CA is on a revocation list.
	ErrRevoked = errors.New("certificate revoked")
	// ErrTDXModuleMismatch: MRSIGNERSEAM/SEAMATTRIBUTES or the TDX module
	// version are not those of a TDX module in the TCB info.
	ErrTDXModuleMismatch = errors.New("TDX module mismatch")
	// ErrTCBLevelNotFound: no TCB level of the collateral applies (Intel's "TCB not supported").
	ErrTCBLevelNotFound = errors.New("no matching TCB level")

	// ErrCouldNotCheck: verification could not be carried out (no
	// collateral source, network outage, cancelled context). It says nothing
	// about the quote; callers should retry rather than reject.
	ErrCouldNotCheck = errors.New("could not check")

	// ErrPolicy: a verified quote does not satisfy the policy.
	ErrPolicy = errors.New("policy mismatch")
	// ErrInvalidPolicy: the policy itself is malformed.
	ErrInvalidPolicy = errors.New("invalid policy")
)

// versionError reports an unsupported quote version in plain words.
type versionError struct{ version uint16 }

func (e versionError) Error() string {
	return fmt.Sprintf("quote version %d is not supported (only v4)", e.version)
}

func (e versionError) Is(target error) bool { return target == ErrUnsupportedVersion }

// teeTypeError reports a quote of another TEE in plain words.
type teeTypeError struct {
	teeType uint32
	version uint16
}

func (e teeTypeError) Error() string {
	if e.teeType == teeTypeSGX {
		return fmt.Sprintf("quote is an SGX enclave quote (TEE type 0x00, version %d), not a TDX quote", e.version)
	}
	return fmt.Sprintf("quote has unknown TEE type %#x, not TDX (0x81)", e.teeType)
}

func (e teeTypeError) Is(target error) bool { return target == ErrNotTDX }
