// Package tpmquote holds the form of a vTPM quote shared by the prover
// (package vtpm produces it) and the verifier (package verifier/azure checks
// it), and a strict parser for the TPMS_ATTEST structure it signs.
//
// A TPM2_Quote by the Azure vTPM's attestation key (AK) signs a TPMS_ATTEST
// (TPM 2.0 Library, Part 2, 10.12.12):
//
//	magic            u32   TPM_GENERATED_VALUE 0xff544347
//	type             u16   TPM_ST_ATTEST_QUOTE 0x8018
//	qualifiedSigner  TPM2B_NAME   name of the AK
//	extraData        TPM2B_DATA   the caller's nonce (qualifyingData)
//	clockInfo        u64 clock, u32 resetCount, u32 restartCount, u8 safe
//	firmwareVersion  u64
//	attested.quote   TPML_PCR_SELECTION, TPM2B_DIGEST pcrDigest
//
// All integers are big-endian. pcrDigest is the hash, with the signing
// scheme's hash (SHA-256 for Azure's RSASSA AK), of the selected PCR values
// concatenated in selection order: selections in list order, PCRs in
// ascending index within each. The magic value proves that the TPM itself
// built the structure: a restricted signing key such as the AK refuses to
// sign external data that starts with it.
package tpmquote

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Quote is a TPM2_Quote by the vTPM's AK with the PCR values it covers.
type Quote struct {
	// Attest is the TPMS_ATTEST structure exactly as signed.
	Attest []byte `json:"attest"`
	// Signature is the RSASSA-PKCS1-v1_5 signature (with SHA-256) over
	// Attest: the bare signature bytes, as long as the AK's modulus.
	Signature []byte `json:"signature"`
	// PCRs are the SHA-256 values of the quoted PCRs, in selection order.
	PCRs [][]byte `json:"pcrs"`
	// Indices are the PCR numbers of PCRs, in the same order.
	Indices []uint32 `json:"pcr_indices"`
}

// Constants of TPMS_ATTEST and TPMS_PCR_SELECTION.
const (
	// GeneratedValue is TPM_GENERATED_VALUE.
	GeneratedValue uint32 = 0xff544347
	// TagAttestQuote is TPM_ST_ATTEST_QUOTE.
	TagAttestQuote uint16 = 0x8018
	// AlgSHA256 is TPM_ALG_SHA256.
	AlgSHA256 uint16 = 0x000b

	// MaxAttestSize bounds TPMS_ATTEST (TPM2B_ATTEST holds at most the
	// size of TPMS_ATTEST, well under 1 KiB for a quote).
	MaxAttestSize = 1024
	// MaxExtraData is the largest TPM2B_DATA (sizeof(TPMT_HA)).
	MaxExtraData = 66
	maxName      = 66 // sizeof(TPMU_NAME)
	maxDigest    = 64 // sizeof(TPMU_HA)
	maxBanks     = 16
	maxSelect    = 8 // bytes of a PCR bitmap: 64 PCRs, far above any TPM
)

// Errors returned by ParseAttest, matchable with errors.Is.
var (
	// ErrMalformed: the bytes are not a well-formed TPMS_ATTEST.
	ErrMalformed = errors.New("TPMS_ATTEST malformed")
	// ErrMagic: magic is not TPM_GENERATED_VALUE.
	ErrMagic = errors.New("TPMS_ATTEST magic is not TPM_GENERATED_VALUE")
	// ErrNotQuote: type is not TPM_ST_ATTEST_QUOTE.
	ErrNotQuote = errors.New("TPMS_ATTEST is not a quote")
)

// PCRSelection is one TPMS_PCR_SELECTION: a bank and a bitmap of PCRs.
type PCRSelection struct {
	Hash   uint16
	Select []byte
}

// Indices returns the selected PCR numbers in ascending order.
func (s PCRSelection) Indices() []uint32 {
	var out []uint32
	for i, b := range s.Select {
		for bit := 0; bit < 8; bit++ {
			if b&(1<<bit) != 0 {
				out = append(out, uint32(8*i+bit))
			}
		}
	}
	return out
}

// Attest is a parsed TPMS_ATTEST of type quote.
type Attest struct {
	Magic           uint32
	Type            uint16
	QualifiedSigner []byte
	ExtraData       []byte
	Clock           uint64
	ResetCount      uint32
	RestartCount    uint32
	Safe            bool
	FirmwareVersion uint64
	Selections      []PCRSelection
	PCRDigest       []byte
}

// ParseAttest parses a TPMS_ATTEST that must be a quote. It refuses
// trailing bytes, sizes above the TPM 2.0 maxima and a magic value other
// than TPM_GENERATED_VALUE. It checks no signature: call it on signed
// bytes only after checking the signature, or treat its output as claims.
func ParseAttest(b []byte) (*Attest, error) {
	if len(b) > MaxAttestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxAttestSize)
	}
	r := reader{b: b}
	a := &Attest{}
	a.Magic = r.u32("magic")
	a.Type = r.u16("type")
	if r.err != nil {
		return nil, r.err
	}
	if a.Magic != GeneratedValue {
		return nil, fmt.Errorf("%w: 0x%08x", ErrMagic, a.Magic)
	}
	if a.Type != TagAttestQuote {
		return nil, fmt.Errorf("%w: type 0x%04x", ErrNotQuote, a.Type)
	}
	a.QualifiedSigner = r.tpm2b("qualifiedSigner", maxName)
	a.ExtraData = r.tpm2b("extraData", MaxExtraData)
	a.Clock = r.u64("clock")
	a.ResetCount = r.u32("resetCount")
	a.RestartCount = r.u32("restartCount")
	safe := r.u8("safe")
	a.FirmwareVersion = r.u64("firmwareVersion")
	n := r.u32("pcrSelect count")
	if r.err == nil && safe > 1 {
		r.fail("safe is %d, not a TPMI_YES_NO", safe)
	}
	a.Safe = safe == 1
	if r.err == nil && n > maxBanks {
		r.fail("%d PCR selections, limit %d", n, maxBanks)
	}
	for i := uint32(0); r.err == nil && i < n; i++ {
		h := r.u16("hash")
		size := r.u8("sizeofSelect")
		if r.err == nil && (size == 0 || size > maxSelect) {
			r.fail("sizeofSelect %d outside [1, %d]", size, maxSelect)
		}
		sel := r.bytes("pcrSelect", int(size))
		if r.err == nil {
			a.Selections = append(a.Selections, PCRSelection{Hash: h, Select: sel})
		}
	}
	a.PCRDigest = r.tpm2b("pcrDigest", maxDigest)
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return a, nil
}

// PCRDigest returns SHA-256 of the concatenated values: the pcrDigest a
// quote with SHA-256 as its signing hash carries for them.
func PCRDigest(values [][]byte) [32]byte {
	h := sha256.New()
	for _, v := range values {
		h.Write(v)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// reader consumes big-endian TPM fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (r *reader) bytes(what string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail("%s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	out := append([]byte{}, r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func (r *reader) u8(what string) uint8 {
	if b := r.bytes(what, 1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if b := r.bytes(what, 2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if b := r.bytes(what, 4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.bytes(what, 8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// tpm2b reads a u16-size-prefixed buffer of at most max bytes.
func (r *reader) tpm2b(what string, max int) []byte {
	n := r.u16(what + " size")
	if r.err == nil && int(n) > max {
		r.fail("%s: %d bytes, limit %d", what, n, max)
	}
	return r.bytes(what, int(n))
}
