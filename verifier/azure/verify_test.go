package azure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	quoteBodyOffset  = 0x30
	quoteReportData  = quoteBodyOffset + 0x208
	quoteMRTDOffset  = quoteBodyOffset + 0x88
	trusteeMRTDStart = "024a32b070383331181619fa387cb4d5"
)

func TestVerifyTrustee(t *testing.T) {
	in := trusteeEvidence(t)
	res, err := Verify(in, trusteeOptions())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := []Step{StepHCLReport, StepTDQuote, StepRuntimeData, StepTDMatch, StepUserData, StepTPMQuote}
	if !slices.Equal(res.Checked, want) {
		t.Errorf("Checked %v, want %v", res.Checked, want)
	}
	var not []Step
	for _, n := range res.NotChecked {
		not = append(not, n.Step)
	}
	if !slices.Equal(not, []Step{StepTDQuoteSig, StepAKCert}) {
		t.Errorf("NotChecked %v", res.NotChecked)
	}
	sum := sha256.Sum256(res.RuntimeData)
	if !bytes.Equal(res.RuntimeDataDigest, sum[:]) || !bytes.Equal(res.TD.ReportData[:32], sum[:]) ||
		hex.EncodeToString(sum[:]) != "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839" {
		t.Errorf("digest %x, quote REPORTDATA %x", res.RuntimeDataDigest, res.TD.ReportData[:32])
	}
	if !strings.HasPrefix(hex.EncodeToString(res.TD.MRTD[:]), trusteeMRTDStart) {
		t.Errorf("MRTD %x", res.TD.MRTD)
	}
	if !bytes.Equal(res.TDQuote, in.TDQuote) {
		t.Error("Result.TDQuote is not the quote checked")
	}
	if !res.UserDataChecked || !bytes.Equal(res.UserData, make([]byte, 64)) {
		t.Errorf("user-data %x checked %v", res.UserData, res.UserDataChecked)
	}
	if res.VMConfig.SecureBoot == nil || !*res.VMConfig.SecureBoot || res.VMConfig.VMUniqueID != "6332533D-5649-4D02-8AA7-8F64B7C3EE21" {
		t.Errorf("vm-configuration %+v", res.VMConfig)
	}
	if res.TPM == nil || len(res.TPM.PCRs) != 24 || string(res.TPM.Nonce) != "challenge" {
		t.Fatalf("TPM result %+v", res.TPM)
	}
	if hex.EncodeToString(res.TPM.PCRs[0]) != "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273" {
		t.Errorf("PCR0 %x", res.TPM.PCRs[0])
	}
	if res.AKPub == nil || !res.AKPub.Equal(hclAKPub(t, "trustee_az-tdx-vtpm_hcl-report.bin")) {
		t.Error("AKPub is not HCLAkPub")
	}
}

func TestVerifyMinimal(t *testing.T) {
	// HCL report and quote alone: binding and TD match are checked, the
	// rest is reported as not checked, never as passed.
	in := trusteeEvidence(t)
	in.TPMQuote = nil
	res, err := Verify(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.UserDataChecked || res.TPM != nil || res.AKCert != nil || res.Did(StepUserData) || !res.Did(StepTDMatch) {
		t.Errorf("result %+v", res)
	}
	if len(res.NotChecked) != 4 {
		t.Errorf("NotChecked %v", res.NotChecked)
	}
}

func TestVerifyRefuses(t *testing.T) {
	good := trusteeEvidence(t)
	with := func(f func(in *Evidence)) Evidence {
		in := good
		in.HCLReport = bytes.Clone(good.HCLReport)
		in.TDQuote = bytes.Clone(good.TDQuote)
		in.TPMQuote = cloneQuote(good.TPMQuote)
		f(&in)
		return in
	}
	opts := func(f func(o *Options)) Options {
		o := trusteeOptions()
		f(&o)
		return o
	}
	flipRuntime := func(in *Evidence) {
		// Same length, still valid JSON: only the hash gives it away.
		i := bytes.Index(in.HCLReport, []byte("6332533D-"))
		in.HCLReport[i+7] = 'E'
	}
	teekit := readTestdata(t, "teekit_tdx-v4-azure.v4.bin")
	teekitWithOurReportData := bytes.Clone(teekit)
	copy(teekitWithOurReportData[quoteReportData:], good.TDQuote[quoteReportData:quoteReportData+64])

	tests := []struct {
		name string
		in   Evidence
		opts Options
		step Step
		want error
	}{
		{"HCL report truncated", with(func(in *Evidence) { in.HCLReport = in.HCLReport[:1000] }), trusteeOptions(), StepHCLReport, ErrHCLReport},
		{"HCL report oversized", with(func(in *Evidence) { in.HCLReport = append(in.HCLReport, make([]byte, 20000)...) }), trusteeOptions(), StepHCLReport, ErrHCLReport},
		{"HCL report bad magic", with(func(in *Evidence) { in.HCLReport[0] = 'h' }), trusteeOptions(), StepHCLReport, ErrHCLReport},
		{"SNP HCL report (kinvolk)", with(func(in *Evidence) { in.HCLReport = readTestdata(t, "kinvolk_hcl-report-snp.bin") }), trusteeOptions(), StepHCLReport, ErrNotTDX},
		{"SNP HCL report (trustee)", with(func(in *Evidence) { in.HCLReport = readTestdata(t, "trustee_az-snp-vtpm_hcl-report.bin") }), trusteeOptions(), StepHCLReport, ErrNotTDX},
		{"no TD quote", with(func(in *Evidence) { in.TDQuote = nil }), trusteeOptions(), StepTDQuote, ErrTDQuote},
		{"TD quote truncated", with(func(in *Evidence) { in.TDQuote = in.TDQuote[:600] }), trusteeOptions(), StepTDQuote, ErrTDQuote},
		{"TD quote version 5", with(func(in *Evidence) { in.TDQuote[0] = 5 }), trusteeOptions(), StepTDQuote, ErrTDQuote},
		{"TD quote oversized", with(func(in *Evidence) { in.TDQuote = append(in.TDQuote, make([]byte, MaxTDQuoteSize)...) }), trusteeOptions(), StepTDQuote, ErrTDQuote},
		{"runtime data byte flipped", with(flipRuntime), trusteeOptions(), StepRuntimeData, ErrRuntimeDataHash},
		{"quote REPORTDATA flipped", with(func(in *Evidence) { in.TDQuote[quoteReportData+5] ^= 1 }), trusteeOptions(), StepRuntimeData, ErrRuntimeDataHash},
		{"quote from another TD", with(func(in *Evidence) { in.TDQuote = teekit }), trusteeOptions(), StepRuntimeData, ErrRuntimeDataHash},
		{"another TD's quote with our REPORTDATA", with(func(in *Evidence) { in.TDQuote = teekitWithOurReportData }), trusteeOptions(), StepTDMatch, ErrTDMismatch},
		{"quote MRTD changed", with(func(in *Evidence) { in.TDQuote[quoteMRTDOffset] ^= 1 }), trusteeOptions(), StepTDMatch, ErrTDMismatch},
		{"other VM's HCL report", with(func(in *Evidence) { in.HCLReport = readTestdata(t, "kinvolk_hcl-report-tdx.bin") }), trusteeOptions(), StepRuntimeData, ErrRuntimeDataHash},
		{"wrong user-data", good, opts(func(o *Options) { o.ExpectedUserData = bytes.Repeat([]byte{1}, 64) }), StepUserData, ErrUserData},
		{"user-data one bit off", good, opts(func(o *Options) { o.ExpectedUserData[63] = 1 }), StepUserData, ErrUserData},
		{"expected user-data 32 bytes", good, opts(func(o *Options) { o.ExpectedUserData = make([]byte, 32) }), StepUserData, ErrOptions},
		{"TPM quote message flipped", with(func(in *Evidence) { in.TPMQuote.Attest[50] ^= 1 }), trusteeOptions(), StepTPMQuote, ErrTPMQuoteSignature},
		{"TPM quote signature flipped", with(func(in *Evidence) { in.TPMQuote.Signature[10] ^= 1 }), trusteeOptions(), StepTPMQuote, ErrTPMQuoteSignature},
		{"TPM quote signature cut", with(func(in *Evidence) { in.TPMQuote.Signature = in.TPMQuote.Signature[1:] }), trusteeOptions(), StepTPMQuote, ErrTPMQuoteSignature},
		{"TPM quote from another VM", with(func(in *Evidence) { in.TPMQuote = loadTPMQuote(t, "kinvolk_quote.decoded.json") }), trusteeOptions(), StepTPMQuote, ErrTPMQuoteSignature},
		{"PCR value flipped", with(func(in *Evidence) { in.TPMQuote.PCRs[7][0] ^= 1 }), trusteeOptions(), StepTPMQuote, ErrPCRDigest},
		{"PCR values swapped", with(func(in *Evidence) {
			q := in.TPMQuote
			q.PCRs[0], q.PCRs[1] = q.PCRs[1], q.PCRs[0]
		}), trusteeOptions(), StepTPMQuote, ErrPCRDigest},
		{"PCR value missing", with(func(in *Evidence) {
			in.TPMQuote.PCRs, in.TPMQuote.Indices = in.TPMQuote.PCRs[:23], in.TPMQuote.Indices[:23]
		}), trusteeOptions(), StepTPMQuote, ErrPCRDigest},
		{"PCR indices relabelled", with(func(in *Evidence) { in.TPMQuote.Indices[3], in.TPMQuote.Indices[4] = 4, 3 }), trusteeOptions(), StepTPMQuote, ErrPCRDigest},
		{"PCR value short", with(func(in *Evidence) { in.TPMQuote.PCRs[5] = in.TPMQuote.PCRs[5][:31] }), trusteeOptions(), StepTPMQuote, ErrPCRDigest},
		{"wrong TPM nonce", good, opts(func(o *Options) { o.TPMNonce = []byte("challengf") }), StepTPMQuote, ErrTPMNonce},
		{"no TPM nonce", good, opts(func(o *Options) { o.TPMNonce = nil }), StepTPMQuote, ErrTPMNonce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(tc.in, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v; want %v", err, tc.want)
			}
			var ce *CheckError
			if !errors.As(err, &ce) || ce.Step != tc.step {
				t.Errorf("failed at %v, want step %s", ce, tc.step)
			}
			if res != nil {
				t.Error("result returned with an error")
			}
		})
	}
}

func TestCheckTDMatchNamesFields(t *testing.T) {
	rep, err := ParseHCLReport(readTestdata(t, "trustee_az-tdx-vtpm_hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParseTDQuote(readTestdata(t, "teekit_tdx-v4-azure.v4.bin"))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckTDMatch(rep.TD, other)
	var me *TDMismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrTDMismatch) {
		t.Fatalf("CheckTDMatch = %v", err)
	}
	for _, f := range []string{"MRTD", "REPORTDATA"} {
		if !slices.Contains(me.Fields, f) {
			t.Errorf("fields %v lack %s", me.Fields, f)
		}
	}
	own, err := ParseTDQuote(readTestdata(t, "trustee_az-tdx-vtpm_td-quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTDMatch(rep.TD, own); err != nil {
		t.Errorf("own quote: %v", err)
	}
	// Every byte of the quote body is in a compared field: change each in
	// turn.
	orig := readTestdata(t, "trustee_az-tdx-vtpm_td-quote.bin")
	for i := 0; i < 0x248; i++ {
		raw := bytes.Clone(orig)
		raw[quoteBodyOffset+i] ^= 0x80
		mod, err := ParseTDQuote(raw)
		if err != nil {
			t.Fatalf("body byte %d: %v", i, err)
		}
		if err := CheckTDMatch(rep.TD, mod); !errors.Is(err, ErrTDMismatch) {
			t.Fatalf("body byte %#x changed, CheckTDMatch = %v", i, err)
		}
	}
}

// TestKinvolkAKFromAnotherVM: kinvolk's TPM quote verifies with its own AK
// (akpub.pem), but that AK is neither kinvolk HCL report's HCLAkPub, so
// the quote is refused against both reports.
func TestKinvolkAKFromAnotherVM(t *testing.T) {
	q := loadTPMQuote(t, "kinvolk_quote.decoded.json")
	ak := loadPEMKey(t, "kinvolk_akpub.pem")
	res, err := VerifyTPMQuote(q, ak, []byte("challenge"))
	if err != nil {
		t.Fatalf("with its own AK: %v", err)
	}
	if len(res.Selected) != 24 {
		t.Errorf("selected %v", res.Selected)
	}
	for _, report := range []string{"kinvolk_hcl-report-tdx.bin", "kinvolk_hcl-report-snp.bin"} {
		hclAK := hclAKPub(t, report)
		if _, err := VerifyTPMQuote(q, hclAK, []byte("challenge")); !errors.Is(err, ErrTPMQuoteSignature) {
			t.Errorf("%s: VerifyTPMQuote = %v, want ErrTPMQuoteSignature", report, err)
		}
		if err := CheckAKPublic(hclAK, ak); !errors.Is(err, ErrAKMismatch) {
			t.Errorf("%s: CheckAKPublic = %v, want ErrAKMismatch", report, err)
		}
	}
	if err := CheckAKPublic(ak, ak); err != nil {
		t.Errorf("same key: %v", err)
	}
}

func TestVerifyTPMQuoteArguments(t *testing.T) {
	q := loadTPMQuote(t, "trustee_az-tdx-vtpm_tpm-quote.json")
	ak := hclAKPub(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	if _, err := VerifyTPMQuote(nil, ak, []byte("x")); !errors.Is(err, ErrTPMQuoteFormat) {
		t.Errorf("nil quote: %v", err)
	}
	if _, err := VerifyTPMQuote(q, nil, []byte("x")); !errors.Is(err, ErrNoAKPub) {
		t.Errorf("nil AK: %v", err)
	}
	big := cloneQuote(q)
	big.Attest = make([]byte, 2000)
	if _, err := VerifyTPMQuote(big, ak, []byte("challenge")); !errors.Is(err, ErrTPMQuoteFormat) {
		t.Errorf("oversized attest: %v", err)
	}
}

func TestRenamedAKBreaksBinding(t *testing.T) {
	// Hiding HCLAkPub (so that the TPM quote could not be checked) changes
	// the runtime data.
	in := trusteeEvidence(t)
	rt := bytes.Replace(in.HCLReport, []byte(`"kid":"HCLAkPub"`), []byte(`"kid":"HCLAkPuX"`), 1)
	in.HCLReport = rt
	_, err := Verify(in, trusteeOptions())
	// The renamed kid changes the runtime data, so the binding fails first:
	// a report without an AK cannot be forged to pass.
	if !errors.Is(err, ErrRuntimeDataHash) {
		t.Fatalf("Verify = %v", err)
	}
}
