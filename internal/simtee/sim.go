package simtee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
)

// DefaultFMSPC is the FMSPC of a simulated platform unless InitOptions
// says otherwise. 00906ED50000 belongs to SGX-only platforms (CPUID
// signature 906ED, Coffee Lake class), which have no TDX: Intel publishes
// no TDX TCB info for it, so simulated collateral cannot be mistaken for,
// or cached as, a genuine TDX platform's. Any 6 bytes work; the TCB info
// is issued for whichever FMSPC the PCK certificate carries.
const DefaultFMSPC = "00906ed50000"

// Default validity periods. Intel issues TCB info, QE identity and CRLs
// for 30 days; certificates live longer.
const (
	// DefaultCertValidity is how long certificates are valid: a year.
	DefaultCertValidity = 365 * 24 * time.Hour
	// DefaultCollateralValidity is how long TCB info, QE identity and CRLs
	// are valid: 30 days.
	DefaultCollateralValidity = 30 * 24 * time.Hour
)

// The simulated platform and quoting enclave. The TCB component SVNs and
// PCESVN look like a current Xeon's; the collateral is issued around them,
// so any values would do.
var (
	defaultCPUSVN    = [16]byte{2, 2, 2, 2, 3, 1, 0, 5}
	defaultTEETCBSVN = [16]byte{5, 1, 2}
	defaultQE        = qeIdentity{
		mrsigner:   sha256.Sum256([]byte("poc simtee: TD quoting enclave signer")),
		mrenclave:  sha256.Sum256([]byte("poc simtee: TD quoting enclave")),
		attributes: [16]byte{0x15, 8: 0xe7}, // INIT, MODE64BIT, PROVISIONKEY; XFRM x87…AVX-512
		isvProdID:  2,                       // the TD QE's product ID
		isvSVN:     4,
	}
)

const defaultPCESVN = 11

// InitOptions configure Init. The zero value makes an UpToDate platform
// with DefaultFMSPC, valid from now, in a directory that must be empty or
// absent.
type InitOptions struct {
	// Now is when the hierarchy is made: certificates' notBefore, TCB info
	// and QE identity issueDate, CRLs' thisUpdate. Zero means time.Now().
	// It is rounded down to whole seconds, as certificates and PCS
	// documents carry it.
	Now time.Time
	// CertValidity is how long all four certificates are valid from Now.
	// Zero means DefaultCertValidity.
	CertValidity time.Duration
	// CollateralValidity is how long the TCB info, QE identity and CRLs
	// are valid from Now (their nextUpdate). Zero means
	// DefaultCollateralValidity.
	CollateralValidity time.Duration
	// FMSPC is 12 hex digits. Empty means DefaultFMSPC.
	FMSPC string
	// TCBOutOfDate issues TCB info under which the default quote's TCB
	// status is OutOfDate: a newer TCB level and TDX module SVN, which the
	// simulated platform lacks, are the only UpToDate ones.
	TCBOutOfDate bool
	// RevokePCK lists the PCK certificate's serial number in the PCK CRL.
	RevokePCK bool
	// Overwrite lets Init replace the files of an existing simulated TEE
	// directory (one that holds a sim.json). Init never writes into a
	// non-empty directory without a sim.json, even with Overwrite.
	Overwrite bool
}

// Sim is a simulated TEE: a local Intel DCAP hierarchy that signs TDX
// quotes and serves their collateral. Make one with Init or Load. Its
// methods are safe for concurrent use.
type Sim struct {
	dir      string
	manifest Manifest
	p        platform

	root, platformCA, pck, tcbSigning *x509.Certificate
	pckKey, attestationKey            *ecdsa.PrivateKey
	chainPEM                          []byte // PCK ‖ platform CA ‖ root

	coll   *loadedCollateral
	bundle []byte
}

func (o InitOptions) resolve() (InitOptions, [6]byte, error) {
	var fmspc [6]byte
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.CollateralValidity == 0 {
		o.CollateralValidity = DefaultCollateralValidity
	}
	if o.CertValidity < time.Second || o.CollateralValidity < time.Second {
		return o, fmspc, fmt.Errorf("%w: validity periods must be at least a second (certificates %v, collateral %v)",
			ErrOptions, o.CertValidity, o.CollateralValidity)
	}
	if o.FMSPC == "" {
		o.FMSPC = DefaultFMSPC
	}
	if err := decodeHexInto(fmspc[:], o.FMSPC); err != nil {
		return o, fmspc, fmt.Errorf("%w: FMSPC %q: %w", ErrOptions, o.FMSPC, err)
	}
	return o, fmspc, nil
}

// Init makes a new simulated TEE in dir and writes it there (see the
// package documentation for the files). dir is created with mode 0700 if
// absent. Init refuses a non-empty dir with ErrExists unless
// opts.Overwrite is set and dir already holds a simulated TEE; it refuses
// a non-empty dir without a sim.json with ErrNotSim even then. The
// manifest is written last, so an interrupted Init leaves a directory
// that Load refuses.
func Init(dir string, opts InitOptions) (*Sim, error) {
	o, fmspc, err := opts.resolve()
	if err != nil {
		return nil, fmt.Errorf("initialising simulated TEE: %w", err)
	}
	if err := prepareDir(dir, o.Overwrite); err != nil {
		return nil, fmt.Errorf("initialising simulated TEE in %s: %w", dir, err)
	}

	p := platform{fmspc: fmspc, cpusvn: defaultCPUSVN, pcesvn: defaultPCESVN, teeTCBSVN: defaultTEETCBSVN, qe: defaultQE}
	ext := sgxExtension{fmspc: fmspc, cpusvn: p.cpusvn, pcesvn: p.pcesvn}
	for _, b := range [][]byte{ext.ppid[:], ext.pceid[:], ext.platformInstanceID[:], p.qeid[:]} {
		if _, err := io.ReadFull(rand.Reader, b); err != nil {
			return nil, fmt.Errorf("initialising simulated TEE: drawing identifiers: %w", err)
		}
	}
	p.pceid = ext.pceid

	notAfter := o.Now.Add(o.CertValidity)
	h, err := newHierarchy(o.Now, notAfter, ext)
	if err != nil {
		return nil, fmt.Errorf("initialising simulated TEE: %w", err)
	}
	next := o.Now.Add(o.CollateralValidity)
	coll, err := makeCollateral(h, collateralSpec{issue: o.Now, next: next, p: p, outOfDate: o.TCBOutOfDate}, o.RevokePCK)
	if err != nil {
		return nil, fmt.Errorf("initialising simulated TEE: %w", err)
	}
	attestationKey, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("initialising simulated TEE: attestation key: %w", err)
	}

	status := statusUpToDate
	if o.TCBOutOfDate {
		status = statusOutOfDate
	}
	files := defaultFiles()
	m := Manifest{
		Version:   ManifestVersion,
		Notice:    notice,
		Created:   o.Now,
		FMSPC:     hex.EncodeToString(p.fmspc[:]),
		PCEID:     hex.EncodeToString(p.pceid[:]),
		CPUSVN:    hex.EncodeToString(p.cpusvn[:]),
		PCESVN:    p.pcesvn,
		TEETCBSVN: hex.EncodeToString(p.teeTCBSVN[:]),
		QEID:      hex.EncodeToString(p.qeid[:]),
		QE: QEValues{
			MRSIGNER:   hex.EncodeToString(p.qe.mrsigner[:]),
			MRENCLAVE:  hex.EncodeToString(p.qe.mrenclave[:]),
			Attributes: hex.EncodeToString(p.qe.attributes[:]),
			MiscSelect: p.qe.miscSelect,
			ISVProdID:  p.qe.isvProdID,
			ISVSVN:     p.qe.isvSVN,
		},
		Certificates: Validity{NotBefore: o.Now, NotAfter: notAfter},
		Collateral:   Validity{NotBefore: o.Now, NotAfter: next},
		TCBStatus:    status,
		PCKRevoked:   o.RevokePCK,
		Files:        files,
	}
	manifest, err := marshalManifest(m)
	if err != nil {
		return nil, fmt.Errorf("initialising simulated TEE: %w", err)
	}

	type out struct {
		name   string
		data   []byte
		secret bool
	}
	outs := []out{
		{files.Root, certPEM(h.root.cert), false},
		{files.PlatformCA, certPEM(h.platformCA.cert), false},
		{files.PCK, certPEM(h.pck.cert), false},
		{files.PCKChain, certPEM(h.pck.cert, h.platformCA.cert, h.root.cert), false},
		{files.TCBSigning, certPEM(h.tcbSigning.cert), false},
		{files.TCBInfo, coll.tcbInfoBody, false},
		{files.QEIdentity, coll.qeIdentityBody, false},
		{files.PCKCRL, coll.pckCRL, false},
		{files.RootCRL, coll.rootCRL, false},
		{files.CollateralBundle, coll.bundle, false},
	}
	for _, k := range []struct {
		name string
		key  *ecdsa.PrivateKey
	}{
		{files.RootKey, h.root.key},
		{files.PlatformCAKey, h.platformCA.key},
		{files.PCKKey, h.pck.key},
		{files.TCBSigningKey, h.tcbSigning.key},
		{files.AttestationKey, attestationKey},
	} {
		data, err := keyPEM(k.key)
		if err != nil {
			return nil, fmt.Errorf("initialising simulated TEE: %s: %w", k.name, err)
		}
		outs = append(outs, out{k.name, data, true})
	}
	outs = append(outs, out{manifestName, manifest, false})
	for _, f := range outs {
		perm := fs.FileMode(0o644)
		if f.secret {
			perm = 0o600
		}
		if err := writeFile(dir, f.name, f.data, perm); err != nil {
			return nil, fmt.Errorf("initialising simulated TEE: %w", err)
		}
	}
	// Reading back what was written proves the directory loads.
	return Load(dir)
}

// prepareDir makes dir if absent and decides whether Init may write there.
func prepareDir(dir string, overwrite bool) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("inspecting directory: %w", err)
	case !info.IsDir():
		return fmt.Errorf("%w: not a directory", ErrExists)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing directory: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if !overwrite {
		return fmt.Errorf("%w: %d entries (set Overwrite to replace a simulated TEE)", ErrExists, len(entries))
	}
	mi, err := os.Lstat(filepath.Join(dir, manifestName))
	if err != nil || !mi.Mode().IsRegular() {
		return fmt.Errorf("%w: refusing to overwrite a non-empty directory without %s", ErrNotSim, manifestName)
	}
	return nil
}

// writeFile replaces dir/name atomically with data at mode perm. The data
// goes to a temporary file in dir that is renamed over the target, so a
// reader sees the old file or the new one, never a mix, and a symbolic
// link at the target is replaced rather than followed. Nothing is
// fsynced: a simulated TEE is cheap to make again, and Load refuses a
// directory whose files do not fit together.
func writeFile(dir, name string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// maxFileSize bounds every file Load reads.
const maxFileSize = 1 << 20

func readFile(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", name, maxFileSize)
	}
	return data, nil
}

// Load reads a simulated TEE that Init wrote to dir. It refuses, with
// ErrNotSim, a directory without sim.json; with ErrVersion a manifest of
// another version; with ErrManifest a malformed one; and with
// ErrInconsistent files that do not fit together (certificates not
// chaining, keys not matching, collateral not signed by the TCB signing
// certificate). The CA keys stay on disk: a loaded Sim signs quotes and
// serves collateral, it issues nothing new.
func Load(dir string) (*Sim, error) {
	s, err := load(dir)
	if err != nil {
		return nil, fmt.Errorf("loading simulated TEE from %s: %w", dir, err)
	}
	return s, nil
}

func load(dir string) (*Sim, error) {
	data, err := readFile(dir, manifestName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNotSim, err)
	}
	if err != nil {
		return nil, err
	}
	m, p, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	s := &Sim{dir: dir, manifest: m, p: p}

	certs := []struct {
		name string
		dst  **x509.Certificate
	}{
		{m.Files.Root, &s.root},
		{m.Files.PlatformCA, &s.platformCA},
		{m.Files.PCK, &s.pck},
		{m.Files.TCBSigning, &s.tcbSigning},
	}
	for _, c := range certs {
		data, err := readFile(dir, c.name)
		if err != nil {
			return nil, err
		}
		if *c.dst, err = parseCertPEM(data); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, c.name, err)
		}
	}
	keys := []struct {
		name string
		dst  **ecdsa.PrivateKey
	}{
		{m.Files.PCKKey, &s.pckKey},
		{m.Files.AttestationKey, &s.attestationKey},
	}
	for _, k := range keys {
		data, err := readFile(dir, k.name)
		if err != nil {
			return nil, err
		}
		if *k.dst, err = parseKeyPEM(data); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, k.name, err)
		}
	}
	if err := s.checkHierarchy(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInconsistent, err)
	}
	s.chainPEM = certPEM(s.pck, s.platformCA, s.root)

	if s.bundle, err = readFile(dir, m.Files.CollateralBundle); err != nil {
		return nil, err
	}
	if s.coll, err = parseCollateral(s.bundle); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, m.Files.CollateralBundle, err)
	}
	if err := s.checkCollateral(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInconsistent, m.Files.CollateralBundle, err)
	}
	return s, nil
}

// checkHierarchy checks that the certificates chain as Init made them,
// that the PCK key is the PCK certificate's, and that the PCK
// certificate's SGX extension says what the manifest says.
func (s *Sim) checkHierarchy() error {
	links := []struct {
		child, parent *x509.Certificate
		cn            string
	}{
		{s.root, s.root, cnRoot},
		{s.platformCA, s.root, cnPlatformCA},
		{s.pck, s.platformCA, cnPCK},
		{s.tcbSigning, s.root, cnTCBSigning},
	}
	for _, l := range links {
		if l.child.Subject.CommonName != l.cn {
			return fmt.Errorf("certificate %q where %q belongs", l.child.Subject.CommonName, l.cn)
		}
		if err := l.child.CheckSignatureFrom(l.parent); err != nil {
			return fmt.Errorf("%q is not signed by %q: %w", l.cn, l.parent.Subject.CommonName, err)
		}
	}
	if !s.pckKey.PublicKey.Equal(s.pck.PublicKey) {
		return errors.New("the PCK key does not match the PCK certificate")
	}
	ext, err := pcs.PckCertificateExtensions(s.pck)
	if err != nil {
		return fmt.Errorf("PCK certificate extensions: %w", err)
	}
	if !strings.EqualFold(ext.FMSPC, s.manifest.FMSPC) || !strings.EqualFold(ext.PCEID, s.manifest.PCEID) ||
		ext.TCB.PCESvn != s.p.pcesvn || !bytes.Equal(ext.TCB.CPUSvn, s.p.cpusvn[:]) ||
		!bytes.Equal(ext.TCB.CPUSvnComponents, s.p.cpusvn[:]) {
		return errors.New("the PCK certificate's SGX extension differs from the manifest")
	}
	return nil
}

// checkCollateral checks that the bundle belongs to this hierarchy: its
// issuer chains are our certificates, the TCB signing key signed the TCB
// info and QE identity, and the CAs signed the CRLs.
func (s *Sim) checkCollateral() error {
	c := s.coll
	if !bytes.Equal(c.pckCRLChain, certPEM(s.platformCA, s.root)) {
		return errors.New("pck_crl_issuer_chain is not platform CA ‖ root")
	}
	tcbChain := certPEM(s.tcbSigning, s.root)
	if !bytes.Equal(c.tcbInfoChain, tcbChain) || !bytes.Equal(c.qeIdentityChain, tcbChain) {
		return errors.New("tcb_info or qe_identity issuer chain is not TCB signing ‖ root")
	}
	for _, signed := range []struct {
		name string
		body string
		sig  []byte
	}{{"tcb_info", c.c.TCBInfo, c.tcbSig}, {"qe_identity", c.c.QEIdentity, c.qeSig}} {
		der, err := abi.SignatureToDER(signed.sig)
		if err != nil {
			return fmt.Errorf("%s signature: %w", signed.name, err)
		}
		if err := s.tcbSigning.CheckSignature(x509.ECDSAWithSHA256, []byte(signed.body), der); err != nil {
			return fmt.Errorf("%s signature: %w", signed.name, err)
		}
	}
	for _, crl := range []struct {
		name   string
		der    []byte
		issuer *x509.Certificate
	}{{"pck_crl", c.pckCRL, s.platformCA}, {"root_ca_crl", c.rootCRL, s.root}} {
		rl, err := x509.ParseRevocationList(crl.der)
		if err != nil {
			return fmt.Errorf("%s: %w", crl.name, err)
		}
		if err := rl.CheckSignatureFrom(crl.issuer); err != nil {
			return fmt.Errorf("%s: %w", crl.name, err)
		}
	}
	return nil
}

// Dir returns the directory the simulated TEE was loaded from.
func (s *Sim) Dir() string { return s.dir }

// Manifest returns the simulated TEE's manifest.
func (s *Sim) Manifest() Manifest { return s.manifest }

// Root returns a copy of the simulated "Intel SGX Root CA" certificate.
func (s *Sim) Root() *x509.Certificate {
	c, err := x509.ParseCertificate(s.root.Raw)
	if err != nil {
		// The bytes parsed when the Sim was made; they cannot fail now.
		return s.root
	}
	return c
}

// RootPEM returns the simulated root certificate in PEM, as in root.pem.
func (s *Sim) RootPEM() []byte { return certPEM(s.root) }

// RootPool returns a new pool holding only the simulated root: the
// explicit trust a verifier needs before it accepts simulated quotes.
func (s *Sim) RootPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Root())
	return pool
}

// CollateralJSON returns a copy of collateral.json: the simulated
// collateral in the dcap-qvl QuoteCollateralV3 JSON form.
func (s *Sim) CollateralJSON() []byte { return clone(s.bundle) }
