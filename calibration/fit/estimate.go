package fit

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration/profile"
)

// GoFMethod names the estimator in profile.GoF.Method.
const GoFMethod = "min-ad-distance-quantile-grid/nelder-mead"

// MinGridCount is the least n·min(p, 1−p) a quantile needs to take part in
// the fit: below it the empirical quantile is too noisy to steer the model.
const MinGridCount = 10

// penalty is the objective outside the parameters' domain, above any
// objective a model inside it reaches.
const penalty = 1e300

// errNoFit: no parameters of the family fit the quantiles.
var errNoFit = errors.New("no fit")

// point is one empirical quantile: a fraction p of the samples lie at or
// below q. w is its weight in the objective, set by weigh.
type point struct {
	p, q  float64
	exact bool // q is an exact order statistic, not a sketch value
	w     float64
}

// weigh sets each point's weight to the inverse of the variance of
// F(q) − p for the true F: binomial sampling, p(1−p)/n, plus the sketch's
// rounding of q, which moves F(q) by up to f(q)·α·q (variance a third of
// its square for a uniform rounding error), with the density f estimated
// from the neighbouring points. Points in one sketch bucket have an
// unbounded density estimate and weight zero: the sketch cannot tell them
// apart. Exact points (the lowest order statistics) carry no rounding.
func weigh(pts []point, n, alpha float64) {
	for i := range pts {
		v := pts[i].p * (1 - pts[i].p) / n
		if !pts[i].exact {
			lo, hi := max(i-1, 0), min(i+1, len(pts)-1)
			dq := pts[hi].q - pts[lo].q
			if dq <= 0 {
				pts[i].w = 0
				continue
			}
			f := (pts[hi].p - pts[lo].p) / dq
			e := f * alpha * pts[i].q
			v += e * e / 3
		}
		pts[i].w = 1 / v
	}
}

// objective is the fit's distance between a model and the quantile grid:
// the mean over the grid of w_i·(F(q_i) − p_i)², each residual divided by
// its variance (weigh). It is about 1 when the model is the true
// distribution and grows with misfit. The binomial part of the variance
// is the Anderson–Darling weighting: an error of 10⁻³ at p = 10⁻² counts
// as much as one of 5·10⁻³ at the median, so the low tail, which the
// verdict uses, is fitted as carefully as the bulk.
func objective(m *profile.Model, pts []point) float64 {
	var sum, n float64
	for _, pt := range pts {
		if pt.w == 0 {
			continue
		}
		d := m.CDF(pt.q) - pt.p
		sum += pt.w * d * d
		n++
	}
	if n == 0 {
		return math.Inf(1)
	}
	return sum / n
}

// fitFamily fits a shifted model of the family to the quantile points by
// minimising objective over (shift, two shape parameters) with Nelder–Mead,
// from several starting shifts, constrained to 0 ≤ shift < minNs: the
// model's floor cannot lie above an observed round trip.
//
// Why a minimum-distance fit to quantiles and not maximum likelihood: the
// three-parameter log-normal's and gamma's likelihoods are unbounded as the
// shift approaches the sample minimum (for gamma shape < 1), so the MLE
// depends on ad-hoc guards; the quantile grid comes from every sample (via
// the sketch) rather than a subsample; and the objective weights the region
// the verdict depends on. The estimator is consistent: as n grows the
// empirical quantiles converge to the true ones and the unique minimiser to
// the true parameters when the family is right.
func fitFamily(fam profile.Family, pts []point, minNs float64) (profile.Model, error) {
	used := 0
	for _, pt := range pts {
		if pt.w > 0 {
			used++
		}
	}
	if used < 4 || !(minNs > 0) {
		return profile.Model{}, fmt.Errorf("%w: %d grid points", errNoFit, len(pts))
	}
	median := interpolate(pts, 0.5)
	spread := median - minNs
	if !(spread > 0) {
		// Half the samples equal the minimum: no continuous model.
		return profile.Model{}, fmt.Errorf("%w: median equals minimum", errNoFit)
	}
	// Starting shifts: the three-quantile log-normal estimate, and fixed
	// fractions of the minimum-to-median spread below the minimum.
	starts := []float64{minNs - 1e-4*spread, minNs - 0.02*spread, minNs - 0.2*spread, minNs - spread}
	if s, ok := threeQuantileShift(pts); ok && s < minNs && s >= 0 {
		starts = append([]float64{s}, starts...)
	}
	model := func(x []float64) profile.Model {
		m := profile.Model{Family: fam, ShiftNs: minNs - math.Exp(x[0])}
		if fam == profile.FamilyLogNormal {
			m.Mu, m.Sigma = x[1], math.Exp(x[2])
		} else {
			m.Alpha, m.Beta = math.Exp(x[1]), math.Exp(x[2])
		}
		return m
	}
	f := func(x []float64) float64 {
		m := model(x)
		if m.ShiftNs < 0 {
			return penalty - m.ShiftNs/minNs
		}
		if fam == profile.FamilyGamma && (m.Alpha < 1e-3 || m.Alpha > 1e6) {
			return penalty + math.Abs(x[1])
		}
		if fam == profile.FamilyLogNormal && (m.Sigma > 20 || math.Abs(m.Mu) > 100) {
			return penalty + math.Abs(x[2])
		}
		v := objective(&m, pts)
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}
	best, bestF := []float64(nil), math.Inf(1)
	for _, s := range starts {
		if s < 0 {
			s = 0
		}
		if s >= minNs {
			continue
		}
		x0 := initial(fam, pts, s, minNs)
		if x0 == nil {
			continue
		}
		// Two rounds: Nelder–Mead restarted at its own answer escapes the
		// degenerate simplices it can collapse into.
		for range 2 {
			x, v := nelderMead(f, x0, 0.1, 1e-12, 3000)
			x0 = x
			if v < bestF {
				best, bestF = x, v
			}
		}
	}
	if best == nil || !(bestF < penalty) {
		return profile.Model{}, fmt.Errorf("%w: %s did not converge", errNoFit, fam)
	}
	m := model(best)
	m.GoF = profile.GoF{Method: GoFMethod, Objective: bestF, GridPoints: used}
	return m, nil
}

// initial returns starting parameters for a shift s: the log-normal's mu and
// sigma by regressing ln(q − s) on the normal quantiles z(p) over the grid,
// and the gamma with the same mean and variance.
func initial(fam profile.Family, pts []point, s, minNs float64) []float64 {
	var n, sz, sy, szz, szy float64
	for _, pt := range pts {
		if pt.q <= s {
			continue
		}
		z := distuv.UnitNormal.Quantile(pt.p)
		y := math.Log(pt.q - s)
		n++
		sz += z
		sy += y
		szz += z * z
		szy += z * y
	}
	if n < 3 {
		return nil
	}
	sigma := (n*szy - sz*sy) / (n*szz - sz*sz)
	mu := (sy - sigma*sz) / n
	if !(sigma > 0) || math.IsNaN(mu) {
		return nil
	}
	sigma = math.Min(sigma, 10)
	u := math.Log(minNs - s)
	if fam == profile.FamilyLogNormal {
		return []float64{u, mu, math.Log(sigma)}
	}
	mean := math.Exp(mu + sigma*sigma/2)
	alpha := 1 / math.Expm1(sigma*sigma)
	alpha = math.Min(math.Max(alpha, 0.01), 1e5)
	return []float64{u, math.Log(alpha), math.Log(alpha / mean)}
}

// threeQuantileShift is the closed-form shift of a log-normal through the
// quantiles at p, 1/2 and 1−p: (q1 q3 − q2²) / (q1 + q3 − 2 q2), with p the
// lowest grid probability that has a mirror image.
func threeQuantileShift(pts []point) (float64, bool) {
	for _, lo := range []float64{0.01, 0.05, 0.1} {
		q1, ok1 := exact(pts, lo)
		q2, ok2 := exact(pts, 0.5)
		q3, ok3 := exact(pts, 1-lo)
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		d := q1 + q3 - 2*q2
		if d <= 0 {
			return 0, false // not right-skewed
		}
		return (q1*q3 - q2*q2) / d, true
	}
	return 0, false
}

func exact(pts []point, p float64) (float64, bool) {
	for _, pt := range pts {
		if math.Abs(pt.p-p) < 1e-12 {
			return pt.q, true
		}
	}
	return 0, false
}

// interpolate returns the quantile at p by linear interpolation in pts.
func interpolate(pts []point, p float64) float64 {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].p >= p })
	switch {
	case i == 0:
		return pts[0].q
	case i == len(pts):
		return pts[len(pts)-1].q
	}
	a, b := pts[i-1], pts[i]
	return a.q + (b.q-a.q)*(p-a.p)/(b.p-a.p)
}

// ks returns the Kolmogorov–Smirnov statistic between the sketch's
// samples and the model, evaluated at every bucket edge, where the
// empirical CDF is exact: sup over edges e of |C(e)/n − F(e)|, over all
// edges and over edges ≤ median. It is a lower bound on the statistic over
// all x; within a bucket the empirical CDF is unknown, so the statistic
// over all x is at most ks + mass, where mass is the model's largest
// probability in one occupied bucket (about α·x·density, which dominates
// for narrow distributions far from zero).
func ks(m *profile.Model, sk *Sketch, median float64) (ks, ksLow, mass float64) {
	n := float64(sk.Count())
	if n == 0 {
		return 1, 1, 0
	}
	var cum uint64
	first := true
	sk.Buckets(func(b Bucket) bool {
		if first {
			// Below the first bucket the empirical CDF is 0.
			ks = m.CDF(b.Lo)
			ksLow = ks
			first = false
		}
		fb := m.CDF(b.Hi)
		mass = math.Max(mass, fb-m.CDF(b.Lo))
		cum += b.Count
		d := math.Abs(float64(cum)/n - fb)
		ks = math.Max(ks, d)
		if b.Hi <= median {
			ksLow = math.Max(ksLow, d)
		}
		return true
	})
	return math.Min(ks, 1), math.Min(ksLow, 1), mass
}

// andersonDarling returns A² of the sorted sample against the model.
func andersonDarling(m *profile.Model, sorted []float64) float64 {
	k := len(sorted)
	if k == 0 {
		return 0
	}
	const tiny = 1e-300
	var sum float64
	for i := range k {
		lf := math.Log(math.Max(m.CDF(sorted[i]), tiny))
		ls := math.Log(math.Max(m.Survival(sorted[k-1-i]), tiny))
		sum += float64(2*i+1) * (lf + ls)
	}
	a := -float64(k) - sum/float64(k)
	switch {
	case math.IsNaN(a) || math.IsInf(a, 1):
		return math.MaxFloat64 // a sample the model calls impossible
	case a < 0:
		return 0 // rounding, for a model that fits perfectly
	}
	return a
}
