package prover

import (
	"context"
	"errors"
	"fmt"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/simtee"
)

// Sim attests with the simulated TEE of package simtee: real-format TDX v4
// quotes signed by a local hierarchy that verifiers refuse unless its root is
// trusted by explicit choice. For development, tests and the lab.
type Sim struct {
	TEEHierarchy *simtee.Sim
	// TD sets the simulated TD's measurements; the zero value takes the
	// simulator's defaults.
	TD simtee.TDOptions
}

// TEE returns evidence.TEESim.
func (*Sim) TEE() string { return evidence.TEESim }

// Attest signs a quote whose REPORTDATA is reportData.
func (s *Sim) Attest(ctx context.Context, reportData [evidence.ReportDataSize]byte) (*evidence.Attestation, error) {
	if s.TEEHierarchy == nil {
		return nil, fmt.Errorf("%w: no simulated TEE loaded", ErrNoTEE)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	quote, err := s.TEEHierarchy.Quote(reportData, s.TD)
	if err != nil {
		return nil, errors.Join(ErrNoTEE, err)
	}
	if err := quoteBinds(quote, reportData[:]); err != nil {
		return nil, err
	}
	return &evidence.Attestation{TEE: evidence.TEESim, Quote: quote}, nil
}
