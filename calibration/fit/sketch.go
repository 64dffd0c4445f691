package fit

import (
	"errors"
	"fmt"
	"math"
)

// Sketch limits.
const (
	// DefaultRelErr is the sketch's default relative error.
	DefaultRelErr = 1e-3
	// MaxRelErr is the coarsest relative error a Sketch accepts.
	MaxRelErr = 0.05
	// SketchMin and SketchMax bound the values a Sketch tells apart:
	// smaller positive values share the lowest bucket, larger ones the
	// highest (the fitter's hard cap keeps them out).
	SketchMin = 1e-3 // ns
	SketchMax = 1e13 // ns
)

// ErrSketch is returned for an invalid sketch operation.
var ErrSketch = errors.New("quantile sketch")

// Sketch is a DDSketch (Masson, Rim and Lee, VLDB 2019): a mergeable
// quantile sketch of positive values with a relative-error guarantee.
//
// Values fall into logarithmic buckets: with γ = (1+α)/(1−α), bucket k
// holds (γ^(k−1), γ^k] and is represented by 2γ^k/(γ+1), which is within a
// factor 1±α of every value in the bucket. Counting per bucket is exact, so:
//
//   - Quantile(p) returns x̂ with |x̂ − x| ≤ α·x, where x is the exact
//     sample quantile of rank ⌊p·(n−1)⌋ (0-based) — for every p and every
//     n, deterministically (up to floating-point rounding at bucket
//     edges);
//   - CountAtMost(x) is exact whenever x is a bucket edge, which is what the
//     Kolmogorov–Smirnov bound uses;
//   - merging two sketches adds their counts and keeps the guarantee.
//
// Memory is one counter per bucket between the smallest and largest key
// seen: log(max/min)/log(γ), about 1,150·ln(max/min) counters at α = 10⁻³
// (≈ 8,000 counters, 64 KB, for RTTs spanning 10 µs to 10 s), whatever the
// number of values.
type Sketch struct {
	alpha, gamma, lnGamma float64
	offset                int // key of counts[0]
	counts                []uint64
	n                     uint64
}

// NewSketch returns an empty sketch with relative error alpha in
// (0, MaxRelErr].
func NewSketch(alpha float64) (*Sketch, error) {
	if !(alpha > 0 && alpha <= MaxRelErr) {
		return nil, fmt.Errorf("%w: relative error %v not in (0, %v]", ErrSketch, alpha, MaxRelErr)
	}
	g := (1 + alpha) / (1 - alpha)
	return &Sketch{alpha: alpha, gamma: g, lnGamma: math.Log(g)}, nil
}

// RelErr returns the sketch's relative error α.
func (s *Sketch) RelErr() float64 { return s.alpha }

// Count returns the number of values added.
func (s *Sketch) Count() uint64 { return s.n }

// key returns the bucket of x > 0.
func (s *Sketch) key(x float64) int {
	// Plain comparisons: math.Min and Max handle NaN and signed zeros,
	// which cannot occur here, and cost more on the per-sample path.
	if x < SketchMin {
		x = SketchMin
	} else if x > SketchMax {
		x = SketchMax
	}
	return int(math.Ceil(math.Log(x) / s.lnGamma))
}

// upper returns bucket k's upper edge γ^k.
func (s *Sketch) upper(k int) float64 { return math.Exp(float64(k) * s.lnGamma) }

// value returns bucket k's representative value.
func (s *Sketch) value(k int) float64 { return 2 * s.upper(k) / (s.gamma + 1) }

// Add adds x, which the caller has checked is positive and finite.
func (s *Sketch) Add(x float64) {
	s.addKey(s.key(x), 1)
}

func (s *Sketch) addKey(k int, c uint64) {
	if len(s.counts) == 0 {
		s.offset = k
		s.counts = make([]uint64, 1, 64)
	}
	switch {
	case k < s.offset:
		grow := s.offset - k
		n := make([]uint64, grow+len(s.counts), max(2*(grow+len(s.counts)), 64))
		copy(n[grow:], s.counts)
		s.counts, s.offset = n, k
	case k-s.offset >= len(s.counts):
		need := k - s.offset + 1
		if need > cap(s.counts) {
			n := make([]uint64, len(s.counts), max(2*need, 64))
			copy(n, s.counts)
			s.counts = n
		}
		s.counts = s.counts[:need]
	}
	s.counts[k-s.offset] += c
	s.n += c
}

// Merge adds o's counts to s; both must have the same relative error.
func (s *Sketch) Merge(o *Sketch) error {
	if o.alpha != s.alpha {
		return fmt.Errorf("%w: merging relative error %v into %v", ErrSketch, o.alpha, s.alpha)
	}
	for i, c := range o.counts {
		if c > 0 {
			s.addKey(o.offset+i, c)
		}
	}
	return nil
}

// Quantile returns the value of rank ⌊p·(n−1)⌋ within relative error α,
// or NaN for an empty sketch or p outside [0, 1].
func (s *Sketch) Quantile(p float64) float64 {
	if s.n == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	rank := uint64(math.Floor(p * float64(s.n-1)))
	var cum uint64
	for i, c := range s.counts {
		cum += c
		if cum > rank {
			return s.value(s.offset + i)
		}
	}
	return s.value(s.offset + len(s.counts) - 1)
}

// CountAtMost returns how many values are in buckets whose upper edge is at
// most x: exactly the count of values ≤ x when x is a bucket edge, and
// otherwise the count of values ≤ the largest edge below x.
func (s *Sketch) CountAtMost(x float64) uint64 {
	var cum uint64
	for i, c := range s.counts {
		if s.upper(s.offset+i) > x {
			break
		}
		cum += c
	}
	return cum
}

// TrimAbove removes every bucket lying wholly above x's bucket and returns
// how many values it removed and the new upper edge of the kept values
// (γ^key(x) ≥ x): values up to a factor γ above x may be kept.
func (s *Sketch) TrimAbove(x float64) (removed uint64, edge float64) {
	k := s.key(x)
	edge = s.upper(k)
	if len(s.counts) == 0 {
		return 0, edge
	}
	keep := k - s.offset + 1
	if keep < 0 {
		keep = 0
	}
	if keep >= len(s.counts) {
		return 0, edge
	}
	for _, c := range s.counts[keep:] {
		removed += c
	}
	s.counts = s.counts[:keep]
	s.n -= removed
	return removed, edge
}

// Bucket is one non-empty bucket: Count values in (Lo, Hi].
type Bucket struct {
	Lo, Hi float64
	Count  uint64
}

// Buckets calls fn for each non-empty bucket in increasing order until fn
// returns false.
func (s *Sketch) Buckets(fn func(Bucket) bool) {
	for i, c := range s.counts {
		if c == 0 {
			continue
		}
		k := s.offset + i
		if !fn(Bucket{Lo: s.upper(k - 1), Hi: s.upper(k), Count: c}) {
			return
		}
	}
}

// MaxEdge returns the upper edge of the highest non-empty bucket (0 when
// empty).
func (s *Sketch) MaxEdge() float64 {
	for i := len(s.counts) - 1; i >= 0; i-- {
		if s.counts[i] > 0 {
			return s.upper(s.offset + i)
		}
	}
	return 0
}

// Clone returns an independent copy of s.
func (s *Sketch) Clone() *Sketch {
	c := *s
	c.counts = append([]uint64(nil), s.counts...)
	return &c
}

// Bytes returns the memory the sketch's counters hold.
func (s *Sketch) Bytes() int { return 8 * cap(s.counts) }
