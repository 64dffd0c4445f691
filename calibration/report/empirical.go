package report

import (
	"math"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
)

// EmpiricalRelErr is the relative error of the sketches Empirical keeps:
// far below what a plot shows.
const EmpiricalRelErr = 1e-3

// sampleKey is what a profile describes, as fit groups samples.
type sampleKey struct {
	profile.Key
	origin  profile.Origin
	vantage string
	clock   profile.Clock
}

func keyOf(p *profile.Profile) sampleKey {
	return sampleKey{Key: p.Key(), origin: p.Origin, vantage: p.Vantage.Name, clock: p.Clock}
}

// Empirical collects measured round trips per profile for the empirical
// CDFs of a report, in bounded memory: one quantile sketch per (endpoint,
// method, origin, vantage, clock), whatever the number of samples. Samples
// are matched to profiles the way package fit groups them. The zero value
// is not usable; call NewEmpirical.
type Empirical struct {
	sketches map[sampleKey]*fit.Sketch
	skipped  uint64
}

// NewEmpirical returns an empty collection.
func NewEmpirical() *Empirical {
	return &Empirical{sketches: map[sampleKey]*fit.Sketch{}}
}

// Add adds one sample: its counter round trip, and its kernel round trip
// when it has one. Failed attempts (Error set) and samples without a
// positive, finite round trip are skipped and counted (Skipped).
func (e *Empirical) Add(s dataset.Sample) {
	if s.Error != "" {
		e.skipped++
		return
	}
	k := sampleKey{
		Key:    profile.Key{Provider: s.Provider, Region: s.Region, Endpoint: s.Endpoint, Method: s.Method},
		origin: profile.Origin(s.Origin), vantage: s.Vantage,
	}
	added := false
	for _, c := range []struct {
		clock profile.Clock
		x     float64
	}{{profile.ClockCounter, s.RTTNs}, {profile.ClockKernel, float64(s.RTTKernelNs)}} {
		if !(c.x > 0) || math.IsInf(c.x, 0) {
			continue
		}
		k.clock = c.clock
		sk := e.sketches[k]
		if sk == nil {
			// The relative error is a valid constant: NewSketch cannot fail.
			sk, _ = fit.NewSketch(EmpiricalRelErr)
			e.sketches[k] = sk
		}
		sk.Add(c.x)
		added = true
	}
	if !added {
		e.skipped++
	}
}

// Count returns how many samples match profile p.
func (e *Empirical) Count(p *profile.Profile) uint64 {
	if sk := e.sketch(p); sk != nil {
		return sk.Count()
	}
	return 0
}

// Skipped returns how many samples Add skipped.
func (e *Empirical) Skipped() uint64 { return e.skipped }

func (e *Empirical) sketch(p *profile.Profile) *fit.Sketch {
	if e == nil || p == nil {
		return nil
	}
	return e.sketches[keyOf(p)]
}

// ecdf returns the empirical CDF of the samples matching p at the upper
// edge of every occupied bucket (exact there), preceded by the lower edge
// of the first at 0: the points between which a plot interpolates.
func (e *Empirical) ecdf(p *profile.Profile) (xs, ps []float64) {
	sk := e.sketch(p)
	if sk == nil || sk.Count() == 0 {
		return nil, nil
	}
	n := float64(sk.Count())
	var cum uint64
	sk.Buckets(func(b fit.Bucket) bool {
		if len(xs) == 0 {
			xs, ps = append(xs, b.Lo), append(ps, 0)
		}
		cum += b.Count
		xs, ps = append(xs, b.Hi), append(ps, float64(cum)/n)
		return true
	})
	return xs, ps
}
