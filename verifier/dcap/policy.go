package dcap

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Policy says which verified quotes are acceptable. It is data: a JSON
// document a person can review and diff. The zero value is the strictest
// useful policy: only UpToDate platforms, no debug TDs, any measurements.
//
// Example:
//
//	{
//	  "accepted_tcb_statuses": ["UpToDate", "SWHardeningNeeded"],
//	  "mrtd": ["fe27b2aa…"],
//	  "rtmr0": ["…", "…"]
//	}
type Policy struct {
	// AcceptedTCBStatuses lists Intel TCB statuses to accept. Empty means
	// ["UpToDate"]. "Revoked" is never acceptable: listing it makes the
	// policy invalid. Azure TD quotes, for instance, are OutOfDate on
	// some collateral; accepting that is a decision to write down here.
	AcceptedTCBStatuses []TCBStatus `json:"accepted_tcb_statuses,omitempty"`
	// AllowDebug accepts TDs with TD_ATTRIBUTES.DEBUG set, whose memory the
	// host can read and write. Only for development.
	AllowDebug bool `json:"allow_debug,omitempty"`
	// RequireSEPTVEDisable refuses TDs without TD_ATTRIBUTES.SEPT_VE_DISABLE.
	// Off by default: Azure's paravisor TD never sets it.
	RequireSEPTVEDisable bool `json:"require_sept_ve_disable,omitempty"`
	// MinTCBEvaluationDataNumber refuses collateral older than this TCB
	// recovery event (tcbEvaluationDataNumber). Zero means any.
	MinTCBEvaluationDataNumber uint32 `json:"min_tcb_evaluation_data_number,omitempty"`

	// Allow-lists of measurements, hex (case-insensitive). Empty means any
	// value. A quote matches a list if it equals one of its entries.
	MRTD          []string `json:"mrtd,omitempty"`
	RTMR0         []string `json:"rtmr0,omitempty"`
	RTMR1         []string `json:"rtmr1,omitempty"`
	RTMR2         []string `json:"rtmr2,omitempty"`
	RTMR3         []string `json:"rtmr3,omitempty"`
	MRSEAM        []string `json:"mrseam,omitempty"`
	MROWNER       []string `json:"mrowner,omitempty"`
	MROWNERCONFIG []string `json:"mrownerconfig,omitempty"`
	MRCONFIGID    []string `json:"mrconfigid,omitempty"`
	// MRSERVICETD: v4 quotes have no MRSERVICETD, so a non-empty list
	// refuses every v4 quote.
	MRSERVICETD []string `json:"mrservicetd,omitempty"`
}

// PolicyError is one way a Result fails a Policy (or one flaw of the policy
// itself). It wraps ErrPolicy or ErrInvalidPolicy.
type PolicyError struct {
	// Field is the policy field concerned (its JSON name).
	Field string
	// Got is the quote's value; Want describes what the policy accepts.
	Got  string
	Want string

	invalid bool
}

func (e *PolicyError) Error() string {
	if e.invalid {
		return fmt.Sprintf("invalid policy field %s: %s", e.Field, e.Want)
	}
	return fmt.Sprintf("policy %s: got %s, want %s", e.Field, e.Got, e.Want)
}

// Unwrap returns ErrPolicy, or ErrInvalidPolicy for a malformed policy.
func (e *PolicyError) Unwrap() error {
	if e.invalid {
		return ErrInvalidPolicy
	}
	return ErrPolicy
}

// Check reports every way r fails p, joined with errors.Join; nil means r
// is acceptable. Each joined error is a *PolicyError.
func (p *Policy) Check(r *Result) error {
	if p == nil {
		p = &Policy{}
	}
	if r == nil || !r.Verified {
		return &PolicyError{Field: "verified", Got: "unverified result", Want: "a Result returned by Verify"}
	}
	var errs []error
	mismatch := func(field, got, want string) {
		errs = append(errs, &PolicyError{Field: field, Got: got, Want: want})
	}

	accepted := p.AcceptedTCBStatuses
	if len(accepted) == 0 {
		accepted = []TCBStatus{StatusUpToDate}
	}
	for _, s := range accepted {
		if s == StatusRevoked || !s.valid() {
			errs = append(errs, &PolicyError{Field: "accepted_tcb_statuses", Want: fmt.Sprintf("%q cannot be accepted", s), invalid: true})
		}
	}
	if r.TCBStatus == StatusRevoked || !slices.Contains(accepted, r.TCBStatus) {
		mismatch("accepted_tcb_statuses", string(r.TCBStatus), fmt.Sprint(accepted))
	}
	if r.TDAttributes.Debug && !p.AllowDebug {
		mismatch("allow_debug", "debug TD (TD_ATTRIBUTES.DEBUG=1)", "a production TD")
	}
	if p.RequireSEPTVEDisable && !r.TDAttributes.SEPTVEDisable {
		mismatch("require_sept_ve_disable", "SEPT_VE_DISABLE=0", "SEPT_VE_DISABLE=1")
	}
	if n := r.Collateral.TCBEvaluationDataNumber; n < p.MinTCBEvaluationDataNumber {
		mismatch("min_tcb_evaluation_data_number", fmt.Sprint(n), fmt.Sprintf(">= %d", p.MinTCBEvaluationDataNumber))
	}

	lists := []struct {
		field string
		allow []string
		got   string
		size  int
	}{
		{"mrtd", p.MRTD, r.MRTD, 48},
		{"rtmr0", p.RTMR0, r.RTMRs[0], 48},
		{"rtmr1", p.RTMR1, r.RTMRs[1], 48},
		{"rtmr2", p.RTMR2, r.RTMRs[2], 48},
		{"rtmr3", p.RTMR3, r.RTMRs[3], 48},
		{"mrseam", p.MRSEAM, r.MRSEAM, 48},
		{"mrowner", p.MROWNER, r.MROWNER, 48},
		{"mrownerconfig", p.MROWNERCONFIG, r.MROWNERCONFIG, 48},
		{"mrconfigid", p.MRCONFIGID, r.MRCONFIGID, 48},
		{"mrservicetd", p.MRSERVICETD, r.MRSERVICETD, 48},
	}
	for _, l := range lists {
		if len(l.allow) == 0 {
			continue
		}
		ok := false
		for _, a := range l.allow {
			norm := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(a), "0x"))
			if b, err := hex.DecodeString(norm); err != nil || len(b) != l.size {
				errs = append(errs, &PolicyError{Field: l.field, Want: fmt.Sprintf("entry %q is not %d bytes of hex", a, l.size), invalid: true})
				continue
			}
			ok = ok || norm == l.got
		}
		if !ok {
			got := l.got
			if got == "" {
				got = "absent"
			}
			mismatch(l.field, got, fmt.Sprintf("one of %d allowed values", len(l.allow)))
		}
	}
	return errors.Join(errs...)
}
