package simtee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

const (
	statusUpToDate  = "UpToDate"
	statusOutOfDate = "OutOfDate"

	// pcsTime is how Intel PCS writes times in TCB info and QE identity.
	pcsTime = "2006-01-02T15:04:05Z"

	tcbInfoID         = "TDX"
	tcbInfoVersion    = 3
	qeIdentityID      = "TD_QE"
	qeIdentityVersion = 2
	// tdxModuleID is the TDX module identity for TEE_TCB_SVN[1] = 1.
	tdxModuleID = "TDX_01"
)

// Labels of the TCB components, as Intel's TDX TCB info writes them for
// Xeon platforms. They describe, they are not matched.
var (
	sgxComponentLabels = map[int][2]string{
		0: {"BIOS", "Early Microcode Update"},
		1: {"OS/VMM", "SGX Late Microcode Update"},
		2: {"OS/VMM", "TXT SINIT"},
		3: {"BIOS", ""},
		4: {"BIOS", ""},
		5: {"BIOS", ""},
		7: {"OS/VMM", "SEAMLDR ACM"},
	}
	tdxComponentLabels = map[int][2]string{
		0: {"OS/VMM", "TDX Module"},
		1: {"OS/VMM", "TDX Module"},
		2: {"OS/VMM", "TDX Late Microcode Update"},
	}
)

// The JSON shapes of Intel PCS v4: a TDX TCB info (version 3) and a TD_QE
// identity (version 2). Field order is Intel's; encoding/json keeps it.
type (
	tcbInfoJSON struct {
		ID                      string                  `json:"id"`
		Version                 int                     `json:"version"`
		IssueDate               string                  `json:"issueDate"`
		NextUpdate              string                  `json:"nextUpdate"`
		FMSPC                   string                  `json:"fmspc"`
		PCEID                   string                  `json:"pceId"`
		TCBType                 int                     `json:"tcbType"`
		TCBEvaluationDataNumber int                     `json:"tcbEvaluationDataNumber"`
		TDXModule               tdxModuleJSON           `json:"tdxModule"`
		TDXModuleIdentities     []tdxModuleIdentityJSON `json:"tdxModuleIdentities"`
		TCBLevels               []tcbLevelJSON          `json:"tcbLevels"`
	}
	tdxModuleJSON struct {
		MRSIGNER       string `json:"mrsigner"`
		Attributes     string `json:"attributes"`
		AttributesMask string `json:"attributesMask"`
	}
	tdxModuleIdentityJSON struct {
		ID             string            `json:"id"`
		MRSIGNER       string            `json:"mrsigner"`
		Attributes     string            `json:"attributes"`
		AttributesMask string            `json:"attributesMask"`
		TCBLevels      []isvTCBLevelJSON `json:"tcbLevels"`
	}
	tcbLevelJSON struct {
		TCB         tcbJSON  `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
	}
	tcbJSON struct {
		SGXTCBComponents []tcbComponentJSON `json:"sgxtcbcomponents"`
		PCESVN           uint16             `json:"pcesvn"`
		TDXTCBComponents []tcbComponentJSON `json:"tdxtcbcomponents"`
	}
	tcbComponentJSON struct {
		SVN      byte   `json:"svn"`
		Category string `json:"category,omitempty"`
		Type     string `json:"type,omitempty"`
	}
	isvTCBLevelJSON struct {
		TCB struct {
			ISVSVN uint16 `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate   string `json:"tcbDate"`
		TCBStatus string `json:"tcbStatus"`
	}
	qeIdentityJSON struct {
		ID                      string            `json:"id"`
		Version                 int               `json:"version"`
		IssueDate               string            `json:"issueDate"`
		NextUpdate              string            `json:"nextUpdate"`
		TCBEvaluationDataNumber int               `json:"tcbEvaluationDataNumber"`
		MiscSelect              string            `json:"miscselect"`
		MiscSelectMask          string            `json:"miscselectMask"`
		Attributes              string            `json:"attributes"`
		AttributesMask          string            `json:"attributesMask"`
		MRSIGNER                string            `json:"mrsigner"`
		ISVProdID               uint16            `json:"isvprodid"`
		TCBLevels               []isvTCBLevelJSON `json:"tcbLevels"`
	}
)

// advisories is what the simulated OutOfDate levels cite. The IDs are
// made up and say so; they are not Intel security advisories.
var advisories = []string{"SIM-SA-00001", "SIM-SA-00002"}

func components(svns []byte, labels map[int][2]string) []tcbComponentJSON {
	out := make([]tcbComponentJSON, len(svns))
	for i, svn := range svns {
		out[i] = tcbComponentJSON{SVN: svn, Category: labels[i][0], Type: labels[i][1]}
	}
	return out
}

// isvLevel is a TCB level of a TDX module identity or of the QE identity.
// Intel's TDX TCB info and TD_QE identity carry no advisory IDs there.
func isvLevel(isvsvn uint16, date time.Time, status string) isvTCBLevelJSON {
	l := isvTCBLevelJSON{TCBDate: date.Format(pcsTime), TCBStatus: status}
	l.TCB.ISVSVN = isvsvn
	return l
}

// tdxComponents derives the tdxtcbcomponents a level requires from a
// TEE_TCB_SVN: the module SVN, a module version of 0 (index 1 is
// compared only when TEE_TCB_SVN[1] is 0, and then must be ≤ 0), and the
// rest as given.
func tdxComponents(tee [16]byte, raise byte) []byte {
	c := make([]byte, 16)
	copy(c, tee[:])
	c[1] = 0
	c[0] += raise
	c[2] += raise
	return c
}

// collateralSpec is what the TCB info and QE identity are made from.
type collateralSpec struct {
	issue, next time.Time
	p           platform
	outOfDate   bool
}

// tcbInfo builds the TDX TCB info. With outOfDate unset the first level
// is exactly the simulated platform (UpToDate) and the second an older
// PCESVN (OutOfDate); the TDX_01 module identity likewise has the
// platform's module SVN UpToDate. With outOfDate set a newer level, one
// PCESVN and one TDX SVN above the platform, comes first as UpToDate, and
// the platform's own level and module SVN are OutOfDate, as after a TCB
// recovery the platform has not yet taken.
func (c collateralSpec) tcbInfo() tcbInfoJSON {
	day := c.issue.Truncate(24 * time.Hour)
	platformDate := day.AddDate(0, -3, 0)
	olderDate := day.AddDate(-2, 0, 0)
	zero48 := strings.Repeat("00", 48)
	level := func(pcesvn uint16, raise byte, date time.Time, status string) tcbLevelJSON {
		l := tcbLevelJSON{
			TCB: tcbJSON{
				SGXTCBComponents: components(c.p.cpusvn[:], sgxComponentLabels),
				PCESVN:           pcesvn,
				TDXTCBComponents: components(tdxComponents(c.p.teeTCBSVN, raise), tdxComponentLabels),
			},
			TCBDate:   date.Format(pcsTime),
			TCBStatus: status,
		}
		if status != statusUpToDate {
			l.AdvisoryIDs = advisories
		}
		return l
	}
	moduleSVN := uint16(c.p.teeTCBSVN[0])
	olderPCESVN := c.p.pcesvn / 2
	info := tcbInfoJSON{
		ID:                      tcbInfoID,
		Version:                 tcbInfoVersion,
		IssueDate:               c.issue.Format(pcsTime),
		NextUpdate:              c.next.Format(pcsTime),
		FMSPC:                   strings.ToUpper(hex.EncodeToString(c.p.fmspc[:])),
		PCEID:                   hex.EncodeToString(c.p.pceid[:]),
		TCBType:                 0,
		TCBEvaluationDataNumber: 17,
		TDXModule:               tdxModuleJSON{MRSIGNER: zero48, Attributes: "0000000000000000", AttributesMask: "FFFFFFFFFFFFFFFF"},
	}
	module := tdxModuleIdentityJSON{ID: tdxModuleID, MRSIGNER: zero48, Attributes: "0000000000000000", AttributesMask: "FFFFFFFFFFFFFFFF"}
	if c.outOfDate {
		info.TCBEvaluationDataNumber = 18
		newDate := day.AddDate(0, 0, -1)
		info.TCBLevels = []tcbLevelJSON{
			level(c.p.pcesvn+1, 1, newDate, statusUpToDate),
			level(c.p.pcesvn, 0, platformDate, statusOutOfDate),
			level(olderPCESVN, 0, olderDate, statusOutOfDate),
		}
		module.TCBLevels = []isvTCBLevelJSON{
			isvLevel(moduleSVN+1, newDate, statusUpToDate),
			isvLevel(moduleSVN, platformDate, statusOutOfDate),
		}
	} else {
		info.TCBLevels = []tcbLevelJSON{
			level(c.p.pcesvn, 0, platformDate, statusUpToDate),
			level(olderPCESVN, 0, olderDate, statusOutOfDate),
		}
		module.TCBLevels = []isvTCBLevelJSON{
			isvLevel(moduleSVN, platformDate, statusUpToDate),
			isvLevel(moduleSVN/2, olderDate, statusOutOfDate),
		}
	}
	info.TDXModuleIdentities = []tdxModuleIdentityJSON{module}
	return info
}

// qeIdentity builds the TD_QE identity. The attribute and MISCSELECT
// masks are Intel's; the QE's own level is UpToDate, an older ISVSVN
// OutOfDate.
func (c collateralSpec) qeIdentity() qeIdentityJSON {
	day := c.issue.Truncate(24 * time.Hour)
	attrs := qeAttributesMask
	var want [16]byte
	for i := range want {
		want[i] = c.p.qe.attributes[i] & attrs[i]
	}
	misc := make([]byte, 4)
	misc[0], misc[1], misc[2], misc[3] = byte(c.p.qe.miscSelect), byte(c.p.qe.miscSelect>>8), byte(c.p.qe.miscSelect>>16), byte(c.p.qe.miscSelect>>24)
	return qeIdentityJSON{
		ID:                      qeIdentityID,
		Version:                 qeIdentityVersion,
		IssueDate:               c.issue.Format(pcsTime),
		NextUpdate:              c.next.Format(pcsTime),
		TCBEvaluationDataNumber: 17,
		MiscSelect:              strings.ToUpper(hex.EncodeToString(misc)),
		MiscSelectMask:          "FFFFFFFF",
		Attributes:              strings.ToUpper(hex.EncodeToString(want[:])),
		AttributesMask:          strings.ToUpper(hex.EncodeToString(attrs[:])),
		MRSIGNER:                strings.ToUpper(hex.EncodeToString(c.p.qe.mrsigner[:])),
		ISVProdID:               c.p.qe.isvProdID,
		TCBLevels: []isvTCBLevelJSON{
			isvLevel(c.p.qe.isvSVN, day.AddDate(0, -3, 0), statusUpToDate),
			isvLevel(c.p.qe.isvSVN/2, day.AddDate(-2, 0, 0), statusOutOfDate),
		},
	}
}

// qeAttributesMask is Intel's TD_QE attributesMask: every flag but
// bit 2 (PROVISIONKEY may vary), XFRM ignored.
var qeAttributesMask = [16]byte{0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// compactJSON encodes v as Intel does: no spaces, no HTML escaping.
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// signJSON signs the exact bytes of body with key: ECDSA P-256 over
// SHA-256, r ‖ s in hex, the way Intel signs TCB info and QE identity.
func signJSON(key *ecdsa.PrivateKey, body []byte) (string, error) {
	digest := sha256.Sum256(body)
	sig, err := signRaw(key, digest[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sig), nil
}

// collateral is the dcap-qvl QuoteCollateralV3 JSON form: issuer chains in
// PEM (signing certificate, then root), CRLs in hex DER, TCB info and QE
// identity as the exact signed JSON strings, signatures in hex r ‖ s.
type collateral struct {
	PCKCRLIssuerChain     string `json:"pck_crl_issuer_chain"`
	RootCACRL             string `json:"root_ca_crl"`
	PCKCRL                string `json:"pck_crl"`
	TCBInfoIssuerChain    string `json:"tcb_info_issuer_chain"`
	TCBInfo               string `json:"tcb_info"`
	TCBInfoSignature      string `json:"tcb_info_signature"`
	QEIdentityIssuerChain string `json:"qe_identity_issuer_chain"`
	QEIdentity            string `json:"qe_identity"`
	QEIdentitySignature   string `json:"qe_identity_signature"`
}

// collateralFiles is everything Init writes about collateral.
type collateralFiles struct {
	bundle         []byte // collateral.json
	tcbInfoBody    []byte // PCS response body
	qeIdentityBody []byte // PCS response body
	pckCRL         []byte // DER
	rootCRL        []byte // DER
}

// pcsBody wraps a signed inner object the way the PCS response body does:
// {"<field>":<exact signed bytes>,"signature":"<hex>"}.
func pcsBody(field string, inner []byte, sig string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(field)
	b.WriteString(`":`)
	b.Write(inner)
	b.WriteString(`,"signature":"`)
	b.WriteString(sig)
	b.WriteString(`"}`)
	return b.Bytes()
}

func newCRL(issuer *issued, thisUpdate, nextUpdate time.Time, revoked []x509.RevocationListEntry) ([]byte, error) {
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: revoked,
	}, issuer.cert, issuer.key)
	if err != nil {
		return nil, fmt.Errorf("creating CRL of %q: %w", issuer.cert.Subject.CommonName, err)
	}
	return der, nil
}

// makeCollateral signs the TCB info and QE identity with the TCB signing
// key, issues both CRLs, and packs them.
func makeCollateral(h *hierarchy, spec collateralSpec, revokePCK bool) (*collateralFiles, error) {
	tcbInfo, err := compactJSON(spec.tcbInfo())
	if err != nil {
		return nil, fmt.Errorf("encoding TCB info: %w", err)
	}
	qeID, err := compactJSON(spec.qeIdentity())
	if err != nil {
		return nil, fmt.Errorf("encoding QE identity: %w", err)
	}
	tcbSig, err := signJSON(h.tcbSigning.key, tcbInfo)
	if err != nil {
		return nil, fmt.Errorf("signing TCB info: %w", err)
	}
	qeSig, err := signJSON(h.tcbSigning.key, qeID)
	if err != nil {
		return nil, fmt.Errorf("signing QE identity: %w", err)
	}
	var revoked []x509.RevocationListEntry
	if revokePCK {
		revoked = append(revoked, x509.RevocationListEntry{SerialNumber: h.pck.cert.SerialNumber, RevocationTime: spec.issue})
	}
	pckCRL, err := newCRL(h.platformCA, spec.issue, spec.next, revoked)
	if err != nil {
		return nil, err
	}
	rootCRL, err := newCRL(h.root, spec.issue, spec.next, nil)
	if err != nil {
		return nil, err
	}
	tcbChain := string(certPEM(h.tcbSigning.cert, h.root.cert))
	c := collateral{
		PCKCRLIssuerChain:     string(certPEM(h.platformCA.cert, h.root.cert)),
		RootCACRL:             hex.EncodeToString(rootCRL),
		PCKCRL:                hex.EncodeToString(pckCRL),
		TCBInfoIssuerChain:    tcbChain,
		TCBInfo:               string(tcbInfo),
		TCBInfoSignature:      tcbSig,
		QEIdentityIssuerChain: tcbChain,
		QEIdentity:            string(qeID),
		QEIdentitySignature:   qeSig,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding collateral bundle: %w", err)
	}
	return &collateralFiles{
		bundle:         buf.Bytes(),
		tcbInfoBody:    pcsBody("tcbInfo", tcbInfo, tcbSig),
		qeIdentityBody: pcsBody("enclaveIdentity", qeID, qeSig),
		pckCRL:         pckCRL,
		rootCRL:        rootCRL,
	}, nil
}

// loadedCollateral is a collateral bundle read back and checked.
type loadedCollateral struct {
	c               collateral
	pckCRL, rootCRL []byte
	tcbSig, qeSig   []byte
	pckCRLChain     []byte
	tcbInfoChain    []byte
	qeIdentityChain []byte
}

// parseCollateral reads a bundle strictly and checks what can be checked
// without trusting anything: hex fields decode, signatures are 64 bytes,
// the signed strings are JSON objects, the chains hold two certificates
// each.
func parseCollateral(data []byte) (*loadedCollateral, error) {
	var l loadedCollateral
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l.c); err != nil {
		return nil, fmt.Errorf("decoding collateral: %w", err)
	}
	var err error
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
		size int
	}{
		{"pck_crl", l.c.PCKCRL, &l.pckCRL, -1},
		{"root_ca_crl", l.c.RootCACRL, &l.rootCRL, -1},
		{"tcb_info_signature", l.c.TCBInfoSignature, &l.tcbSig, 64},
		{"qe_identity_signature", l.c.QEIdentitySignature, &l.qeSig, 64},
	} {
		if *f.out, err = hex.DecodeString(f.in); err != nil {
			return nil, fmt.Errorf("collateral %s: %w", f.name, err)
		}
		if len(*f.out) == 0 || (f.size > 0 && len(*f.out) != f.size) {
			return nil, fmt.Errorf("collateral %s: %d bytes", f.name, len(*f.out))
		}
	}
	for _, f := range []struct{ name, in string }{{"tcb_info", l.c.TCBInfo}, {"qe_identity", l.c.QEIdentity}} {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(f.in), &obj); err != nil {
			return nil, fmt.Errorf("collateral %s: %w", f.name, err)
		}
	}
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
	}{
		{"pck_crl_issuer_chain", l.c.PCKCRLIssuerChain, &l.pckCRLChain},
		{"tcb_info_issuer_chain", l.c.TCBInfoIssuerChain, &l.tcbInfoChain},
		{"qe_identity_issuer_chain", l.c.QEIdentityIssuerChain, &l.qeIdentityChain},
	} {
		certs, err := parseChain([]byte(f.in))
		if err != nil {
			return nil, fmt.Errorf("collateral %s: %w", f.name, err)
		}
		if len(certs) != 2 {
			return nil, fmt.Errorf("collateral %s: %d certificates, want 2", f.name, len(certs))
		}
		*f.out = []byte(f.in)
	}
	return &l, nil
}
