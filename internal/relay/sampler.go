package relay

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Sampler draws the one-way delay for one chunk of data.
//
// A relay calls Sample from the reading goroutine of every connection it
// serves, so an implementation must be safe for concurrent use; all the
// samplers of this package are. A negative sample is treated as zero.
//
// The seeded samplers repeat their sequence of draws for a given seed.
// Which chunk gets which draw depends on how reads interleave across
// connections and on how the kernel splits the stream into reads, so a run
// is reproducible in distribution, not chunk by chunk.
type Sampler interface {
	Sample() time.Duration
}

// Fixed is a Sampler that always returns the same delay.
type Fixed time.Duration

// Sample returns d, or zero if d is negative.
func (d Fixed) Sample() time.Duration { return clampDelay(time.Duration(d)) }

// Speed of light in vacuum, in km/s, and the group index of standard
// single-mode glass fibre (ITU-T G.652 at 1550 nm); light in glass covers
// SpeedOfLight/FibreIndex ≈ 204,357 km/s.
const (
	SpeedOfLight = 299_792.458
	FibreIndex   = 1.467
)

// FibreDelay converts a great-circle distance in km into the one-way delay of
// light in glass fibre along a route routeFactor times as long.
//
// routeFactor 1.0 gives the delay over the great circle itself, a lower bound
// for any fibre path. Real routes follow roads, rail and sea cables and run
// roughly 1.4 times the great circle, so pass about 1.4 to emulate a typical
// path between regions.
// Distances or factors that are negative or not finite give zero.
func FibreDelay(km, routeFactor float64) time.Duration {
	s := km * routeFactor * FibreIndex / SpeedOfLight
	if !(s > 0) || math.IsInf(s, 0) {
		return 0
	}
	if s > maxDelay.Seconds() {
		return maxDelay
	}
	return time.Duration(s * float64(time.Second))
}

// maxDelay bounds every sample so that deadlines cannot overflow.
const maxDelay = 24 * time.Hour

func clampDelay(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > maxDelay:
		return maxDelay
	}
	return d
}

// jitter is base plus a random draw, in nanoseconds, from one distribution.
// A mutex serialises the generator: seeded sequences stay reproducible for a
// single caller, and the cost (tens of ns) is small next to a read syscall.
type jitter struct {
	base time.Duration
	draw func(r *rand.Rand) float64

	mu sync.Mutex
	r  *rand.Rand
}

func newJitter(base time.Duration, seed uint64, draw func(r *rand.Rand) float64) *jitter {
	return &jitter{
		base: base,
		draw: draw,
		r:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Sample returns base plus one draw, clamped to be non-negative.
func (j *jitter) Sample() time.Duration {
	j.mu.Lock()
	x := j.draw(j.r)
	j.mu.Unlock()
	if !(x < float64(maxDelay)) { // also catches NaN
		return maxDelay
	}
	return clampDelay(j.base + time.Duration(x))
}

// Uniform returns a Sampler drawing base + U[0, width): jitter spread evenly
// over width. The seed fixes the sequence of draws.
func Uniform(base, width time.Duration, seed uint64) Sampler {
	w := float64(max(width, 0))
	return newJitter(base, seed, func(r *rand.Rand) float64 { return r.Float64() * w })
}

// Exponential returns a Sampler drawing base + Exp with the given mean: the
// memoryless queueing delay of a lightly loaded hop. The seed fixes the
// sequence of draws.
func Exponential(base, mean time.Duration, seed uint64) Sampler {
	m := float64(max(mean, 0))
	return newJitter(base, seed, func(r *rand.Rand) float64 { return r.ExpFloat64() * m })
}

// LogNormal returns a Sampler drawing base + X where X is log-normal with the
// given mean and standard deviation: a right-skewed jitter with a long tail,
// the usual fit for wide-area delay variation. The seed fixes the sequence of
// draws. A non-positive mean gives no jitter; a non-positive stddev gives a
// constant jitter equal to mean.
func LogNormal(base, mean, stddev time.Duration, seed uint64) Sampler {
	if mean <= 0 {
		return newJitter(base, seed, func(*rand.Rand) float64 { return 0 })
	}
	if stddev <= 0 {
		m := float64(mean)
		return newJitter(base, seed, func(*rand.Rand) float64 { return m })
	}
	// For X = exp(N(mu, sigma²)): E[X] = exp(mu + sigma²/2) and
	// Var[X] = (exp(sigma²) − 1)·E[X]², solved for mu and sigma.
	m, s := float64(mean), float64(stddev)
	sigma2 := math.Log1p((s * s) / (m * m))
	mu := math.Log(m) - sigma2/2
	sigma := math.Sqrt(sigma2)
	return newJitter(base, seed, func(r *rand.Rand) float64 { return math.Exp(mu + sigma*r.NormFloat64()) })
}
