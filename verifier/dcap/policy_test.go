package dcap

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func verified(t *testing.T, quote, coll string, at time.Time) *Result {
	t.Helper()
	res, err := Verify(t.Context(), quoteBytes(t, quote), Options{Collateral: bundle(t, coll), At: at})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// policyFields returns the fields of the *PolicyErrors joined in err.
func policyFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []string
	for _, e := range errs {
		var pe *PolicyError
		if !errors.As(e, &pe) {
			t.Fatalf("%v is not a *PolicyError", e)
		}
		if !errors.Is(e, ErrPolicy) && !errors.Is(e, ErrInvalidPolicy) {
			t.Fatalf("%v wraps neither ErrPolicy nor ErrInvalidPolicy", e)
		}
		out = append(out, pe.Field)
	}
	return out
}

func TestPolicyCheck(t *testing.T) {
	azure := verified(t, "teekit_tdx-v4-azure.v4.bin", coll0080, at2025oct)
	debug := verified(t, "trustee_tdx_quote_4.dat", coll5080, at2023)
	outdated := verified(t, "teekit_tdx-v4-zkdcap.v4.dat", coll0080, at2025oct)
	other := strings.Repeat("ab", 48)

	tests := []struct {
		name   string
		policy *Policy
		res    *Result
		fields []string // every mismatch, in Check's order
		want   error
	}{
		{"zero policy, Azure", &Policy{}, azure, nil, nil},
		{"nil policy is the zero policy", nil, azure, nil, nil},
		{"zero policy refuses debug", &Policy{}, debug, []string{"allow_debug"}, ErrPolicy},
		{"allow debug", &Policy{AllowDebug: true}, debug, nil, nil},
		{"zero policy refuses OutOfDate", &Policy{}, outdated, []string{"accepted_tcb_statuses"}, ErrPolicy},
		{"accept OutOfDate", &Policy{AcceptedTCBStatuses: []TCBStatus{StatusUpToDate, StatusOutOfDate}}, outdated, nil, nil},
		{"Azure never sets SEPT_VE_DISABLE", &Policy{RequireSEPTVEDisable: true}, azure, []string{"require_sept_ve_disable"}, ErrPolicy},
		{"MRTD allowed", &Policy{MRTD: []string{other, strings.ToUpper(azure.MRTD)}}, azure, nil, nil},
		{"MRTD with 0x prefix", &Policy{MRTD: []string{"0x" + azure.MRTD}}, azure, nil, nil},
		{"RTMRs allowed", &Policy{RTMR0: []string{azure.RTMRs[0]}, RTMR1: []string{azure.RTMRs[1]}, RTMR2: []string{azure.RTMRs[2]}, RTMR3: []string{azure.RTMRs[3]}}, azure, nil, nil},
		{"MRSEAM allowed", &Policy{MRSEAM: []string{azure.MRSEAM}}, azure, nil, nil},
		{"minimum TCB evaluation", &Policy{MinTCBEvaluationDataNumber: 17}, azure, nil, nil},
		{"minimum TCB evaluation 18", &Policy{MinTCBEvaluationDataNumber: 18}, azure, []string{"min_tcb_evaluation_data_number"}, ErrPolicy},
		{"MRSERVICETD absent in v4", &Policy{MRSERVICETD: []string{strings.Repeat("00", 48)}}, azure, []string{"mrservicetd"}, ErrPolicy},
		{"every mismatch is reported", &Policy{
			RequireSEPTVEDisable: false, MRTD: []string{other}, RTMR0: []string{other}, RTMR3: []string{other},
			MRSEAM: []string{other}, MROWNER: []string{other}, MRCONFIGID: []string{other}, MROWNERCONFIG: []string{other},
		}, debug, []string{"allow_debug", "mrtd", "rtmr0", "rtmr3", "mrseam", "mrowner", "mrownerconfig", "mrconfigid"}, ErrPolicy},
		{"everything at once on an outdated quote", &Policy{RequireSEPTVEDisable: true, MRTD: []string{other}}, outdated,
			[]string{"accepted_tcb_statuses", "mrtd"}, ErrPolicy},
		{"Revoked cannot be accepted", &Policy{AcceptedTCBStatuses: []TCBStatus{StatusRevoked, StatusUpToDate}}, azure, []string{"accepted_tcb_statuses"}, ErrInvalidPolicy},
		{"unknown status", &Policy{AcceptedTCBStatuses: []TCBStatus{"Fine", StatusUpToDate}}, azure, []string{"accepted_tcb_statuses"}, ErrInvalidPolicy},
		{"bad hex entry", &Policy{MRTD: []string{"zz", azure.MRTD}}, azure, []string{"mrtd"}, ErrInvalidPolicy},
		{"short entry", &Policy{RTMR1: []string{"abcd"}}, azure, []string{"rtmr1", "rtmr1"}, ErrInvalidPolicy},
		{"unverified result", &Policy{}, &Result{}, []string{"verified"}, ErrPolicy},
		{"nil result", &Policy{}, nil, []string{"verified"}, ErrPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(tc.res)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if got := policyFields(t, err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestPolicyJSON(t *testing.T) {
	var p Policy
	doc := `{"accepted_tcb_statuses":["UpToDate","SWHardeningNeeded"],"allow_debug":false,
		"require_sept_ve_disable":true,"mrtd":["AA"],"rtmr0":["bb"],"mrservicetd":[]}`
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if !p.RequireSEPTVEDisable || len(p.AcceptedTCBStatuses) != 2 || p.MRTD[0] != "AA" || p.RTMR0[0] != "bb" {
		t.Errorf("decoded %+v", p)
	}
	b, _ := json.Marshal(Policy{})
	if string(b) != "{}" {
		t.Errorf("zero policy marshals to %s", b)
	}
}
