package simtee

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

func TestQuoteVerifiesOffline(t *testing.T) {
	s := newSim(t, InitOptions{})
	rd := reportData("proof digest")
	var td TDOptions
	td.MRTD[0] = 0xaa
	td.RTMR[2][47] = 0xbb
	td.MROwner[5] = 0xcc
	raw := mustQuote(t, s, rd, td)

	q := parseQuote(t, raw)
	if err := verify.TdxQuote(q, offline(t, s.RootPool(), checkAt)); err != nil {
		t.Fatalf("go-tdx-guest refused a simulated quote under the simulated root: %v", err)
	}
	body := q.GetTdQuoteBody()
	if !bytes.Equal(body.GetReportData(), rd[:]) {
		t.Errorf("REPORTDATA = %x, want %x", body.GetReportData(), rd)
	}
	if !bytes.Equal(body.GetMrTd(), td.MRTD[:]) || !bytes.Equal(body.GetRtmrs()[2], td.RTMR[2][:]) || !bytes.Equal(body.GetMrOwner(), td.MROwner[:]) {
		t.Error("TD report fields do not read back as given")
	}
	def := s.TDDefaults()
	if !bytes.Equal(body.GetTeeTcbSvn(), def.TEETCBSVN[:]) || !bytes.Equal(body.GetMrSeam(), def.MRSeam[:]) || !bytes.Equal(body.GetXfam(), def.XFAM[:]) {
		t.Error("zero TEE_TCB_SVN, MRSEAM or XFAM did not get the defaults")
	}
	if !bytes.Equal(body.GetTdAttributes(), make([]byte, 8)) {
		t.Errorf("TD_ATTRIBUTES = %x, want zero (not debug)", body.GetTdAttributes())
	}
}

func TestQuoteVerifiesWithCollateral(t *testing.T) {
	s := newSim(t, InitOptions{})
	q := parseQuote(t, mustQuote(t, s, reportData("x"), TDOptions{}))
	opts := withCollateral(t, s, s.RootPool(), checkAt)
	if err := verify.TdxQuote(q, opts); err != nil {
		t.Fatalf("go-tdx-guest with collateral and revocation checks refused: %v", err)
	}
	// TdxQuote filled opts with the collateral it fetched.
	tdx, qe, err := verify.SupportedTcbLevelsFromCollateral(q, opts)
	if err != nil {
		t.Fatalf("SupportedTcbLevelsFromCollateral: %v", err)
	}
	if tdx.TcbStatus != pcs.TcbComponentStatusUpToDate || qe.TcbStatus != pcs.TcbComponentStatusUpToDate {
		t.Errorf("TCB status TDX %q, QE %q; want UpToDate for both", tdx.TcbStatus, qe.TcbStatus)
	}
}

// TestCollateralOutcomes runs go-tdx-guest's full verification (collateral,
// revocation) over the options that exist for negative tests elsewhere,
// and over clocks outside the validity windows.
func TestCollateralOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		init       InitOptions
		td         TDOptions
		at         func(*Sim) *verify.TimeSet
		noRevoke   bool
		wantOK     bool
		wantStatus pcs.TcbComponentStatus // TDX TCB level go-tdx-guest finds, if set
	}{
		{name: "default UpToDate", wantOK: true, wantStatus: pcs.TcbComponentStatusUpToDate},
		{name: "TCB out of date", init: InitOptions{TCBOutOfDate: true}, wantStatus: pcs.TcbComponentStatusOutOfDate},
		{name: "PCK revoked", init: InitOptions{RevokePCK: true}},
		{name: "PCK revoked, revocation unchecked", init: InitOptions{RevokePCK: true}, noRevoke: true, wantOK: true},
		{name: "TDX 1.0 module version", td: TDOptions{TEETCBSVN: [16]byte{5, 0, 2}}, wantOK: true, wantStatus: pcs.TcbComponentStatusUpToDate},
		{name: "older TDX module SVN", td: TDOptions{TEETCBSVN: [16]byte{4, 1, 2}}, wantStatus: pcs.TcbComponentStatusOutOfDate},
		{
			name: "collateral expired",
			at: func(s *Sim) *verify.TimeSet {
				return timeSet(s.Manifest().Collateral.NotAfter.Add(1e9))
			},
		},
		{
			name: "certificates expired",
			at: func(s *Sim) *verify.TimeSet {
				return timeSet(s.Manifest().Certificates.NotAfter.Add(1e9))
			},
		},
		{
			name: "before the hierarchy existed",
			at: func(s *Sim) *verify.TimeSet {
				return timeSet(s.Manifest().Certificates.NotBefore.Add(-1e9))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.init)
			q := parseQuote(t, mustQuote(t, s, reportData(tc.name), tc.td))
			opts := withCollateral(t, s, s.RootPool(), checkAt)
			if tc.noRevoke {
				opts.CheckRevocations = false
			}
			if tc.at != nil {
				opts.Now = tc.at(s)
			}
			err := verify.TdxQuote(q, opts)
			if tc.wantOK != (err == nil) {
				t.Fatalf("TdxQuote error = %v, want success %v", err, tc.wantOK)
			}
			if err != nil {
				t.Logf("refused: %v", err)
			}
			// Without collateral the same quote is fine: the refusal came
			// from the collateral.
			if !tc.wantOK && tc.at == nil && !tc.noRevoke {
				if err := verify.TdxQuote(q, offline(t, s.RootPool(), checkAt)); err != nil {
					t.Errorf("offline verification also refused: %v", err)
				}
			}
			if tc.wantStatus != "" {
				tdx, _, err := verify.SupportedTcbLevelsFromCollateral(q, opts)
				if err != nil {
					t.Fatalf("SupportedTcbLevelsFromCollateral: %v", err)
				}
				if tdx.TcbStatus != tc.wantStatus {
					t.Errorf("TDX TCB status %q, want %q", tdx.TcbStatus, tc.wantStatus)
				}
			}
		})
	}
}

func TestIntelRootRefusesSimulatedQuote(t *testing.T) {
	s := newSim(t, InitOptions{})
	raw := mustQuote(t, s, reportData("x"), TDOptions{})
	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
	}{
		{"Intel's root", intelRoots(t)},
		{"empty pool", x509.NewCertPool()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := verify.TdxQuote(parseQuote(t, raw), offline(t, tc.roots, checkAt)); err == nil {
				t.Fatal("go-tdx-guest accepted a simulated quote without trusting the simulated root")
			}
			if err := verify.TdxQuote(parseQuote(t, raw), withCollateral(t, s, tc.roots, checkAt)); err == nil {
				t.Fatal("go-tdx-guest with collateral accepted a simulated quote without trusting the simulated root")
			}
		})
	}
}

func TestOtherSimRootRefuses(t *testing.T) {
	a, b := newSim(t, InitOptions{}), newSim(t, InitOptions{})
	raw := mustQuote(t, a, reportData("x"), TDOptions{})
	if err := verify.TdxQuote(parseQuote(t, raw), offline(t, b.RootPool(), checkAt)); err == nil {
		t.Fatal("a quote of one simulated TEE verified under another's root")
	}
}

// Offsets in a v4 quote: header 0x30 bytes, TD quote body 0x248, signed
// data size 4, then signature 64, attestation key 64, certification data
// type 2 and size 4, QE report 0x180, its signature 64, QE auth data size
// 2 and data, PCK chain type 2 and size 4, PCK chain.
const (
	offBody        = 0x30
	offSignature   = offBody + 0x248 + 4
	offAttestKey   = offSignature + 64
	offQEReport    = offAttestKey + 64 + 6
	offQESignature = offQEReport + 0x180
	offQEAuthData  = offQESignature + 64 + 2
	offPCKChain    = offQEAuthData + 32 + 6
)

func TestTamperedQuoteRefused(t *testing.T) {
	s := newSim(t, InitOptions{})
	raw := mustQuote(t, s, reportData("tamper"), TDOptions{})
	if err := verify.TdxQuote(parseQuote(t, raw), offline(t, s.RootPool(), checkAt)); err != nil {
		t.Fatalf("untampered quote refused: %v", err)
	}
	// Flips the attestation key's signature covers are reported as
	// verify.ErrHashVerificationFail. The QE report and its binding are
	// checked after that signature verified, so flips there must give a
	// different error.
	tests := []struct {
		name     string
		offset   int
		hashFail bool
	}{
		{"header user data", 0x1c, true},
		{"TEE_TCB_SVN", offBody, true},
		{"TD_ATTRIBUTES debug bit", offBody + 0x78, true},
		{"MRTD", offBody + 0x88, true},
		{"RTMR3", offBody + 0x1d8, true},
		{"report data first byte", offBody + 0x208, true},
		{"report data last byte", offBody + 0x247, true},
		{"quote signature r", offSignature + 5, true},
		{"quote signature s", offSignature + 40, true},
		{"QE report CPUSVN", offQEReport, false},
		{"QE report MRENCLAVE", offQEReport + 0x40, false},
		{"QE report ISVSVN", offQEReport + 0x102, false},
		{"QE report data", offQEReport + 0x140, false},
		{"QE report signature", offQESignature + 7, false},
		{"QE auth data", offQEAuthData + 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(raw)
			bad[tc.offset] ^= 0x01
			err := verify.TdxQuote(parseQuote(t, bad), offline(t, s.RootPool(), checkAt))
			if err == nil {
				t.Fatal("go-tdx-guest accepted a tampered quote")
			}
			t.Logf("refused: %v", err)
			if got := errors.Is(err, verify.ErrHashVerificationFail); got != tc.hashFail {
				t.Errorf("errors.Is(err, verify.ErrHashVerificationFail) = %v, want %v (err: %v)", got, tc.hashFail, err)
			}
		})
	}
	t.Run("attestation key", func(t *testing.T) {
		bad := bytes.Clone(raw)
		bad[offAttestKey+63] ^= 0x01
		if err := verify.TdxQuote(parseQuote(t, bad), offline(t, s.RootPool(), checkAt)); err == nil {
			t.Fatal("go-tdx-guest accepted a quote with a changed attestation key")
		}
	})
	t.Run("PCK chain", func(t *testing.T) {
		bad := bytes.Clone(raw)
		// Inside the PCK certificate's base64, past the PEM header line.
		bad[offPCKChain+200] ^= 0x01
		q, err := abi.QuoteToProto(bad)
		if err != nil {
			return // refused already at parsing
		}
		if err := verify.TdxQuote(q, offline(t, s.RootPool(), checkAt)); err == nil {
			t.Fatal("go-tdx-guest accepted a quote with a changed PCK certificate")
		}
	})
}

// TestQEReportBindingChecked makes a QE report that the PCK key signs
// correctly but whose report data does not bind the attestation key: only
// go-tdx-guest's hash check can catch it.
func TestQEReportBindingChecked(t *testing.T) {
	s := newSim(t, InitOptions{})
	raw, err := s.quote(reportData("x"), TDOptions{}, quoteHooks{qeReport: func(r *pb.EnclaveReport) { r.ReportData[40] = 1 }})
	if err != nil {
		t.Fatal(err)
	}
	err = verify.TdxQuote(parseQuote(t, raw), offline(t, s.RootPool(), checkAt))
	if err == nil {
		t.Fatal("go-tdx-guest accepted a QE report that does not bind the attestation key")
	}
	if errors.Is(err, verify.ErrHashVerificationFail) {
		t.Errorf("refused at the quote signature, want the QE report data check: %v", err)
	}
}

// TestQuoteLayout checks the quote against Intel's format directly,
// independently of go-tdx-guest's verifier.
func TestQuoteLayout(t *testing.T) {
	s := newSim(t, InitOptions{})
	raw := mustQuote(t, s, reportData("layout"), TDOptions{})
	q := parseQuote(t, raw)

	h := q.GetHeader()
	if h.GetVersion() != 4 || h.GetAttestationKeyType() != 2 || h.GetTeeType() != 0x81 {
		t.Errorf("header version %d, key type %d, TEE type %#x", h.GetVersion(), h.GetAttestationKeyType(), h.GetTeeType())
	}
	if binary.LittleEndian.Uint16(h.GetPceSvn()) != s.p.pcesvn || binary.LittleEndian.Uint16(h.GetQeSvn()) != s.p.qe.isvSVN {
		t.Errorf("header PCESVN %x, QESVN %x", h.GetPceSvn(), h.GetQeSvn())
	}
	if !bytes.Equal(h.GetQeVendorId(), intelQEVendorID) {
		t.Errorf("QE vendor ID %x", h.GetQeVendorId())
	}
	if q.GetExtraBytes() != nil {
		t.Errorf("%d bytes after the signed data", len(q.GetExtraBytes()))
	}
	if int(q.GetSignedDataSize()) != len(raw)-offSignature {
		t.Errorf("signed data size %d, quote has %d", q.GetSignedDataSize(), len(raw)-offSignature)
	}

	sd := q.GetSignedData()
	cd := sd.GetCertificationData()
	if cd.GetCertificateDataType() != 6 || cd.GetQeReportCertificationData().GetPckCertificateChainData().GetCertificateDataType() != 5 {
		t.Errorf("certification data type %d, PCK chain type %d; want 6 and 5",
			cd.GetCertificateDataType(), cd.GetQeReportCertificationData().GetPckCertificateChainData().GetCertificateDataType())
	}
	qecd := cd.GetQeReportCertificationData()
	want := sha256.Sum256(append(bytes.Clone(sd.GetEcdsaAttestationKey()), qecd.GetQeAuthData().GetData()...))
	if !bytes.Equal(qecd.GetQeReport().GetReportData(), append(want[:], make([]byte, 32)...)) {
		t.Error("QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ zeros")
	}

	certs, err := parseChain(qecd.GetPckCertificateChainData().GetPckCertChain())
	if err != nil || len(certs) != 3 {
		t.Fatalf("PCK chain: %d certificates, %v", len(certs), err)
	}
	for i, cn := range []string{cnPCK, cnPlatformCA, cnRoot} {
		c := certs[i]
		parent := certs[min(i+1, 2)]
		if c.Subject.CommonName != cn || c.Version != 3 || c.SignatureAlgorithm != x509.ECDSAWithSHA256 ||
			c.PublicKeyAlgorithm != x509.ECDSA || c.Issuer.String() != parent.Subject.String() {
			t.Errorf("certificate %d: CN %q, v%d, %v, %v, issuer %q", i, c.Subject.CommonName, c.Version,
				c.SignatureAlgorithm, c.PublicKeyAlgorithm, c.Issuer)
		}
	}
	if n := len(certs[0].Extensions); n != 6 {
		t.Errorf("PCK certificate has %d extensions, want 6", n)
	}
	ext, err := pcs.PckCertificateExtensions(certs[0])
	if err != nil {
		t.Fatalf("pcs.PckCertificateExtensions: %v", err)
	}
	m := s.Manifest()
	if ext.FMSPC != m.FMSPC || ext.PCEID != m.PCEID || ext.TCB.PCESvn != m.PCESVN || len(ext.PPID) != 32 {
		t.Errorf("SGX extension FMSPC %s PCEID %s PCESVN %d PPID %s; manifest %s %s %d",
			ext.FMSPC, ext.PCEID, ext.TCB.PCESvn, ext.PPID, m.FMSPC, m.PCEID, m.PCESVN)
	}
	if !bytes.Equal(ext.TCB.CPUSvn, qecd.GetQeReport().GetCpuSvn()) {
		t.Error("QE report CPUSVN differs from the PCK certificate's")
	}
}

func TestQuotesAreIndependent(t *testing.T) {
	s := newSim(t, InitOptions{})
	a := mustQuote(t, s, reportData("a"), TDOptions{})
	b := mustQuote(t, s, reportData("a"), TDOptions{})
	// Same input: the bodies match, the randomised signatures differ.
	if !bytes.Equal(a[:offSignature], b[:offSignature]) {
		t.Error("header or TD body differ between two quotes over the same input")
	}
	if bytes.Equal(a[offSignature:offAttestKey], b[offSignature:offAttestKey]) {
		t.Error("two quotes have the same ECDSA signature")
	}
}

func TestQuoteConcurrent(t *testing.T) {
	s := newSim(t, InitOptions{})
	g := s.Getter()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			rd := reportData(string(rune('a' + i)))
			raw, err := s.Quote(rd, TDOptions{})
			if err == nil {
				_, _, err = g.Get(pcs.QeIdentityURL())
			}
			var q any
			if err == nil {
				q, err = abi.QuoteToProto(raw)
			}
			if err == nil {
				// offline and parseQuote may call t.Fatal, which only the
				// test goroutine may do.
				err = verify.TdxQuote(q, &verify.Options{TrustedRoots: s.RootPool(), Now: timeSet(checkAt)})
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
