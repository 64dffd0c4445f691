package verifier

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/prover"
	"github.com/latencyproof/poc/transcript"
)

// echoAttester binds by returning the report data as the quote: these
// tests exercise the transcript stage, not attestation.
type echoAttester struct{}

func (echoAttester) TEE() string { return evidence.TEESim }
func (echoAttester) Attest(_ context.Context, rd [64]byte) (*evidence.Attestation, error) {
	return &evidence.Attestation{TEE: evidence.TEESim, Quote: rd[:]}, nil
}

// labProof proves from the lab's westeurope vantage with a fresh challenge.
func labProof(t *testing.T) (*evidence.Proof, *x509.CertPool) {
	t.Helper()
	w, err := lab.DefaultWorld()
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	roots, _ := l.State.Roots()
	v, _ := l.State.Vantage("westeurope-vm")
	var eps []datasets.Endpoint
	for _, name := range []string{"api.westeurope.lab.test", "blob.westeurope.lab.test"} {
		e, _ := l.State.Catalog.Lookup(name)
		eps = append(eps, e)
	}
	eps[1].Echo.EchoesPerConn = 2
	k, _ := NewChallengeKey()
	ch, err := k.Issue("test", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, err := prover.Prove(context.Background(), ch, prover.Options{Endpoints: eps, Echoes: 4, Attester: echoAttester{}, Roots: roots, Dial: v.Dialer()})
	if err != nil {
		t.Fatal(err)
	}
	return p, roots
}

func TestCheckTranscripts(t *testing.T) {
	p, roots := labProof(t)
	at := time.Unix(p.Body.Challenge.IssuedUnix, 0)
	pe, err := checkTranscripts(p, roots, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(pe) != 2 || len(pe[0].EchoCycles) != 4 || len(pe[1].EchoCycles) != 4 || pe[1].Conns != 2 {
		t.Fatalf("evidence %+v", pe)
	}
	if pe[0].DNSNames[0] != "api.westeurope.lab.test" || len(pe[1].HTTP1Statuses) != 4 || pe[1].HTTP1Statuses[0] != 200 {
		t.Fatalf("names %v statuses %v", pe[0].DNSNames, pe[1].HTTP1Statuses)
	}
	other := x509.NewCertPool()
	tests := map[string]struct {
		mut   func(p *evidence.Proof)
		roots *x509.CertPool
		cause error
	}{
		"echo claim":      {func(p *evidence.Proof) { p.Body.Probes[0].Conns[0].EchoCycles[1]-- }, roots, nil},
		"handshake claim": {func(p *evidence.Proof) { p.Body.Probes[1].Conns[1].HandshakeCycles++ }, roots, nil},
		"fewer echoes":    {func(p *evidence.Proof) { c := &p.Body.Probes[0].Conns[0]; c.EchoCycles = c.EchoCycles[:3] }, roots, nil},
		"alpn claim":      {func(p *evidence.Proof) { p.Body.Probes[0].Conns[0].ALPN = "http/1.1" }, roots, nil},
		"method claim":    {func(p *evidence.Proof) { p.Body.Probes[1].Method = evidence.MethodH2Ping }, roots, nil},
		"stamp moved":     {func(p *evidence.Proof) { p.Body.Probes[0].Conns[0].S2C[2].Cycles += 1000 }, roots, nil},
		"untrusted root":  {nil, other, transcript.ErrCertificateChain},
		"probe nonce":     {func(p *evidence.Proof) { p.Body.Probes[0].Nonce[0] ^= 1 }, roots, transcript.ErrNonce},
		"hostname":        {func(p *evidence.Proof) { p.Body.Probes[0].Hostname = "blob.westeurope.lab.test" }, roots, transcript.ErrServerName},
		"sessions swapped": {func(p *evidence.Proof) {
			p.Sessions[0].C2S, p.Sessions[1].C2S = p.Sessions[1].C2S, p.Sessions[0].C2S
		}, roots, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q := cloneProof(t, p)
			if tt.mut != nil {
				tt.mut(q)
			}
			_, err := checkTranscripts(q, tt.roots, at)
			if !errors.Is(err, ErrTranscript) || (tt.cause != nil && !errors.Is(err, tt.cause)) {
				t.Fatalf("err = %v, want ErrTranscript (cause %v)", err, tt.cause)
			}
		})
	}
}
