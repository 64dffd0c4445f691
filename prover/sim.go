package prover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/maa"
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
	// MAAEndpoint, when set, is an MAA-shaped service (the local one of
	// package maasim) asked for a token vouching for this TD with the
	// report data as runtime user-data; MAA is its client.
	MAAEndpoint string
	MAA         *maa.Client
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
	att := &evidence.Attestation{TEE: evidence.TEESim, Quote: quote}
	if s.MAAEndpoint != "" {
		if att.MAAToken, err = s.maaToken(ctx, reportData); err != nil {
			return nil, err
		}
	}
	return att, nil
}

// maaToken asks the MAA service to vouch for this TD with the report data
// as runtime user-data. MAA requires REPORTDATA[0:32] = SHA-256(runtime
// data), which the proof's quote does not have (its REPORTDATA is the report
// data itself), so the TD makes a second quote, as a TD on vanilla TDX can:
// same measurements, REPORTDATA binding the runtime data that carries the
// report data. The verifier checks that the token's MRTD is the proof
// quote's and its user-data the proof's report data.
func (s *Sim) maaToken(ctx context.Context, reportData [evidence.ReportDataSize]byte) (string, error) {
	runtime, err := json.Marshal(map[string]string{"user-data": hex.EncodeToString(reportData[:])})
	if err != nil {
		return "", err
	}
	var rd [evidence.ReportDataSize]byte
	h := sha256.Sum256(runtime)
	copy(rd[:], h[:])
	quote, err := s.TEEHierarchy.Quote(rd, s.TD)
	if err != nil {
		return "", errors.Join(ErrNoTEE, err)
	}
	c := s.MAA
	if c == nil {
		c = &maa.Client{}
	}
	tok, err := c.Attest(ctx, s.MAAEndpoint, maa.Request{Quote: quote, RuntimeData: runtime})
	if err != nil {
		return "", fmt.Errorf("%w: MAA: %w", ErrNoTEE, err)
	}
	return tok, nil
}
