//go:build cgo

package prover

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/verify"
	"github.com/google/go-tpm-tools/simulator"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/azure/imds"
	"github.com/latencyproof/poc/internal/azuresim"
	"github.com/latencyproof/poc/internal/maa"
	"github.com/latencyproof/poc/internal/maasim"
	"github.com/latencyproof/poc/internal/quoteabi"
	"github.com/latencyproof/poc/internal/simtee"
	"github.com/latencyproof/poc/verifier/azure"
	vmaa "github.com/latencyproof/poc/verifier/maa"
)

// The Azure path end to end on the TPM simulator: the prover's real vTPM,
// IMDS and MAA code against a simulated paravisor, IMDS and MAA; then the
// verifier's Azure chain, the quote's DCAP chain (go-tdx-guest, the sim root
// trusted explicitly) and the MAA token.
func TestAzureOnSimulator(t *testing.T) {
	tpm, err := simulator.GetWithFixedSeedInsecure(1)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	if err := azuresim.CreateAK(tpm); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tee, err := simtee.Init(t.TempDir()+"/sim", simtee.InitOptions{Now: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := azuresim.New(tee, simtee.TDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	imdsSrv := httptest.NewServer(vm.IMDSHandler())
	defer imdsSrv.Close()
	key, err := maasim.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := maasim.Start(maasim.Config{Key: key, Quotes: maasim.DCAPVerifier{Roots: tee.RootPool()}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	a := &Azure{
		OpenTPM:     func() (io.ReadWriteCloser, error) { return nopCloser{tpm}, nil },
		HCL:         vm,
		IMDS:        &imds.Client{BaseURL: imdsSrv.URL},
		TPMQuote:    true,
		MAAEndpoint: svc.URL(),
		MAA:         &maa.Client{HTTPClient: svc.Client()},
	}
	var rd [64]byte
	copy(rd[:], "the report data of a proof body, 64 bytes long, bound via Azure")
	att, err := a.Attest(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if att.TEE != evidence.TEEAzureTDX || att.Azure == nil || att.Azure.TPMQuote == nil || att.MAAToken == "" {
		t.Fatalf("incomplete attestation: %+v", att)
	}

	// The Azure chain.
	res, err := azure.Verify(azure.Evidence{
		HCLReport: att.Azure.HCLReport,
		TDQuote:   att.Quote,
		TPMQuote: &azure.TPMQuote{Attest: att.Azure.TPMQuote.Attest, Signature: att.Azure.TPMQuote.Signature,
			PCRs: att.Azure.TPMQuote.PCRs, Indices: att.Azure.TPMQuote.Indices},
	}, azure.Options{ExpectedUserData: rd[:], TPMNonce: rd[:32]})
	if err != nil {
		t.Fatalf("Azure chain: %v", err)
	}
	if !res.UserDataChecked || res.TPM == nil {
		t.Fatalf("Azure result %+v", res)
	}
	// The quote's DCAP chain, with the simulated root trusted explicitly.
	q, err := quoteabi.Parse(att.Quote)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.TdxQuote(q, &verify.Options{TrustedRoots: tee.RootPool(), Now: &verify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now}}); err != nil {
		t.Fatalf("DCAP: %v", err)
	}
	// The MAA token, keys from the service's /certs.
	keys, err := vmaa.NewFetcher(svc.URL(), vmaa.FetcherOptions{Client: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	mres, err := vmaa.Verify(context.Background(), []byte(att.MAAToken), vmaa.Options{Keys: keys, UserData: rd[:]}, vmaa.Policy{Issuer: svc.URL()})
	if err != nil {
		t.Fatalf("MAA: %v", err)
	}
	if !mres.UserData.Checked {
		t.Fatal("MAA user-data not checked")
	}

	// Another proof's report data does not verify against this evidence.
	other := rd
	other[0] ^= 1
	if _, err := azure.Verify(azure.Evidence{HCLReport: att.Azure.HCLReport, TDQuote: att.Quote}, azure.Options{ExpectedUserData: other[:]}); !errors.Is(err, azure.ErrUserData) {
		t.Fatalf("other report data: err = %v, want ErrUserData", err)
	}
}

// nopCloser keeps the simulator open across Attest's Close.
type nopCloser struct{ rw io.ReadWriter }

func (n nopCloser) Read(b []byte) (int, error)  { return n.rw.Read(b) }
func (n nopCloser) Write(b []byte) (int, error) { return n.rw.Write(b) }
func (n nopCloser) Close() error                { return nil }
