package prover

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/go-tdx-guest/client"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/quoteabi"
)

// Attester binds 64 bytes of report data to the TEE the prover runs on.
type Attester interface {
	// TEE names the attestation source: evidence.TEETDX, TEEAzureTDX or
	// TEESim.
	TEE() string
	// Attest returns the evidence that binds reportData.
	Attest(ctx context.Context, reportData [evidence.ReportDataSize]byte) (*evidence.Attestation, error)
}

// Errors of attestation.
var (
	// ErrNoTEE: the machine offers no way to get a quote of this kind.
	ErrNoTEE = errors.New("prover: TEE not available")
	// ErrAttestation: the TEE answered with evidence that does not bind
	// the report data (a broken or hostile quote service).
	ErrAttestation = errors.New("prover: attestation does not bind the report data")
)

// TDX attests on vanilla TDX through go-tdx-guest's client.
type TDX struct {
	// Provider gets quotes; nil means go-tdx-guest's default (configfs-tsm,
	// falling back to the TDX guest device).
	Provider client.QuoteProvider
}

// TEE returns evidence.TEETDX.
func (*TDX) TEE() string { return evidence.TEETDX }

// Attest gets a TD quote whose REPORTDATA is reportData, and checks that it
// is: a quote service that answers with another report data is refused here
// rather than by the verifier.
func (t *TDX) Attest(ctx context.Context, reportData [evidence.ReportDataSize]byte) (*evidence.Attestation, error) {
	qp := t.Provider
	if qp == nil {
		p, err := client.GetQuoteProvider()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoTEE, err)
		}
		qp = p
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	quote, err := client.GetRawQuote(qp, reportData)
	if err != nil {
		return nil, fmt.Errorf("%w: getting a TD quote: %v", ErrNoTEE, err)
	}
	if err := quoteBinds(quote, reportData[:]); err != nil {
		return nil, err
	}
	return &evidence.Attestation{TEE: evidence.TEETDX, Quote: quote}, nil
}

// quoteBinds checks that a v4 quote's REPORTDATA equals want.
func quoteBinds(quote, want []byte) error {
	v4, err := quoteabi.Parse(quote)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAttestation, err)
	}
	if got := v4.GetTdQuoteBody().GetReportData(); !bytes.Equal(got, want) {
		return fmt.Errorf("%w: quote REPORTDATA %x, want %x", ErrAttestation, got, want)
	}
	return nil
}
