package maa

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The Microsoft docs' TDX token body (unsigned): claim extraction only.
func TestParseClaimsMSDocsTDX(t *testing.T) {
	c, err := ParseClaims(readTestdata(t, "msdocs_tdxvm_token_claims_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://maasand001.eus.attest.azure.net" || c.AttestationType != "tdxvm" || c.TCBStatus != "UpToDate" ||
		c.ComplianceStatus != "azure-compliant-cvm" || c.EATProfile != "https://aka.ms/maa-eat-profile-tdxvm" ||
		c.DebugStatus != "disabled" || c.IntendedUse != "generic" || c.Version != "1.0" || c.Nonce != nil {
		t.Errorf("strings: %+v", c)
	}
	if !c.IssuedAt.Equal(time.Unix(1697677487, 0)) || !c.Expiry.Equal(time.Unix(1697706287, 0)) || !c.NotBefore.Equal(c.IssuedAt) {
		t.Errorf("times %v %v %v", c.IssuedAt, c.NotBefore, c.Expiry)
	}
	x := c.TDX
	if x == nil {
		t.Fatal("no TDX claims")
	}
	want := map[string]string{
		"mrtd":        "5be56d418d33661a6c21da77c9503a07e430b35eb92a0bd042a6b3c4e79b3c82bb1c594e770d0d129a0724669f1e953f",
		"mrseam":      "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
		"report_data": "93c6db49f2318387bcebdad0275e206725d948f9000d900344aa44abaef14596" + strings.Repeat("00", 32),
		"rtmr3":       strings.Repeat("00", 48),
		"xfam":        "e718060000000000",
		"tee_tcb_svn": "03000600000000000000000000000000",
		"attributes":  "0000000000000000",
	}
	got := map[string]string{
		"mrtd": x.MRTD.String(), "mrseam": x.MRSeam.String(), "report_data": x.ReportData.String(),
		"rtmr3": x.RTMR[3].String(), "xfam": x.XFAM.String(), "tee_tcb_svn": x.TEETCBSVN.String(),
		"attributes": x.TDAttributes.String(),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	for name, b := range map[string]*bool{"debug": x.Debug, "septve": x.SeptVEDisable, "pks": x.ProtectionKeys, "kl": x.KeyLocker, "perfmon": x.Perfmon} {
		if b == nil || *b {
			t.Errorf("%s: %v", name, b)
		}
	}
	if x.SeamSVN == nil || *x.SeamSVN != 3 {
		t.Errorf("seamsvn %v", x.SeamSVN)
	}
	if c.Runtime["test-claim-name"] != "test-claim-value" {
		t.Errorf("runtime %v", c.Runtime)
	}
	if _, err := userData(c.All, []string{claimRuntime, claimUserData}); err == nil {
		t.Error("the example carries no user-data")
	}
}

func TestParseClaimsRejects(t *testing.T) {
	for _, in := range []string{
		`{"iss":1}`,
		`{"iat":-1}`,
		`{"exp":1e30}`,
		`{"exp":true}`,
		`{"nonce":5}`,
		`{"tdx_rtmr0":"zz"}`,
		`{"tdx_td_attributes_debug":"false"}`,
		`{"tdx_seamsvn":1.5}`,
		`{"tdx_seamsvn":-1}`,
		`{"x-ms-isolation-tee":[]}`,
		`{"x-ms-isolation-tee":{"x-ms-runtime":"x"}}`,
		`{"x-ms-isolation-tee":{"x-ms-attestation-type":7}}`,
		`{"a":1} {"b":2}`,
		`{"a":1,"a":1}`,
		`{"a":{"b":{"b":1,"b":2}}}`,
		`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`null`,
		``,
	} {
		if _, err := ParseClaims([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.60q: %v", in, err)
		}
	}
}

func TestNumericDate(t *testing.T) {
	c, err := ParseClaims([]byte(`{"iat":1700000000.25,"exp":1.7e9,"nbf":0}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.IssuedAt.Equal(time.Unix(1700000000, 250000000)) || !c.Expiry.Equal(time.Unix(1700000000, 0)) || !c.NotBefore.Equal(time.Unix(0, 0)) {
		t.Errorf("%v %v %v", c.IssuedAt, c.Expiry, c.NotBefore)
	}
}
