package simtee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// ManifestVersion is the only sim.json version this package reads and writes.
const ManifestVersion = 1

// manifestName is the manifest's file name inside a simulated TEE directory.
// Init writes it last, so a directory with a manifest is complete.
const manifestName = "sim.json"

// maxManifestSize bounds what Load reads before parsing.
const maxManifestSize = 1 << 20

// notice is written into every manifest for whoever opens the directory.
const notice = "SIMULATED Intel DCAP hierarchy made by poc internal/simtee: NOT Intel. " +
	"Quotes it signs prove nothing about hardware. Trust root.pem only in tests and labs, by explicit choice."

// Manifest describes a simulated TEE directory. Init writes it as sim.json;
// Load reads and checks it. Byte strings are lower-case hex.
type Manifest struct {
	// Version is ManifestVersion.
	Version int `json:"version"`
	// Notice says, in words, that the hierarchy is simulated.
	Notice string `json:"notice"`
	// Created is InitOptions.Now (UTC, whole seconds).
	Created time.Time `json:"created"`

	// FMSPC (6 bytes), PCEID (2 bytes), CPUSVN (16 bytes) and PCESVN are the
	// platform values in the PCK certificate's SGX extension.
	FMSPC  string `json:"fmspc"`
	PCEID  string `json:"pceId"`
	CPUSVN string `json:"cpuSvn"`
	PCESVN uint16 `json:"pceSvn"`
	// TEETCBSVN (16 bytes) is the TEE_TCB_SVN a quote carries unless
	// TDOptions says otherwise.
	TEETCBSVN string `json:"teeTcbSvn"`
	// QEID (16 bytes) fills the first 16 bytes of the quote header's user
	// data, where Intel's quoting library puts its platform identifier.
	QEID string `json:"qeId"`
	// QE is the simulated quoting enclave's identity.
	QE QEValues `json:"qe"`

	// Certificates is the validity of all four certificates.
	Certificates Validity `json:"certificates"`
	// Collateral is the validity of the TCB info, the QE identity and both
	// CRLs (issueDate/thisUpdate and nextUpdate).
	Collateral Validity `json:"collateral"`
	// TCBStatus is the status the collateral gives a quote made with the
	// default TDOptions: "UpToDate", or "OutOfDate" with
	// InitOptions.TCBOutOfDate.
	TCBStatus string `json:"tcbStatus"`
	// PCKRevoked says whether the PCK certificate's serial is in the PCK CRL.
	PCKRevoked bool `json:"pckRevoked"`

	// Files names the files of the directory.
	Files Files `json:"files"`
}

// QEValues is the identity of the simulated TD quoting enclave: what its QE
// report carries and what the signed QE identity expects.
type QEValues struct {
	// MRSIGNER is the QE signer's measurement, 32 bytes.
	MRSIGNER string `json:"mrsigner"`
	// MRENCLAVE is the QE's measurement, 32 bytes.
	MRENCLAVE string `json:"mrenclave"`
	// Attributes are the QE's SGX attributes, 16 bytes.
	Attributes string `json:"attributes"`
	// MiscSelect is the QE's MISCSELECT.
	MiscSelect uint32 `json:"miscselect"`
	// ISVProdID is the QE's product ID (2 for Intel's TD QE).
	ISVProdID uint16 `json:"isvprodid"`
	// ISVSVN is the QE's security version.
	ISVSVN uint16 `json:"isvsvn"`
}

// Validity is a time window, both ends inclusive as go-tdx-guest checks them.
type Validity struct {
	// NotBefore is certificates' notBefore, or the collateral's issueDate
	// and thisUpdate.
	NotBefore time.Time `json:"notBefore"`
	// NotAfter is certificates' notAfter, or the collateral's nextUpdate.
	NotAfter time.Time `json:"notAfter"`
}

// Files names the files of a simulated TEE directory. Every name is a plain
// file name inside the directory. Keys are PKCS #8 PEM with mode 0600.
type Files struct {
	Root             string `json:"root"`           // sim "Intel SGX Root CA" certificate, PEM
	RootKey          string `json:"rootKey"`        // its key
	PlatformCA       string `json:"platformCA"`     // "Intel SGX PCK Platform CA" certificate, PEM
	PlatformCAKey    string `json:"platformCAKey"`  // its key
	PCK              string `json:"pck"`            // "Intel SGX PCK Certificate", PEM
	PCKKey           string `json:"pckKey"`         // its key (signs QE reports)
	PCKChain         string `json:"pckChain"`       // PCK ‖ platform CA ‖ root, PEM, as quotes embed it
	TCBSigning       string `json:"tcbSigning"`     // "Intel SGX TCB Signing" certificate, PEM
	TCBSigningKey    string `json:"tcbSigningKey"`  // its key
	AttestationKey   string `json:"attestationKey"` // the QE's attestation key (signs quotes)
	TCBInfo          string `json:"tcbInfo"`        // PCS response body {"tcbInfo":…,"signature":…}
	QEIdentity       string `json:"qeIdentity"`     // PCS response body {"enclaveIdentity":…,"signature":…}
	PCKCRL           string `json:"pckCrl"`         // PCK CRL, DER
	RootCRL          string `json:"rootCrl"`        // root CA CRL, DER
	CollateralBundle string `json:"collateral"`     // dcap-qvl QuoteCollateralV3 JSON
}

func defaultFiles() Files {
	return Files{
		Root:             "root.pem",
		RootKey:          "root.key",
		PlatformCA:       "platform-ca.pem",
		PlatformCAKey:    "platform-ca.key",
		PCK:              "pck.pem",
		PCKKey:           "pck.key",
		PCKChain:         "pck-chain.pem",
		TCBSigning:       "tcb-signing.pem",
		TCBSigningKey:    "tcb-signing.key",
		AttestationKey:   "attestation.key",
		TCBInfo:          "tcb-info.json",
		QEIdentity:       "qe-identity.json",
		PCKCRL:           "pck-crl.der",
		RootCRL:          "root-crl.der",
		CollateralBundle: "collateral.json",
	}
}

// list returns every file name with the role it plays, for checks and loops.
func (f Files) list() [][2]string {
	return [][2]string{
		{"root", f.Root}, {"rootKey", f.RootKey},
		{"platformCA", f.PlatformCA}, {"platformCAKey", f.PlatformCAKey},
		{"pck", f.PCK}, {"pckKey", f.PCKKey}, {"pckChain", f.PCKChain},
		{"tcbSigning", f.TCBSigning}, {"tcbSigningKey", f.TCBSigningKey},
		{"attestationKey", f.AttestationKey},
		{"tcbInfo", f.TCBInfo}, {"qeIdentity", f.QEIdentity},
		{"pckCrl", f.PCKCRL}, {"rootCrl", f.RootCRL},
		{"collateral", f.CollateralBundle},
	}
}

// platform is the manifest's byte values, decoded and length-checked.
type platform struct {
	fmspc     [6]byte
	pceid     [2]byte
	cpusvn    [16]byte
	pcesvn    uint16
	teeTCBSVN [16]byte
	qeid      [16]byte
	qe        qeIdentity
}

type qeIdentity struct {
	mrsigner   [32]byte
	mrenclave  [32]byte
	attributes [16]byte
	miscSelect uint32
	isvProdID  uint16
	isvSVN     uint16
}

// parseManifest decodes sim.json strictly: the version first (an unknown
// version is ErrVersion whatever else the file holds), then every field,
// refusing unknown fields, malformed hex and file names that leave the
// directory.
func parseManifest(data []byte) (Manifest, platform, error) {
	var m Manifest
	var p platform
	if len(data) > maxManifestSize {
		return m, p, fmt.Errorf("%w: larger than %d bytes", ErrManifest, maxManifestSize)
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return m, p, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if head.Version == nil {
		return m, p, fmt.Errorf("%w: no version", ErrManifest)
	}
	if *head.Version != ManifestVersion {
		return m, p, fmt.Errorf("%w: version %d, this package reads %d", ErrVersion, *head.Version, ManifestVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, p, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if dec.More() {
		return m, p, fmt.Errorf("%w: trailing data after the manifest object", ErrManifest)
	}
	fields := []struct {
		name string
		hex  string
		dst  []byte
	}{
		{"fmspc", m.FMSPC, p.fmspc[:]},
		{"pceId", m.PCEID, p.pceid[:]},
		{"cpuSvn", m.CPUSVN, p.cpusvn[:]},
		{"teeTcbSvn", m.TEETCBSVN, p.teeTCBSVN[:]},
		{"qeId", m.QEID, p.qeid[:]},
		{"qe.mrsigner", m.QE.MRSIGNER, p.qe.mrsigner[:]},
		{"qe.mrenclave", m.QE.MRENCLAVE, p.qe.mrenclave[:]},
		{"qe.attributes", m.QE.Attributes, p.qe.attributes[:]},
	}
	for _, f := range fields {
		if err := decodeHexInto(f.dst, f.hex); err != nil {
			return m, p, fmt.Errorf("%w: %s: %w", ErrManifest, f.name, err)
		}
	}
	p.pcesvn = m.PCESVN
	p.qe.miscSelect = m.QE.MiscSelect
	p.qe.isvProdID = m.QE.ISVProdID
	p.qe.isvSVN = m.QE.ISVSVN
	switch m.TCBStatus {
	case statusUpToDate, statusOutOfDate:
	default:
		return m, p, fmt.Errorf("%w: tcbStatus %q", ErrManifest, m.TCBStatus)
	}
	for _, v := range []struct {
		name string
		v    Validity
	}{{"certificates", m.Certificates}, {"collateral", m.Collateral}} {
		if v.v.NotBefore.IsZero() || !v.v.NotAfter.After(v.v.NotBefore) {
			return m, p, fmt.Errorf("%w: %s validity %v to %v", ErrManifest, v.name, v.v.NotBefore, v.v.NotAfter)
		}
	}
	seen := make(map[string]string)
	for _, f := range m.Files.list() {
		if !plainName(f[1]) {
			return m, p, fmt.Errorf("%w: files.%s %q is not a plain file name", ErrManifest, f[0], f[1])
		}
		if f[1] == manifestName {
			return m, p, fmt.Errorf("%w: files.%s names the manifest itself", ErrManifest, f[0])
		}
		if other, dup := seen[f[1]]; dup {
			return m, p, fmt.Errorf("%w: files.%s and files.%s are both %q", ErrManifest, other, f[0], f[1])
		}
		seen[f[1]] = f[0]
	}
	return m, p, nil
}

// plainName accepts a file name that stays inside the directory: no
// separators, no "." or "..", nothing hidden behind a volume name.
func plainName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsAny(name, `/\`+"\x00") &&
		filepath.Base(name) == name && filepath.IsLocal(name)
}

func decodeHexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits, have %d", 2*len(dst), len(s))
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

// marshalManifest is the inverse of parseManifest, indented for people.
func marshalManifest(m Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return append(b, '\n'), nil
}
