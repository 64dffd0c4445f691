package hcl

import (
	"crypto"
	"encoding/binary"
	"fmt"
)

// Sizes and offsets of the HCL report (see the package documentation).
const (
	// HeaderSize is the size of the unmeasured header.
	HeaderSize = 32
	// HardwareReportOffset is where the hardware report starts.
	HardwareReportOffset = HeaderSize
	// HardwareReportSize is the room reserved for the hardware report
	// (the size of an SNP report; a TDREPORT uses the first 1024 bytes).
	HardwareReportSize = 1184
	// RequestDataOffset is where the request data header starts (0x4C0).
	RequestDataOffset = HardwareReportOffset + HardwareReportSize
	// RequestDataSize is the size of the request data header.
	RequestDataSize = 20
	// VariableDataOffset is where the runtime data starts in a version 1
	// request (0x4D4).
	VariableDataOffset = RequestDataOffset + RequestDataSize
	// MinReportSize is the smallest input that can hold the fixed part.
	MinReportSize = VariableDataOffset
	// MaxReportSize bounds the input. Azure's NV index 0x01400001 is a
	// few KiB (2600 bytes on the VMs recorded); runtime data only grows
	// by a few keys and claims.
	MaxReportSize = 16 << 10

	// requestDataExtSize is the capability bitmap a version 2 request
	// data header is followed by.
	requestDataExtSize = 4
)

// Magic is the header signature, "HCLA" in memory (0x414c4348 as a
// little-endian word).
var Magic = [4]byte{'H', 'C', 'L', 'A'}

// ReportType says which hardware report the HCL report carries.
type ReportType uint32

// Report types (IgvmAttestReportType). Only TDX and SNP are accepted.
const (
	ReportTypeInvalid ReportType = 0
	ReportTypeVBS     ReportType = 1
	ReportTypeSNP     ReportType = 2
	ReportTypeTVM     ReportType = 3
	ReportTypeTDX     ReportType = 4
	ReportTypeCCA     ReportType = 5
)

// String names the report type.
func (t ReportType) String() string {
	switch t {
	case ReportTypeInvalid:
		return "invalid"
	case ReportTypeVBS:
		return "vbs"
	case ReportTypeSNP:
		return "snp"
	case ReportTypeTVM:
		return "tvm"
	case ReportTypeTDX:
		return "tdx"
	case ReportTypeCCA:
		return "cca"
	}
	return fmt.Sprintf("report-type(%d)", uint32(t))
}

// HashType is the hash of the runtime data that the hardware report's
// report data starts with.
type HashType uint32

// Hash types (IgvmAttestHashType).
const (
	HashTypeInvalid HashType = 0
	HashTypeSHA256  HashType = 1
	HashTypeSHA384  HashType = 2
	HashTypeSHA512  HashType = 3
)

// Hash returns the crypto.Hash of a known hash type, or 0.
func (h HashType) Hash() crypto.Hash {
	switch h {
	case HashTypeSHA256:
		return crypto.SHA256
	case HashTypeSHA384:
		return crypto.SHA384
	case HashTypeSHA512:
		return crypto.SHA512
	}
	return 0
}

// String names the hash type.
func (h HashType) String() string {
	switch h {
	case HashTypeSHA256:
		return "sha-256"
	case HashTypeSHA384:
		return "sha-384"
	case HashTypeSHA512:
		return "sha-512"
	}
	return fmt.Sprintf("hash-type(%d)", uint32(h))
}

// Header is the report's unmeasured header.
type Header struct {
	Version uint32
	// ReportSize counts header, hardware report and request data.
	ReportSize uint32
	// RequestType is the IGVM request the report was built for (2 =
	// AK certificate request on the NV index).
	RequestType uint32
	Status      uint32
}

// RequestData is the unmeasured header in front of the runtime data.
type RequestData struct {
	// DataSize counts this header, its extension and the runtime data.
	DataSize uint32
	Version  uint32
	Type     ReportType
	HashType HashType
	// VariableDataSize is the size of the runtime data.
	VariableDataSize uint32
	// Capabilities is the version 2 capability bitmap (0 in version 1).
	Capabilities uint32
}

// Report is a parsed HCL report. Nothing in it is verified.
type Report struct {
	Header      Header
	RequestData RequestData
	// Type is RequestData.Type, repeated for convenience.
	Type ReportType
	// HashType is RequestData.HashType, repeated for convenience.
	HashType HashType
	// HardwareReport is the whole 1184-byte hardware report area.
	HardwareReport []byte
	// TD is the TDREPORT when Type is ReportTypeTDX, else nil.
	TD *TDReport
	// SNP is the SEV-SNP report when Type is ReportTypeSNP, else nil.
	SNP *SNPReport
	// RuntimeData is the runtime JSON exactly as hashed into the
	// hardware report's report data.
	RuntimeData []byte
	// Runtime is RuntimeData decoded.
	Runtime *RuntimeClaims
}

// ReportData returns the hardware report's 64-byte report data, whichever
// the hardware.
func (r *Report) ReportData() [64]byte {
	switch {
	case r.TD != nil:
		return r.TD.ReportData
	case r.SNP != nil:
		return r.SNP.ReportData
	}
	return [64]byte{}
}

// Parse parses an HCL report as read from NV index 0x01400001, trailing
// padding included. It copies what it keeps: b may be reused afterwards.
func Parse(b []byte) (*Report, error) {
	if len(b) > MaxReportSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxReportSize)
	}
	if len(b) < MinReportSize {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrTruncated, len(b), MinReportSize)
	}
	if [4]byte(b[0:4]) != Magic {
		return nil, fmt.Errorf("%w: %x", ErrBadMagic, b[0:4])
	}
	le := binary.LittleEndian
	r := &Report{
		Header: Header{
			Version:     le.Uint32(b[4:]),
			ReportSize:  le.Uint32(b[8:]),
			RequestType: le.Uint32(b[12:]),
			Status:      le.Uint32(b[16:]),
		},
	}
	// Version 1 and 2 share this layout; both occur on Azure (SNP VMs
	// recorded with 1, TDX VMs with 2).
	if v := r.Header.Version; v != 1 && v != 2 {
		return nil, fmt.Errorf("%w: header version %d", ErrUnsupportedVersion, v)
	}

	rd := b[RequestDataOffset:]
	r.RequestData = RequestData{
		DataSize:         le.Uint32(rd[0:]),
		Version:          le.Uint32(rd[4:]),
		Type:             ReportType(le.Uint32(rd[8:])),
		HashType:         HashType(le.Uint32(rd[12:])),
		VariableDataSize: le.Uint32(rd[16:]),
	}
	r.Type, r.HashType = r.RequestData.Type, r.RequestData.HashType

	varOff := uint64(VariableDataOffset)
	switch r.RequestData.Version {
	case 1:
	case 2:
		varOff += requestDataExtSize
		if uint64(len(b)) < varOff {
			return nil, fmt.Errorf("%w: %d bytes, need %d for the request data extension", ErrTruncated, len(b), varOff)
		}
		r.RequestData.Capabilities = le.Uint32(b[VariableDataOffset:])
	default:
		return nil, fmt.Errorf("%w: request data version %d", ErrUnsupportedVersion, r.RequestData.Version)
	}

	// Sizes in 64 bits: nothing declared can overflow.
	varSize := uint64(r.RequestData.VariableDataSize)
	varEnd := varOff + varSize
	if want := varEnd - RequestDataOffset; uint64(r.RequestData.DataSize) != want {
		return nil, fmt.Errorf("%w: request data_size %d, header and %d bytes of runtime data make %d",
			ErrBadSize, r.RequestData.DataSize, varSize, want)
	}
	if uint64(r.Header.ReportSize) != varEnd {
		return nil, fmt.Errorf("%w: report_size %d, request data ends at %d", ErrBadSize, r.Header.ReportSize, varEnd)
	}
	if varEnd > uint64(len(b)) {
		return nil, fmt.Errorf("%w: runtime data ends at %d, input has %d bytes", ErrTruncated, varEnd, len(b))
	}
	if r.HashType.Hash() == 0 {
		return nil, fmt.Errorf("%w: %d", ErrUnknownHashType, uint32(r.HashType))
	}

	hw := b[HardwareReportOffset:RequestDataOffset]
	r.HardwareReport = append([]byte(nil), hw...)
	var err error
	switch r.Type {
	case ReportTypeTDX:
		r.TD, err = ParseTDReport(hw[:TDReportSize])
	case ReportTypeSNP:
		r.SNP, err = parseSNPReport(hw)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnknownReportType, r.Type)
	}
	if err != nil {
		return nil, err
	}

	r.RuntimeData = append([]byte(nil), b[varOff:varEnd]...)
	if r.Runtime, err = ParseRuntimeClaims(r.RuntimeData); err != nil {
		return nil, err
	}
	return r, nil
}
