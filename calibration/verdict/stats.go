package verdict

import (
	"math"

	"gonum.org/v1/gonum/mathext"

	"github.com/latencyproof/poc/calibration/profile"
)

// The statistic is the r-th smallest of K round trips (r = 1: the
// minimum). With F the CDF of one honest round trip and draws independent,
// the statistic is at most x exactly when at least r of the K draws are,
// so P(X_(r) ≤ x) = P(Binomial(K, F(x)) ≥ r) = I_F(x)(r, K−r+1), the
// regularised incomplete beta function; for r = 1 it is 1 − (1 − F(x))^K.
// Everything below is this one identity solved for F or for x.

// atLeast returns P(Binomial(k, u) ≥ r): the probability that the r-th
// smallest of k draws lies at or below a point where the CDF is u.
func atLeast(k, r int, u float64) float64 {
	switch {
	case !(u > 0):
		return 0
	case u >= 1:
		return 1
	case r == 1:
		return -math.Expm1(float64(k) * math.Log1p(-u))
	}
	return mathext.RegIncBeta(float64(r), float64(k-r+1), u)
}

// levelAccept returns the u with atLeast(k, r, u) = prob, prob in (0, 1):
// the CDF level at which the r-th smallest of k draws falls at or below
// with probability prob.
func levelAccept(k, r int, prob float64) float64 {
	if r == 1 {
		return -math.Expm1(math.Log1p(-prob) / float64(k))
	}
	return mathext.InvRegIncBeta(float64(r), float64(k-r+1), prob)
}

// levelReject returns the u with 1 − atLeast(k, r, u) = frr, frr in (0, 1):
// the threshold's CDF level. For r = 1, u = 1 − frr^(1/k), computed without
// cancellation.
func levelReject(k, r int, frr float64) float64 {
	if r == 1 {
		return -math.Expm1(math.Log(frr) / float64(k))
	}
	return mathext.InvRegIncBeta(float64(r), float64(k-r+1), 1-frr)
}

// dist is the honest round-trip distribution a verdict works with: the
// profile's best model, its empirical quantiles, or the conservative
// envelope of both (the larger CDF, i.e. the smaller quantile, wherever
// they differ).
type dist struct {
	model *profile.Model
	emp   empirical
	basis Basis
}

// empirical is an empirical description: *profile.Profile (one round trip)
// or *profile.ConnMin (a connection's minimum).
type empirical interface {
	EmpiricalCDF(x float64) float64
	EmpiricalQuantile(p float64) float64
}

// cdf returns the description's CDF; for the conservative envelope the
// larger of the two, the side that keeps false-accept rates from being
// understated.
func (d dist) cdf(x float64) float64 {
	switch d.basis {
	case BasisModel:
		return d.model.CDF(x)
	case BasisEmpirical:
		return d.emp.EmpiricalCDF(x)
	}
	e := d.emp.EmpiricalCDF(x)
	if d.model == nil {
		return e
	}
	return math.Max(d.model.CDF(x), e)
}

// survival returns P(X > x); for the conservative envelope the larger of
// the two descriptions' (the smaller CDF), the side that keeps
// false-reject rates from being understated.
func (d dist) survival(x float64) float64 {
	switch d.basis {
	case BasisModel:
		return d.model.Survival(x)
	case BasisEmpirical:
		return 1 - d.emp.EmpiricalCDF(x)
	}
	e := 1 - d.emp.EmpiricalCDF(x)
	if d.model == nil {
		return e
	}
	return math.Max(d.model.Survival(x), e)
}

// upper returns the quantile on the false-reject side: the larger of the
// two descriptions' for the conservative envelope.
func (d dist) upper(u float64) float64 {
	switch d.basis {
	case BasisModel:
		return d.model.Quantile(u)
	case BasisEmpirical:
		return d.emp.EmpiricalQuantile(u)
	}
	e := d.emp.EmpiricalQuantile(u)
	if d.model == nil {
		return e
	}
	return math.Max(d.model.Quantile(u), e)
}

// floor returns the point below which the description has no probability.
func (d dist) floor() float64 {
	e := d.emp.EmpiricalQuantile(0)
	switch {
	case d.basis == BasisEmpirical || d.model == nil:
		return e
	case d.basis == BasisModel:
		return d.model.ShiftNs
	}
	return math.Min(d.model.ShiftNs, e)
}

// quantile returns sup{x : cdf(x) ≤ u} for the conservative envelope (the
// smaller of the two quantiles) and the quantile of the single description
// otherwise.
func (d dist) quantile(u float64) float64 {
	switch d.basis {
	case BasisModel:
		return d.model.Quantile(u)
	case BasisEmpirical:
		return d.emp.EmpiricalQuantile(u)
	}
	e := d.emp.EmpiricalQuantile(u)
	if d.model == nil {
		return e
	}
	return math.Min(d.model.Quantile(u), e)
}
