package dcap

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// MaxQuoteSize bounds the input of ParseQuote and DecodeQuoteFile. Real TDX
// v4 quotes are about 5 KB (the PCK chain is most of it); 64 KiB leaves room
// for long chains while refusing nonsense early.
const MaxQuoteSize = 64 << 10

// Layout of a version 4 TDX quote (Intel TDX DCAP Quoting Library API,
// appendix A.3). Offsets are from the start of the quote unless noted.
const (
	headerSize      = 48
	tdBodyV4Size    = 584
	sigDataLenOff   = headerSize + tdBodyV4Size // 632: end of the signed message
	sigDataOff      = sigDataLenOff + 4         // 636
	ecdsaSigSize    = 64
	attestKeySize   = 64
	certDataHdrSize = 6 // type (2) + size (4)
	qeReportSize    = 384
	qeAuthLenSize   = 2

	teeTypeSGX = 0x00000000
	teeTypeTDX = 0x00000081

	attestKeyTypeECDSAP256 = 2
	certDataQEReport       = 6 // QE report certification data
	certDataPCKChain       = 5 // concatenated PEM PCK certificate chain
)

// TD body offsets, relative to the start of the body.
const (
	bodyTEETCBSVN     = 0
	bodyMRSEAM        = 16
	bodyMRSIGNERSEAM  = 64
	bodySEAMAttrs     = 112
	bodyTDAttrs       = 120
	bodyXFAM          = 128
	bodyMRTD          = 136
	bodyMRCONFIGID    = 184
	bodyMROWNER       = 232
	bodyMROWNERCONFIG = 280
	bodyRTMR0         = 328
	bodyREPORTDATA    = 520
)

// Quote is a parsed TDX v4 quote, for display and diagnosis. Parsing checks
// the layout only: nothing in a Quote is authenticated, so decisions must be
// taken on the Result of Verify, never on a Quote.
type Quote struct {
	// Header.
	Version            uint16
	AttestationKeyType uint16
	TEEType            uint32
	// HeaderReserved holds header bytes 8..11. Version 3 quotes carry the
	// QE and PCE SVNs there; TDX v4 quotes leave them zero. Use QESVN and
	// PCESVN instead.
	HeaderReserved [4]byte
	QEVendorID     [16]byte
	UserData       [20]byte

	// TD quote body (TDREPORT fields).
	TEETCBSVN      [16]byte
	MRSEAM         [48]byte
	MRSIGNERSEAM   [48]byte
	SEAMAttributes [8]byte
	TDAttributes   [8]byte
	XFAM           [8]byte
	MRTD           [48]byte
	MRCONFIGID     [48]byte
	MROWNER        [48]byte
	MROWNERCONFIG  [48]byte
	RTMR           [4][48]byte
	ReportData     [64]byte
	// MRSERVICETD is nil: the v4 TD body (TDX 1.0 report) has no
	// MRSERVICETD field. It is present only in v5 TD 1.5 bodies.
	MRSERVICETD []byte

	// Signed data.
	Signature         [64]byte // ECDSA P-256 r||s over header || body, by the attestation key
	AttestationKey    [64]byte // raw X||Y of the attestation key
	QEReport          QEReport
	QEReportSignature [64]byte // ECDSA P-256 r||s over the QE report, by the PCK key
	QEAuthData        []byte

	// PCKChain is the certificate chain from the certification data:
	// PCK leaf, PCK platform (or processor) CA, root CA. The CA
	// certificates may be shared with other quotes: do not modify them.
	PCKChain    []*x509.Certificate
	PCKChainPEM []byte
	// PCK holds what the PCK leaf's SGX extension says about the platform.
	PCK PCKInfo

	// QESVN is the QE's ISVSVN from the QE report; PCESVN is the PCE SVN
	// certified in the PCK certificate.
	QESVN  uint16
	PCESVN uint16

	// Padding is the number of zero bytes that followed the quote.
	Padding int

	raw     []byte // the quote without padding
	qeRaw   []byte // the QE report as signed
	message []byte // header || body, as signed
	proto   *pb.QuoteV4
}

// QEReport is the SGX enclave report of the quoting enclave.
type QEReport struct {
	CPUSVN     [16]byte
	MiscSelect [4]byte // little-endian, as in the report
	Attributes [16]byte
	MRENCLAVE  [32]byte
	MRSIGNER   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	ReportData [64]byte
}

// PCKInfo is the platform data certified in the PCK certificate's SGX
// extension (OID 1.2.840.113741.1.13.1).
type PCKInfo struct {
	FMSPC [6]byte
	PCEID [2]byte
	PPID  [16]byte
	// CPUSVN is the raw CPUSVN; TCBComponents are the 16 SGX TCB component
	// SVNs that TCB levels are matched against.
	CPUSVN        [16]byte
	TCBComponents [16]byte
	PCESVN        uint16
	// CA is "platform" or "processor": which PCK CA issued the leaf, and so
	// which PCK CRL applies.
	CA string
}

// Raw returns the quote bytes (without padding). The slice must not be modified.
func (q *Quote) Raw() []byte { return q.raw }

// Len returns the length of the quote without padding.
func (q *Quote) Len() int { return len(q.raw) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedQuote, fmt.Sprintf(format, args...))
}

// ParseQuote parses a raw TDX v4 quote. Trailing zero bytes (buffers
// returned by quote generation are often padded) are accepted and counted in
// Padding; any other trailing byte is refused, because it is covered by no
// signature. Version 5 quotes are refused with ErrUnsupportedVersion, SGX
// quotes with ErrNotTDX.
func ParseQuote(b []byte) (q *Quote, err error) {
	if len(b) > MaxQuoteSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrQuoteTooLarge, len(b), MaxQuoteSize)
	}
	if len(b) < 8 {
		return nil, malformed("%d bytes is shorter than a quote header", len(b))
	}
	version := binary.LittleEndian.Uint16(b[0:2])
	teeType := binary.LittleEndian.Uint32(b[4:8])
	if teeType != teeTypeTDX {
		return nil, teeTypeError{teeType: teeType, version: version}
	}
	if version != 4 {
		return nil, versionError{version: version}
	}
	if akType := binary.LittleEndian.Uint16(b[2:4]); akType != attestKeyTypeECDSAP256 {
		return nil, malformed("attestation key type %d is not ECDSA P-256 (2)", akType)
	}
	if len(b) < sigDataOff {
		return nil, malformed("%d bytes is shorter than header and TD body (%d)", len(b), sigDataOff)
	}
	sdLen := int(binary.LittleEndian.Uint32(b[sigDataLenOff:sigDataOff]))
	if sdLen > len(b)-sigDataOff {
		return nil, malformed("signed data of %d bytes is truncated to %d", sdLen, len(b)-sigDataOff)
	}
	end := sigDataOff + sdLen
	padding := b[end:]
	for _, c := range padding {
		if c != 0 {
			return nil, malformed("%d bytes after the quote's %d bytes are not zero padding", len(padding), end)
		}
	}

	q = &Quote{
		Version:            version,
		AttestationKeyType: attestKeyTypeECDSAP256,
		TEEType:            teeType,
		Padding:            len(padding),
		raw:                bytes.Clone(b[:end]),
	}
	raw := q.raw
	copy(q.HeaderReserved[:], raw[8:12])
	copy(q.QEVendorID[:], raw[12:28])
	copy(q.UserData[:], raw[28:48])
	body := raw[headerSize:sigDataLenOff]
	copy(q.TEETCBSVN[:], body[bodyTEETCBSVN:])
	copy(q.MRSEAM[:], body[bodyMRSEAM:])
	copy(q.MRSIGNERSEAM[:], body[bodyMRSIGNERSEAM:])
	copy(q.SEAMAttributes[:], body[bodySEAMAttrs:])
	copy(q.TDAttributes[:], body[bodyTDAttrs:])
	copy(q.XFAM[:], body[bodyXFAM:])
	copy(q.MRTD[:], body[bodyMRTD:])
	copy(q.MRCONFIGID[:], body[bodyMRCONFIGID:])
	copy(q.MROWNER[:], body[bodyMROWNER:])
	copy(q.MROWNERCONFIG[:], body[bodyMROWNERCONFIG:])
	for i := range q.RTMR {
		copy(q.RTMR[i][:], body[bodyRTMR0+48*i:])
	}
	copy(q.ReportData[:], body[bodyREPORTDATA:])
	q.message = raw[:sigDataLenOff]

	sd := raw[sigDataOff:end]
	if len(sd) < ecdsaSigSize+attestKeySize+certDataHdrSize {
		return nil, malformed("signed data of %d bytes is too short", len(sd))
	}
	copy(q.Signature[:], sd[0:64])
	copy(q.AttestationKey[:], sd[64:128])
	cd := sd[128:]
	if t := binary.LittleEndian.Uint16(cd[0:2]); t != certDataQEReport {
		return nil, malformed("certification data type %d is not QE report certification data (6)", t)
	}
	if n := binary.LittleEndian.Uint32(cd[2:6]); uint64(n) != uint64(len(cd)-certDataHdrSize) {
		return nil, malformed("certification data size %d does not match the %d bytes present", n, len(cd)-certDataHdrSize)
	}
	cd = cd[certDataHdrSize:]
	if len(cd) < qeReportSize+ecdsaSigSize+qeAuthLenSize {
		return nil, malformed("QE report certification data of %d bytes is too short", len(cd))
	}
	q.qeRaw = cd[:qeReportSize]
	parseQEReport(&q.QEReport, q.qeRaw)
	q.QESVN = q.QEReport.ISVSVN
	copy(q.QEReportSignature[:], cd[qeReportSize:qeReportSize+ecdsaSigSize])
	rest := cd[qeReportSize+ecdsaSigSize:]
	authLen := int(binary.LittleEndian.Uint16(rest[0:2]))
	rest = rest[qeAuthLenSize:]
	if authLen > len(rest) {
		return nil, malformed("QE authentication data of %d bytes is truncated", authLen)
	}
	q.QEAuthData = rest[:authLen]
	rest = rest[authLen:]
	if len(rest) < certDataHdrSize {
		return nil, malformed("PCK certification data header is missing")
	}
	if t := binary.LittleEndian.Uint16(rest[0:2]); t != certDataPCKChain {
		return nil, malformed("PCK certification data type %d is not a PEM PCK chain (5)", t)
	}
	if n := binary.LittleEndian.Uint32(rest[2:6]); uint64(n) != uint64(len(rest)-certDataHdrSize) {
		return nil, malformed("PCK chain size %d does not match the %d bytes present", n, len(rest)-certDataHdrSize)
	}
	q.PCKChainPEM = rest[certDataHdrSize:]
	if q.PCKChain, err = parsePCKChain(q.PCKChainPEM); err != nil {
		return nil, err
	}
	if q.PCK, err = pckInfo(q.PCKChain[0]); err != nil {
		return nil, err
	}
	q.PCESVN = q.PCK.PCESVN

	if q.proto, err = toProto(raw); err != nil {
		return nil, err
	}
	return q, nil
}

func parseQEReport(r *QEReport, b []byte) {
	copy(r.CPUSVN[:], b[0:16])
	copy(r.MiscSelect[:], b[16:20])
	copy(r.Attributes[:], b[48:64])
	copy(r.MRENCLAVE[:], b[64:96])
	copy(r.MRSIGNER[:], b[128:160])
	r.ISVProdID = binary.LittleEndian.Uint16(b[256:258])
	r.ISVSVN = binary.LittleEndian.Uint16(b[258:260])
	copy(r.ReportData[:], b[320:384])
}

// parsePCKChain decodes exactly three PEM certificates (leaf, CA, root),
// allowing only whitespace and NUL bytes after them.
func parsePCKChain(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := b
	for len(certs) < 3 {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, malformed("PCK chain holds %d PEM certificates, want 3", len(certs))
		}
		if blk.Type != "CERTIFICATE" {
			return nil, malformed("PCK chain holds a PEM block of type %q", blk.Type)
		}
		var c *x509.Certificate
		if len(certs) > 0 {
			c = caCerts.get(blk.Bytes)
		}
		if c == nil {
			var err error
			if c, err = x509.ParseCertificate(blk.Bytes); err != nil {
				return nil, malformed("parsing PCK chain certificate %d: %v", len(certs), err)
			}
			if len(certs) > 0 && c.IsCA {
				caCerts.put(blk.Bytes, c)
			}
		}
		certs = append(certs, c)
	}
	if len(bytes.Trim(rest, " \t\r\n\x00")) != 0 {
		return nil, malformed("PCK chain has %d unexpected bytes after three certificates", len(rest))
	}
	return certs, nil
}

// caCerts remembers parsed CA certificates of PCK chains by their DER
// bytes. Every TDX platform's quote carries the same few CA certificates
// (Intel's root and PCK Platform CA), so parsing them once saves a third of
// the certificate parsing per quote; the leaf, which is per platform, is
// always parsed. Parsing is deterministic, so the key is exact.
var caCerts = &certCache{m: make(map[string]*x509.Certificate)}

type certCache struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate
}

const certCacheMax = 64

func (c *certCache) get(der []byte) *x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[string(der)]
}

func (c *certCache) put(der []byte, cert *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= certCacheMax {
		clear(c.m) // bounded: a flood of distinct CAs only costs re-parsing
	}
	c.m[string(der)] = cert
}

func pckInfo(leaf *x509.Certificate) (PCKInfo, error) {
	p, err := sgxExtension(leaf)
	if err != nil {
		return p, malformed("reading the PCK certificate's SGX extension: %v", err)
	}
	switch leaf.Issuer.CommonName {
	case cnPCKPlatform:
		p.CA = "platform"
	case cnPCKProcessor:
		p.CA = "processor"
	default:
		return p, malformed("PCK certificate issuer %q is not an Intel SGX PCK CA", leaf.Issuer.CommonName)
	}
	return p, nil
}

func decodeHexInto(dst []byte, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// toProto converts the (already layout-checked) quote into go-tdx-guest's
// protobuf form. abi slices without bounds checks in places, so a panic
// there is turned into an error rather than trusted never to happen.
func toProto(raw []byte) (q *pb.QuoteV4, err error) {
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, malformed("go-tdx-guest abi: %v", r)
		}
	}()
	v, err := abi.QuoteToProto(raw)
	if err != nil {
		return nil, malformed("go-tdx-guest abi: %v", err)
	}
	q, ok := v.(*pb.QuoteV4)
	if !ok {
		return nil, malformed("go-tdx-guest abi returned %T", v)
	}
	return q, nil
}

// DecodeQuoteFile turns the content of a quote file into raw quote bytes.
// It accepts raw binary, ASCII hex (with or without a 0x prefix) and base64
// (standard or URL alphabet, padded or not, line-wrapped or not), ignores
// whitespace around text forms, and strips zero padding after the quote's
// real length. The result still has to go through ParseQuote or Verify.
func DecodeQuoteFile(b []byte) ([]byte, error) {
	if len(b) > 4*MaxQuoteSize {
		return nil, fmt.Errorf("%w: %d bytes of input", ErrQuoteTooLarge, len(b))
	}
	var raw []byte
	text := bytes.TrimSpace(b)
	switch {
	case len(text) == 0:
		return nil, malformed("empty quote file")
	case isHexText(text):
		t := text
		if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
			t = t[2:]
		}
		raw = make([]byte, hex.DecodedLen(len(t)))
		if _, err := hex.Decode(raw, t); err != nil {
			return nil, malformed("decoding hex: %v", err)
		}
	case isBase64Text(text):
		var err error
		if raw, err = decodeBase64(text); err != nil {
			return nil, malformed("decoding base64: %v", err)
		}
	default:
		raw = b
	}
	return stripPadding(raw), nil
}

// stripPadding cuts trailing zero bytes after a v4 quote's signed data.
// Other inputs are returned unchanged for ParseQuote to judge.
func stripPadding(b []byte) []byte {
	if len(b) < sigDataOff || binary.LittleEndian.Uint16(b[0:2]) != 4 {
		return b
	}
	end := uint64(sigDataOff) + uint64(binary.LittleEndian.Uint32(b[sigDataLenOff:sigDataOff]))
	if end >= uint64(len(b)) {
		return b
	}
	for _, c := range b[end:] {
		if c != 0 {
			return b
		}
	}
	return b[:end]
}

func isHexText(t []byte) bool {
	if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		t = t[2:]
	}
	if len(t) == 0 || len(t)%2 != 0 {
		return false
	}
	for _, c := range t {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isBase64Text(t []byte) bool {
	for _, c := range t {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '+', c == '/', c == '-', c == '_', c == '=':
		case c == '\n', c == '\r', c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}

func decodeBase64(t []byte) ([]byte, error) {
	s := make([]byte, 0, len(t))
	url := false
	for _, c := range t {
		switch c {
		case '\n', '\r', ' ', '\t', '=':
			continue
		case '-', '_':
			url = true
		}
		s = append(s, c)
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	return out[:n], err
}
