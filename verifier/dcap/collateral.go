package dcap

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxCollateralSize bounds ParseCollateral's input. Real collateral is
// 15-20 KB; TCB infos grow by about 1 KB a year.
const maxCollateralSize = 1 << 20

// Collateral is Intel's verification collateral for one platform (FMSPC):
// the signed TDX TCB info, the signed TD QE identity, the PCK CRL and the
// root CA CRL, each with the issuer chain that signed it.
//
// A Collateral is immutable once parsed, and safe for concurrent use. It
// remembers which trust anchors its signatures were checked against, so a
// collateral object that is reused (a Bundle, or the PCS source's memory
// cache) costs no signature checks after the first Verify. Nothing in it is
// trusted until Verify has checked it.
type Collateral struct {
	pckCRLIssuerChainPEM     string
	rootCRLDER               []byte
	pckCRLDER                []byte
	tcbInfoIssuerChainPEM    string
	tcbInfoJSON              string
	tcbInfoSig               []byte
	qeIdentityIssuerChainPEM string
	qeIdentityJSON           string
	qeIdentitySig            []byte

	pckCRLIssuerChain     []*x509.Certificate
	tcbInfoIssuerChain    []*x509.Certificate
	qeIdentityIssuerChain []*x509.Certificate
	rootCRL               *x509.RevocationList
	pckCRL                *x509.RevocationList
	rootRevoked           map[string]struct{} // serialKey of revoked serial numbers
	pckRevoked            map[string]struct{}
	tcbInfo               tcbInfo
	qeIdentity            qeIdentity

	mu       sync.Mutex
	verified map[string]collateralVerdict // trust-anchor set key → signature verdict
}

// collateralJSON is the QuoteCollateralV3 JSON of Phala's dcap-qvl: tcb_info
// and qe_identity are the exact signed JSON texts, signatures are hex r||s,
// CRLs hex DER, issuer chains PEM.
type collateralJSON struct {
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

func badCollateral(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedCollateral, fmt.Sprintf(format, args...))
}

// ParseCollateral parses collateral in dcap-qvl's QuoteCollateralV3 JSON
// form (the form of the files under testdata/collateral). Unknown fields are
// ignored; all nine known fields are required.
func ParseCollateral(b []byte) (*Collateral, error) {
	if len(b) > maxCollateralSize {
		return nil, badCollateral("%d bytes exceeds the limit of %d", len(b), maxCollateralSize)
	}
	var j collateralJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, badCollateral("decoding JSON: %v", err)
	}
	rootCRL, err := hexField("root_ca_crl", j.RootCACRL)
	if err != nil {
		return nil, err
	}
	pckCRL, err := hexField("pck_crl", j.PCKCRL)
	if err != nil {
		return nil, err
	}
	tcbSig, err := hexField("tcb_info_signature", j.TCBInfoSignature)
	if err != nil {
		return nil, err
	}
	qeSig, err := hexField("qe_identity_signature", j.QEIdentitySignature)
	if err != nil {
		return nil, err
	}
	return newCollateral(collateralParts{
		pckCRLIssuerChain:     j.PCKCRLIssuerChain,
		rootCRL:               rootCRL,
		pckCRL:                pckCRL,
		tcbInfoIssuerChain:    j.TCBInfoIssuerChain,
		tcbInfo:               j.TCBInfo,
		tcbInfoSig:            tcbSig,
		qeIdentityIssuerChain: j.QEIdentityIssuerChain,
		qeIdentity:            j.QEIdentity,
		qeIdentitySig:         qeSig,
	})
}

func hexField(name, s string) ([]byte, error) {
	if s == "" {
		return nil, badCollateral("%s is missing", name)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, badCollateral("%s is not hex: %v", name, err)
	}
	return b, nil
}

// collateralParts are the nine pieces in their transport forms.
type collateralParts struct {
	pckCRLIssuerChain     string
	rootCRL               []byte
	pckCRL                []byte
	tcbInfoIssuerChain    string
	tcbInfo               string
	tcbInfoSig            []byte
	qeIdentityIssuerChain string
	qeIdentity            string
	qeIdentitySig         []byte
}

func newCollateral(p collateralParts) (*Collateral, error) {
	c := &Collateral{
		pckCRLIssuerChainPEM:     p.pckCRLIssuerChain,
		rootCRLDER:               bytes.Clone(p.rootCRL),
		pckCRLDER:                bytes.Clone(p.pckCRL),
		tcbInfoIssuerChainPEM:    p.tcbInfoIssuerChain,
		tcbInfoJSON:              p.tcbInfo,
		tcbInfoSig:               bytes.Clone(p.tcbInfoSig),
		qeIdentityIssuerChainPEM: p.qeIdentityIssuerChain,
		qeIdentityJSON:           p.qeIdentity,
		qeIdentitySig:            bytes.Clone(p.qeIdentitySig),
	}
	var err error
	if c.pckCRLIssuerChain, err = parseIssuerChain("pck_crl_issuer_chain", p.pckCRLIssuerChain); err != nil {
		return nil, err
	}
	if c.tcbInfoIssuerChain, err = parseIssuerChain("tcb_info_issuer_chain", p.tcbInfoIssuerChain); err != nil {
		return nil, err
	}
	if c.qeIdentityIssuerChain, err = parseIssuerChain("qe_identity_issuer_chain", p.qeIdentityIssuerChain); err != nil {
		return nil, err
	}
	if c.rootCRL, err = x509.ParseRevocationList(c.rootCRLDER); err != nil {
		return nil, badCollateral("parsing root CA CRL: %v", err)
	}
	if c.pckCRL, err = x509.ParseRevocationList(c.pckCRLDER); err != nil {
		return nil, badCollateral("parsing PCK CRL: %v", err)
	}
	if c.rootCRL.NextUpdate.IsZero() || c.pckCRL.NextUpdate.IsZero() {
		return nil, badCollateral("a CRL has no nextUpdate")
	}
	c.rootRevoked = revokedSerials(c.rootCRL)
	c.pckRevoked = revokedSerials(c.pckCRL)
	if len(c.tcbInfoSig) != 64 {
		return nil, badCollateral("tcb_info_signature is %d bytes, want 64 (r||s)", len(c.tcbInfoSig))
	}
	if len(c.qeIdentitySig) != 64 {
		return nil, badCollateral("qe_identity_signature is %d bytes, want 64 (r||s)", len(c.qeIdentitySig))
	}
	if err := c.tcbInfo.parse(c.tcbInfoJSON); err != nil {
		return nil, err
	}
	if err := c.qeIdentity.parse(c.qeIdentityJSON); err != nil {
		return nil, err
	}
	return c, nil
}

func revokedSerials(crl *x509.RevocationList) map[string]struct{} {
	m := make(map[string]struct{}, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			m[serialKey(e.SerialNumber)] = struct{}{}
		}
	}
	return m
}

func isRevoked(m map[string]struct{}, serial *big.Int) bool {
	if serial == nil {
		return false
	}
	_, ok := m[serialKey(serial)]
	return ok
}

// serialKey is a map key for a serial number: its sign and magnitude.
func serialKey(n *big.Int) string {
	return string(append([]byte{byte(n.Sign() + 1)}, n.Bytes()...))
}

// parseIssuerChain decodes a PEM issuer chain: the signing certificate
// first, then its issuers up to the root.
func parseIssuerChain(name, s string) ([]*x509.Certificate, error) {
	if s == "" {
		return nil, badCollateral("%s is missing", name)
	}
	var certs []*x509.Certificate
	rest := []byte(s)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, badCollateral("%s holds a PEM block of type %q", name, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, badCollateral("parsing %s certificate %d: %v", name, len(certs), err)
		}
		certs = append(certs, c)
		if len(certs) > 4 {
			return nil, badCollateral("%s holds more than 4 certificates", name)
		}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, badCollateral("%s has trailing data", name)
	}
	if len(certs) < 2 {
		return nil, badCollateral("%s holds %d certificates, want the signer and the root", name, len(certs))
	}
	return certs, nil
}

// MarshalCollateral writes c in the QuoteCollateralV3 JSON form that
// ParseCollateral reads, byte for byte preserving the signed texts.
func MarshalCollateral(c *Collateral) ([]byte, error) {
	if c == nil {
		return nil, badCollateral("nil collateral")
	}
	return json.MarshalIndent(collateralJSON{
		PCKCRLIssuerChain:     c.pckCRLIssuerChainPEM,
		RootCACRL:             hex.EncodeToString(c.rootCRLDER),
		PCKCRL:                hex.EncodeToString(c.pckCRLDER),
		TCBInfoIssuerChain:    c.tcbInfoIssuerChainPEM,
		TCBInfo:               c.tcbInfoJSON,
		TCBInfoSignature:      hex.EncodeToString(c.tcbInfoSig),
		QEIdentityIssuerChain: c.qeIdentityIssuerChainPEM,
		QEIdentity:            c.qeIdentityJSON,
		QEIdentitySignature:   hex.EncodeToString(c.qeIdentitySig),
	}, "", "  ")
}

// FMSPC returns the platform family the TCB info claims to describe (as
// written in it; unverified until Verify).
func (c *Collateral) FMSPC() string { return strings.ToLower(c.tcbInfo.FMSPC) }

// TCBInfoJSON returns the exact signed TCB info text.
func (c *Collateral) TCBInfoJSON() string { return c.tcbInfoJSON }

// QEIdentityJSON returns the exact signed QE identity text.
func (c *Collateral) QEIdentityJSON() string { return c.qeIdentityJSON }

// Dates returns the validity windows of the collateral's pieces, as written
// in them (unverified until Verify).
func (c *Collateral) Dates() CollateralDates {
	return CollateralDates{
		TCBInfoIssueDate:        c.tcbInfo.IssueDate,
		TCBInfoNextUpdate:       c.tcbInfo.NextUpdate,
		QEIdentityIssueDate:     c.qeIdentity.IssueDate,
		QEIdentityNextUpdate:    c.qeIdentity.NextUpdate,
		PCKCRLThisUpdate:        c.pckCRL.ThisUpdate.UTC(),
		PCKCRLNextUpdate:        c.pckCRL.NextUpdate.UTC(),
		RootCRLThisUpdate:       c.rootCRL.ThisUpdate.UTC(),
		RootCRLNextUpdate:       c.rootCRL.NextUpdate.UTC(),
		TCBEvaluationDataNumber: c.tcbInfo.TCBEvaluationDataNumber,
		QEIdentityTCBEvaluation: c.qeIdentity.TCBEvaluationDataNumber,
	}
}

// CollateralDates are the validity windows of a collateral's pieces.
type CollateralDates struct {
	TCBInfoIssueDate        time.Time `json:"tcb_info_issue_date"`
	TCBInfoNextUpdate       time.Time `json:"tcb_info_next_update"`
	QEIdentityIssueDate     time.Time `json:"qe_identity_issue_date"`
	QEIdentityNextUpdate    time.Time `json:"qe_identity_next_update"`
	PCKCRLThisUpdate        time.Time `json:"pck_crl_this_update"`
	PCKCRLNextUpdate        time.Time `json:"pck_crl_next_update"`
	RootCRLThisUpdate       time.Time `json:"root_ca_crl_this_update"`
	RootCRLNextUpdate       time.Time `json:"root_ca_crl_next_update"`
	TCBEvaluationDataNumber uint32    `json:"tcb_evaluation_data_number"`
	QEIdentityTCBEvaluation uint32    `json:"qe_identity_tcb_evaluation_data_number"`
}

// nextUpdate is the earliest moment a piece of c goes stale.
func (c *Collateral) nextUpdate() time.Time {
	d := c.Dates()
	t := d.TCBInfoNextUpdate
	for _, u := range []time.Time{d.QEIdentityNextUpdate, d.PCKCRLNextUpdate, d.RootCRLNextUpdate} {
		if u.Before(t) {
			t = u
		}
	}
	return t
}

// Source supplies collateral for a platform. fmspc is the PCK certificate's
// FMSPC; pckCA is "platform" or "processor", naming the PCK CRL wanted.
// Errors from a Source mean "could not check", never "the quote is bad":
// Verify wraps them in ErrCouldNotCheck.
type Source interface {
	Collateral(ctx context.Context, fmspc [6]byte, pckCA string) (*Collateral, error)
}

// Bundle is a Source that always returns one fixed collateral, for offline
// verification against a collateral file. Verify still checks that it is
// signed, valid at the verification time, and about the quote's FMSPC.
type Bundle struct {
	Fixed *Collateral
}

// Collateral returns the fixed collateral.
func (b Bundle) Collateral(ctx context.Context, _ [6]byte, _ string) (*Collateral, error) {
	if b.Fixed == nil {
		return nil, fmt.Errorf("%w: empty bundle", ErrCouldNotCheck)
	}
	return b.Fixed, nil
}

// ReadBundle reads a collateral file in QuoteCollateralV3 JSON form.
func ReadBundle(path string) (Bundle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Bundle{}, fmt.Errorf("reading collateral: %w", err)
	}
	c, err := ParseCollateral(b)
	if err != nil {
		return Bundle{}, fmt.Errorf("parsing collateral %s: %w", path, err)
	}
	return Bundle{Fixed: c}, nil
}

// --- Intel's signed JSON structures -------------------------------------

// hexBytes is a JSON string of hex digits.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("hex field: %w", err)
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hex field: %w", err)
	}
	*h = v
	return nil
}

// MarshalJSON writes upper-case hex, as Intel does.
func (h hexBytes) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strings.ToUpper(hex.EncodeToString(h)) + `"`), nil
}

// tcbInfo is the "tcbInfo" object of Intel PCS v4 (TCB info version 3).
type tcbInfo struct {
	ID                      string              `json:"id"`
	Version                 int                 `json:"version"`
	IssueDate               time.Time           `json:"issueDate"`
	NextUpdate              time.Time           `json:"nextUpdate"`
	FMSPC                   string              `json:"fmspc"`
	PCEID                   string              `json:"pceId"`
	TCBType                 int                 `json:"tcbType"`
	TCBEvaluationDataNumber uint32              `json:"tcbEvaluationDataNumber"`
	TDXModule               *tdxModule          `json:"tdxModule"`
	TDXModuleIdentities     []tdxModuleIdentity `json:"tdxModuleIdentities"`
	TCBLevels               []tcbLevel          `json:"tcbLevels"`

	fmspc [6]byte
	pceID [2]byte
}

type tdxModule struct {
	MRSIGNER       hexBytes `json:"mrsigner"`
	Attributes     hexBytes `json:"attributes"`
	AttributesMask hexBytes `json:"attributesMask"`
}

type tdxModuleIdentity struct {
	ID string `json:"id"`
	tdxModule
	TCBLevels []tcbLevel `json:"tcbLevels"`
}

type tcbLevel struct {
	TCB struct {
		SGXComponents []tcbComponent `json:"sgxtcbcomponents"`
		PCESVN        uint16         `json:"pcesvn"`
		TDXComponents []tcbComponent `json:"tdxtcbcomponents"`
		ISVSVN        uint16         `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     string    `json:"tcbDate"`
	TCBStatus   TCBStatus `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIDs"`
}

type tcbComponent struct {
	SVN      uint8  `json:"svn"`
	Category string `json:"category"`
	Type     string `json:"type"`
}

// qeIdentity is the "enclaveIdentity" object (QE identity version 2).
type qeIdentity struct {
	ID                      string     `json:"id"`
	Version                 int        `json:"version"`
	IssueDate               time.Time  `json:"issueDate"`
	NextUpdate              time.Time  `json:"nextUpdate"`
	TCBEvaluationDataNumber uint32     `json:"tcbEvaluationDataNumber"`
	MiscSelect              hexBytes   `json:"miscselect"`
	MiscSelectMask          hexBytes   `json:"miscselectMask"`
	Attributes              hexBytes   `json:"attributes"`
	AttributesMask          hexBytes   `json:"attributesMask"`
	MRSIGNER                hexBytes   `json:"mrsigner"`
	ISVProdID               uint16     `json:"isvprodid"`
	TCBLevels               []tcbLevel `json:"tcbLevels"`
}

func (t *tcbInfo) parse(s string) error {
	if s == "" {
		return badCollateral("tcb_info is missing")
	}
	if err := json.Unmarshal([]byte(s), t); err != nil {
		return badCollateral("decoding tcb_info: %v", err)
	}
	if t.ID == "" || t.Version == 0 || t.IssueDate.IsZero() || t.NextUpdate.IsZero() {
		return badCollateral("tcb_info lacks id, version, issueDate or nextUpdate")
	}
	if err := decodeHexInto(t.fmspc[:], t.FMSPC); err != nil {
		return badCollateral("tcb_info fmspc %q: %v", t.FMSPC, err)
	}
	if err := decodeHexInto(t.pceID[:], t.PCEID); err != nil {
		return badCollateral("tcb_info pceId %q: %v", t.PCEID, err)
	}
	if len(t.TCBLevels) == 0 {
		return badCollateral("tcb_info has no TCB levels")
	}
	isTDX := t.ID == "TDX"
	for i, l := range t.TCBLevels {
		if len(l.TCB.SGXComponents) != 16 {
			return badCollateral("tcb_info level %d has %d SGX components, want 16", i, len(l.TCB.SGXComponents))
		}
		if isTDX && len(l.TCB.TDXComponents) != 16 {
			return badCollateral("tcb_info level %d has %d TDX components, want 16", i, len(l.TCB.TDXComponents))
		}
		if !l.TCBStatus.valid() {
			return badCollateral("tcb_info level %d has unknown status %q", i, l.TCBStatus)
		}
	}
	if isTDX {
		if t.TDXModule == nil {
			return badCollateral("TDX tcb_info has no tdxModule")
		}
		if err := t.TDXModule.check("tdxModule"); err != nil {
			return err
		}
	}
	for i := range t.TDXModuleIdentities {
		m := &t.TDXModuleIdentities[i]
		if err := m.check("tdxModuleIdentities[" + m.ID + "]"); err != nil {
			return err
		}
		for j, l := range m.TCBLevels {
			if !l.TCBStatus.valid() {
				return badCollateral("TDX module identity %s level %d has unknown status %q", m.ID, j, l.TCBStatus)
			}
		}
	}
	return nil
}

func (m *tdxModule) check(name string) error {
	if len(m.MRSIGNER) != 48 || len(m.Attributes) != 8 || len(m.AttributesMask) != 8 {
		return badCollateral("%s: mrsigner must be 48 bytes, attributes and attributesMask 8", name)
	}
	return nil
}

func (q *qeIdentity) parse(s string) error {
	if s == "" {
		return badCollateral("qe_identity is missing")
	}
	if err := json.Unmarshal([]byte(s), q); err != nil {
		return badCollateral("decoding qe_identity: %v", err)
	}
	if q.ID == "" || q.Version == 0 || q.IssueDate.IsZero() || q.NextUpdate.IsZero() {
		return badCollateral("qe_identity lacks id, version, issueDate or nextUpdate")
	}
	if len(q.MiscSelect) != 4 || len(q.MiscSelectMask) != 4 || len(q.Attributes) != 16 ||
		len(q.AttributesMask) != 16 || len(q.MRSIGNER) != 32 {
		return badCollateral("qe_identity: miscselect(+Mask) must be 4 bytes, attributes(+Mask) 16, mrsigner 32")
	}
	if len(q.TCBLevels) == 0 {
		return badCollateral("qe_identity has no TCB levels")
	}
	for i, l := range q.TCBLevels {
		if !l.TCBStatus.valid() {
			return badCollateral("qe_identity level %d has unknown status %q", i, l.TCBStatus)
		}
	}
	return nil
}
