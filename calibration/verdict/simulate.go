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
// results are reproducible.
func Simulate(p *profile.Profile, k int, opts Options, extra func(*rand.Rand) float64, trials int, seed uint64) (Simulation, error) {
	dc, err := newDecider(p, k, opts)
	if err != nil {
		return Simulation{}, err
	}
	if trials <= 0 || trials > 1e9 {
		return Simulation{}, fmt.Errorf("%w: %d trials", ErrOptions, trials)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	draw := dc.sampler()
	rtts := make([]float64, k)
	s := Simulation{Trials: trials}
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
