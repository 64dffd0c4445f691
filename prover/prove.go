package prover

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/tlsprobe"
	"github.com/latencyproof/poc/transcript"
)

// Options say how to answer a challenge.
type Options struct {
	// Endpoints to probe, in the order they appear in the proof.
	Endpoints []datasets.Endpoint
	// Echoes is K, the echoes per endpoint; zero means DefaultEchoes.
	Echoes int
	// EchoesPerConn is how many of an endpoint's echoes go on one
	// connection; zero means tlsprobe.DefaultEchoesPerConn, and an
	// endpoint's catalog budget caps it further. The verifier takes
	// connections as independent, so K echoes on several connections give
	// a tighter threshold than on one; calibrate with the same size.
	EchoesPerConn int
	// Attester binds the proof to the TEE. Required.
	Attester Attester
	// AppBinding is optional application data (≤ 64 bytes) bound into the
	// proof, e.g. SHA-256 of the workload's public key.
	AppBinding []byte
	// Roots verify the endpoints' chains; nil means the system pool.
	Roots *x509.CertPool
	// Dial opens TCP connections; nil means a net.Dialer (the lab injects
	// its vantage's routes).
	Dial tlsprobe.DialFunc
	// Clock is the cycle counter; nil means timing.System().
	Clock timing.Clock
	// Timeout bounds each connection; zero means tlsprobe's default.
	Timeout time.Duration
	// Now is the prover's wall clock; nil means time.Now.
	Now func() time.Time
}

// DefaultEchoes is K unless Options says otherwise.
const DefaultEchoes = 16

// Errors of proving.
var (
	// ErrOptions: the options cannot produce a proof.
	ErrOptions = errors.New("prover: invalid options")
	// ErrProbe: an endpoint could not be measured.
	ErrProbe = errors.New("prover: probing failed")
)

// Prove answers a challenge: it probes every endpoint (one at a time, so
// probes never disturb each other's timing) with a nonce derived from the
// challenge, assembles the proof body, and binds ReportData(body) with the
// attester.
func Prove(ctx context.Context, challenge evidence.Challenge, opts Options) (*evidence.Proof, error) {
	if opts.Attester == nil {
		return nil, fmt.Errorf("%w: no attester", ErrOptions)
	}
	if len(opts.Endpoints) == 0 || len(opts.Endpoints) > evidence.MaxProbes {
		return nil, fmt.Errorf("%w: %d endpoints (want 1 to %d)", ErrOptions, len(opts.Endpoints), evidence.MaxProbes)
	}
	if len(opts.AppBinding) > evidence.MaxAppBindingLen {
		return nil, fmt.Errorf("%w: app binding of %d bytes (limit %d)", ErrOptions, len(opts.AppBinding), evidence.MaxAppBindingLen)
	}
	clock := opts.Clock
	if clock == nil {
		clock = timing.System()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	k := opts.Echoes
	if k == 0 {
		k = DefaultEchoes
	}
	if k < 0 || opts.EchoesPerConn < 0 {
		return nil, fmt.Errorf("%w: %d echoes, %d per connection", ErrOptions, k, opts.EchoesPerConn)
	}
	freq := clock.Frequency()
	p := &evidence.Proof{Version: evidence.Version}
	p.Body = evidence.Body{
		Challenge:  challenge,
		TEE:        opts.Attester.TEE(),
		AppBinding: opts.AppBinding,
		Counter:    evidence.Counter{Kind: string(timing.CounterKind()), Hz: freq.Hz, Source: string(freq.Source)},
	}
	// A garbage collection during a probe would slow every echo of its
	// connection at once, which no profile models: collect now, and hold
	// the collector off until the probes are done (they allocate little).
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for i, e := range opts.Endpoints {
		nonce := evidence.ProbeNonce(challenge.Nonce, uint32(i))
		method, err := tlsprobe.ParseMethod(e.Echo.Method)
		if err != nil {
			return nil, fmt.Errorf("%w: endpoint %s: %w", ErrOptions, e.Name, err)
		}
		cfg := tlsprobe.Config{
			Endpoint: e.Address(),
			Nonce:    nonce,
			Echoes:   k,
			Method:   method,
			Budget: tlsprobe.Budget{
				EchoesPerConn: tlsprobe.ConnSize(opts.EchoesPerConn, e.Echo.EchoesPerConn),
				MinSpacing:    time.Duration(e.Echo.MinSpacing),
				MaxConns:      evidence.MaxConnsPerProbe,
			},
			Roots:   opts.Roots,
			Dial:    opts.Dial,
			Clock:   clock,
			Timeout: opts.Timeout,
			Now:     now,
		}
		if h := e.Echo.HTTP1; h != nil {
			cfg.HTTP1 = tlsprobe.HTTP1Request{Method: h.Method, Path: h.Path, Header: h.Header}
		}
		res, err := tlsprobe.Probe(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrProbe, e.Name, err)
		}
		probe, sessions := probeEvidence(uint32(i), e, nonce, res)
		p.Body.Probes = append(p.Body.Probes, probe)
		p.Sessions = append(p.Sessions, sessions...)
	}
	p.Body.CreatedUnixNano = now().UnixNano()
	rd, err := evidence.ReportData(&p.Body)
	if err != nil {
		return nil, fmt.Errorf("prover: encoding the body: %w", err)
	}
	att, err := opts.Attester.Attest(ctx, rd)
	if err != nil {
		return nil, err
	}
	p.Attestation = *att
	return p, nil
}

// probeEvidence turns one probe's result into its part of the body and its
// sessions.
func probeEvidence(index uint32, e datasets.Endpoint, nonce evidence.Hash, res *tlsprobe.Result) (evidence.Probe, []evidence.Session) {
	pr := evidence.Probe{
		Endpoint: e.Name,
		Hostname: e.Hostname,
		Port:     uint16(e.Port),
		Nonce:    nonce,
	}
	var sessions []evidence.Session
	for _, c := range res.Conns {
		pr.Method = string(c.Method)
		ec := evidence.Conn{
			Index:           c.Index,
			EchoBase:        c.EchoBase,
			ALPN:            c.ALPN,
			Address:         c.Address,
			C2SHash:         sha256.Sum256(c.Session.C2S),
			S2CHash:         sha256.Sum256(c.Session.S2C),
			KeyLogHash:      sha256.Sum256(c.Session.KeyLog),
			C2S:             stamps(c.Session.C2STimes),
			S2C:             stamps(c.Session.S2CTimes),
			HandshakeCycles: c.HandshakeCycles,
		}
		for _, s := range res.Echoes {
			if s.Conn == c.Index {
				ec.EchoCycles = append(ec.EchoCycles, s.Cycles)
			}
		}
		pr.Conns = append(pr.Conns, ec)
		sessions = append(sessions, evidence.Session{
			Probe: index, Conn: c.Index,
			C2S: c.Session.C2S, S2C: c.Session.S2C, KeyLog: c.Session.KeyLog,
		})
	}
	return pr, sessions
}

func stamps(st []transcript.Stamp) []evidence.Stamp {
	out := make([]evidence.Stamp, len(st))
	for i, s := range st {
		out[i] = evidence.Stamp{Offset: uint64(s.Offset), Cycles: s.Cycles, KernelNs: s.KernelNs}
	}
	return out
}
