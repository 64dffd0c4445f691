package profile

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// ok reports whether the model's parameters can be evaluated; the methods
// below return NaN instead of calling gonum (which panics) otherwise.
func (m *Model) ok() bool {
	if !finite(m.ShiftNs) {
		return false
	}
	switch m.Family {
	case FamilyLogNormal:
		return finite(m.Mu) && finite(m.Sigma) && m.Sigma > 0
	case FamilyGamma:
		return finite(m.Alpha) && finite(m.Beta) && m.Alpha > 0 && m.Beta > 0
	}
	return false
}

// CDF returns P(X ≤ x) under the model.
func (m *Model) CDF(x float64) float64 {
	if !m.ok() || math.IsNaN(x) {
		return math.NaN()
	}
	y := x - m.ShiftNs
	if y <= 0 {
		return 0
	}
	switch m.Family {
	case FamilyLogNormal:
		return distuv.UnitNormal.CDF((math.Log(y) - m.Mu) / m.Sigma)
	default:
		if math.IsInf(y, 1) {
			return 1
		}
		return mathext.GammaIncReg(m.Alpha, m.Beta*y)
	}
}

// Survival returns P(X > x) under the model, accurate where it is tiny.
func (m *Model) Survival(x float64) float64 {
	if !m.ok() || math.IsNaN(x) {
		return math.NaN()
	}
	y := x - m.ShiftNs
	if y <= 0 {
		return 1
	}
	switch m.Family {
	case FamilyLogNormal:
		return distuv.UnitNormal.Survival((math.Log(y) - m.Mu) / m.Sigma)
	default:
		if math.IsInf(y, 1) {
			return 0
		}
		return mathext.GammaIncRegComp(m.Alpha, m.Beta*y)
	}
}

// Quantile returns the smallest x with CDF(x) ≥ p: ShiftNs for p = 0,
// +Inf for p = 1, NaN outside [0, 1].
func (m *Model) Quantile(p float64) float64 {
	if !m.ok() || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	switch {
	case p == 0:
		return m.ShiftNs
	case p == 1:
		return math.Inf(1)
	}
	switch m.Family {
	case FamilyLogNormal:
		return m.ShiftNs + math.Exp(m.Mu+m.Sigma*distuv.UnitNormal.Quantile(p))
	default:
		return m.ShiftNs + mathext.GammaIncRegInv(m.Alpha, p)/m.Beta
	}
}

// Rand draws one round trip from the model using r.
func (m *Model) Rand(r *rand.Rand) float64 {
	if !m.ok() {
		return math.NaN()
	}
	switch m.Family {
	case FamilyLogNormal:
		return m.ShiftNs + math.Exp(m.Mu+m.Sigma*r.NormFloat64())
	default:
		return m.ShiftNs + distuv.Gamma{Alpha: m.Alpha, Beta: m.Beta, Src: r}.Rand()
	}
}

// Mean returns the model's mean.
func (m *Model) Mean() float64 {
	if !m.ok() {
		return math.NaN()
	}
	if m.Family == FamilyLogNormal {
		return m.ShiftNs + math.Exp(m.Mu+m.Sigma*m.Sigma/2)
	}
	return m.ShiftNs + m.Alpha/m.Beta
}

// empirical is a distribution given by its extremes and stated quantiles:
// a profile's round trips, or a connection level's minima.
type empirical struct {
	min, max float64
	qs       []Quantile
}

// knot returns the empirical CDF's i-th knot: (min, 0), the stated
// quantiles, (max, 1); there are len(qs)+2.
func (e empirical) knot(i int) (x, prob float64) {
	switch {
	case i <= 0:
		return e.min, 0
	case i > len(e.qs):
		return e.max, 1
	}
	q := e.qs[i-1]
	return q.Ns, q.P
}

func (e empirical) cdf(x float64) float64 {
	if math.IsNaN(x) || len(e.qs) == 0 {
		return math.NaN()
	}
	n := len(e.qs) + 2
	if x < e.min {
		return 0
	}
	if x >= e.max {
		return 1
	}
	// The last knot at or below x (right-continuous where knots tie).
	i := sort.Search(n, func(i int) bool { k, _ := e.knot(i); return k > x }) - 1
	x0, p0 := e.knot(i)
	x1, p1 := e.knot(i + 1)
	if x1 == x0 {
		return p1
	}
	return p0 + (p1-p0)*(x-x0)/(x1-x0)
}

func (e empirical) quantile(prob float64) float64 {
	if !(prob >= 0 && prob <= 1) || len(e.qs) == 0 {
		return math.NaN()
	}
	if prob == 0 {
		return e.min
	}
	n := len(e.qs) + 2
	// The first knot with P ≥ prob.
	i := sort.Search(n, func(i int) bool { _, q := e.knot(i); return q >= prob })
	if i >= n {
		return e.max
	}
	x1, p1 := e.knot(i)
	if i == 0 || p1 == prob {
		return x1
	}
	x0, p0 := e.knot(i - 1)
	return x0 + (x1-x0)*(prob-p0)/(p1-p0)
}

func (p *Profile) empirical() empirical { return empirical{p.MinNs, p.MaxNs, p.Quantiles} }

// EmpiricalCDF returns P(X ≤ x) by linear interpolation between the
// profile's knots: (MinNs, 0), each stated quantile, (MaxNs, 1). It is 0
// below the minimum: the empirical description says nothing about the tail
// beyond what was observed (the models do).
func (p *Profile) EmpiricalCDF(x float64) float64 { return p.empirical().cdf(x) }

// EmpiricalQuantile inverts EmpiricalCDF: MinNs at 0, MaxNs at 1, NaN
// outside [0, 1].
func (p *Profile) EmpiricalQuantile(prob float64) float64 { return p.empirical().quantile(prob) }

// EmpiricalRand draws one round trip from the empirical description by
// inverting EmpiricalCDF.
func (p *Profile) EmpiricalRand(r *rand.Rand) float64 {
	return p.EmpiricalQuantile(r.Float64())
}

func (c *ConnMin) empirical() empirical { return empirical{c.MinNs, c.MaxNs, c.Quantiles} }

// EmpiricalCDF returns P(M_K ≤ x) by linear interpolation between the
// level's knots (MinNs, 0), each stated quantile, (MaxNs, 1), as
// Profile.EmpiricalCDF does for single round trips.
func (c *ConnMin) EmpiricalCDF(x float64) float64 { return c.empirical().cdf(x) }

// EmpiricalQuantile inverts EmpiricalCDF: MinNs at 0, MaxNs at 1, NaN
// outside [0, 1].
func (c *ConnMin) EmpiricalQuantile(prob float64) float64 { return c.empirical().quantile(prob) }

// EmpiricalRand draws one connection minimum by inverting EmpiricalCDF.
func (c *ConnMin) EmpiricalRand(r *rand.Rand) float64 {
	return c.EmpiricalQuantile(r.Float64())
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
