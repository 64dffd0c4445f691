package simtee

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

// pinned is when every test's simulated TEE is made; checkAt is when its
// quotes are verified (inside every validity window).
var (
	pinned  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	checkAt = pinned.Add(time.Hour)
)

// newSim makes a simulated TEE in a fresh temporary directory, at pinned
// unless opts says otherwise.
func newSim(t testing.TB, opts InitOptions) *Sim {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = pinned
	}
	s, err := Init(filepath.Join(t.TempDir(), "sim"), opts)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return s
}

func timeSet(at time.Time) *verify.TimeSet {
	return &verify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at}
}

// offline returns go-tdx-guest options that check signatures and chains
// only. roots must never be nil: go-tdx-guest would then trust Intel's
// embedded root and print a warning to stdout.
func offline(t testing.TB, roots *x509.CertPool, at time.Time) *verify.Options {
	t.Helper()
	if roots == nil {
		t.Fatal("TrustedRoots must never be nil")
	}
	return &verify.Options{TrustedRoots: roots, Now: timeSet(at)}
}

// withCollateral adds go-tdx-guest's full collateral path, fed by s's
// replay getter, with revocation checks.
func withCollateral(t testing.TB, s *Sim, roots *x509.CertPool, at time.Time) *verify.Options {
	t.Helper()
	o := offline(t, roots, at)
	o.GetCollateral = true
	o.CheckRevocations = true
	o.Getter = s.Getter()
	return o
}

func parseQuote(t testing.TB, raw []byte) *pb.QuoteV4 {
	t.Helper()
	q, err := abi.QuoteToProto(raw)
	if err != nil {
		t.Fatalf("abi.QuoteToProto: %v", err)
	}
	v4, ok := q.(*pb.QuoteV4)
	if !ok {
		t.Fatalf("abi.QuoteToProto returned %T", q)
	}
	return v4
}

func mustQuote(t testing.TB, s *Sim, rd [64]byte, td TDOptions) []byte {
	t.Helper()
	raw, err := s.Quote(rd, td)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	return raw
}

func intelRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "trusted_root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("testdata/trusted_root.pem holds no certificate")
	}
	return pool
}

func reportData(label string) [64]byte {
	var rd [64]byte
	copy(rd[:], label)
	rd[63] = 0x5a
	return rd
}
