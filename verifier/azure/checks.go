package azure

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"

	"github.com/latencyproof/poc/internal/azure/tpmquote"
)

// UserDataSize is the size of user-data: the vTPM NV index 0x01400002.
const UserDataSize = 64

// RuntimeDataDigest returns the hash of the report's runtime data with the
// report's declared hash (SHA-256 on every Azure VM recorded).
func RuntimeDataDigest(r *HCLReport) ([]byte, error) {
	h := r.HashType.Hash()
	if h == 0 || !h.Available() {
		return nil, fmt.Errorf("%w: hash type %s", ErrHCLReport, r.HashType)
	}
	d := h.New()
	d.Write(r.RuntimeData)
	return d.Sum(nil), nil
}

// CheckRuntimeData checks link 2 of the chain: the hash of the HCL report's
// runtime data begins REPORTDATA both of the TDREPORT inside the HCL report
// and of the TD quote. It returns the digest. Errors wrap ErrRuntimeDataHash
// (or ErrNotTDX for a report without a TDREPORT).
func CheckRuntimeData(r *HCLReport, q *TDQuoteBody) ([]byte, error) {
	if r == nil || q == nil {
		return nil, fmt.Errorf("%w: nil report or quote", ErrOptions)
	}
	if r.TD == nil {
		return nil, fmt.Errorf("%w: report type %s", ErrNotTDX, r.Type)
	}
	d, err := RuntimeDataDigest(r)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(r.TD.ReportData[:len(d)], d) {
		return nil, fmt.Errorf("%w: %s(runtime data) = %x, HCL report's TDREPORT has %x",
			ErrRuntimeDataHash, r.HashType, d, r.TD.ReportData[:len(d)])
	}
	if !bytes.Equal(q.ReportData[:len(d)], d) {
		return nil, fmt.Errorf("%w: %s(runtime data) = %x, TD quote has %x",
			ErrRuntimeDataHash, r.HashType, d, q.ReportData[:len(d)])
	}
	return d, nil
}

// CheckTDMatch checks link 3: the TDREPORT inside the HCL report and the TD
// quote's body agree on every field they share. The error, a
// *TDMismatchError wrapping ErrTDMismatch, names every field that differs.
func CheckTDMatch(td *TDReport, q *TDQuoteBody) error {
	if td == nil || q == nil {
		return fmt.Errorf("%w: nil TD report or quote", ErrOptions)
	}
	var diff []string
	cmp := func(name string, a, b []byte) {
		if !bytes.Equal(a, b) {
			diff = append(diff, name)
		}
	}
	cmp("TEE_TCB_SVN", td.TEETCBSVN[:], q.TEETCBSVN[:])
	cmp("MRSEAM", td.MRSEAM[:], q.MRSEAM[:])
	cmp("MRSIGNERSEAM", td.MRSignerSEAM[:], q.MRSignerSEAM[:])
	cmp("SEAM ATTRIBUTES", td.SEAMAttributes[:], q.SEAMAttributes[:])
	cmp("TD_ATTRIBUTES", td.TDAttributes[:], q.TDAttributes[:])
	cmp("XFAM", td.XFAM[:], q.XFAM[:])
	cmp("MRTD", td.MRTD[:], q.MRTD[:])
	cmp("MRCONFIGID", td.MRConfigID[:], q.MRConfigID[:])
	cmp("MROWNER", td.MROwner[:], q.MROwner[:])
	cmp("MROWNERCONFIG", td.MROwnerConfig[:], q.MROwnerConfig[:])
	for i := range td.RTMRs {
		cmp(fmt.Sprintf("RTMR%d", i), td.RTMRs[i][:], q.RTMRs[i][:])
	}
	cmp("REPORTDATA", td.ReportData[:], q.ReportData[:])
	if diff != nil {
		return &TDMismatchError{Fields: diff}
	}
	return nil
}

// CheckUserData checks link 4: the runtime data's user-data is want, the
// 64-byte proof digest. Errors wrap ErrUserData (ErrOptions if want is not
// 64 bytes).
func CheckUserData(c *RuntimeClaims, want []byte) error {
	if len(want) != UserDataSize {
		return fmt.Errorf("%w: expected user-data is %d bytes, want %d", ErrOptions, len(want), UserDataSize)
	}
	if c == nil || c.UserData == nil {
		return fmt.Errorf("%w: the runtime data has no user-data", ErrUserData)
	}
	if !bytes.Equal(c.UserData, want) {
		return fmt.Errorf("%w: runtime data has %x, want %x", ErrUserData, c.UserData, want)
	}
	return nil
}

// CheckAKPublic reports whether key is the HCL report's AK, hclAK. Errors
// wrap ErrAKMismatch.
func CheckAKPublic(hclAK, key *rsa.PublicKey) error {
	if hclAK == nil || key == nil {
		return fmt.Errorf("%w: missing key", ErrAKMismatch)
	}
	if !hclAK.Equal(key) {
		return fmt.Errorf("%w: modulus %x…, HCLAkPub's is %x…", ErrAKMismatch, head(key.N.Bytes()), head(hclAK.N.Bytes()))
	}
	return nil
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// TPMResult is what a verified TPM quote says.
type TPMResult struct {
	// Nonce is the quote's extraData, equal to the expected nonce.
	Nonce []byte `json:"nonce"`
	// PCRs maps PCR index to its SHA-256 value, for the quoted PCRs.
	PCRs map[uint32][]byte `json:"pcrs"`
	// Selected lists the quoted PCR indices in selection order.
	Selected []uint32 `json:"selected"`
	// Clock, ResetCount, RestartCount and Safe are the TPM's clockInfo;
	// FirmwareVersion its firmware. Informative: a vTPM's clock is the
	// paravisor's.
	Clock           uint64 `json:"clock"`
	ResetCount      uint32 `json:"reset_count"`
	RestartCount    uint32 `json:"restart_count"`
	Safe            bool   `json:"safe"`
	FirmwareVersion uint64 `json:"firmware_version"`
}

// VerifyTPMQuote checks link 5: the quote's signature verifies under ak
// (RSASSA-PKCS1-v1_5, SHA-256), its TPMS_ATTEST is a TPM-generated quote
// with extraData equal to nonce, and the PCR values, with their indices,
// are exactly the quoted selection and hash to its pcrDigest. The signature
// is checked first, before anything in the message is believed. nonce must
// be given: a quote without a freshness check proves nothing about now.
func VerifyTPMQuote(q *TPMQuote, ak *rsa.PublicKey, nonce []byte) (*TPMResult, error) {
	if q == nil {
		return nil, fmt.Errorf("%w: no quote", ErrTPMQuoteFormat)
	}
	if ak == nil {
		return nil, fmt.Errorf("%w: no AK public key", ErrNoAKPub)
	}
	if len(nonce) == 0 {
		return nil, fmt.Errorf("%w: no expected nonce given", ErrTPMNonce)
	}
	if len(q.Attest) > tpmquote.MaxAttestSize {
		return nil, fmt.Errorf("%w: attest of %d bytes", ErrTPMQuoteFormat, len(q.Attest))
	}
	digest := sha256.Sum256(q.Attest)
	if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, digest[:], q.Signature); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTPMQuoteSignature, err)
	}
	a, err := tpmquote.ParseAttest(q.Attest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTPMQuoteFormat, err)
	}
	if !bytes.Equal(a.ExtraData, nonce) {
		return nil, fmt.Errorf("%w: quote has %x, want %x", ErrTPMNonce, a.ExtraData, nonce)
	}
	var selected []uint32
	for _, s := range a.Selections {
		if s.Hash != tpmquote.AlgSHA256 {
			return nil, fmt.Errorf("%w: PCR bank 0x%04x, only SHA-256 is read", ErrTPMQuoteFormat, s.Hash)
		}
		selected = append(selected, s.Indices()...)
	}
	seen := make(map[uint32]bool, len(selected))
	for _, i := range selected {
		if seen[i] {
			return nil, fmt.Errorf("%w: PCR %d selected twice", ErrTPMQuoteFormat, i)
		}
		seen[i] = true
	}
	if !slices.Equal(q.Indices, selected) || len(q.PCRs) != len(selected) {
		return nil, fmt.Errorf("%w: values given for PCRs %v (%d values), the quote selects %v",
			ErrPCRDigest, q.Indices, len(q.PCRs), selected)
	}
	for k, v := range q.PCRs {
		if len(v) != sha256.Size {
			return nil, fmt.Errorf("%w: PCR %d value is %d bytes", ErrPCRDigest, q.Indices[k], len(v))
		}
	}
	if d := tpmquote.PCRDigest(q.PCRs); !bytes.Equal(d[:], a.PCRDigest) {
		return nil, fmt.Errorf("%w: SHA-256 of the values is %x, the quote's pcrDigest %x", ErrPCRDigest, d, a.PCRDigest)
	}
	res := &TPMResult{
		Nonce:           a.ExtraData,
		PCRs:            make(map[uint32][]byte, len(selected)),
		Selected:        selected,
		Clock:           a.Clock,
		ResetCount:      a.ResetCount,
		RestartCount:    a.RestartCount,
		Safe:            a.Safe,
		FirmwareVersion: a.FirmwareVersion,
	}
	for k, i := range selected {
		res.PCRs[i] = append([]byte(nil), q.PCRs[k]...)
	}
	return res, nil
}

// oidSubjectAltName is id-ce-subjectAltName.
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// VerifyAKCert checks link 6: the content of NV index 0x01C101D0 (a DER
// certificate, possibly followed by padding) chains to roots through
// intermediates at time now, and certifies hclAK. Errors wrap ErrAKCert
// for the certificate and chain, ErrAKMismatch for the key.
//
// TPM certificates may mark a subjectAltName holding only a directoryName
// (TPM manufacturer attributes) critical; crypto/x509 does not read those
// names and would refuse the extension, so it is accepted here: it
// constrains nothing this check relies on.
func VerifyAKCert(nv []byte, hclAK *rsa.PublicKey, roots, intermediates *x509.CertPool, now time.Time) (*x509.Certificate, error) {
	if roots == nil {
		return nil, fmt.Errorf("%w: no AK roots configured", ErrOptions)
	}
	if hclAK == nil {
		return nil, fmt.Errorf("%w: no HCLAkPub to compare with", ErrNoAKPub)
	}
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(nv, &raw); err != nil {
		return nil, fmt.Errorf("%w: reading DER: %w", ErrAKCert, err)
	}
	cert, err := x509.ParseCertificate(raw.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAKCert, err)
	}
	cert.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(cert.UnhandledCriticalExtensions),
		func(oid asn1.ObjectIdentifier) bool { return oid.Equal(oidSubjectAltName) })
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAKCert, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate holds a %T, not an RSA key", ErrAKMismatch, cert.PublicKey)
	}
	if err := CheckAKPublic(hclAK, pub); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return cert, nil
}
