package calibration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/tlsprobe"
)

// errResult marks a probe result that cannot become samples.
var errResult = errors.New("unusable probe result")

// run probes the plan's remaining units in order.
func (r *runner) run(ctx context.Context) error {
	h := r.h
	total := h.Plan.Units()
	done := r.w.Units()
	r.status = Status{Campaign: h.Campaign, Out: r.c.Out, Rounds: h.Plan.Rounds, Units: total, Done: done, Resumed: done,
		Samples: r.w.NextSeq(), Resume: r.resumed, LeftOutEdge: r.leftOut.edge, LeftOutUnfilled: r.leftOut.unfilled}
	if p := r.c.Progress; p != nil {
		p.Begin(r.status)
		defer func() { p.End(r.status) }()
	}
	if r.resumed != nil {
		// The crashed run may have probed any server a moment ago.
		now := r.c.Clock.Now()
		for _, t := range r.targets {
			r.lastEcho[t.server] = now
		}
	}
	n := len(h.Plan.Endpoints)
	var order []string
	orderRound := -1
	for u := done; u < total; u++ {
		if err := ctx.Err(); err != nil {
			return r.stopped(err)
		}
		round := u / n
		if round != orderRound {
			order, orderRound = h.Plan.Order(round), round
		}
		t := r.targets[order[u%n]]
		samples, err := r.unit(ctx, round, t)
		if err != nil {
			if ctx.Err() != nil {
				return r.stopped(ctx.Err())
			}
			return err
		}
		for i := range samples {
			if err := r.w.Write(&samples[i]); err != nil {
				return fmt.Errorf("writing round %d endpoint %s: %w", round, t.ep.Name, err)
			}
		}
		if err := r.w.Commit(); err != nil {
			return fmt.Errorf("writing round %d endpoint %s: %w", round, t.ep.Name, err)
		}
		r.status.Done++
		r.status.Samples = r.w.NextSeq()
		r.status.Round, r.status.Endpoint, r.status.LastError = round, t.ep.Name, samples[0].Error
		if samples[0].Error == "" {
			r.status.Measured += len(samples)
		}
		if p := r.c.Progress; p != nil {
			p.Unit(r.status)
		}
	}
	return r.w.Close()
}

// stopped explains an interruption.
func (r *runner) stopped(err error) error {
	return fmt.Errorf("campaign %s stopped after %d of %d probes (run it again with resume to go on): %w",
		r.h.Campaign, r.status.Done, r.status.Units, err)
}

// unit probes one endpoint once and returns the unit's samples: K echoes,
// or one error sample. It returns an error only when the campaign must
// stop (ctx ended, no randomness).
func (r *runner) unit(ctx context.Context, round int, t *target) ([]dataset.Sample, error) {
	c := r.c
	st := r.state[t.ep.Name]
	base := r.base(round, t)
	now := c.Clock.Now()
	if w := c.Backoff.wait(st.failures); w > 0 {
		if next := st.lastFailure.Add(w); now.Before(next) {
			s := base
			s.Time = now
			s.ErrorKind = dataset.ErrorKindBackoff
			s.Error = fmt.Sprintf("skipped: %d consecutive failures, next attempt after %s; last: %s",
				st.failures, next.UTC().Format(time.RFC3339), st.lastError)
			r.status.Skipped++
			return []dataset.Sample{s}, nil
		}
	}
	if last, ok := r.lastEcho[t.server]; ok && t.spacing > 0 {
		if d := last.Add(t.spacing).Sub(now); d > 0 {
			if err := c.Clock.Sleep(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	cfg := t.cfg
	cfg.Echoes = r.h.Plan.Echoes
	if n := r.h.Plan.EchoesPerConn; n > 0 {
		cfg.Budget.EchoesPerConn = tlsprobe.ConnSize(n, cfg.Budget.EchoesPerConn)
	}
	if _, err := io.ReadFull(c.Rand, cfg.Nonce[:]); err != nil {
		return nil, fmt.Errorf("drawing a nonce: %w", err)
	}
	start := c.Clock.Now()
	res, err := c.Probe(ctx, cfg)
	r.lastEcho[t.server] = c.Clock.Now()
	if ctx.Err() != nil {
		// An interrupted probe is not a failure of the endpoint: the
		// unit is left undone, for the next run.
		return nil, ctx.Err()
	}
	var samples []dataset.Sample
	if err == nil {
		samples, err = r.samples(base, t, res, start)
	}
	if err == nil {
		st.failures = 0
		return samples, nil
	}
	s := base
	s.Time = start
	s.Error = err.Error()
	s.ErrorKind = errorKind(err)
	st.failures++
	st.lastFailure, st.lastError = start, s.Error
	r.status.Failures++
	return []dataset.Sample{s}, nil
}

// base is a sample with the campaign's, vantage's and endpoint's fields.
func (r *runner) base(round int, t *target) dataset.Sample {
	v := r.h.Vantage
	e := t.ep
	return dataset.Sample{
		Campaign: r.h.Campaign, Round: round,
		Vantage: v.Name, VantageProvider: v.Provider, VantageRegion: v.Region, VantageLat: v.Lat, VantageLon: v.Lon, Origin: v.Origin,
		Endpoint: e.Name, Provider: e.Provider, Region: e.Region, Hostname: e.Hostname, Port: e.Port,
		Method: e.Echo.Method,
	}
}

// samples turns a probe's result into the unit's samples, checking that it
// is whole: K echoes in order, each on a known connection, with positive
// finite round trips and a known frequency.
func (r *runner) samples(base dataset.Sample, t *target, res *tlsprobe.Result, start time.Time) ([]dataset.Sample, error) {
	K := r.h.Plan.Echoes
	if res == nil || len(res.Echoes) != K {
		n := 0
		if res != nil {
			n = len(res.Echoes)
		}
		return nil, fmt.Errorf("%w: %d echoes for %d asked", errResult, n, K)
	}
	if res.Frequency.Hz == 0 {
		return nil, fmt.Errorf("%w: counter frequency unknown", errResult)
	}
	conns := map[uint32]*tlsprobe.Conn{}
	for i := range res.Conns {
		conns[res.Conns[i].Index] = &res.Conns[i]
	}
	// next is when each connection's next echo went out, estimated.
	next := map[uint32]time.Time{}
	out := make([]dataset.Sample, K)
	lastConn := 0
	for i, e := range res.Echoes {
		cn := conns[e.Conn]
		switch {
		case e.Index != uint32(i):
			return nil, fmt.Errorf("%w: echo %d has index %d", errResult, i, e.Index)
		case cn == nil:
			return nil, fmt.Errorf("%w: echo %d on unknown connection %d", errResult, i, e.Conn)
		case int(e.Conn) != lastConn && int(e.Conn) != lastConn+1, i == 0 && e.Conn != 0:
			return nil, fmt.Errorf("%w: echo %d on connection %d after %d", errResult, i, e.Conn, lastConn)
		}
		lastConn = int(e.Conn)
		sent, ok := next[e.Conn]
		if !ok {
			sent = cn.Started
			if sent.IsZero() {
				sent = start
			}
			sent = sent.Add(nsDuration(cn.HandshakeNs))
		}
		next[e.Conn] = sent.Add(max(nsDuration(e.Ns), t.spacing))
		s := base
		s.Address, s.Method = cn.Address, string(cn.Method)
		s.Conn, s.Echo = int(e.Conn), i
		s.RTTNs, s.RTTCycles = e.Ns, e.Cycles
		if e.KernelNs > 0 {
			s.RTTKernelNs = e.KernelNs
		}
		if cn.HandshakeNs > 0 && !math.IsInf(cn.HandshakeNs, 0) {
			s.HandshakeNs = cn.HandshakeNs
		}
		s.FrequencyHz, s.FrequencySource = res.Frequency.Hz, string(res.Frequency.Source)
		s.Time = sent
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("%w: echo %d: %w", errResult, i, err)
		}
		out[i] = s
	}
	return out, nil
}

// nsDuration converts nanoseconds to a duration, 0 for nonsense.
func nsDuration(ns float64) time.Duration {
	if !(ns > 0) || ns > float64(math.MaxInt64) {
		return 0
	}
	return time.Duration(ns)
}

// errorKind classifies a probe's failure for the sample's ErrorKind.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errResult):
		return dataset.ErrorKindResult
	case errors.Is(err, tlsprobe.ErrConfig):
		return dataset.ErrorKindConfig
	case errors.Is(err, tlsprobe.ErrDial):
		return dataset.ErrorKindDial
	case errors.Is(err, tlsprobe.ErrNoTLS13):
		return dataset.ErrorKindNoTLS13
	case errors.Is(err, tlsprobe.ErrHandshake):
		return dataset.ErrorKindHandshake
	case errors.Is(err, tlsprobe.ErrALPN):
		return dataset.ErrorKindALPN
	case errors.Is(err, tlsprobe.ErrEcho):
		return dataset.ErrorKindEcho
	case errors.Is(err, tlsprobe.ErrBudget):
		return dataset.ErrorKindBudget
	case errors.Is(err, tlsprobe.ErrSelfCheck):
		return dataset.ErrorKindSelfCheck
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return dataset.ErrorKindTimeout
	}
	return dataset.ErrorKindOther
}
