package prover

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/testing/testdata"
)

// fixedProvider answers every request with the same quote, as a broken or
// hostile quote service would.
type fixedProvider struct{ quote []byte }

func (f fixedProvider) IsSupported() error { return nil }
func (f fixedProvider) GetRawQuote([64]byte) ([]uint8, error) {
	return f.quote, nil
}

func TestTDXAttest(t *testing.T) {
	q, err := abi.QuoteToProto(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	copy(rd[:], q.(*pb.QuoteV4).GetTdQuoteBody().GetReportData())
	a := &TDX{Provider: fixedProvider{testdata.RawQuote}}
	att, err := a.Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if att.TEE != "tdx" || len(att.Quote) != len(testdata.RawQuote) {
		t.Fatalf("attestation %+v", att.TEE)
	}
	// A quote service that ignores the report data is caught.
	rd[0] ^= 1
	if _, err := a.Attest(context.Background(), rd); !errors.Is(err, ErrAttestation) {
		t.Fatalf("err = %v, want ErrAttestation", err)
	}
	// Garbage from the service is caught too.
	bad := &TDX{Provider: fixedProvider{[]byte{1, 2, 3}}}
	if _, err := bad.Attest(context.Background(), rd); !errors.Is(err, ErrAttestation) {
		t.Fatalf("err = %v, want ErrAttestation", err)
	}
}
