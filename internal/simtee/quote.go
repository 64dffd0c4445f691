package simtee

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// TDOptions are the TD report fields of a simulated quote.
//
// A zero TEETCBSVN, MRSeam, XFAM or MRTD selects the default (real TDX never
// reports all zeros there): the simulated platform's TEE_TCB_SVN from the
// manifest (05 01 02 00…: TDX module SVN 5, module major version 1, late
// microcode SVN 2); MRSEAM = SHA-384("poc simtee: default MRSEAM");
// XFAM = e71a060000000000, a value real Xeon TDs report; MRTD =
// SHA-384("poc simtee: default MRTD"). Sim.TDDefaults returns them. The other
// fields are used as given, and zero is meaningful for them: TDAttributes
// zero is a production TD (DEBUG clear), RTMRs and owner fields zero are
// what a TD that never extended or set them reports.
type TDOptions struct {
	// TEETCBSVN is TEE_TCB_SVN: the TDX module's SVN and version and the
	// TDX TCB component SVNs, matched against the TCB info.
	TEETCBSVN [16]byte
	// MRSeam is MRSEAM, the TDX module's measurement.
	MRSeam [48]byte
	// TDAttributes is TD_ATTRIBUTES; bit 0 is DEBUG.
	TDAttributes [8]byte
	// XFAM is the TD's extended feature mask.
	XFAM [8]byte
	// MRTD is the TD's build-time measurement.
	MRTD [48]byte
	// MRConfigID, MROwner and MROwnerConfig are the host-set TD identity
	// fields.
	MRConfigID    [48]byte
	MROwner       [48]byte
	MROwnerConfig [48]byte
	// RTMR are the four run-time measurement registers.
	RTMR [4][48]byte
}

// Default TD report values, recognisably the simulator's own where a
// measurement is concerned.
var (
	defaultMRTD   = sha512.Sum384([]byte("poc simtee: default MRTD"))
	defaultMRSeam = sha512.Sum384([]byte("poc simtee: default MRSEAM"))
	defaultXFAM   = [8]byte{0xe7, 0x1a, 0x06}
)

// The quote's fixed format values.
var (
	// intelQEVendorID is the QE vendor ID of Intel's quoting enclave,
	// which every DCAP TDX quote carries.
	intelQEVendorID = []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}
	// qeAuthData is what Intel's TD QE puts in its authentication data:
	// the 32 bytes 00 01 … 1f.
	qeAuthData = func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
)

const (
	certDataTypeQEReport = 6 // QE report certification data
	certDataTypePCKChain = 5 // PCK certificate chain, PEM
)

// TDDefaults returns the TD report values a zero TDOptions gets with this
// simulated TEE.
func (s *Sim) TDDefaults() TDOptions {
	return s.resolve(TDOptions{})
}

func (s *Sim) resolve(td TDOptions) TDOptions {
	if td.TEETCBSVN == ([16]byte{}) {
		td.TEETCBSVN = s.p.teeTCBSVN
	}
	if td.MRSeam == ([48]byte{}) {
		td.MRSeam = defaultMRSeam
	}
	if td.XFAM == ([8]byte{}) {
		td.XFAM = defaultXFAM
	}
	if td.MRTD == ([48]byte{}) {
		td.MRTD = defaultMRTD
	}
	return td
}

// quoteHooks let this package's tests make quotes that are wrong in ways a
// byte flip cannot reach (a QE report that is correctly signed but binds
// the wrong key). Nil hooks change nothing.
type quoteHooks struct {
	// qeReport edits the QE report after its report data is set and
	// before the PCK key signs it.
	qeReport func(*pb.EnclaveReport)
}

// Quote returns a TDX v4 quote in Intel's byte layout with reportData as
// REPORTDATA and the TD report fields of td (see TDOptions for defaults).
//
// It is signed as Intel's quoting enclave signs: the attestation key signs
// header ‖ TD quote body (ECDSA P-256, SHA-256, raw r ‖ s); the QE report's
// report data is SHA-256(attestation key ‖ QE authentication data) padded
// with zeros to 64 bytes; the PCK key signs the QE report; the
// certification data is type 6 (QE report) holding type 5 (the PCK
// certificate chain, PEM: PCK ‖ platform CA ‖ root). ECDSA signatures are
// randomised, so two quotes over the same input differ only in their
// signatures.
//
// Quote is safe for concurrent use.
func (s *Sim) Quote(reportData [64]byte, td TDOptions) ([]byte, error) {
	return s.quote(reportData, td, quoteHooks{})
}

func (s *Sim) quote(reportData [64]byte, td TDOptions, hooks quoteHooks) ([]byte, error) {
	td = s.resolve(td)
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

	userData := make([]byte, 20)
	copy(userData, s.p.qeid[:])
	header := &pb.Header{
		Version:            abi.QuoteVersion,
		AttestationKeyType: abi.AttestationKeyType,
		TeeType:            abi.TeeTDX,
		PceSvn:             le16(s.p.pcesvn),
		QeSvn:              le16(s.p.qe.isvSVN),
		QeVendorId:         append([]byte(nil), intelQEVendorID...),
		UserData:           userData,
	}
	body := &pb.TDQuoteBody{
		TeeTcbSvn:      clone(td.TEETCBSVN[:]),
		MrSeam:         clone(td.MRSeam[:]),
		MrSignerSeam:   make([]byte, 48), // Intel's TDX module: zero
		SeamAttributes: make([]byte, 8),
		TdAttributes:   clone(td.TDAttributes[:]),
		Xfam:           clone(td.XFAM[:]),
		MrTd:           clone(td.MRTD[:]),
		MrConfigId:     clone(td.MRConfigID[:]),
		MrOwner:        clone(td.MROwner[:]),
		MrOwnerConfig:  clone(td.MROwnerConfig[:]),
		Rtmrs:          [][]byte{clone(td.RTMR[0][:]), clone(td.RTMR[1][:]), clone(td.RTMR[2][:]), clone(td.RTMR[3][:])},
		ReportData:     clone(reportData[:]),
	}

	attestKey, err := rawPublicKey(&s.attestationKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("making quote: attestation key: %w", err)
	}
	bound := sha256.Sum256(append(clone(attestKey), qeAuthData...))
	qeReportData := make([]byte, 64)
	copy(qeReportData, bound[:])
	qeReport := &pb.EnclaveReport{
		CpuSvn:     clone(s.p.cpusvn[:]),
		MiscSelect: s.p.qe.miscSelect,
		Reserved1:  make([]byte, 28),
		Attributes: clone(s.p.qe.attributes[:]),
		MrEnclave:  clone(s.p.qe.mrenclave[:]),
		Reserved2:  make([]byte, 32),
		MrSigner:   clone(s.p.qe.mrsigner[:]),
		Reserved3:  make([]byte, 96),
		IsvProdId:  uint32(s.p.qe.isvProdID),
		IsvSvn:     uint32(s.p.qe.isvSVN),
		Reserved4:  make([]byte, 60),
		ReportData: qeReportData,
	}
	if hooks.qeReport != nil {
		hooks.qeReport(qeReport)
	}
	rawQEReport, err := abi.EnclaveReportToAbiBytes(qeReport)
	if err != nil {
		return nil, fmt.Errorf("making quote: encoding QE report: %w", err)
	}
	qeDigest := sha256.Sum256(rawQEReport)
	qeSig, err := signRaw(s.pckKey, qeDigest[:])
	if err != nil {
		return nil, fmt.Errorf("making quote: signing QE report with the PCK key: %w", err)
	}

	rawHeader, err := abi.HeaderToAbiBytes(header)
	if err != nil {
		return nil, fmt.Errorf("making quote: encoding header: %w", err)
	}
	rawBody, err := abi.TdQuoteBodyToAbiBytes(body)
	if err != nil {
		return nil, fmt.Errorf("making quote: encoding TD quote body: %w", err)
	}
	digest := sha256.Sum256(append(rawHeader, rawBody...))
	sig, err := signRaw(s.attestationKey, digest[:])
	if err != nil {
		return nil, fmt.Errorf("making quote: signing with the attestation key: %w", err)
	}

	chain := clone(s.chainPEM)
	qeCertData := &pb.QEReportCertificationData{
		QeReport:          qeReport,
		QeReportSignature: qeSig,
		QeAuthData:        &pb.QeAuthData{ParsedDataSize: uint32(len(qeAuthData)), Data: clone(qeAuthData)},
		PckCertificateChainData: &pb.PCKCertificateChainData{
			CertificateDataType: certDataTypePCKChain,
			Size:                uint32(len(chain)),
			PckCertChain:        chain,
		},
	}
	// QE report, its signature, auth data size and data, chain type and
	// size, chain.
	certSize := len(rawQEReport) + len(qeSig) + 2 + len(qeAuthData) + 6 + len(chain)
	quote := &pb.QuoteV4{
		Header:      header,
		TdQuoteBody: body,
		// Signature, attestation key, certification data type and size.
		SignedDataSize: uint32(len(sig) + len(attestKey) + 6 + certSize),
		SignedData: &pb.Ecdsa256BitQuoteV4AuthData{
			Signature:           sig,
			EcdsaAttestationKey: attestKey,
			CertificationData: &pb.CertificationData{
				CertificateDataType:       certDataTypeQEReport,
				Size:                      uint32(certSize),
				QeReportCertificationData: qeCertData,
			},
		},
	}
	raw, err := abi.QuoteToAbiBytes(quote)
	if err != nil {
		return nil, fmt.Errorf("making quote: serialising: %w", err)
	}
	return raw, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
