package dcap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxverify "github.com/google/go-tdx-guest/verify"
)

// Options are the plumbing of verification. The zero value of every field
// is the safe choice, except Collateral, which is required.
type Options struct {
	// Roots are the trust anchors for the PCK chain and for every piece of
	// collateral. Empty means the Intel SGX Root CA embedded in this
	// package. A simulated (test) root is trusted only if the caller puts
	// it here; the quote and all of its collateral must then chain to the
	// same anchor.
	Roots []*x509.Certificate
	// Collateral supplies Intel's TCB info, QE identity and CRLs. Required:
	// without it Verify returns ErrCouldNotCheck.
	Collateral Source
	// At is the time at which certificates and collateral must be valid.
	// Zero means now (Now, or the wall clock).
	At time.Time
	// Now is the clock used when At is zero. Nil means time.Now.
	Now func() time.Time
}

func (o *Options) at() time.Time {
	if !o.At.IsZero() {
		return o.At
	}
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) anchors() (*anchors, error) {
	if len(o.Roots) == 0 {
		return defaultAnchors()
	}
	return newAnchors(o.Roots)
}

// Verify parses, verifies and evaluates a TDX v4 quote against Intel
// collateral, failing closed. On success the Result holds the verified
// fields and Intel's TCB status; it does not apply any policy: call
// Policy.Check on the Result. On failure the error is a *StageError naming
// the stage; match its cause with errors.Is (ErrCouldNotCheck means the
// verification could not be carried out, not that the quote is bad).
func Verify(ctx context.Context, quote []byte, opts Options) (*Result, error) {
	q, err := ParseQuote(quote)
	if err != nil {
		return nil, stageErr(StageParse, fmt.Errorf("parsing quote: %w", err))
	}
	return verifyQuote(ctx, q, opts)
}

// verifyQuote verifies a quote that Verify has just parsed. (There is no
// exported variant taking a *Quote: its exported fields could have been
// changed after parsing, and the Result must only hold what was checked.)
func verifyQuote(ctx context.Context, q *Quote, opts Options) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Collateral == nil {
		return nil, stageErr(StageCollateral, fmt.Errorf("%w: no collateral", ErrCouldNotCheck))
	}
	a, err := opts.anchors()
	if err != nil {
		return nil, stageErr(StagePCKChain, fmt.Errorf("%w: loading trust anchors: %w", ErrCouldNotCheck, err))
	}
	at := opts.at()

	// 1-3. PCK chain, quote signature, QE report: go-tdx-guest, offline.
	root, err := checkQuoteCrypto(q, a, at)
	if err != nil {
		return nil, err
	}

	// 4. Collateral.
	c, err := opts.Collateral.Collateral(ctx, q.PCK.FMSPC, q.PCK.CA)
	if err == nil && c == nil {
		err = errors.New("source returned no collateral")
	}
	if err != nil {
		if !errors.Is(err, ErrCouldNotCheck) {
			err = fmt.Errorf("%w: %w", ErrCouldNotCheck, err)
		}
		return nil, stageErr(StageCollateral, fmt.Errorf("fetching collateral: %w", err))
	}
	if err := c.check(a, root, at); err != nil {
		return nil, stageErr(StageCollateral, fmt.Errorf("verifying collateral: %w", err))
	}
	if err := c.appliesTo(q); err != nil {
		return nil, stageErr(StageCollateral, fmt.Errorf("matching collateral to the quote: %w", err))
	}

	// 5. Revocation.
	if err := c.checkRevocation(q); err != nil {
		return nil, stageErr(StageRevocation, fmt.Errorf("checking revocation: %w", err))
	}

	// 6. TCB status.
	ev, err := evaluateTCB(&c.tcbInfo, &c.qeIdentity, inputFromQuote(q))
	if err != nil {
		return nil, stageErr(StageTCB, fmt.Errorf("evaluating TCB: %w", err))
	}
	return newResult(q, c, ev, at), nil
}

// --- quote signatures (go-tdx-guest) -------------------------------------

// refuseGetter keeps go-tdx-guest offline even if a future version decided
// to fetch something with GetCollateral unset.
type refuseGetter struct{}

func (refuseGetter) Get(url string) (map[string][]string, []byte, error) {
	return nil, nil, fmt.Errorf("dcap: network access refused (%s)", url)
}

// checkQuoteCrypto runs go-tdx-guest's offline verification: the PCK chain
// to a trust anchor at time at, the attestation key's signature over header
// and body, the PCK key's signature over the QE report, and the QE report
// data binding of the attestation key. It returns the trust anchor the
// chain ends at.
func checkQuoteCrypto(q *Quote, a *anchors, at time.Time) (*x509.Certificate, error) {
	// go-tdx-guest checks only that the chain's root is self-signed and
	// named "Intel SGX Root CA"; x509 verification then trusts the pool.
	// Insist the quote names the anchor itself, so that the root the
	// collateral must match is well defined.
	root := a.find(q.PCKChain[2])
	if root == nil {
		return nil, stageErr(StagePCKChain, fmt.Errorf("verifying PCK chain: %w: the quote's root certificate %q is not a trusted root", ErrPCKChain, q.PCKChain[2].Subject))
	}
	// go-tdx-guest mutates the Options it is given: build a fresh one per
	// call. TrustedRoots is always set (nil would make it print to stdout
	// and fall back to its own embedded root).
	opts := &tdxverify.Options{
		GetCollateral:    false,
		CheckRevocations: false,
		Getter:           refuseGetter{},
		TrustedRoots:     a.pool,
		Now: &tdxverify.TimeSet{
			PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at,
		},
	}
	if err := goTDXVerify(q.proto, opts); err != nil {
		return nil, diagnose(q, a, at, err)
	}
	return root, nil
}

func goTDXVerify(q *pb.QuoteV4, opts *tdxverify.Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-tdx-guest panicked: %v", r)
		}
	}()
	return tdxverify.TdxQuote(q, opts)
}

// diagnose attributes a go-tdx-guest refusal to a stage. go-tdx-guest
// returns unwrapped message strings, so rather than parse them this re-runs
// the individual checks, in go-tdx-guest's order, to find the first that
// fails. The verdict stays go-tdx-guest's: diagnose never accepts.
func diagnose(q *Quote, a *anchors, at time.Time, gerr error) error {
	if err := checkPCKChain(q, a, at); err != nil {
		return stageErr(StagePCKChain, fmt.Errorf("verifying PCK chain: %w: %w", ErrPCKChain, err))
	}
	if err := checkQuoteSignature(q); err != nil {
		return stageErr(StageQuoteSignature, fmt.Errorf("verifying quote signature: %w: %w", ErrQuoteSignature, err))
	}
	if err := checkQEReportSignature(q); err != nil {
		return stageErr(StageQEReport, fmt.Errorf("verifying QE report signature: %w: %w", ErrQEReport, err))
	}
	if err := checkQEBinding(q); err != nil {
		return stageErr(StageQEReport, fmt.Errorf("verifying QE report data: %w: %w", ErrQEReport, err))
	}
	// Every go-tdx-guest check is mirrored above; reaching here means a
	// check it added that we do not know of. Refuse, blaming the chain.
	return stageErr(StagePCKChain, fmt.Errorf("verifying quote with go-tdx-guest: %w: %w", ErrPCKChain, gerr))
}

// checkPCKChain mirrors go-tdx-guest's PCK chain checks.
func checkPCKChain(q *Quote, a *anchors, at time.Time) error {
	names := []string{"Intel SGX PCK Certificate", "Intel SGX PCK Platform CA", "Intel SGX Root CA"}
	chain := q.PCKChain
	for i, c := range chain {
		parent := chain[min(i+1, 2)]
		if c.Version != 3 || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			return fmt.Errorf("certificate %q is not an X.509 v3 ECDSA-SHA256 certificate", c.Subject)
		}
		if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			return fmt.Errorf("certificate %q has no P-256 key", c.Subject)
		}
		if c.Subject.CommonName != names[i] {
			return fmt.Errorf("certificate CN %q is not %q", c.Subject.CommonName, names[i])
		}
		if !bytes.Equal(c.RawIssuer, parent.RawSubject) {
			return fmt.Errorf("certificate %q is not issued by %q", c.Subject, parent.Subject)
		}
		if err := c.CheckSignatureFrom(parent); err != nil {
			return fmt.Errorf("checking signature of %q: %w", c.Subject, err)
		}
		if at.Before(c.NotBefore) || at.After(c.NotAfter) {
			return fmt.Errorf("certificate %q is not valid at %s (valid %s to %s)", c.Subject,
				at.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	inter := x509.NewCertPool()
	inter.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: a.pool, Intermediates: inter, CurrentTime: at}); err != nil {
		return err
	}
	return nil
}

func checkQuoteSignature(q *Quote) error {
	pub, err := rawP256Key(q.AttestationKey[:])
	if err != nil {
		return fmt.Errorf("attestation key: %w", err)
	}
	h := sha256.Sum256(q.message)
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(q.Signature[:32]), new(big.Int).SetBytes(q.Signature[32:])) {
		return errors.New("signature over header and TD body does not verify with the attestation key")
	}
	return nil
}

func checkQEReportSignature(q *Quote) error {
	der, err := abi.SignatureToDER(q.QEReportSignature[:])
	if err != nil {
		return err
	}
	return q.PCKChain[0].CheckSignature(x509.ECDSAWithSHA256, q.qeRaw, der)
}

func checkQEBinding(q *Quote) error {
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	var want [64]byte
	copy(want[:], h.Sum(nil))
	if want != q.QEReport.ReportData {
		return errors.New("QE report data is not SHA-256(attestation key || QE authentication data)")
	}
	return nil
}

func rawP256Key(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) != 64 {
		return nil, fmt.Errorf("raw P-256 key is %d bytes, want 64", len(b))
	}
	x, y := new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:])
	if !elliptic.P256().IsOnCurve(x, y) {
		return nil, errors.New("point is not on P-256")
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, nil
}

// --- collateral ----------------------------------------------------------

// Names Intel gives the collateral signers.
const (
	cnTCBSigning   = "Intel SGX TCB Signing"
	cnPCKPlatform  = "Intel SGX PCK Platform CA"
	cnPCKProcessor = "Intel SGX PCK Processor CA"
)

// collateralVerdict is the time-independent part of collateral
// verification, cached per trust-anchor set.
type collateralVerdict struct {
	root *x509.Certificate // the anchor all pieces chain to
	err  error
}

// check verifies c against the trust anchors at time at: signatures once
// per anchor set (cached in c), validity windows every time. root is the
// anchor the quote's PCK chain ends at; the collateral must end there too.
func (c *Collateral) check(a *anchors, root *x509.Certificate, at time.Time) error {
	v := c.signatures(a)
	if v.err != nil {
		return v.err
	}
	if !bytes.Equal(v.root.Raw, root.Raw) {
		return fmt.Errorf("%w: collateral chains to %q, the quote to %q", ErrCollateralSignature, v.root.Subject, root.Subject)
	}
	return c.checkTimes(at)
}

func (c *Collateral) signatures(a *anchors) collateralVerdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.verified[a.key]; ok {
		return v
	}
	root, err := c.verifySignatures(a)
	v := collateralVerdict{root: root, err: err}
	if c.verified == nil {
		c.verified = make(map[string]collateralVerdict)
	}
	if len(c.verified) < 16 { // anchor sets are few; bound the map anyway
		c.verified[a.key] = v
	}
	return v
}

// verifySignatures checks every signature in the collateral: the three
// issuer chains up to one trust anchor, the root CA CRL by that anchor, the
// PCK CRL by its issuer, the TCB info and QE identity over their exact JSON
// texts, and that no signer is on the root CA CRL.
func (c *Collateral) verifySignatures(a *anchors) (*x509.Certificate, error) {
	tcbSigner, root, err := verifyIssuerChain("TCB info issuer chain", c.tcbInfoIssuerChain, a, cnTCBSigning)
	if err != nil {
		return nil, err
	}
	qeSigner, root2, err := verifyIssuerChain("QE identity issuer chain", c.qeIdentityIssuerChain, a, cnTCBSigning)
	if err != nil {
		return nil, err
	}
	crlSigner, root3, err := verifyIssuerChain("PCK CRL issuer chain", c.pckCRLIssuerChain, a, cnPCKPlatform, cnPCKProcessor)
	if err != nil {
		return nil, err
	}
	if root2 != root || root3 != root {
		return nil, fmt.Errorf("%w: collateral issuer chains end at different roots", ErrCollateralSignature)
	}
	if !bytes.Equal(c.rootCRL.RawIssuer, root.RawSubject) {
		return nil, fmt.Errorf("%w: root CA CRL issuer %q is not the root %q", ErrCollateralSignature, c.rootCRL.Issuer, root.Subject)
	}
	if err := c.rootCRL.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("verifying root CA CRL signature: %w: %w", ErrCollateralSignature, err)
	}
	if !bytes.Equal(c.pckCRL.RawIssuer, crlSigner.RawSubject) {
		return nil, fmt.Errorf("%w: PCK CRL issuer %q is not its issuer chain's signer %q", ErrCollateralSignature, c.pckCRL.Issuer, crlSigner.Subject)
	}
	if err := c.pckCRL.CheckSignatureFrom(crlSigner); err != nil {
		return nil, fmt.Errorf("verifying PCK CRL signature: %w: %w", ErrCollateralSignature, err)
	}
	if err := verifyJSONSignature(tcbSigner, c.tcbInfoJSON, c.tcbInfoSig); err != nil {
		return nil, fmt.Errorf("verifying TCB info signature: %w: %w", ErrCollateralSignature, err)
	}
	if err := verifyJSONSignature(qeSigner, c.qeIdentityJSON, c.qeIdentitySig); err != nil {
		return nil, fmt.Errorf("verifying QE identity signature: %w: %w", ErrCollateralSignature, err)
	}
	for _, chain := range [][]*x509.Certificate{c.tcbInfoIssuerChain, c.qeIdentityIssuerChain, c.pckCRLIssuerChain} {
		for _, cert := range chain[:len(chain)-1] {
			if isRevoked(c.rootRevoked, cert.SerialNumber) {
				return nil, fmt.Errorf("%w: collateral signer %q (serial %x) is on the root CA CRL", ErrRevoked, cert.Subject, cert.SerialNumber)
			}
		}
	}
	return root, nil
}

// verifyIssuerChain checks that chain[0] (named one of cns) is signed by
// chain[1], and so on, up to a certificate that is itself a trust anchor.
// It returns the signer and the anchor. Validity windows are checked per
// call in checkTimes.
func verifyIssuerChain(name string, chain []*x509.Certificate, a *anchors, cns ...string) (signer, root *x509.Certificate, err error) {
	root = a.find(chain[len(chain)-1])
	if root == nil {
		return nil, nil, fmt.Errorf("%w: %s does not end at a trusted root (ends at %q)", ErrCollateralSignature, name, chain[len(chain)-1].Subject)
	}
	signer = chain[0]
	okName := false
	for _, cn := range cns {
		okName = okName || signer.Subject.CommonName == cn
	}
	if !okName {
		return nil, nil, fmt.Errorf("%w: %s is signed by %q, want %q", ErrCollateralSignature, name, signer.Subject.CommonName, cns)
	}
	if pub, ok := signer.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, nil, fmt.Errorf("%w: %s signer has no P-256 key", ErrCollateralSignature, name)
	}
	for i := 0; i < len(chain)-1; i++ {
		child, parent := chain[i], chain[i+1]
		if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, nil, fmt.Errorf("%w: %s: %q is not issued by %q", ErrCollateralSignature, name, child.Subject, parent.Subject)
		}
		if err := child.CheckSignatureFrom(parent); err != nil {
			return nil, nil, fmt.Errorf("verifying %s: %w: %q: %w", name, ErrCollateralSignature, child.Subject, err)
		}
	}
	return signer, root, nil
}

func verifyJSONSignature(signer *x509.Certificate, body string, sig []byte) error {
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || len(sig) != 64 {
		return errors.New("need a P-256 signer and a 64-byte r||s signature")
	}
	h := sha256.Sum256([]byte(body))
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return fmt.Errorf("signature does not verify with %q", signer.Subject.CommonName)
	}
	return nil
}

// checkTimes enforces every validity window at time at, both ways.
func (c *Collateral) checkTimes(at time.Time) error {
	window := func(what string, from, until time.Time) error {
		if at.Before(from) {
			return fmt.Errorf("%w: %s is valid from %s, after the verification time %s", ErrCollateralNotYetValid,
				what, from.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
		if at.After(until) {
			return fmt.Errorf("%w: %s was valid until %s, before the verification time %s", ErrCollateralExpired,
				what, until.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
		return nil
	}
	if err := window("TCB info", c.tcbInfo.IssueDate, c.tcbInfo.NextUpdate); err != nil {
		return err
	}
	if err := window("QE identity", c.qeIdentity.IssueDate, c.qeIdentity.NextUpdate); err != nil {
		return err
	}
	if err := window("PCK CRL", c.pckCRL.ThisUpdate, c.pckCRL.NextUpdate); err != nil {
		return err
	}
	if err := window("root CA CRL", c.rootCRL.ThisUpdate, c.rootCRL.NextUpdate); err != nil {
		return err
	}
	for _, chain := range [][]*x509.Certificate{c.tcbInfoIssuerChain, c.qeIdentityIssuerChain, c.pckCRLIssuerChain} {
		for _, cert := range chain {
			if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
				return window(fmt.Sprintf("certificate %q", cert.Subject.CommonName), cert.NotBefore, cert.NotAfter)
			}
		}
	}
	return nil
}

// appliesTo checks that verified collateral is about this quote's platform.
func (c *Collateral) appliesTo(q *Quote) error {
	ti := &c.tcbInfo
	if ti.ID != "TDX" {
		return fmt.Errorf("%w: TCB info id is %q, not TDX", ErrTCBInfoMismatch, ti.ID)
	}
	if ti.Version != 3 {
		return fmt.Errorf("%w: TCB info version is %d, not 3", ErrTCBInfoMismatch, ti.Version)
	}
	if ti.fmspc != q.PCK.FMSPC {
		return fmt.Errorf("%w: TCB info is for FMSPC %x, the PCK certificate for %x", ErrFMSPCMismatch, ti.fmspc, q.PCK.FMSPC)
	}
	if ti.pceID != q.PCK.PCEID {
		return fmt.Errorf("%w: TCB info is for PCEID %x, the PCK certificate for %x", ErrTCBInfoMismatch, ti.pceID, q.PCK.PCEID)
	}
	qi := &c.qeIdentity
	if qi.ID != "TD_QE" || qi.Version != 2 {
		return fmt.Errorf("%w: QE identity is %q version %d, not TD_QE version 2", ErrQEIdentity, qi.ID, qi.Version)
	}
	return nil
}

// checkRevocation checks the quote's PCK CA against the root CA CRL and
// the PCK leaf against the PCK CRL of its issuer.
func (c *Collateral) checkRevocation(q *Quote) error {
	leaf, ca := q.PCKChain[0], q.PCKChain[1]
	if isRevoked(c.rootRevoked, ca.SerialNumber) {
		return fmt.Errorf("%w: PCK CA %q (serial %x) is on the root CA CRL", ErrRevoked, ca.Subject.CommonName, ca.SerialNumber)
	}
	if !bytes.Equal(c.pckCRL.RawIssuer, leaf.RawIssuer) {
		return fmt.Errorf("%w: the PCK CRL is issued by %q, the PCK certificate by %q", ErrCouldNotCheck, c.pckCRL.Issuer, leaf.Issuer)
	}
	if isRevoked(c.pckRevoked, leaf.SerialNumber) {
		return fmt.Errorf("%w: PCK certificate (serial %x) is on the PCK CRL", ErrRevoked, leaf.SerialNumber)
	}
	return nil
}
