package prover

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"

	"github.com/latencyproof/poc/internal/maa"
	"github.com/latencyproof/poc/internal/maasim"
	"github.com/latencyproof/poc/internal/simtee"
	vmaa "github.com/latencyproof/poc/verifier/maa"
)

func TestSimAttest(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := simtee.Init(t.TempDir()+"/sim", simtee.InitOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], "report data of a proof body")
	att, err := (&Sim{TEEHierarchy: s}).Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	q, err := abi.QuoteToProto(att.Quote)
	if err != nil {
		t.Fatal(err)
	}
	// go-tdx-guest's own verification accepts it with the sim root trusted.
	at := now.Add(time.Hour)
	opts := &verify.Options{TrustedRoots: s.RootPool(), Now: &verify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at}}
	if err := verify.TdxQuote(q, opts); err != nil {
		t.Fatalf("verification with the sim root: %v", err)
	}
	if got := q.(*pb.QuoteV4).GetTdQuoteBody().GetReportData(); string(got) != string(rd[:]) {
		t.Fatal("report data not bound")
	}
	if _, err := (&Sim{}).Attest(context.Background(), rd); !errors.Is(err, ErrNoTEE) {
		t.Fatalf("no hierarchy: err = %v", err)
	}
}

// With an MAA service the simulated TEE gets a token for the same TD whose
// runtime user-data is the report data: what a verifier's MAA stage checks.
func TestSimAttestWithMAA(t *testing.T) {
	now := time.Now()
	s, err := simtee.Init(t.TempDir()+"/sim", simtee.InitOptions{Now: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := maasim.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := maasim.Start(maasim.Config{Key: key, Quotes: maasim.DCAPVerifier{Roots: s.RootPool()}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var rd [64]byte
	copy(rd[:], "a proof body's report data")
	att, err := (&Sim{TEEHierarchy: s, MAAEndpoint: svc.URL(), MAA: &maa.Client{HTTPClient: svc.Client()}}).Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vmaa.NewFetcher(svc.URL(), vmaa.FetcherOptions{Client: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := vmaa.Verify(context.Background(), []byte(att.MAAToken), vmaa.Options{Keys: keys, UserData: rd[:]}, vmaa.Policy{Issuer: svc.URL()})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := abi.QuoteToProto(att.Quote)
	if res.TDX == nil || res.TDX.MRTD.String() != hex.EncodeToString(q.(*pb.QuoteV4).GetTdQuoteBody().GetMrTd()) {
		t.Fatal("the token does not vouch for the proof quote's TD")
	}
}
