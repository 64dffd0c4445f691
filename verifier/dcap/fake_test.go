package dcap

// A simulated DCAP hierarchy: a local "Intel SGX Root CA", PCK Platform CA,
// PCK leaf with an SGX extension, TCB signing key, signed TCB info and QE
// identity, CRLs, and TDX v4 quotes signed by a local attestation key. It
// lets the tests exercise what no real artefact shows: revoked PCKs and
// CAs, every TCB status end to end, and the trust-anchor option.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

var fakeNow = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)

type fakeConfig struct {
	fmspc         [6]byte
	pckComponents [16]byte
	pceSVN        uint16
	teeTCBSVN     [16]byte
	tdAttributes  [8]byte
	qeISVSVN      uint16
	mrSignerSeam  [48]byte
	levels        []tcbLevel          // TCB info levels
	modules       []tdxModuleIdentity // TDX module identities
	qeLevels      []tcbLevel
	revokeLeaf    bool // PCK CRL lists the PCK leaf
	revokeCA      bool // root CRL lists the PCK CA
	// quoteCAReissued puts a re-issued PCK CA certificate (same name and
	// key, serial 5) in the quote's chain, the original in the CRL chain.
	quoteCAReissued bool
	revokeReissued  bool // root CRL lists the re-issued PCK CA (serial 5)
	revokeSigner    bool // root CRL lists the TCB signing certificate
	tcbInfoID       string
}

type fakeDCAP struct {
	cfg                          fakeConfig
	rootKey, caKey, leafKey      *ecdsa.PrivateKey
	tcbKey, akKey                *ecdsa.PrivateKey
	root, ca, leaf, tcbSigner    *x509.Certificate
	rootPEM, caPEM, leafPEM, tcb []byte
	quoteCAPEM                   []byte // the PCK CA in the quote's chain
}

// defaultFakeConfig describes an up-to-date platform with a TDX 1.x module.
func defaultFakeConfig() fakeConfig {
	cfg := fakeConfig{
		fmspc:         [6]byte{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00},
		pckComponents: [16]byte{7, 7, 2, 2, 3, 1, 0, 3},
		pceSVN:        11,
		teeTCBSVN:     [16]byte{4, 1, 7},
		tdAttributes:  [8]byte{0, 0, 0, 0x10}, // SEPT_VE_DISABLE
		qeISVSVN:      6,
	}
	cfg.levels = []tcbLevel{
		fakeLevel([16]byte{7, 7, 2, 2, 3, 1, 0, 3}, 11, [16]byte{5, 0, 7}, StatusUpToDate),
		fakeLevel([16]byte{6, 6, 2, 2, 3, 1, 0, 3}, 11, [16]byte{3, 0, 6}, StatusOutOfDate, "INTEL-SA-00960"),
	}
	cfg.modules = []tdxModuleIdentity{{
		ID:        "TDX_01",
		tdxModule: tdxModule{MRSIGNER: make(hexBytes, 48), Attributes: make(hexBytes, 8), AttributesMask: hexBytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		TCBLevels: []tcbLevel{moduleLevel(4, StatusUpToDate), moduleLevel(2, StatusOutOfDate, "INTEL-SA-01036")},
	}}
	cfg.qeLevels = []tcbLevel{moduleLevel(4, StatusUpToDate)}
	return cfg
}

func fakeLevel(sgx [16]byte, pce uint16, tdx [16]byte, st TCBStatus, advisories ...string) tcbLevel {
	var l tcbLevel
	for i := range 16 {
		l.TCB.SGXComponents = append(l.TCB.SGXComponents, tcbComponent{SVN: sgx[i]})
		l.TCB.TDXComponents = append(l.TCB.TDXComponents, tcbComponent{SVN: tdx[i]})
	}
	l.TCB.PCESVN = pce
	l.TCBDate = "2024-03-13T00:00:00Z"
	l.TCBStatus = st
	l.AdvisoryIDs = advisories
	return l
}

func moduleLevel(isvsvn uint16, st TCBStatus, advisories ...string) tcbLevel {
	var l tcbLevel
	l.TCB.ISVSVN = isvsvn
	l.TCBDate = "2024-03-13T00:00:00Z"
	l.TCBStatus = st
	l.AdvisoryIDs = advisories
	return l
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func intelName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

var (
	oidSGX    = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID   = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB    = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID  = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC  = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	oidSGXTyp = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
)

func mustASN1(t testing.TB, v any) asn1.RawValue {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{FullBytes: b}
}

// fakeSGXExtension builds the PCK certificate's SGX extension.
func fakeSGXExtension(t testing.TB, cfg fakeConfig) []byte {
	type octetAttr struct {
		Type  asn1.ObjectIdentifier
		Value []byte
	}
	type intAttr struct {
		Type  asn1.ObjectIdentifier
		Value int
	}
	type seqAttr struct {
		Type  asn1.ObjectIdentifier
		Value []asn1.RawValue
	}
	type enumAttr struct {
		Type  asn1.ObjectIdentifier
		Value asn1.Enumerated
	}
	var comps []asn1.RawValue
	for i := range 16 {
		oid := append(append(asn1.ObjectIdentifier{}, oidTCB...), i+1)
		comps = append(comps, mustASN1(t, intAttr{oid, int(cfg.pckComponents[i])}))
	}
	comps = append(comps,
		mustASN1(t, intAttr{append(append(asn1.ObjectIdentifier{}, oidTCB...), 17), int(cfg.pceSVN)}),
		mustASN1(t, octetAttr{append(append(asn1.ObjectIdentifier{}, oidTCB...), 18), cfg.pckComponents[:]}))
	ext, err := asn1.Marshal([]asn1.RawValue{
		mustASN1(t, octetAttr{oidPPID, make([]byte, 16)}),
		mustASN1(t, seqAttr{oidTCB, comps}),
		mustASN1(t, octetAttr{oidPCEID, []byte{0, 0}}),
		mustASN1(t, octetAttr{oidFMSPC, cfg.fmspc[:]}),
		mustASN1(t, enumAttr{oidSGXTyp, 0}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return ext
}

func newFakeDCAP(t testing.TB, cfg fakeConfig) *fakeDCAP {
	t.Helper()
	f := &fakeDCAP{cfg: cfg, rootKey: mustKey(t), caKey: mustKey(t), leafKey: mustKey(t), tcbKey: mustKey(t), akKey: mustKey(t)}
	from, until := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: intelName("Intel SGX Root CA"), NotBefore: from, NotAfter: until,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          []byte{1},
		CRLDistributionPoints: []string{"https://example.invalid/root.der"},
	}
	f.root, f.rootPEM = mustCert(t, rootTmpl, rootTmpl, &f.rootKey.PublicKey, f.rootKey)
	f.ca, f.caPEM = mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: intelName("Intel SGX PCK Platform CA"), NotBefore: from, NotAfter: until,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId: []byte{2},
	}, f.root, &f.caKey.PublicKey, f.rootKey)
	f.leaf, f.leafPEM = mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: intelName("Intel SGX PCK Certificate"), NotBefore: from, NotAfter: until,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SubjectKeyId:          []byte{3},
		CRLDistributionPoints: []string{"https://example.invalid/pckcrl"},
		ExtraExtensions:       []pkix.Extension{{Id: oidSGX, Value: fakeSGXExtension(t, cfg)}},
	}, f.ca, &f.leafKey.PublicKey, f.caKey)
	f.tcbSigner, f.tcb = mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(4), Subject: intelName("Intel SGX TCB Signing"), NotBefore: from, NotAfter: until,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		SubjectKeyId: []byte{4},
	}, f.root, &f.tcbKey.PublicKey, f.rootKey)
	f.quoteCAPEM = f.caPEM
	if cfg.quoteCAReissued {
		_, f.quoteCAPEM = mustCert(t, &x509.Certificate{
			SerialNumber: big.NewInt(5), Subject: intelName("Intel SGX PCK Platform CA"), NotBefore: from, NotAfter: until,
			IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			SubjectKeyId: []byte{2},
		}, f.root, &f.caKey.PublicKey, f.rootKey)
	}
	if n := len(f.leaf.Extensions); n != 6 {
		t.Fatalf("fake PCK certificate has %d extensions, go-tdx-guest wants 6", n)
	}
	return f
}

func signRaw(t testing.TB, k *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

func rawKey(k *ecdsa.PrivateKey) []byte {
	out := make([]byte, 64)
	k.X.FillBytes(out[:32])
	k.Y.FillBytes(out[32:])
	return out
}

// quote builds and signs a TDX v4 quote with the given REPORTDATA.
func (f *fakeDCAP) quote(t testing.TB, reportData [64]byte) []byte {
	t.Helper()
	cfg := f.cfg
	z := func(n int) []byte { return make([]byte, n) }
	header := &pb.Header{
		Version: 4, AttestationKeyType: 2, TeeType: 0x81, PceSvn: z(2), QeSvn: z(2),
		QeVendorId: []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07},
		UserData:   z(20),
	}
	mrtd := z(48)
	mrtd[0] = 0xaa
	body := &pb.TDQuoteBody{
		TeeTcbSvn: cfg.teeTCBSVN[:], MrSeam: z(48), MrSignerSeam: cfg.mrSignerSeam[:], SeamAttributes: z(8),
		TdAttributes: cfg.tdAttributes[:], Xfam: z(8), MrTd: mrtd, MrConfigId: z(48), MrOwner: z(48),
		MrOwnerConfig: z(48), Rtmrs: [][]byte{z(48), z(48), z(48), z(48)}, ReportData: reportData[:],
	}
	hb, err := abi.HeaderToAbiBytes(header)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := abi.TdQuoteBodyToAbiBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	ak := rawKey(f.akKey)
	auth := []byte("fake QE authentication data")
	h := sha256.Sum256(append(append([]byte{}, ak...), auth...))
	qe := &pb.EnclaveReport{
		CpuSvn: z(16), MiscSelect: 0, Reserved1: z(28),
		Attributes: []byte{0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		MrEnclave:  z(32), Reserved2: z(32), MrSigner: fakeQEMRSIGNER[:], Reserved3: z(96),
		IsvProdId: 2, IsvSvn: uint32(cfg.qeISVSVN), Reserved4: z(60),
		ReportData: append(h[:], z(32)...),
	}
	qeRaw, err := abi.EnclaveReportToAbiBytes(qe)
	if err != nil {
		t.Fatal(err)
	}
	chain := append(append(append([]byte{}, f.leafPEM...), f.quoteCAPEM...), f.rootPEM...)
	certDataSize := uint32(384 + 64 + 2 + len(auth) + 6 + len(chain))
	q := &pb.QuoteV4{
		Header: header, TdQuoteBody: body, SignedDataSize: 128 + 6 + certDataSize,
		SignedData: &pb.Ecdsa256BitQuoteV4AuthData{
			Signature:           signRaw(t, f.akKey, append(hb, bb...)),
			EcdsaAttestationKey: ak,
			CertificationData: &pb.CertificationData{
				CertificateDataType: 6, Size: certDataSize,
				QeReportCertificationData: &pb.QEReportCertificationData{
					QeReport:                qe,
					QeReportSignature:       signRaw(t, f.leafKey, qeRaw),
					QeAuthData:              &pb.QeAuthData{ParsedDataSize: uint32(len(auth)), Data: auth},
					PckCertificateChainData: &pb.PCKCertificateChainData{CertificateDataType: 5, Size: uint32(len(chain)), PckCertChain: chain},
				},
			},
		},
	}
	raw, err := abi.QuoteToAbiBytes(q)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var fakeQEMRSIGNER = [32]byte{0xdc, 0x9e, 0x2a, 0x7c}

// collateral builds signed collateral valid around fakeNow.
func (f *fakeDCAP) collateral(t testing.TB) *Collateral {
	t.Helper()
	cfg := f.cfg
	issue, next := fakeNow.Add(-24*time.Hour), fakeNow.Add(29*24*time.Hour)
	id := cfg.tcbInfoID
	if id == "" {
		id = "TDX"
	}
	ti := tcbInfo{
		ID: id, Version: 3, IssueDate: issue, NextUpdate: next,
		FMSPC: hexString(cfg.fmspc[:]), PCEID: "0000", TCBEvaluationDataNumber: 17,
		TDXModule:           &tdxModule{MRSIGNER: make(hexBytes, 48), Attributes: make(hexBytes, 8), AttributesMask: hexBytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		TDXModuleIdentities: cfg.modules, TCBLevels: cfg.levels,
	}
	qi := qeIdentity{
		ID: "TD_QE", Version: 2, IssueDate: issue, NextUpdate: next, TCBEvaluationDataNumber: 17,
		MiscSelect: hexBytes{0, 0, 0, 0}, MiscSelectMask: hexBytes{0xff, 0xff, 0xff, 0xff},
		Attributes:     hexBytes{0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		AttributesMask: hexBytes{0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
		MRSIGNER:       fakeQEMRSIGNER[:], ISVProdID: 2, TCBLevels: cfg.qeLevels,
	}
	tiJSON, err := json.Marshal(ti)
	if err != nil {
		t.Fatal(err)
	}
	qiJSON, err := json.Marshal(qi)
	if err != nil {
		t.Fatal(err)
	}
	var rootRevoked, pckRevoked []x509.RevocationListEntry
	if cfg.revokeCA {
		rootRevoked = append(rootRevoked, x509.RevocationListEntry{SerialNumber: f.ca.SerialNumber, RevocationTime: issue})
	}
	if cfg.revokeReissued {
		rootRevoked = append(rootRevoked, x509.RevocationListEntry{SerialNumber: big.NewInt(5), RevocationTime: issue})
	}
	if cfg.revokeSigner {
		rootRevoked = append(rootRevoked, x509.RevocationListEntry{SerialNumber: f.tcbSigner.SerialNumber, RevocationTime: issue})
	}
	if cfg.revokeLeaf {
		pckRevoked = append(pckRevoked, x509.RevocationListEntry{SerialNumber: f.leaf.SerialNumber, RevocationTime: issue})
	}
	crl := func(entries []x509.RevocationListEntry, issuer *x509.Certificate, key *ecdsa.PrivateKey) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(1), ThisUpdate: issue, NextUpdate: next, RevokedCertificateEntries: entries,
		}, issuer, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	c, err := newCollateral(collateralParts{
		pckCRLIssuerChain:     string(f.caPEM) + string(f.rootPEM),
		rootCRL:               crl(rootRevoked, f.root, f.rootKey),
		pckCRL:                crl(pckRevoked, f.ca, f.caKey),
		tcbInfoIssuerChain:    string(f.tcb) + string(f.rootPEM),
		tcbInfo:               string(tiJSON),
		tcbInfoSig:            signRaw(t, f.tcbKey, tiJSON),
		qeIdentityIssuerChain: string(f.tcb) + string(f.rootPEM),
		qeIdentity:            string(qiJSON),
		qeIdentitySig:         signRaw(t, f.tcbKey, qiJSON),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hexString(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// options trusts the fake root and serves the fake collateral at fakeNow.
func (f *fakeDCAP) options(t testing.TB) Options {
	return Options{Roots: []*x509.Certificate{f.root}, Collateral: Bundle{Fixed: f.collateral(t)}, At: fakeNow}
}
