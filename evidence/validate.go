package evidence

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits of a version 1 proof. They bound memory and work for a verifier
// fed hostile input, far above what an honest prover produces.
const (
	MaxStringLen      = 255
	MaxTagLen         = 256
	MaxAppBindingLen  = 64
	MaxProbes         = 64
	MaxConnsPerProbe  = 64
	MaxStampsPerDir   = 1 << 16
	MaxEchoesPerConn  = 10000
	MaxStreamBytes    = 4 << 20
	MaxKeyLogBytes    = 64 << 10
	MaxQuoteBytes     = 64 << 10
	MaxHCLReportBytes = 64 << 10
	MaxTokenBytes     = 64 << 10
	MaxTPMFieldBytes  = 4 << 10
	MaxPCRs           = 24
	// MaxProofBytes bounds a whole proof document.
	MaxProofBytes = 64 << 20
)

// TEE kinds.
const (
	TEETDX      = "tdx"
	TEEAzureTDX = "azure-tdx"
	TEESim      = "sim"
)

// Echo methods.
const (
	MethodH2Ping = "h2-ping"
	MethodHTTP1  = "http1"
)

func checkString(what, s string) error {
	if len(s) > MaxStringLen {
		return bodyErr("%s is %d bytes, limit %d", what, len(s), MaxStringLen)
	}
	if !utf8.ValidString(s) {
		return bodyErr("%s is not valid UTF-8", what)
	}
	return nil
}

// Validate checks the body's structure and limits. It does not judge the
// values (times, frequencies, endpoints): that is the verifier's work.
func (b *Body) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkString("challenge verifier", b.Challenge.Verifier))
	if len(b.Challenge.Tag) > MaxTagLen {
		add(bodyErr("challenge tag is %d bytes, limit %d", len(b.Challenge.Tag), MaxTagLen))
	}
	switch b.TEE {
	case TEETDX, TEEAzureTDX, TEESim:
	default:
		add(bodyErr("tee %q (want %s, %s or %s)", b.TEE, TEETDX, TEEAzureTDX, TEESim))
	}
	if len(b.AppBinding) > MaxAppBindingLen {
		add(bodyErr("app_binding is %d bytes, limit %d", len(b.AppBinding), MaxAppBindingLen))
	}
	add(checkString("counter kind", b.Counter.Kind))
	add(checkString("counter source", b.Counter.Source))
	if b.Counter.Hz == 0 {
		add(bodyErr("counter frequency is 0"))
	}
	if len(b.Probes) == 0 || len(b.Probes) > MaxProbes {
		add(bodyErr("%d probes (want 1 to %d)", len(b.Probes), MaxProbes))
	}
	for i := range b.Probes {
		if i >= MaxProbes {
			break
		}
		add(b.Probes[i].validate(i))
	}
	return errors.Join(errs...)
}

func (p *Probe) validate(i int) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	at := fmt.Sprintf("probe %d", i)
	add(checkString(at+" endpoint", p.Endpoint))
	add(checkString(at+" hostname", p.Hostname))
	if p.Hostname == "" || p.Port == 0 {
		add(bodyErr("%s: hostname and port are required", at))
	}
	switch p.Method {
	case MethodH2Ping, MethodHTTP1:
	default:
		add(bodyErr("%s: method %q", at, p.Method))
	}
	if len(p.Conns) == 0 || len(p.Conns) > MaxConnsPerProbe {
		add(bodyErr("%s: %d connections (want 1 to %d)", at, len(p.Conns), MaxConnsPerProbe))
		return errors.Join(errs...)
	}
	for j := range p.Conns {
		c := &p.Conns[j]
		cat := fmt.Sprintf("%s conn %d", at, j)
		if c.Index != uint32(j) {
			add(bodyErr("%s has index %d", cat, c.Index))
		}
		add(checkString(cat+" alpn", c.ALPN))
		add(checkString(cat+" address", c.Address))
		if len(c.C2S) > MaxStampsPerDir || len(c.S2C) > MaxStampsPerDir {
			add(bodyErr("%s: more than %d stamps in a direction", cat, MaxStampsPerDir))
		}
		if len(c.EchoCycles) > MaxEchoesPerConn {
			add(bodyErr("%s: %d echoes, limit %d", cat, len(c.EchoCycles), MaxEchoesPerConn))
		}
		if j > 0 {
			prev := &p.Conns[j-1]
			if c.EchoBase != prev.EchoBase+uint32(len(prev.EchoCycles)) {
				add(bodyErr("%s: echo base %d does not follow connection %d (%d + %d)", cat, c.EchoBase, j-1, prev.EchoBase, len(prev.EchoCycles)))
			}
		} else if c.EchoBase != 0 {
			add(bodyErr("%s: echo base %d, want 0", cat, c.EchoBase))
		}
	}
	return errors.Join(errs...)
}

// Errors of the binding between sessions and body.
var (
	// ErrSessions: the sessions do not match the body's connections one to
	// one, or a session's bytes do not hash to the body's value.
	ErrSessions = errors.New("sessions do not match the proof body")
)

// CheckSessions checks that Sessions hold exactly one transcript per
// connection of the body, within the size limits, each hashing to the values
// the body commits to. Only then are the transcripts bound to the quote.
func (p *Proof) CheckSessions() error {
	want := 0
	for _, pr := range p.Body.Probes {
		want += len(pr.Conns)
	}
	if len(p.Sessions) != want {
		return fmt.Errorf("%w: %d sessions for %d connections", ErrSessions, len(p.Sessions), want)
	}
	seen := map[[2]uint32]bool{}
	for i, s := range p.Sessions {
		key := [2]uint32{s.Probe, s.Conn}
		if seen[key] {
			return fmt.Errorf("%w: session %d repeats probe %d conn %d", ErrSessions, i, s.Probe, s.Conn)
		}
		seen[key] = true
		if int(s.Probe) >= len(p.Body.Probes) || int(s.Conn) >= len(p.Body.Probes[s.Probe].Conns) {
			return fmt.Errorf("%w: session %d names probe %d conn %d, which the body lacks", ErrSessions, i, s.Probe, s.Conn)
		}
		if len(s.C2S) > MaxStreamBytes || len(s.S2C) > MaxStreamBytes || len(s.KeyLog) > MaxKeyLogBytes {
			return fmt.Errorf("%w: session %d exceeds the size limits", ErrSessions, i)
		}
		c := &p.Body.Probes[s.Probe].Conns[s.Conn]
		for _, h := range []struct {
			name string
			data []byte
			want Hash
		}{{"c2s", s.C2S, c.C2SHash}, {"s2c", s.S2C, c.S2CHash}, {"keylog", s.KeyLog, c.KeyLogHash}} {
			if Hash(sha256.Sum256(h.data)) != h.want {
				return fmt.Errorf("%w: probe %d conn %d: %s bytes do not hash to the body's %s", ErrSessions, s.Probe, s.Conn, h.name, h.want)
			}
		}
	}
	return nil
}

// Session returns the transcript of a connection, or nil.
func (p *Proof) Session(probe, conn uint32) *Session {
	for i := range p.Sessions {
		if p.Sessions[i].Probe == probe && p.Sessions[i].Conn == conn {
			return &p.Sessions[i]
		}
	}
	return nil
}
