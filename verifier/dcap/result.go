package dcap

import (
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Result is the verified view of a quote. Verify returns one only when every
// check passed: the PCK chain leads to a trust anchor, the quote and QE
// report signatures hold, the collateral is signed by the same anchor and
// valid at VerifiedAt, nothing is revoked, and the TCB status could be
// computed. Every field below was therefore vouched for by Intel's root;
// the TCB status is reported as Intel computes it, whatever it is, and it
// is Policy.Check that decides whether it is acceptable.
//
// Byte fields are lower-case hex.
type Result struct {
	// Verified is always true on a Result returned by Verify.
	Verified bool `json:"verified"`
	// VerifiedAt is the time at which certificates and collateral were
	// required to be valid (Options.At, or the clock).
	VerifiedAt   time.Time `json:"verified_at"`
	QuoteVersion uint16    `json:"quote_version"`
	TEEType      string    `json:"tee_type"`

	// TCBStatus is Intel's combined TCB status; AdvisoryIDs the Intel
	// security advisories of the matched levels. TCB says how they were
	// reached.
	TCBStatus   TCBStatus     `json:"tcb_status"`
	AdvisoryIDs []string      `json:"advisory_ids"`
	TCB         TCBEvaluation `json:"tcb"`

	// Platform, from the PCK certificate.
	FMSPC  string `json:"fmspc"`
	PCEID  string `json:"pce_id"`
	PCKCA  string `json:"pck_ca"`
	PCESVN uint16 `json:"pce_svn"`
	// QESVN is the quoting enclave's ISVSVN, from the signed QE report.
	QESVN uint16 `json:"qe_svn"`

	// TD quote body.
	TEETCBSVN      string       `json:"tee_tcb_svn"`
	MRSEAM         string       `json:"mr_seam"`
	MRSIGNERSEAM   string       `json:"mr_signer_seam"`
	SEAMAttributes string       `json:"seam_attributes"`
	TDAttributes   TDAttributes `json:"td_attributes"`
	XFAM           string       `json:"xfam"`
	MRTD           string       `json:"mr_td"`
	MRCONFIGID     string       `json:"mr_config_id"`
	MROWNER        string       `json:"mr_owner"`
	MROWNERCONFIG  string       `json:"mr_owner_config"`
	RTMRs          [4]string    `json:"rtmrs"`
	// ReportData is all 64 bytes of REPORTDATA.
	ReportData string `json:"report_data"`
	// MRSERVICETD is empty when the quote format has none (v4 TD bodies).
	MRSERVICETD string `json:"mr_servicetd,omitempty"`

	// Collateral dates and versions of the collateral that was used.
	Collateral CollateralDates `json:"collateral"`
	// PCKCertificate identifies the PCK certificate that vouched for the QE.
	PCKCertificate CertInfo `json:"pck_certificate"`

	reportData [64]byte
}

// ReportDataBytes returns the 64 bytes of REPORTDATA.
func (r *Result) ReportDataBytes() [64]byte { return r.reportData }

// TDAttributes is TD_ATTRIBUTES with its security-relevant flags decoded
// (Intel TDX module ABI: TUD bit 0 DEBUG; SEC bits 28 SEPT_VE_DISABLE,
// 29 MIGRATABLE, 30 PKS, 31 KL; OTHER bit 63 PERFMON).
type TDAttributes struct {
	Hex string `json:"hex"`
	// Debug: the host can read and write the TD's memory and registers.
	// A debug TD proves nothing.
	Debug bool `json:"debug"`
	// SEPTVEDisable: EPT violations are not reflected as #VE into the TD.
	SEPTVEDisable bool `json:"sept_ve_disable"`
	Migratable    bool `json:"migratable"`
	PKS           bool `json:"pks"`
	KL            bool `json:"kl"`
	PerfMon       bool `json:"perfmon"`
}

func decodeTDAttributes(b [8]byte) TDAttributes {
	v := binary.LittleEndian.Uint64(b[:])
	bit := func(n uint) bool { return v&(1<<n) != 0 }
	return TDAttributes{
		Hex:           hex.EncodeToString(b[:]),
		Debug:         bit(0),
		SEPTVEDisable: bit(28),
		Migratable:    bit(29),
		PKS:           bit(30),
		KL:            bit(31),
		PerfMon:       bit(63),
	}
}

// CertInfo identifies a certificate.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

func newResult(q *Quote, c *Collateral, ev *TCBEvaluation, at time.Time) *Result {
	h := hex.EncodeToString
	leaf := q.PCKChain[0]
	r := &Result{
		Verified:       true,
		VerifiedAt:     at.UTC(),
		QuoteVersion:   q.Version,
		TEEType:        "TDX",
		TCBStatus:      ev.Status,
		AdvisoryIDs:    ev.AdvisoryIDs,
		TCB:            *ev,
		FMSPC:          h(q.PCK.FMSPC[:]),
		PCEID:          h(q.PCK.PCEID[:]),
		PCKCA:          q.PCK.CA,
		PCESVN:         q.PCK.PCESVN,
		QESVN:          q.QESVN,
		TEETCBSVN:      h(q.TEETCBSVN[:]),
		MRSEAM:         h(q.MRSEAM[:]),
		MRSIGNERSEAM:   h(q.MRSIGNERSEAM[:]),
		SEAMAttributes: h(q.SEAMAttributes[:]),
		TDAttributes:   decodeTDAttributes(q.TDAttributes),
		XFAM:           h(q.XFAM[:]),
		MRTD:           h(q.MRTD[:]),
		MRCONFIGID:     h(q.MRCONFIGID[:]),
		MROWNER:        h(q.MROWNER[:]),
		MROWNERCONFIG:  h(q.MROWNERCONFIG[:]),
		ReportData:     h(q.ReportData[:]),
		Collateral:     c.Dates(),
		PCKCertificate: CertInfo{
			Subject:   leaf.Subject.String(),
			Issuer:    leaf.Issuer.String(),
			Serial:    leaf.SerialNumber.Text(16),
			NotBefore: leaf.NotBefore.UTC(),
			NotAfter:  leaf.NotAfter.UTC(),
		},
		reportData: q.ReportData,
	}
	for i := range r.RTMRs {
		r.RTMRs[i] = h(q.RTMR[i][:])
	}
	if q.MRSERVICETD != nil {
		r.MRSERVICETD = h(q.MRSERVICETD)
	}
	return r
}
