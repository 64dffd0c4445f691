package azure_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/latencyproof/poc/verifier/azure"
)

// Verify the recorded evidence of an Azure TDX VM, then hold it to a
// policy. The TD quote's own signature is verifier/dcap's job: the result
// says so.
func ExampleVerify() {
	report, _ := os.ReadFile("testdata/trustee_az-tdx-vtpm_hcl-report.bin")
	quote, _ := os.ReadFile("testdata/trustee_az-tdx-vtpm_td-quote.bin")
	// The vTPM quote as recorded: hex fields, PCR i at position i.
	var rec struct {
		Signature string   `json:"signature"`
		Message   string   `json:"message"`
		PCRs      []string `json:"pcrs"`
	}
	raw, _ := os.ReadFile("testdata/trustee_az-tdx-vtpm_tpm-quote.json")
	_ = json.Unmarshal(raw, &rec)
	tq := &azure.TPMQuote{}
	tq.Attest, _ = hex.DecodeString(rec.Message)
	tq.Signature, _ = hex.DecodeString(rec.Signature)
	for i, p := range rec.PCRs {
		v, _ := hex.DecodeString(p)
		tq.PCRs, tq.Indices = append(tq.PCRs, v), append(tq.Indices, uint32(i))
	}

	res, err := azure.Verify(azure.Evidence{HCLReport: report, TDQuote: quote, TPMQuote: tq}, azure.Options{
		ExpectedUserData: make([]byte, 64), // the proof digest; this VM wrote zeros
		TPMNonce:         []byte("challenge"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("checked:", res.Checked)
	for _, n := range res.NotChecked {
		fmt.Println("not checked:", n.Step)
	}

	policy, _ := azure.ParsePolicy([]byte(`{"require_tpm_quote": true, "required_pcrs": [0, 7],
		"vm_configuration": {"secure_boot": true, "console_enabled": false}}`))
	fmt.Println(policy.Check(res))
	// Output:
	// checked: [hcl-report td-quote-format runtime-data-hash td-report-matches user-data tpm-quote]
	// not checked: td-quote-signature
	// not checked: ak-cert
	// policy not satisfied: vm-configuration.console-enabled: want false, got true
}
