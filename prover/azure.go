package prover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/azure/hcl"
	"github.com/latencyproof/poc/internal/azure/imds"
	"github.com/latencyproof/poc/internal/azure/vtpm"
	"github.com/latencyproof/poc/internal/maa"
	"github.com/latencyproof/poc/internal/quoteabi"
)

// HCLSource produces the HCL report that carries data as its user-data.
type HCLSource interface {
	Report(ctx context.Context, rw io.ReadWriter, data [evidence.ReportDataSize]byte) ([]byte, error)
}

// Azure attests on an Azure TDX confidential VM. The guest cannot set
// REPORTDATA: it writes the report data to vTPM NV index 0x01400002, the
// paravisor's HCL report then carries it as runtime user-data, and IMDS turns
// the HCL report's TDREPORT (whose REPORTDATA[0:32] is SHA-256 of the runtime
// data) into a TD quote. Optionally the vTPM's AK quotes the PCRs with the
// first 32 bytes of the report data as nonce, and MAA vouches for the quote.
type Azure struct {
	// OpenTPM opens the vTPM; nil opens /dev/tpmrm0.
	OpenTPM func() (io.ReadWriteCloser, error)
	// HCL makes the HCL report; nil writes NV 0x01400002 and reads the
	// paravisor's report from NV 0x01400001, retrying while it is stale.
	HCL HCLSource
	// IMDS turns a TDREPORT into a TD quote; nil is Azure's IMDS.
	IMDS imds.Quoter
	// TPMQuote adds a vTPM quote of PCRs (nil: 0-23) by the AK.
	TPMQuote bool
	PCRs     []uint32
	// MAAEndpoint, when set, is the MAA instance asked for a token
	// (e.g. https://sharedweu.weu.attest.azure.net); MAA is its client.
	MAAEndpoint string
	MAA         *maa.Client
	// AKCert reads the AK certificate from NV 0x01C101D0 into the
	// evidence (skipped silently when the index is absent).
	AKCert bool
}

// TEE returns evidence.TEEAzureTDX.
func (*Azure) TEE() string { return evidence.TEEAzureTDX }

// nvHCL is the default HCLSource: Azure's paravisor refreshes the report
// when the user data is written; a report that does not carry the data yet
// is read again a few times.
type nvHCL struct{}

func (nvHCL) Report(ctx context.Context, rw io.ReadWriter, data [evidence.ReportDataSize]byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		r, err := vtpm.ReportWithUserData(rw, data)
		if err == nil || !errors.Is(err, vtpm.ErrStaleReport) || attempt == 4 {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond << attempt):
		}
	}
}

// Attest binds reportData through the vTPM and the paravisor, and gathers
// the evidence a verifier checks: the TD quote, the HCL report, optionally
// the vTPM quote, the AK certificate and an MAA token.
func (a *Azure) Attest(ctx context.Context, reportData [evidence.ReportDataSize]byte) (*evidence.Attestation, error) {
	open := a.OpenTPM
	if open == nil {
		open = openTPM
	}
	rw, err := open()
	if err != nil {
		return nil, fmt.Errorf("%w: opening the vTPM: %v", ErrNoTEE, err)
	}
	defer rw.Close()
	src := a.HCL
	if src == nil {
		src = nvHCL{}
	}
	report, err := src.Report(ctx, rw, reportData)
	if err != nil {
		return nil, fmt.Errorf("%w: getting the HCL report: %w", ErrNoTEE, err)
	}
	parsed, err := hcl.Parse(report)
	if err != nil {
		return nil, fmt.Errorf("%w: the HCL report: %w", ErrAttestation, err)
	}
	if parsed.TD == nil {
		return nil, fmt.Errorf("%w: the HCL report is not a TDX report", ErrAttestation)
	}
	if !bytes.Equal(parsed.Runtime.UserData, reportData[:]) {
		return nil, fmt.Errorf("%w: the HCL report does not carry the report data", ErrAttestation)
	}
	q := a.IMDS
	if q == nil {
		q = &imds.Client{}
	}
	quote, err := q.TDQuote(ctx, parsed.TD.Raw)
	if err != nil {
		return nil, fmt.Errorf("%w: getting the TD quote: %w", ErrNoTEE, err)
	}
	v4, err := quoteabi.Parse(quote)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAttestation, err)
	}
	h := sha256.Sum256(parsed.RuntimeData)
	if !bytes.Equal(v4.GetTdQuoteBody().GetReportData()[:32], h[:]) {
		return nil, fmt.Errorf("%w: the TD quote's REPORTDATA is not SHA-256 of the HCL runtime data", ErrAttestation)
	}
	att := &evidence.Attestation{
		TEE:   evidence.TEEAzureTDX,
		Quote: quote,
		Azure: &evidence.Azure{HCLReport: report},
	}
	if a.TPMQuote {
		tq, err := vtpm.Quote(rw, vtpm.AKHandle, reportData[:32], a.PCRs)
		if err != nil {
			return nil, fmt.Errorf("%w: the vTPM quote: %w", ErrNoTEE, err)
		}
		att.Azure.TPMQuote = &evidence.TPMQuote{
			Attest: tq.Attest, Signature: tq.Signature, PCRs: tq.PCRs, Indices: tq.Indices,
			Nonce: append([]byte(nil), reportData[:32]...),
		}
	}
	if a.AKCert {
		cert, err := vtpm.ReadAKCert(rw)
		switch {
		case err == nil:
			att.Azure.AKCert = cert
		case !errors.Is(err, vtpm.ErrAbsent):
			return nil, fmt.Errorf("%w: reading the AK certificate: %w", ErrNoTEE, err)
		}
	}
	if a.MAAEndpoint != "" {
		c := a.MAA
		if c == nil {
			c = &maa.Client{}
		}
		tok, err := c.Attest(ctx, a.MAAEndpoint, maa.Request{Quote: quote, RuntimeData: parsed.RuntimeData})
		if err != nil {
			return nil, fmt.Errorf("%w: MAA: %w", ErrNoTEE, err)
		}
		att.MAAToken = tok
	}
	return att, nil
}
