package azure

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func verifiedTrustee(t *testing.T, withTPM bool) *Result {
	t.Helper()
	in := trusteeEvidence(t)
	if !withTPM {
		in.TPMQuote = nil
	}
	res, err := Verify(in, trusteeOptions())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const pcr0 = "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"

func TestPolicyAccepts(t *testing.T) {
	p, err := ParsePolicy([]byte(`{
		"require_user_data": true,
		"require_tpm_quote": true,
		"required_pcrs": [0, 1, 2, 3, 4, 5, 6, 7, 23],
		"pcrs": {"0": "` + pcr0 + `"},
		"vm_configuration": {"secure_boot": true, "tpm_enabled": true, "tpm_persisted": false,
			"console_enabled": true, "vm_unique_ids": ["6332533d-5649-4d02-8aa7-8f64b7c3ee21"]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(verifiedTrustee(t, true)); err != nil {
		t.Errorf("Check: %v", err)
	}
	var zero Policy
	if err := zero.Check(verifiedTrustee(t, false)); err != nil {
		t.Errorf("zero policy: %v", err)
	}
}

func TestPolicyReportsEveryMismatch(t *testing.T) {
	no, yes := false, true
	p := &Policy{
		RequireAKCert: true,
		RequiredPCRs:  []uint32{0},
		PCRs:          map[uint32]string{0: "00" + pcr0[2:]},
		VMConfig: VMConfigPolicy{
			SecureBoot:                &no,
			TPMPersisted:              &yes,
			InteractiveConsoleEnabled: &no, // absent from this VM's claims
			VMUniqueIDs:               []string{"D270E56B-F668-4990-A5BC-9B624576841D"},
		},
	}
	err := p.Check(verifiedTrustee(t, true))
	var pe *PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPolicy) {
		t.Fatalf("Check = %v", err)
	}
	var fields []string
	for _, m := range pe.Mismatches {
		fields = append(fields, m.Field)
	}
	want := []string{"ak-cert", "pcr[0]", "vm-configuration.secure-boot", "vm-configuration.tpm-persisted",
		"vm-configuration.interactive-console-enabled", "vm-configuration.vmUniqueId"}
	if !slices.Equal(fields, want) {
		t.Errorf("mismatches %v, want %v", fields, want)
	}

	// Without a TPM quote, PCR requirements fail as one missing quote.
	err = (&Policy{RequireUserData: true, RequiredPCRs: []uint32{7}}).Check(verifiedTrustee(t, false))
	if !errors.As(err, &pe) || len(pe.Mismatches) != 1 || pe.Mismatches[0].Field != "tpm-quote" {
		t.Errorf("no TPM quote: %v", err)
	}
	// User-data not checked by Verify.
	res := verifiedTrustee(t, false)
	res.UserDataChecked = false
	if err := (&Policy{RequireUserData: true}).Check(res); !errors.Is(err, ErrPolicy) {
		t.Errorf("unchecked user-data: %v", err)
	}
	if err := (&Policy{}).Check(nil); !errors.Is(err, ErrPolicy) {
		t.Errorf("nil result: %v", err)
	}
}

func TestParsePolicyRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"unknown field":        `{"require_tpm":true}`,
		"typo in vm field":     `{"vm_configuration":{"secureboot":true}}`,
		"PCR 24":               `{"required_pcrs":[24]}`,
		"PCR value short":      `{"pcrs":{"0":"00"}}`,
		"PCR value not hex":    `{"pcrs":{"1":"` + "zz" + pcr0[2:] + `"}}`,
		"PCR key not a number": `{"pcrs":{"x":"` + pcr0 + `"}}`,
		"trailing data":        `{} {}`,
		"not JSON":             `require everything`,
	} {
		if _, err := ParsePolicy([]byte(in)); !errors.Is(err, ErrPolicyInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	yes := true
	p := Policy{RequireTPMQuote: true, RequiredPCRs: []uint32{7}, PCRs: map[uint32]string{0: pcr0}, VMConfig: VMConfigPolicy{SecureBoot: &yes}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePolicy(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if q.VMConfig.SecureBoot == nil || !*q.VMConfig.SecureBoot || q.PCRs[0] != pcr0 || !q.RequireTPMQuote {
		t.Errorf("round trip %s → %+v", b, q)
	}
	if b, _ := json.Marshal(Policy{}); string(b) != "{}" {
		t.Errorf("zero policy encodes as %s", b)
	}
}
