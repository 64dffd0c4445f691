package hcl

import (
	"encoding/binary"
	"fmt"
)

// Offsets in the 1024-byte TDREPORT_STRUCT (Intel TDX Module ABI: a
// 256-byte REPORTMACSTRUCT, the 239-byte TEE_TCB_INFO, 17 reserved bytes,
// then the 512-byte TDINFO).
const (
	// TDReportSize is the size of a TDREPORT.
	TDReportSize = 1024

	tdReportTypeOffset     = 0   // REPORTTYPE: type, subtype, version, reserved
	tdCPUSVNOffset         = 16  // CPUSVN[16]
	tdTCBInfoHashOffset    = 32  // TEE_TCB_INFO_HASH[48] = SHA-384(TEE_TCB_INFO)
	tdInfoHashOffset       = 80  // TEE_INFO_HASH[48] = SHA-384(TDINFO)
	TDReportDataOffset     = 128 // REPORTDATA[64]
	tdMACOffset            = 224 // MAC[32]
	TDTCBInfoOffset        = 256 // TEE_TCB_INFO[239]
	TDTCBInfoSize          = 239
	tdTCBValidOffset       = 256 // VALID[8]
	tdTEETCBSVNOffset      = 264 // TEE_TCB_SVN[16]
	tdMRSEAMOffset         = 280 // MRSEAM[48]
	tdMRSignerSEAMOffset   = 328 // MRSIGNERSEAM[48]
	tdSEAMAttributesOffset = 376 // ATTRIBUTES[8]
	tdTEETCBSVN2Offset     = 384 // TEE_TCB_SVN2[16] (TDX 1.5)
	TDInfoOffset           = 512 // TDINFO[512]
	TDInfoSize             = 512
	TDAttributesOffset     = 512 // ATTRIBUTES[8]
	tdXFAMOffset           = 520 // XFAM[8]
	TDMRTDOffset           = 528 // MRTD[48]
	tdMRConfigIDOffset     = 576 // MRCONFIGID[48]
	tdMROwnerOffset        = 624 // MROWNER[48]
	tdMROwnerConfigOffset  = 672 // MROWNERCONFIG[48]
	TDRTMROffset           = 720 // RTMR[4][48]
	tdServTDHashOffset     = 912 // SERVTD_HASH[48] (TDX 1.5)

	// TDReportTypeTDX is REPORTTYPE.TYPE of a TDX report.
	TDReportTypeTDX = 0x81
)

// TDReport is a parsed TDREPORT_STRUCT. Field names follow Intel's.
type TDReport struct {
	// Raw is the 1024-byte TDREPORT, as sent to a quoting enclave.
	Raw []byte

	// REPORTMACSTRUCT
	Type, Subtype, Version uint8
	CPUSVN                 [16]byte
	TEETCBInfoHash         [48]byte
	TEEInfoHash            [48]byte
	ReportData             [64]byte
	MAC                    [32]byte

	// TEE_TCB_INFO
	TCBInfoValid   [8]byte
	TEETCBSVN      [16]byte
	MRSEAM         [48]byte
	MRSignerSEAM   [48]byte
	SEAMAttributes [8]byte
	TEETCBSVN2     [16]byte

	// TDINFO
	TDAttributes  [8]byte
	XFAM          [8]byte
	MRTD          [48]byte
	MRConfigID    [48]byte
	MROwner       [48]byte
	MROwnerConfig [48]byte
	RTMRs         [4][48]byte
	ServTDHash    [48]byte
}

// TDAttributesWord returns TD_ATTRIBUTES as the little-endian word the
// TDX specification numbers its bits in (bit 0 = DEBUG).
func (t *TDReport) TDAttributesWord() uint64 {
	return binary.LittleEndian.Uint64(t.TDAttributes[:])
}

// ParseTDReport parses a 1024-byte TDREPORT. It checks the size and that
// REPORTTYPE.TYPE says TDX; it cannot check the MAC, which only the CPU
// that made the report can.
func ParseTDReport(b []byte) (*TDReport, error) {
	if len(b) != TDReportSize {
		return nil, fmt.Errorf("%w: TDREPORT is %d bytes, want %d", ErrHardwareReport, len(b), TDReportSize)
	}
	t := &TDReport{Raw: append([]byte(nil), b...)}
	b = t.Raw
	t.Type, t.Subtype, t.Version = b[tdReportTypeOffset], b[tdReportTypeOffset+1], b[tdReportTypeOffset+2]
	if t.Type != TDReportTypeTDX {
		return nil, fmt.Errorf("%w: REPORTTYPE.TYPE is 0x%02x, want 0x%02x (TDX)", ErrHardwareReport, t.Type, TDReportTypeTDX)
	}
	copy(t.CPUSVN[:], b[tdCPUSVNOffset:])
	copy(t.TEETCBInfoHash[:], b[tdTCBInfoHashOffset:])
	copy(t.TEEInfoHash[:], b[tdInfoHashOffset:])
	copy(t.ReportData[:], b[TDReportDataOffset:])
	copy(t.MAC[:], b[tdMACOffset:])

	copy(t.TCBInfoValid[:], b[tdTCBValidOffset:])
	copy(t.TEETCBSVN[:], b[tdTEETCBSVNOffset:])
	copy(t.MRSEAM[:], b[tdMRSEAMOffset:])
	copy(t.MRSignerSEAM[:], b[tdMRSignerSEAMOffset:])
	copy(t.SEAMAttributes[:], b[tdSEAMAttributesOffset:])
	copy(t.TEETCBSVN2[:], b[tdTEETCBSVN2Offset:])

	copy(t.TDAttributes[:], b[TDAttributesOffset:])
	copy(t.XFAM[:], b[tdXFAMOffset:])
	copy(t.MRTD[:], b[TDMRTDOffset:])
	copy(t.MRConfigID[:], b[tdMRConfigIDOffset:])
	copy(t.MROwner[:], b[tdMROwnerOffset:])
	copy(t.MROwnerConfig[:], b[tdMROwnerConfigOffset:])
	for i := range t.RTMRs {
		copy(t.RTMRs[i][:], b[TDRTMROffset+48*i:])
	}
	copy(t.ServTDHash[:], b[tdServTDHashOffset:])
	return t, nil
}

// SNP report offsets (AMD SEV-SNP ABI, ATTESTATION_REPORT).
const (
	snpVersionOffset     = 0x00
	snpSigAlgoOffset     = 0x34
	snpReportDataOffset  = 0x50
	snpMeasurementOffset = 0x90
)

// SNPReport holds the few fields of an SEV-SNP attestation report this
// project reads. Verifying SNP reports is out of scope; an SNP HCL report
// is recognised so that it can be refused where TDX is required.
type SNPReport struct {
	Raw         []byte
	Version     uint32
	ReportData  [64]byte
	Measurement [48]byte
}

func parseSNPReport(b []byte) (*SNPReport, error) {
	s := &SNPReport{Raw: append([]byte(nil), b...)}
	s.Version = binary.LittleEndian.Uint32(b[snpVersionOffset:])
	// Versions 2 to 5 exist today; every one is signed with ECDSA P-384
	// (SIGNATURE_ALGO 1).
	if s.Version < 2 || s.Version > 15 {
		return nil, fmt.Errorf("%w: SNP report version %d", ErrHardwareReport, s.Version)
	}
	if algo := binary.LittleEndian.Uint32(b[snpSigAlgoOffset:]); algo != 1 {
		return nil, fmt.Errorf("%w: SNP signature algorithm %d, want 1 (ECDSA P-384)", ErrHardwareReport, algo)
	}
	copy(s.ReportData[:], b[snpReportDataOffset:])
	copy(s.Measurement[:], b[snpMeasurementOffset:])
	return s, nil
}
