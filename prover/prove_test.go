package prover

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
	"github.com/latencyproof/poc/transcript"
)

// recordingAttester records the report data it was asked to bind and
// returns it as the "quote": enough to test how Prove assembles a proof,
// not a TEE (the real attesters are tested on their own).
type recordingAttester struct{ got [64]byte }

func (r *recordingAttester) TEE() string { return evidence.TEESim }
func (r *recordingAttester) Attest(_ context.Context, rd [64]byte) (*evidence.Attestation, error) {
	r.got = rd
	return &evidence.Attestation{TEE: evidence.TEESim, Quote: rd[:]}, nil
}

func startLab(t *testing.T) *lab.Lab {
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
	return l
}

func TestProve(t *testing.T) {
	l := startLab(t)
	roots, _ := l.State.Roots()
	v, _ := l.State.Vantage("westeurope-vm")
	var eps []datasets.Endpoint
	for _, name := range []string{"api.westeurope.lab.test", "blob.westeurope.lab.test"} {
		e, _ := l.State.Catalog.Lookup(name)
		eps = append(eps, e)
	}
	eps[1].Echo.EchoesPerConn = 3 // spread blob's echoes over connections
	challenge := evidence.Challenge{Verifier: "test", IssuedUnix: time.Now().Unix(), ExpiresUnix: time.Now().Add(time.Minute).Unix(), Tag: []byte{1}}
	challenge.Nonce[0] = 7
	att := &recordingAttester{}
	p, err := Prove(context.Background(), challenge, Options{
		Endpoints: eps, Echoes: 5, Attester: att, Roots: roots, Dial: v.Dialer(), AppBinding: []byte("app key hash"),
	})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := evidence.ReportData(&p.Body)
	if err != nil || rd != att.got || !bytes.Equal(p.Attestation.Quote, rd[:]) {
		t.Fatalf("the attester did not bind the body's report data (%v)", err)
	}
	if err := p.CheckSessions(); err != nil {
		t.Fatal(err)
	}
	if got := len(p.Body.Probes[1].Conns); got != 2 {
		t.Fatalf("blob: %d connections, want 2 (5 echoes, 3 per connection)", got)
	}
	if got := len(p.Body.Probes[0].Conns); got != 2 || len(p.Body.Probes[0].Conns[0].EchoCycles) != tlsprobe.DefaultEchoesPerConn {
		t.Fatalf("api: %d connections, want 2 (5 echoes, %d per connection by default)", got, tlsprobe.DefaultEchoesPerConn)
	}
	// The proof survives its JSON form.
	var buf bytes.Buffer
	if err := p.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	q, err := evidence.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// Each session re-verifies with the probe nonce, and the RTTs the body
	// claims are those its stamps give.
	for i, pr := range q.Body.Probes {
		if pr.Nonce != evidence.ProbeNonce(challenge.Nonce, uint32(i)) {
			t.Fatalf("probe %d nonce", i)
		}
		n := [32]byte(pr.Nonce)
		for _, c := range pr.Conns {
			s := q.Session(uint32(i), c.Index)
			sess := transcript.Session{C2S: s.C2S, S2C: s.S2C, KeyLog: s.KeyLog}
			for _, st := range c.C2S {
				sess.C2STimes = append(sess.C2STimes, transcript.Stamp{Offset: int64(st.Offset), Cycles: st.Cycles, KernelNs: st.KernelNs})
			}
			for _, st := range c.S2C {
				sess.S2CTimes = append(sess.S2CTimes, transcript.Stamp{Offset: int64(st.Offset), Cycles: st.Cycles, KernelNs: st.KernelNs})
			}
			r, err := transcript.Verify(sess, transcript.Options{ServerName: pr.Hostname, Roots: roots, At: time.Now(), Nonce: &n, ConnIndex: c.Index, EchoBase: c.EchoBase})
			if err != nil {
				t.Fatalf("probe %d conn %d: %v", i, c.Index, err)
			}
			if r.HandshakeCycles != c.HandshakeCycles || len(r.Echoes) != len(c.EchoCycles) {
				t.Fatalf("probe %d conn %d: claims differ from the transcript", i, c.Index)
			}
			for j, e := range r.Echoes {
				if e.RTTCycles != c.EchoCycles[j] {
					t.Fatalf("probe %d conn %d echo %d: %d vs %d", i, c.Index, j, e.RTTCycles, c.EchoCycles[j])
				}
			}
		}
	}
}

func TestProveOptions(t *testing.T) {
	ep := datasets.Endpoint{Name: "x", Hostname: "x.test", Port: 443, Echo: datasets.Echo{Method: "h2-ping"}}
	tests := map[string]Options{
		"no attester":       {Endpoints: []datasets.Endpoint{ep}},
		"no endpoints":      {Attester: &recordingAttester{}},
		"long binding":      {Attester: &recordingAttester{}, Endpoints: []datasets.Endpoint{ep}, AppBinding: make([]byte, 65)},
		"negative per conn": {Attester: &recordingAttester{}, Endpoints: []datasets.Endpoint{ep}, EchoesPerConn: -1},
		"negative echoes":   {Attester: &recordingAttester{}, Endpoints: []datasets.Endpoint{ep}, Echoes: -3},
		"bad echo method":   {Attester: &recordingAttester{}, Endpoints: []datasets.Endpoint{{Name: "x", Hostname: "x", Port: 1, Echo: datasets.Echo{Method: "icmp"}}}},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Prove(context.Background(), evidence.Challenge{}, o); !errors.Is(err, ErrOptions) {
				t.Fatalf("err = %v, want ErrOptions", err)
			}
		})
	}
}
