package verifier

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/transcript"
)

// ProbeEvidence is what the transcripts of one probe prove, once verified:
// who answered (the leaf certificate's names) and how fast (every echo's
// round trip recomputed from the stamps).
type ProbeEvidence struct {
	Endpoint string `json:"endpoint"`
	Hostname string `json:"hostname"`
	Method   string `json:"method"`
	// DNSNames are the leaf certificate's names, from the first
	// connection (every connection's leaf must carry the same names).
	DNSNames []string `json:"dns_names"`
	// EchoCycles are every echo's round trip in counter cycles, in
	// order; EchoKernelNs the same by the kernel's clock, when every
	// stamp carried one.
	EchoCycles      []uint64 `json:"echo_cycles"`
	EchoKernelNs    []int64  `json:"echo_kernel_ns,omitempty"`
	HandshakeCycles []uint64 `json:"handshake_cycles"`
	// HTTP1Statuses are the statuses of http1 echoes, in order.
	HTTP1Statuses []int `json:"http1_statuses,omitempty"`
	// Conns is the number of TLS connections of the probe.
	Conns int `json:"conns"`
	// Scope holds, per connection, what the region-scope check needs: the
	// leaf's names and the HTTP exchanges the session authenticated.
	Scope []datasets.ScopeEvidence `json:"-"`
}

// ErrTranscript: a transcript does not verify, or does not match what the
// body claims.
var ErrTranscript = errors.New("transcript refused")

// checkTranscripts re-verifies every session of a proof whose sessions are
// bound to its body (CheckSessions ran): each against its endpoint's name,
// the roots at time at, the probe nonce and its connection and echo indexes;
// then it recomputes every round trip from the stamps and compares it with
// the body's claim.
func checkTranscripts(p *evidence.Proof, roots *x509.CertPool, at time.Time) ([]ProbeEvidence, error) {
	out := make([]ProbeEvidence, 0, len(p.Body.Probes))
	// The connections to one endpoint present one chain: verify it once.
	chains := &transcript.ChainCache{}
	for i := range p.Body.Probes {
		pr := &p.Body.Probes[i]
		pe := ProbeEvidence{Endpoint: pr.Endpoint, Hostname: pr.Hostname, Method: pr.Method, Conns: len(pr.Conns)}
		// Every value a probe's sessions carry derives from its nonce, and
		// the nonce from the challenge and the probe's place: sessions made
		// for another challenge, or moved between probes, do not verify.
		if want := evidence.ProbeNonce(p.Body.Challenge.Nonce, uint32(i)); pr.Nonce != want {
			return nil, fmt.Errorf("%w: %w: probe %d's nonce %s is not ProbeNonce(challenge, %d) = %s", ErrTranscript, transcript.ErrNonce, i, pr.Nonce, i, want)
		}
		nonce := [32]byte(pr.Nonce)
		withKernel := true
		for j := range pr.Conns {
			c := &pr.Conns[j]
			s := p.Session(uint32(i), c.Index)
			if s == nil {
				return nil, fmt.Errorf("%w: probe %d conn %d has no session", ErrTranscript, i, j)
			}
			sess := transcript.Session{
				C2S: s.C2S, S2C: s.S2C, KeyLog: s.KeyLog,
				C2STimes: toStamps(c.C2S), S2CTimes: toStamps(c.S2C),
			}
			r, err := transcript.Verify(sess, transcript.Options{
				ServerName: pr.Hostname, Roots: roots, At: at,
				Nonce: &nonce, ConnIndex: c.Index, EchoBase: c.EchoBase, Chains: chains,
			})
			if err != nil {
				return nil, fmt.Errorf("%w: %s conn %d: %w", ErrTranscript, pr.Endpoint, j, err)
			}
			if r.ALPN != c.ALPN {
				return nil, fmt.Errorf("%w: %s conn %d: the body claims ALPN %q, the transcript has %q", ErrTranscript, pr.Endpoint, j, c.ALPN, r.ALPN)
			}
			if want := methodOf(r.ALPN); want != pr.Method {
				return nil, fmt.Errorf("%w: %s conn %d: method %q on a session with ALPN %q", ErrTranscript, pr.Endpoint, j, pr.Method, r.ALPN)
			}
			if r.HandshakeCycles != c.HandshakeCycles {
				return nil, fmt.Errorf("%w: %s conn %d: handshake claimed %d cycles, the stamps give %d", ErrTranscript, pr.Endpoint, j, c.HandshakeCycles, r.HandshakeCycles)
			}
			if len(r.Echoes) != len(c.EchoCycles) {
				return nil, fmt.Errorf("%w: %s conn %d: %d echoes claimed, %d in the transcript", ErrTranscript, pr.Endpoint, j, len(c.EchoCycles), len(r.Echoes))
			}
			for k, e := range r.Echoes {
				if e.RTTCycles != c.EchoCycles[k] {
					return nil, fmt.Errorf("%w: %s conn %d echo %d: claimed %d cycles, the stamps give %d", ErrTranscript, pr.Endpoint, j, e.Index, c.EchoCycles[k], e.RTTCycles)
				}
				pe.EchoCycles = append(pe.EchoCycles, e.RTTCycles)
				if e.RTTKernelNs > 0 {
					pe.EchoKernelNs = append(pe.EchoKernelNs, e.RTTKernelNs)
				} else {
					withKernel = false
				}
				if e.Method == transcript.MethodHTTP1 {
					pe.HTTP1Statuses = append(pe.HTTP1Statuses, e.Status)
				}
			}
			pe.HandshakeCycles = append(pe.HandshakeCycles, r.HandshakeCycles)
			pe.Scope = append(pe.Scope, scopeEvidence(r))
			if len(r.Chain) == 0 {
				return nil, fmt.Errorf("%w: %s conn %d: no certificate", ErrTranscript, pr.Endpoint, j)
			}
			names := r.Chain[0].DNSNames
			if j == 0 {
				pe.DNSNames = names
			} else if !sameStrings(names, pe.DNSNames) {
				return nil, fmt.Errorf("%w: %s: connection %d's certificate names %v differ from connection 0's %v", ErrTranscript, pr.Endpoint, j, names, pe.DNSNames)
			}
		}
		if !withKernel {
			pe.EchoKernelNs = nil
		}
		out = append(out, pe)
	}
	return out, nil
}

// scopeEvidence is what a session shows for the region-scope check.
func scopeEvidence(r *transcript.Result) datasets.ScopeEvidence {
	var ev datasets.ScopeEvidence
	if len(r.Chain) > 0 {
		ev.DNSNames = r.Chain[0].DNSNames
	}
	for _, e := range r.Echoes {
		if x := e.HTTP; x != nil {
			ev.Exchanges = append(ev.Exchanges, datasets.HTTPExchange{
				Host:       x.Host,
				Request:    datasets.HTTP1Request{Method: x.Method, Path: x.Target},
				Status:     x.Status,
				Header:     x.Header,
				BodySHA256: x.BodySHA256,
			})
		}
	}
	return ev
}

func methodOf(alpn string) string {
	if alpn == "h2" {
		return evidence.MethodH2Ping
	}
	return evidence.MethodHTTP1
}

func toStamps(st []evidence.Stamp) []transcript.Stamp {
	out := make([]transcript.Stamp, len(st))
	for i, s := range st {
		out[i] = transcript.Stamp{Offset: int64(s.Offset), Cycles: s.Cycles, KernelNs: s.KernelNs}
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
