package verdict

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/latencyproof/poc/calibration/profile"
)

// Simulation is the outcome of Simulate.
type Simulation struct {
	Trials   int     `json:"trials"`
	Accepted int     `json:"accepted"`
	Rate     float64 `json:"rate"`
	// StdErr is the binomial standard error of Rate.
	StdErr float64 `json:"std_err"`
}

// Simulate estimates by Monte Carlo how often Decide accepts K round trips
// drawn from the profile's honest description (per opts.Basis; the
// conservative basis draws from its envelope, the distribution whose
// quantile is the smaller of the two) each delayed by extra(r) ns: with
// extra = nil the acceptance rate is 1 − FRR, with a constant 2d/c it is
// FAR(d). Use it where the closed forms of Verdict do not apply — a relay
// whose added delay is itself random (glass fibre with jitter, a queue) —
// and to check them. Draws come from a PCG generator seeded with seed, so
// results are reproducible. The K echoes are one connection's, as in
// Decide; SimulateConns spreads them over several.
func Simulate(p *profile.Profile, k int, opts Options, extra func(*rand.Rand) float64, trials int, seed uint64) (Simulation, error) {
	return simulate(p, k, nil, opts, extra, trials, seed)
}

// SimulateConns is Simulate for echoes on connections of the given sizes,
// as DecideConns decides them. Under a profile's connection levels each
// trial draws every connection's minimum from the level that bounds it on
// the false-accept side (plus, for echoes beyond the largest level, the
// per-echo description), and delays it by the least of its echoes' extra
// delays, which never understates a random relay's chance.
func SimulateConns(p *profile.Profile, conns []int, opts Options, extra func(*rand.Rand) float64, trials int, seed uint64) (Simulation, error) {
	k := 0
	for _, n := range conns {
		k += n
	}
	return simulate(p, k, conns, opts, extra, trials, seed)
}

func simulate(p *profile.Profile, k int, conns []int, opts Options, extra func(*rand.Rand) float64, trials int, seed uint64) (Simulation, error) {
	dc, err := newConnDecider(p, k, conns, opts)
	if err != nil {
		return Simulation{}, err
	}
	if trials <= 0 || trials > 1e9 {
		return Simulation{}, fmt.Errorf("%w: %d trials", ErrOptions, trials)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	s := Simulation{Trials: trials}
	if dc.cm != nil {
		for range trials {
			if x := dc.cm.simulate(r, extra); x >= dc.floor && x <= dc.t {
				s.Accepted++
			}
		}
		s.Rate = float64(s.Accepted) / float64(trials)
		s.StdErr = math.Sqrt(s.Rate * (1 - s.Rate) / float64(trials))
		return s, nil
	}
	draw := dc.sampler()
	rtts := make([]float64, k)
	for range trials {
		for i := range rtts {
			rtts[i] = draw(r)
			if extra != nil {
				rtts[i] += extra(r)
			}
		}
		if dc.accepts(rtts) {
			s.Accepted++
		}
	}
	s.Rate = float64(s.Accepted) / float64(trials)
	s.StdErr = math.Sqrt(s.Rate * (1 - s.Rate) / float64(trials))
	return s, nil
}

// sampler returns a draw from the decider's honest description.
func (dc *decider) sampler() func(*rand.Rand) float64 {
	switch dc.opts.Basis {
	case BasisModel:
		return dc.d.model.Rand
	case BasisEmpirical:
		return dc.p.EmpiricalRand
	}
	return func(r *rand.Rand) float64 { return dc.d.quantile(r.Float64()) }
}

// accepts applies Decide's rule without building a Verdict.
func (dc *decider) accepts(rtts []float64) bool {
	// The Order-th smallest by partial selection: K is small.
	lo, stat := math.Inf(1), 0.0
	if dc.opts.Order == 1 {
		for _, x := range rtts {
			lo = math.Min(lo, x)
		}
		stat = lo
	} else {
		best := make([]float64, 0, dc.opts.Order)
		for _, x := range rtts {
			lo = math.Min(lo, x)
			if len(best) < dc.opts.Order {
				best = append(best, x)
			} else if x < best[len(best)-1] {
				best[len(best)-1] = x
			} else {
				continue
			}
			for i := len(best) - 1; i > 0 && best[i] < best[i-1]; i-- {
				best[i], best[i-1] = best[i-1], best[i]
			}
		}
		stat = best[len(best)-1]
	}
	return lo >= dc.floor && stat <= dc.t
}
