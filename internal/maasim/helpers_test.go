package maasim

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/testing/testdata"
	"github.com/google/go-tdx-guest/verify"
)

// dcapTime is inside every certificate's validity in both real quotes
// (PCK leaves valid to 2029 and 2030).
var dcapTime = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// azureQuote and azureRuntime are the real Azure TD quote and the HCL
// runtime JSON bound into its REPORTDATA.
func azureQuote(t testing.TB) []byte { return readFile(t, "trustee_az-tdx-vtpm_td-quote.bin") }

func azureRuntime(t testing.TB) []byte {
	t.Helper()
	hcl := readFile(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	const sizeAt, dataAt = 0x4D0, 0x4D4
	n := int(binary.LittleEndian.Uint32(hcl[sizeAt:]))
	if dataAt+n > len(hcl) {
		t.Fatalf("HCL report var data of %d bytes overflows", n)
	}
	return hcl[dataAt : dataAt+n]
}

// intelRoots trusts the Intel SGX Root CA, taken from the test quote's own
// certification data: an explicit, test-only choice (go-tdx-guest does not
// export its embedded root).
func intelRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	q, err := parseQuote(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := verify.ExtractChainFromQuote(q)
	if err != nil {
		t.Fatal(err)
	}
	root := chain.RootCertificate
	if root.Subject.CommonName != "Intel SGX Root CA" {
		t.Fatalf("root %v", root.Subject)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool
}

func dcap(t testing.TB) DCAPVerifier {
	return DCAPVerifier{Roots: intelRoots(t), Now: func() time.Time { return dcapTime }}
}

var (
	keyOnce sync.Once
	keyVal  *Key
	keyErr  error
)

// testKey is generated once per test binary.
func testKey(t testing.TB) *Key {
	t.Helper()
	keyOnce.Do(func() { keyVal, keyErr = GenerateKey() })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return keyVal
}

// parseOnly is a QuoteVerifier that parses but does not check signatures:
// it stands in for a DCAP hierarchy whose quotes can carry any REPORTDATA.
type parseOnly struct{}

func (parseOnly) VerifyQuote(_ context.Context, quote []byte) (*QuoteBody, error) {
	q, err := parseQuote(quote)
	if err != nil {
		return nil, err
	}
	return bodyOf(q), nil
}

// withReportData returns a copy of the test quote with REPORTDATA
// replaced (its signature no longer verifies: for parseOnly only).
func withReportData(t testing.TB, rd []byte) []byte {
	t.Helper()
	const reportDataOffset = 48 + 520 // header + TD body up to REPORTDATA
	q := append([]byte(nil), testdata.RawQuote...)
	copy(q[reportDataOffset:reportDataOffset+64], rd)
	b, err := parseOnly{}.VerifyQuote(context.Background(), q)
	if err != nil || string(b.ReportData) != string(rd) {
		t.Fatalf("report data offset wrong: %v", err)
	}
	return q
}

func startService(t testing.TB, cfg Config) *Service {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testKey(t)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
