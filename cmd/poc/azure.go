package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/verifier/azure"
	"github.com/latencyproof/poc/verifier/dcap"
)

func azureCommand() *cli.Command {
	return &cli.Command{
		Name:  "azure",
		Usage: "Azure TDX confidential VM evidence",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "verify an HCL report, its TD quote and optionally a vTPM quote",
			ArgsUsage: " ",
			Description: "Checks that SHA-256 of the HCL report's runtime data is REPORTDATA[0:32] of\n" +
				"its TDREPORT and of the TD quote, that both describe the same TD, the\n" +
				"runtime user-data (with --user-data), the vTPM quote by the runtime's\n" +
				"HCLAkPub (nonce from --tpm-nonce, PCR digest), and then the TD quote's DCAP\n" +
				"chain and TCB against --collateral or --pcs. The vTPM quote file is JSON:\n" +
				"{\"message\",\"signature\",\"pcrs\"} in hex (the Azure/trustee form) or\n" +
				"{\"attest\",\"signature\",\"pcrs\",\"pcr_indices\"} in base64 (a proof's form).",
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "hcl-report", Usage: "HCL report `FILE` (NV index 0x01400001)", Required: true},
				&cli.StringFlag{Name: "td-quote", Usage: "TD quote `FILE` (raw, hex or base64)", Required: true},
				&cli.StringFlag{Name: "tpm-quote", Usage: "vTPM quote `FILE` (JSON)"},
				&cli.StringFlag{Name: "tpm-nonce", Usage: "the vTPM quote's expected nonce as `HEX` (required with --tpm-quote)"},
				&cli.StringFlag{Name: "user-data", Usage: "expected runtime user-data, 64 bytes as `HEX`"},
			}, attestFlags()...),
			Action: runAzureVerify,
		}},
	}
}

type azureReport struct {
	Verified bool          `json:"verified"`
	Accepted bool          `json:"accepted"`
	Azure    *azure.Result `json:"azure,omitempty"`
	Quote    *quoteReport  `json:"quote,omitempty"`
	Errors   []stageError  `json:"errors,omitempty"`
	Policy   []string      `json:"policy_errors,omitempty"`
}

// readTPMQuote reads a vTPM quote in either of its JSON forms.
func readTPMQuote(path string) (*azure.TPMQuote, error) {
	b, err := readFileLimited(path, maxHCLFile)
	if err != nil {
		return nil, err
	}
	var hexForm struct {
		Message   string   `json:"message"`
		Signature string   `json:"signature"`
		PCRs      []string `json:"pcrs"`
	}
	var proofForm struct {
		Attest    []byte   `json:"attest"`
		Signature []byte   `json:"signature"`
		PCRs      [][]byte `json:"pcrs"`
		Indices   []uint32 `json:"pcr_indices"`
	}
	if json.Unmarshal(b, &hexForm) == nil && hexForm.Message != "" {
		q := &azure.TPMQuote{}
		if q.Attest, err = hex.DecodeString(hexForm.Message); err != nil {
			return nil, fmt.Errorf("%s: message: %w", path, err)
		}
		if q.Signature, err = hex.DecodeString(hexForm.Signature); err != nil {
			return nil, fmt.Errorf("%s: signature: %w", path, err)
		}
		for i, p := range hexForm.PCRs {
			v, err := hex.DecodeString(p)
			if err != nil {
				return nil, fmt.Errorf("%s: pcr %d: %w", path, i, err)
			}
			q.PCRs, q.Indices = append(q.PCRs, v), append(q.Indices, uint32(i))
		}
		return q, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&proofForm); err != nil || len(proofForm.Attest) == 0 {
		return nil, fmt.Errorf("%s: neither {message,signature,pcrs} hex nor {attest,signature,pcrs,pcr_indices} base64 (%v)", path, err)
	}
	return &azure.TPMQuote{Attest: proofForm.Attest, Signature: proofForm.Signature, PCRs: proofForm.PCRs, Indices: proofForm.Indices}, nil
}

func runAzureVerify(c *cli.Context) error {
	if c.Args().Present() {
		return usage("azure verify takes no arguments")
	}
	if (c.String("tpm-quote") == "") != (c.String("tpm-nonce") == "") {
		return usage("--tpm-quote and --tpm-nonce go together: a vTPM quote is only evidence with its nonce")
	}
	at, err := verifyTime(c)
	if err != nil {
		return err
	}
	pol, err := loadPolicy(c)
	if err != nil {
		return err
	}
	ud, err := parseHexN("user-data", c.String("user-data"), 64)
	if err != nil {
		return err
	}
	nonce, err := parseHexN("tpm-nonce", c.String("tpm-nonce"), 0)
	if err != nil {
		return err
	}
	dopts, roots, err := dcapOptions(c, at)
	if err != nil {
		return err
	}
	hclb, err := readFileLimited(c.String("hcl-report"), maxHCLFile)
	if err != nil {
		return exit(exitCouldNot, err)
	}
	qraw, err := readFileLimited(c.String("td-quote"), maxQuoteFile)
	if err != nil {
		return exit(exitCouldNot, err)
	}
	in := azure.Evidence{HCLReport: hclb}
	rep := azureReport{}
	if in.TDQuote, err = dcap.DecodeQuoteFile(qraw); err != nil {
		rep.Errors = append(rep.Errors, stageError{"parse", err.Error()})
		return finishAzure(c, &rep, exitCrypto)
	}
	if p := c.String("tpm-quote"); p != "" {
		if in.TPMQuote, err = readTPMQuote(p); err != nil {
			return exit(exitCouldNot, err)
		}
	}
	res, err := azure.Verify(in, azure.Options{ExpectedUserData: ud, TPMNonce: nonce, Now: func() time.Time { return at }})
	if err != nil {
		rep.Errors = append(rep.Errors, stageError{"azure", err.Error()})
		return finishAzure(c, &rep, exitCrypto)
	}
	rep.Azure = res
	code := exitOK
	if err := pol.Azure.Check(res); err != nil {
		for _, e := range unjoin(err) {
			rep.Policy = append(rep.Policy, e.Error())
		}
		code = exitPolicy
	}
	qrep := &quoteReport{TrustedRoots: roots}
	rep.Quote = qrep
	if qc := verifyQuote(c.Context, res.TDQuote, dopts, pol, qrep); qc != exitOK && (code == exitOK || qc == exitCrypto) {
		code = qc
	}
	rep.Verified = qrep.Verified
	return finishAzure(c, &rep, code)
}

func finishAzure(c *cli.Context, rep *azureReport, code int) error {
	rep.Accepted = code == exitOK
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else {
		printAzure(c.App.Writer, rep)
	}
	if code == exitOK {
		return nil
	}
	return exit(code, errSilent)
}

func printAzure(w io.Writer, r *azureReport) {
	if a := r.Azure; a != nil {
		fmt.Fprintf(w, "HCL runtime data SHA-256 %x binds the TDREPORT and the TD quote\n", a.RuntimeDataDigest)
		steps := make([]string, len(a.Checked))
		for i, s := range a.Checked {
			steps[i] = string(s)
		}
		fmt.Fprintf(w, "checked: %s\n", strings.Join(steps, ", "))
		for _, n := range a.NotChecked {
			if n.Step == azure.StepTDQuoteSig && r.Quote != nil && r.Quote.Verified {
				continue // verified below, by the DCAP stage
			}
			fmt.Fprintf(w, "not checked: %s (%s)\n", n.Step, n.Reason)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "FAIL %s: %s\n", e.Stage, e.Error)
	}
	for _, e := range r.Policy {
		fmt.Fprintf(w, "REFUSED by policy: %s\n", e)
	}
	if r.Quote != nil {
		printQuote(w, r.Quote)
	}
}
