package azure

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"
)

// Step names one link of the chain (see the package documentation).
type Step string

// The checks, in the order Verify runs them.
const (
	StepHCLReport   Step = "hcl-report"         // the HCL report parses and is TDX
	StepTDQuote     Step = "td-quote-format"    // the TD quote parses as TDX v4
	StepRuntimeData Step = "runtime-data-hash"  // link 2
	StepTDMatch     Step = "td-report-matches"  // link 3
	StepUserData    Step = "user-data"          // link 4
	StepTPMQuote    Step = "tpm-quote"          // link 5
	StepAKCert      Step = "ak-cert"            // link 6
	StepTDQuoteSig  Step = "td-quote-signature" // link 1: never done here
)

// Evidence is what an Azure TDX confidential VM presents.
type Evidence struct {
	// HCLReport is the content of vTPM NV index 0x01400001, padding
	// included.
	HCLReport []byte
	// TDQuote is the TD quote the IMDS returned for the HCL report's
	// TDREPORT.
	TDQuote []byte
	// TPMQuote is an optional vTPM quote by the AK.
	TPMQuote *TPMQuote
	// AKCert is the optional content of NV index 0x01C101D0.
	AKCert []byte
}

// Options is the verifier's plumbing. The zero value checks everything
// that can be checked without further input, and says what it could not.
type Options struct {
	// ExpectedUserData is the 64-byte value user-data must hold: the
	// proof digest. When nil, user-data is reported as not checked.
	ExpectedUserData []byte
	// TPMNonce is the extraData the TPM quote must carry. It must be set
	// when the evidence has a TPM quote: a quote with an unchecked nonce
	// could be a replay, so Verify refuses rather than skips.
	TPMNonce []byte
	// AKRoots are the roots the AK certificate must chain to (Microsoft's
	// "Azure Virtual TPM Root Certificate Authority 2023" in production;
	// none ships here). When nil, the AK certificate is reported as not
	// checked.
	AKRoots *x509.CertPool
	// AKIntermediates are intermediate CAs for the AK certificate (the
	// NV index holds only the leaf; Azure publishes the intermediate).
	AKIntermediates *x509.CertPool
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
}

// NotChecked is a check Verify did not do, and why.
type NotChecked struct {
	Step   Step   `json:"step"`
	Reason string `json:"reason"`
}

// Result is the verified view of Azure evidence: every field was checked
// as described, relative to the TD quote. Nothing here is trustworthy
// until the caller has verified that quote's DCAP signature, chain and TCB
// (verifier/dcap) on exactly the bytes in TDQuote: NotChecked always lists
// StepTDQuoteSig.
type Result struct {
	// TDQuote is the quote every check below hangs from: verify these
	// bytes with verifier/dcap.
	TDQuote []byte `json:"-"`
	// TD is the quote's body; the HCL report's TDREPORT matched it.
	TD TDQuoteBody `json:"td"`
	// RuntimeData is the runtime JSON whose hash is in REPORTDATA, and
	// RuntimeDataDigest that hash.
	RuntimeData       []byte `json:"runtime_data"`
	RuntimeDataDigest []byte `json:"runtime_data_digest"`
	// Runtime is RuntimeData decoded: bound to the quote through its hash.
	Runtime *RuntimeClaims `json:"-"`
	// VMConfig is the runtime data's vm-configuration.
	VMConfig VMConfig `json:"vm_configuration"`
	// UserData is the runtime data's user-data; UserDataChecked says
	// whether it equalled Options.ExpectedUserData.
	UserData        []byte `json:"user_data"`
	UserDataChecked bool   `json:"user_data_checked"`
	// AKPub is HCLAkPub.
	AKPub *rsa.PublicKey `json:"-"`
	// TPM is the verified TPM quote, nil without one.
	TPM *TPMResult `json:"tpm,omitempty"`
	// AKCert is the verified AK certificate, nil unless checked.
	AKCert *x509.Certificate `json:"-"`

	// Checked lists the checks that passed, in order; NotChecked those
	// that were not done.
	Checked    []Step       `json:"checked"`
	NotChecked []NotChecked `json:"not_checked"`
}

// Did reports whether check c passed.
func (r *Result) Did(c Step) bool {
	for _, x := range r.Checked {
		if x == c {
			return true
		}
	}
	return false
}

// Verify runs the checks of the package documentation on Azure evidence, in
// order, and stops at the first failure with a *CheckError. It does not
// verify the TD quote's signature: see Result.
func Verify(in Evidence, opts Options) (*Result, error) {
	fail := func(c Step, err error) (*Result, error) {
		return nil, fmt.Errorf("verifying Azure evidence: %w", &CheckError{Step: c, Err: err})
	}
	if opts.ExpectedUserData != nil && len(opts.ExpectedUserData) != UserDataSize {
		return fail(StepUserData, fmt.Errorf("%w: ExpectedUserData is %d bytes, want %d", ErrOptions, len(opts.ExpectedUserData), UserDataSize))
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}

	rep, err := ParseHCLReport(in.HCLReport)
	if err != nil {
		return fail(StepHCLReport, err)
	}
	if rep.TD == nil {
		return fail(StepHCLReport, fmt.Errorf("%w: report type %s", ErrNotTDX, rep.Type))
	}
	res := &Result{
		TDQuote:  append([]byte(nil), in.TDQuote...),
		Runtime:  rep.Runtime,
		VMConfig: rep.Runtime.VMConfig,
		UserData: rep.Runtime.UserData,
		AKPub:    rep.Runtime.AKPub,
		Checked:  []Step{StepHCLReport},
		NotChecked: []NotChecked{{StepTDQuoteSig,
			"the TD quote's DCAP signature, chain and TCB are not verified here: verify Result.TDQuote with verifier/dcap; every other check rests on it"}},
	}

	body, err := ParseTDQuote(in.TDQuote)
	if err != nil {
		return fail(StepTDQuote, err)
	}
	res.TD = *body
	res.Checked = append(res.Checked, StepTDQuote)

	if res.RuntimeDataDigest, err = CheckRuntimeData(rep, body); err != nil {
		return fail(StepRuntimeData, err)
	}
	res.RuntimeData = rep.RuntimeData
	res.Checked = append(res.Checked, StepRuntimeData)

	if err := CheckTDMatch(rep.TD, body); err != nil {
		return fail(StepTDMatch, err)
	}
	res.Checked = append(res.Checked, StepTDMatch)

	if opts.ExpectedUserData != nil {
		if err := CheckUserData(rep.Runtime, opts.ExpectedUserData); err != nil {
			return fail(StepUserData, err)
		}
		res.UserDataChecked = true
		res.Checked = append(res.Checked, StepUserData)
	} else {
		res.NotChecked = append(res.NotChecked, NotChecked{StepUserData, "no expected user-data given"})
	}

	if in.TPMQuote != nil {
		if rep.Runtime.AKPub == nil {
			return fail(StepTPMQuote, fmt.Errorf("%w: cannot verify the TPM quote", ErrNoAKPub))
		}
		if res.TPM, err = VerifyTPMQuote(in.TPMQuote, rep.Runtime.AKPub, opts.TPMNonce); err != nil {
			return fail(StepTPMQuote, err)
		}
		res.Checked = append(res.Checked, StepTPMQuote)
	} else {
		res.NotChecked = append(res.NotChecked, NotChecked{StepTPMQuote, "no TPM quote in the evidence"})
	}

	switch {
	case in.AKCert == nil:
		res.NotChecked = append(res.NotChecked, NotChecked{StepAKCert, "no AK certificate in the evidence"})
	case opts.AKRoots == nil:
		res.NotChecked = append(res.NotChecked, NotChecked{StepAKCert, "no AK roots configured"})
	default:
		if res.AKCert, err = VerifyAKCert(in.AKCert, rep.Runtime.AKPub, opts.AKRoots, opts.AKIntermediates, now()); err != nil {
			return fail(StepAKCert, err)
		}
		res.Checked = append(res.Checked, StepAKCert)
	}
	return res, nil
}
