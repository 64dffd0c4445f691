package azure

import (
	"fmt"

	"github.com/latencyproof/poc/internal/azure/hcl"
	"github.com/latencyproof/poc/internal/azure/tpmquote"
	"github.com/latencyproof/poc/internal/quoteabi"
)

// HCLReport is a parsed HCL report (package internal/azure/hcl).
type HCLReport = hcl.Report

// TDReport is the TDREPORT inside an HCL report.
type TDReport = hcl.TDReport

// RuntimeClaims is the decoded runtime data of an HCL report.
type RuntimeClaims = hcl.RuntimeClaims

// VMConfig is the runtime data's "vm-configuration".
type VMConfig = hcl.VMConfig

// TPMQuote is a vTPM quote as the prover's vTPM package produces it: the
// signed TPMS_ATTEST, the bare RSASSA signature, and the SHA-256 PCR values
// with their indices in selection order.
type TPMQuote = tpmquote.Quote

// MaxTDQuoteSize bounds a TD quote (Azure's are about 5 KiB).
const MaxTDQuoteSize = 64 << 10

// ParseHCLReport parses an HCL report as read from vTPM NV index 0x01400001.
// Errors wrap ErrHCLReport.
func ParseHCLReport(b []byte) (*HCLReport, error) {
	r, err := hcl.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHCLReport, err)
	}
	return r, nil
}

// TDQuoteBody is the TD quote's body: what Intel's DCAP signature covers
// about the TD.
type TDQuoteBody struct {
	TEETCBSVN      [16]byte    `json:"tee_tcb_svn"`
	MRSEAM         [48]byte    `json:"mr_seam"`
	MRSignerSEAM   [48]byte    `json:"mr_signer_seam"`
	SEAMAttributes [8]byte     `json:"seam_attributes"`
	TDAttributes   [8]byte     `json:"td_attributes"`
	XFAM           [8]byte     `json:"xfam"`
	MRTD           [48]byte    `json:"mr_td"`
	MRConfigID     [48]byte    `json:"mr_config_id"`
	MROwner        [48]byte    `json:"mr_owner"`
	MROwnerConfig  [48]byte    `json:"mr_owner_config"`
	RTMRs          [4][48]byte `json:"rtmrs"`
	ReportData     [64]byte    `json:"report_data"`
}

// ParseTDQuote parses a TDX v4 quote (the form Azure's IMDS returns) with
// go-tdx-guest's abi and returns its body. It checks structure only: the
// signature is verifier/dcap's business. Errors wrap ErrTDQuote.
func ParseTDQuote(b []byte) (*TDQuoteBody, error) {
	if len(b) > MaxTDQuoteSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTDQuote, len(b), MaxTDQuoteSize)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTDQuote, len(b))
	}
	if v := uint16(b[0]) | uint16(b[1])<<8; v != 4 {
		return nil, fmt.Errorf("%w: version %d, only TDX v4 quotes are read", ErrTDQuote, v)
	}
	q, err := quoteabi.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTDQuote, err)
	}
	if q.GetTdQuoteBody() == nil {
		return nil, fmt.Errorf("%w: not a TDX v4 quote", ErrTDQuote)
	}
	tb := q.GetTdQuoteBody()
	body := &TDQuoteBody{}
	// abi has checked every length already; check again rather than
	// depend on it, since copy would truncate silently.
	fields := []struct {
		dst []byte
		src []byte
	}{
		{body.TEETCBSVN[:], tb.GetTeeTcbSvn()},
		{body.MRSEAM[:], tb.GetMrSeam()},
		{body.MRSignerSEAM[:], tb.GetMrSignerSeam()},
		{body.SEAMAttributes[:], tb.GetSeamAttributes()},
		{body.TDAttributes[:], tb.GetTdAttributes()},
		{body.XFAM[:], tb.GetXfam()},
		{body.MRTD[:], tb.GetMrTd()},
		{body.MRConfigID[:], tb.GetMrConfigId()},
		{body.MROwner[:], tb.GetMrOwner()},
		{body.MROwnerConfig[:], tb.GetMrOwnerConfig()},
		{body.ReportData[:], tb.GetReportData()},
	}
	rtmrs := tb.GetRtmrs()
	if len(rtmrs) != len(body.RTMRs) {
		return nil, fmt.Errorf("%w: %d RTMRs", ErrTDQuote, len(rtmrs))
	}
	for i := range body.RTMRs {
		fields = append(fields, struct {
			dst []byte
			src []byte
		}{body.RTMRs[i][:], rtmrs[i]})
	}
	for _, f := range fields {
		if len(f.src) != len(f.dst) {
			return nil, fmt.Errorf("%w: a %d-byte field holds %d bytes", ErrTDQuote, len(f.dst), len(f.src))
		}
		copy(f.dst, f.src)
	}
	return body, nil
}
