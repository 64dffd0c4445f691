package prover

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"

	"github.com/latencyproof/poc/internal/simtee"
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
