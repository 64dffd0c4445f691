package dcap

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVerifyRealQuotes pins the outcome of every real TDX v4 quote that has
// collateral for its FMSPC in testdata. Each expectation was worked out by
// hand from Intel's rules (see the why column) before being asserted.
func TestVerifyRealQuotes(t *testing.T) {
	tests := []struct {
		quote, coll string
		at          time.Time
		status      TCBStatus // when verification succeeds
		advisories  []string
		stage       string // when it fails
		err         error
		policyOK    bool // default policy
		why         string
	}{
		{
			quote: "dcap-qvl_tdx_quote.v4.dat", coll: collB0C0, at: at2025jun,
			status: StatusUpToDate, policyOK: true,
			why: "PCK SGX SVNs 3,3,2,2,4,1,0,5 and PCESVN 11 meet level 0 (2,2,2,2,3,1,0,5 / 11); TEE_TCB_SVN[2]=3 >= 2; module TDX_01 SVN 6 >= 4 UpToDate; QE SVN 6 >= 4",
		},
		{
			quote: "go-tdx-guest_cos-113-gcp.v4.dat", coll: coll0080, at: at2025oct,
			status: StatusUpToDate, policyOK: true,
			why: "PCK 7,7,2,2,3,1,0,3 / 11 meets level 0 exactly; TEE_TCB_SVN[2]=7 >= 7; TDX_01 SVN 4 >= 4 UpToDate; QE SVN 6",
		},
		{
			quote: "teekit_tdx-v4-azure.v4.bin", coll: coll0080, at: at2025oct,
			status: StatusUpToDate, policyOK: true,
			why: "same platform SVNs as the GCP quote on this (tcbEvaluationDataNumber 17) collateral; SEPT_VE_DISABLE is 0, which the default policy allows",
		},
		{
			quote: "teekit_tdx-v4-zkdcap.v4.dat", coll: coll0080, at: at2025oct,
			status: StatusOutOfDate, advisories: []string{"INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"},
			why: "PCK SGX component 0 is 6 < 7 of level 0, so level 1 (6,6,… / 11, 2023-08-09) OutOfDate; module and QE UpToDate do not change it",
		},
		{
			quote: "trustee_tdx_quote_6.dat", coll: collA06D, at: at2025nov,
			status: StatusOutOfDate, advisories: []string{},
			why: "PCK PCESVN 11 < 13 of level 0, so level 1 (PCESVN 5, 2018-01-04) OutOfDate, which lists no advisories; TDX_03 SVN 5 >= 3 UpToDate",
		},
		{
			quote: "trustee_tdx_quote_4.dat", coll: coll5080, at: at2023,
			status: StatusUpToDate, policyOK: false,
			why: "PCK 5,5,13,2,3,1,0,3 / 11 and TEE_TCB_SVN 3,0,5 (module version 0: all 16 compared) meet level 0; but TD_ATTRIBUTES.DEBUG=1",
		},
		{
			quote: "go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat", coll: coll5080, at: at2023,
			stage: StageTCB, err: ErrTCBLevelNotFound,
			why: "PCK SGX components 4 and 7 are 2 < 3 in both levels (and TEE_TCB_SVN[2]=4 < 5): Intel's TCB_NOT_SUPPORTED",
		},
		{
			quote: "dcap-qvl_quote-from-tappd.v4.hex", coll: collB0C0, at: at2025jun,
			stage: StageTCB, err: ErrTCBLevelNotFound,
			why: "PCK SGX component 7 (SEAMLDR) is 3 < 5 in both levels",
		},
		{
			quote: "dcap-qvl_tdx-quote.v4.hex", coll: collB0C0, at: at2025jun,
			stage: StageTCB, err: ErrTCBLevelNotFound,
			why: "same platform as the tappd quote",
		},
		{
			quote: "teekit_tdx-v4-moemahhouk.v4.dat", coll: coll90C0, at: at2026,
			stage: StageTCB, err: ErrTCBLevelNotFound,
			why: "PCK SGX component 7 is 3 < 5 in all three levels",
		},
		{
			quote: "teekit_tdx-v4-moemahhouk.v4.dat", coll: coll90C0gt, at: at2026,
			stage: StageTCB, err: ErrTCBLevelNotFound,
			why: "go-tdx-guest's 2026 TCB info has the same levels",
		},
	}
	for _, tc := range tests {
		t.Run(tc.quote+"/"+tc.coll, func(t *testing.T) {
			res, err := Verify(context.Background(), quoteBytes(t, tc.quote), Options{Collateral: bundle(t, tc.coll), At: tc.at})
			if tc.err != nil {
				var se *StageError
				if !errors.As(err, &se) || se.Stage != tc.stage || !errors.Is(err, tc.err) || res != nil {
					t.Fatalf("Verify = %v; want stage %s, %v (%s)", err, tc.stage, tc.err, tc.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v (%s)", err, tc.why)
			}
			if !res.Verified || res.TCBStatus != tc.status {
				t.Fatalf("status %s, want %s (%s)", res.TCBStatus, tc.status, tc.why)
			}
			if tc.advisories != nil && !slices.Equal(res.AdvisoryIDs, tc.advisories) {
				t.Errorf("advisories %v, want %v", res.AdvisoryIDs, tc.advisories)
			}
			if err := (&Policy{}).Check(res); (err == nil) != tc.policyOK {
				t.Errorf("default policy: %v, want ok=%v (%s)", err, tc.policyOK, tc.why)
			}
		})
	}
}

func TestVerifyResultFields(t *testing.T) {
	res, err := Verify(context.Background(), quoteBytes(t, "teekit_tdx-v4-azure.v4.bin"), Options{Collateral: bundle(t, coll0080), At: at2025oct})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.MRTD, "fe27b2aa") || len(res.MRTD) != 96 {
		t.Errorf("MRTD %s", res.MRTD)
	}
	if len(res.ReportData) != 128 || res.ReportData != hex.EncodeToString(func() []byte { b := res.ReportDataBytes(); return b[:] }()) {
		t.Errorf("ReportData %s", res.ReportData)
	}
	for i, r := range res.RTMRs {
		if len(r) != 96 {
			t.Errorf("RTMR%d %s", i, r)
		}
	}
	if res.TDAttributes.Debug || res.TDAttributes.SEPTVEDisable || res.TDAttributes.Hex != "0000000000000000" {
		t.Errorf("TD attributes %+v", res.TDAttributes)
	}
	if res.QuoteVersion != 4 || res.TEEType != "TDX" || res.FMSPC != "00806f050000" || res.PCKCA != "platform" {
		t.Errorf("header fields %d %s %s %s", res.QuoteVersion, res.TEEType, res.FMSPC, res.PCKCA)
	}
	if res.QESVN != 6 || res.PCESVN != 11 || res.TEETCBSVN != "04010700000000000000000000000000" {
		t.Errorf("SVNs %d %d %s", res.QESVN, res.PCESVN, res.TEETCBSVN)
	}
	if res.MRSERVICETD != "" || res.MRSIGNERSEAM != strings.Repeat("0", 96) || res.SEAMAttributes != strings.Repeat("0", 16) {
		t.Errorf("module fields %q %s %s", res.MRSERVICETD, res.MRSIGNERSEAM, res.SEAMAttributes)
	}
	if res.Collateral.TCBEvaluationDataNumber != 17 || !res.Collateral.TCBInfoNextUpdate.Equal(time.Date(2025, 11, 18, 17, 48, 50, 0, time.UTC)) {
		t.Errorf("collateral %+v", res.Collateral)
	}
	if !strings.Contains(res.PCKCertificate.Subject, "Intel SGX PCK Certificate") || res.PCKCertificate.Serial == "" {
		t.Errorf("PCK %+v", res.PCKCertificate)
	}
	if res.TCB.Module == nil || res.TCB.Module.ID != "TDX_01" || !res.VerifiedAt.Equal(at2025oct) {
		t.Errorf("TCB %+v at %s", res.TCB, res.VerifiedAt)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["tcb_status"] != "UpToDate" || back["mr_servicetd"] != nil {
		t.Errorf("JSON %s", b)
	}
}

// failingSource and nilSource are test Sources.
type failingSource struct{ err error }

func (s failingSource) Collateral(context.Context, [6]byte, string) (*Collateral, error) {
	return nil, s.err
}

type nilSource struct{}

func (nilSource) Collateral(context.Context, [6]byte, string) (*Collateral, error) { return nil, nil }

// modCollateral returns the named collateral with JSON fields replaced.
func modCollateral(t *testing.T, name string, edit func(m map[string]string)) Bundle {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(readTestdata(t, "collateral", name), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ := json.Marshal(m)
	c, err := ParseCollateral(b)
	if err != nil {
		t.Fatalf("edited collateral does not parse: %v", err)
	}
	return Bundle{Fixed: c}
}

func fields(t *testing.T, name string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(readTestdata(t, "collateral", name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVerifyRefusesBadCollateral(t *testing.T) {
	azure := quoteBytes(t, "teekit_tdx-v4-azure.v4.bin")
	dcapqvl := quoteBytes(t, "dcap-qvl_tdx_quote.v4.dat")
	sgx := fields(t, collSGX)
	other := fields(t, collA06D)
	tests := []struct {
		name  string
		quote []byte
		opts  Options
		stage string
		want  error
	}{
		{"no collateral source", azure, Options{At: at2025oct}, StageCollateral, ErrCouldNotCheck},
		{"source outage", azure, Options{Collateral: failingSource{errors.New("connection refused")}, At: at2025oct}, StageCollateral, ErrCouldNotCheck},
		{"source returns nothing", azure, Options{Collateral: nilSource{}, At: at2025oct}, StageCollateral, ErrCouldNotCheck},
		{"collateral of another FMSPC", dcapqvl, Options{Collateral: bundle(t, coll0080), At: at2025oct}, StageCollateral, ErrFMSPCMismatch},
		{"collateral of another FMSPC (2)", azure, Options{Collateral: bundle(t, collA06D), At: at2025nov}, StageCollateral, ErrFMSPCMismatch},
		{"collateral expired", azure, Options{Collateral: bundle(t, coll0080), At: time.Date(2025, 11, 13, 0, 0, 0, 0, time.UTC)}, StageCollateral, ErrCollateralExpired},
		{"collateral long expired", azure, Options{Collateral: bundle(t, coll0080), At: atLate}, StageCollateral, ErrCollateralExpired},
		{"collateral from the future", azure, Options{Collateral: bundle(t, coll0080), At: time.Date(2025, 10, 19, 17, 0, 0, 0, time.UTC)}, StageCollateral, ErrCollateralNotYetValid},
		{"collateral from the future (CRL)", dcapqvl, Options{Collateral: bundle(t, collB0C0), At: time.Date(2025, 6, 19, 10, 20, 0, 0, time.UTC)}, StageCollateral, ErrCollateralNotYetValid},
		{"tampered TCB info", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["tcb_info"] = strings.Replace(m["tcb_info"], `"pcesvn":11`, `"pcesvn":10`, 1)
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"tampered TCB info signature", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["tcb_info_signature"] = m["qe_identity_signature"]
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"tampered QE identity", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["qe_identity"] = strings.Replace(m["qe_identity"], `"isvsvn":4`, `"isvsvn":3`, 1)
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"TCB info signed by the PCK CRL chain", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["tcb_info_issuer_chain"] = m["pck_crl_issuer_chain"]
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"root CA CRL replaced by PCK CRL", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["root_ca_crl"] = m["pck_crl"]
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"PCK CRL replaced by root CA CRL", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["pck_crl"] = m["root_ca_crl"]
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"issuer chain without the root", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			first := strings.SplitAfter(m["qe_identity_issuer_chain"], "-----END CERTIFICATE-----")[0]
			m["qe_identity_issuer_chain"] = first + "\n" + first
		}), At: at2025oct}, StageCollateral, ErrCollateralSignature},
		{"QE identity of the SGX QE (id QE)", dcapqvl, Options{Collateral: modCollateral(t, collB0C0, func(m map[string]string) {
			m["qe_identity"], m["qe_identity_signature"], m["qe_identity_issuer_chain"] = sgx["qe_identity"], sgx["qe_identity_signature"], sgx["qe_identity_issuer_chain"]
		}), At: at2025jun}, StageCollateral, ErrQEIdentity},
		{"SGX TCB info", dcapqvl, Options{Collateral: modCollateral(t, collB0C0, func(m map[string]string) {
			m["tcb_info"], m["tcb_info_signature"], m["tcb_info_issuer_chain"] = sgx["tcb_info"], sgx["tcb_info_signature"], sgx["tcb_info_issuer_chain"]
		}), At: at2025jun}, StageCollateral, ErrTCBInfoMismatch},
		{"TCB info of another FMSPC, validly signed", azure, Options{Collateral: modCollateral(t, coll0080, func(m map[string]string) {
			m["tcb_info"], m["tcb_info_signature"] = other["tcb_info"], other["tcb_info_signature"]
		}), At: at2025nov}, StageCollateral, ErrFMSPCMismatch},
		{"PCK chain not yet valid", azure, Options{Collateral: bundle(t, coll0080), At: atNever}, StagePCKChain, ErrPCKChain},
		{"untrusted root", azure, Options{Collateral: bundle(t, coll0080), At: at2025oct, Roots: []*x509.Certificate{newFakeDCAP(t, defaultFakeConfig()).root}}, StagePCKChain, ErrPCKChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(t.Context(), tc.quote, tc.opts)
			var se *StageError
			if res != nil || !errors.As(err, &se) || se.Stage != tc.stage || !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want stage %s, %v", res != nil, err, tc.stage, tc.want)
			}
		})
	}
}

// quoteRegions locates the regions of a real v4 quote.
type quoteRegion struct {
	name  string
	off   int
	stage string
	want  error
}

func quoteRegions(t *testing.T, raw []byte) []quoteRegion {
	qeCD := sigDataOff + 128 + 6
	authLen := int(binary.LittleEndian.Uint16(raw[qeCD+448:]))
	return []quoteRegion{
		{"header version", 0, StageParse, ErrUnsupportedVersion},
		{"header TEE type", 4, StageParse, ErrNotTDX},
		{"header QE vendor ID", 12, StageQuoteSignature, ErrQuoteSignature},
		{"header user data", 30, StageQuoteSignature, ErrQuoteSignature},
		{"body TEE_TCB_SVN", headerSize, StageQuoteSignature, ErrQuoteSignature},
		{"body TD_ATTRIBUTES", headerSize + bodyTDAttrs, StageQuoteSignature, ErrQuoteSignature},
		{"body MRTD", headerSize + bodyMRTD + 5, StageQuoteSignature, ErrQuoteSignature},
		{"body RTMR3", headerSize + bodyRTMR0 + 3*48, StageQuoteSignature, ErrQuoteSignature},
		{"body REPORTDATA", headerSize + bodyREPORTDATA + 63, StageQuoteSignature, ErrQuoteSignature},
		{"signed data length", sigDataLenOff, StageParse, ErrMalformedQuote},
		{"quote signature r", sigDataOff, StageQuoteSignature, ErrQuoteSignature},
		{"quote signature s", sigDataOff + 63, StageQuoteSignature, ErrQuoteSignature},
		{"attestation key", sigDataOff + 64 + 10, StageQuoteSignature, ErrQuoteSignature},
		{"certification data type", sigDataOff + 128, StageParse, ErrMalformedQuote},
		{"QE report CPUSVN", qeCD, StageQEReport, ErrQEReport},
		{"QE report MRSIGNER", qeCD + 128, StageQEReport, ErrQEReport},
		{"QE report ISVSVN", qeCD + 258, StageQEReport, ErrQEReport},
		{"QE report data", qeCD + 320, StageQEReport, ErrQEReport},
		{"QE report signature", qeCD + 384 + 1, StageQEReport, ErrQEReport},
		{"QE auth data length", qeCD + 448, StageParse, ErrMalformedQuote},
		{"QE auth data", qeCD + 450 + authLen/2, StageQEReport, ErrQEReport},
		{"PCK chain data type", qeCD + 450 + authLen, StageParse, ErrMalformedQuote},
		{"PCK chain PEM armour", qeCD + 450 + authLen + 6 + 3, StageParse, ErrMalformedQuote},
	}
}

// flipDERSignature flips the last byte of the DER signature of PCK chain
// certificate i, keeping its PEM length, so the chain still parses.
func flipDERSignature(t *testing.T, raw []byte, i int) []byte {
	q, err := ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := q.PCKChain[i]
	der := bytes.Clone(c.Raw)
	der[len(der)-1] ^= 0x01
	oldPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	newPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	idx := bytes.Index(raw, oldPEM)
	if idx < 0 || len(oldPEM) != len(newPEM) {
		t.Fatalf("certificate %d PEM not found in quote", i)
	}
	out := bytes.Clone(raw)
	copy(out[idx:], newPEM)
	return out
}

func TestVerifyByteFlipsByRegion(t *testing.T) {
	raw := quoteBytes(t, "teekit_tdx-v4-azure.v4.bin")
	opts := Options{Collateral: bundle(t, coll0080), At: at2025oct}
	if _, err := Verify(t.Context(), raw, opts); err != nil {
		t.Fatal(err)
	}
	type flip struct {
		name  string
		quote []byte
		stage string
		want  error
	}
	var flips []flip
	for _, r := range quoteRegions(t, raw) {
		b := bytes.Clone(raw)
		b[r.off] ^= 0x01
		flips = append(flips, flip{r.name, b, r.stage, r.want})
	}
	flips = append(flips,
		flip{"PCK leaf signature", flipDERSignature(t, raw, 0), StagePCKChain, ErrPCKChain},
		flip{"PCK CA signature", flipDERSignature(t, raw, 1), StagePCKChain, ErrPCKChain},
		flip{"root signature", flipDERSignature(t, raw, 2), StagePCKChain, ErrPCKChain},
	)
	for _, f := range flips {
		t.Run(f.name, func(t *testing.T) {
			res, err := Verify(t.Context(), f.quote, opts)
			var se *StageError
			if res != nil || !errors.As(err, &se) || se.Stage != f.stage || !errors.Is(err, f.want) {
				t.Fatalf("Verify = %v, %v; want stage %s, %v", res != nil, err, f.stage, f.want)
			}
		})
	}
}

// TestVerifyEveryByteFlip flips one bit in every byte of a real quote. Each
// must be refused, except flips of base64 padding bits in the PEM chain,
// which PEM decoding ignores: those must verify to the very same result.
func TestVerifyEveryByteFlip(t *testing.T) {
	raw := quoteBytes(t, "dcap-qvl_tdx_quote.v4.dat")
	opts := Options{Collateral: bundle(t, collB0C0), At: at2025jun}
	want, err := Verify(t.Context(), raw, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	step := 1
	if testing.Short() {
		step = 13
	}
	q, err := ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	chainStart := len(raw) - len(q.PCKChainPEM)
	for i := 0; i < len(raw); i += step {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		res, err := Verify(t.Context(), b, opts)
		if err == nil {
			got, _ := json.Marshal(res)
			fq, _ := ParseQuote(b)
			same := i >= chainStart && fq != nil && bytes.Equal(got, wantJSON)
			for j := range 3 {
				same = same && bytes.Equal(fq.PCKChain[j].Raw, q.PCKChain[j].Raw)
			}
			if !same {
				t.Fatalf("flip at %d verified", i)
			}
			continue
		}
		var se *StageError
		if !errors.As(err, &se) {
			t.Fatalf("flip at %d: untyped error %v", i, err)
		}
	}
}

func TestVerifyCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	src := &PCS{Get: func(ctx context.Context, _ string) (http.Header, []byte, error) { return nil, nil, ctx.Err() }}
	_, err := Verify(ctx, quoteBytes(t, "teekit_tdx-v4-azure.v4.bin"), Options{Collateral: src, At: at2025oct})
	if !errors.Is(err, ErrCouldNotCheck) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify = %v", err)
	}
}

func TestVerifyDoesNotTouchTheClockWhenAtIsSet(t *testing.T) {
	raw := quoteBytes(t, "teekit_tdx-v4-azure.v4.bin")
	called := false
	_, err := Verify(t.Context(), raw, Options{Collateral: bundle(t, coll0080), At: at2025oct, Now: func() time.Time { called = true; return atLate }})
	if err != nil || called {
		t.Errorf("err %v, Now called %v", err, called)
	}
	res, err := Verify(t.Context(), raw, Options{Collateral: bundle(t, coll0080), Now: func() time.Time { return at2025oct }})
	if err != nil || !res.VerifiedAt.Equal(at2025oct) {
		t.Errorf("with Now: %v", err)
	}
}

// TestVerifyConcurrent shares one collateral (and the package's CA
// certificate cache) between goroutines; run with -race.
func TestVerifyConcurrent(t *testing.T) {
	opts := Options{Collateral: bundle(t, coll0080), At: at2025oct}
	quotes := [][]byte{quoteBytes(t, "teekit_tdx-v4-azure.v4.bin"), quoteBytes(t, "go-tdx-guest_cos-113-gcp.v4.dat")}
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := Verify(context.Background(), quotes[i%2], opts)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
