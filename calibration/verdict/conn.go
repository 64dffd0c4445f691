package verdict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/latencyproof/poc/calibration/profile"
)

// connModel decides with a profile's connection levels: connections are
// independent, echoes within one are not. See the package documentation
// for the statistics.
type connModel struct {
	sizes  []int // echoes per connection
	levels []int // per connection, the level K of its false-reject side (0: none)
	basis  Basis
	// rej is the false-reject side, one term per level used; acc the
	// false-accept side, and accOf[i] the acc term of connection i.
	rej   []term
	acc   []term
	accOf []int
	// probe: the model is one probe level, the whole observation one draw
	// of it; shape is the observation's connection sizes.
	probe bool
	shape []int
}

// newProbeModel decides with a probe level of exactly the observation's
// shape: the observation's minimum is one draw of the level, whatever the
// dependence between its connections, so the verdict assumes none.
func newProbeModel(p *profile.Profile, pl *profile.ConnMin, conns []int, basis Basis) (*connModel, error) {
	d, err := levelDist(p, pl, basis)
	if err != nil {
		return nil, err
	}
	return &connModel{
		sizes: []int{pl.K}, levels: []int{pl.K}, basis: basis, probe: true, shape: slices.Clone(conns),
		rej: []term{{level: pl, d: d, n: 1}}, acc: []term{{level: pl, d: d, n: 1}}, accOf: []int{0},
	}, nil
}

// term is n connections described alike: the minimum of a level's K
// echoes (d), and for connections longer than every level (extra > 0)
// their extra echoes, each bounded by the per-echo description echo.
type term struct {
	level *profile.ConnMin
	d     dist
	n     int
	extra int
	echo  dist
}

// newConnModel chooses, for each connection of k echoes, the levels that
// bound it from either side: for the false-reject rate the largest level
// K ≤ k (its minimum is never faster than the connection's), for the
// false-accept rate the smallest K ≥ k (never slower). It returns nil and
// a note when no connection reaches the smallest level: then only the
// per-echo model can decide.
func newConnModel(p *profile.Profile, conns []int, basis Basis, echo dist) (*connModel, []string, error) {
	cm := &connModel{sizes: slices.Clone(conns), basis: basis}
	rejOf := map[int]int{}
	type accKey struct{ level, extra int }
	accOf := map[accKey]int{}
	var below, between, above []int
	largest := &p.ConnMins[len(p.ConnMins)-1]
	for _, k := range conns {
		lo := p.ConnAtMost(k)
		switch {
		case lo == nil:
			cm.levels = append(cm.levels, 0)
			below = appendNew(below, k)
		default:
			cm.levels = append(cm.levels, lo.K)
			if lo.K != k && k <= largest.K {
				between = appendNew(between, k)
			}
			j, ok := rejOf[lo.K]
			if !ok {
				d, err := levelDist(p, lo, basis)
				if err != nil {
					return nil, nil, err
				}
				j = len(cm.rej)
				rejOf[lo.K] = j
				cm.rej = append(cm.rej, term{level: lo, d: d})
			}
			cm.rej[j].n++
		}
		hi, extra := p.ConnAtLeast(k), 0
		if hi == nil {
			hi, extra = largest, k-largest.K
			above = appendNew(above, k)
		}
		key := accKey{hi.K, extra}
		j, ok := accOf[key]
		if !ok {
			d, err := levelDist(p, hi, basis)
			if err != nil {
				return nil, nil, err
			}
			j = len(cm.acc)
			accOf[key] = j
			cm.acc = append(cm.acc, term{level: hi, d: d, extra: extra, echo: echo})
		}
		cm.acc[j].n++
		cm.accOf = append(cm.accOf, j)
	}
	ks := make([]int, len(p.ConnMins))
	for i := range p.ConnMins {
		ks[i] = p.ConnMins[i].K
	}
	if len(cm.rej) == 0 {
		return nil, []string{fmt.Sprintf("every connection (%v echoes) is shorter than the profile's smallest connection level (K = %d): the verdict uses the per-echo model, which treats the echoes as independent draws and understates the false-reject rate when whole connections run slow",
			below, ks[0])}, nil
	}
	var notes []string
	if len(between) > 0 {
		notes = append(notes, fmt.Sprintf("connections of %v echoes are not a calibrated level (levels K = %v): for the false-reject rate each counts as the largest level below it (its further echoes get no credit), for false-accept rates as the smallest level above it, so both rates are overstated, never understated", between, ks))
	}
	if len(above) > 0 {
		notes = append(notes, fmt.Sprintf("connections of %v echoes are longer than the largest calibrated level (K = %d): their echoes beyond it get no credit in the false-reject rate, and in false-accept rates each is bounded by the per-echo distribution (a union bound, which assumes later echoes are no faster than the calibration's average echo)", above, largest.K))
	}
	if len(below) > 0 {
		notes = append(notes, fmt.Sprintf("connections of %v echoes are shorter than the smallest calibrated level (K = %d): they get no credit in the false-reject rate", below, ks[0]))
	}
	return cm, notes, nil
}

// levelDist is the description of a level's minimum on the basis.
func levelDist(p *profile.Profile, c *profile.ConnMin, basis Basis) (dist, error) {
	d := dist{model: c.Model(), emp: c, basis: basis}
	if basis == BasisModel && d.model == nil {
		return dist{}, fmt.Errorf("%w: %s connection level K = %d", ErrNoModel, p.Name(), c.K)
	}
	return d, nil
}

func appendNew(xs []int, x int) []int {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// hasModels reports whether every level on the false-reject side has a
// model.
func (cm *connModel) hasModels() bool {
	for _, r := range cm.rej {
		if r.d.model == nil {
			return false
		}
	}
	return true
}

// on returns the term's description on another basis.
func (r term) on(b Basis) dist {
	d := r.d
	d.basis = b
	return d
}

// reject returns the probability that an honest prover is rejected at
// threshold t: P(min > t) = Π_i S_{k_i}(t), each connection's survival on
// the false-reject side, on basis b.
func (cm *connModel) reject(t float64, b Basis) float64 {
	var l float64
	for _, r := range cm.rej {
		s := r.on(b).survival(t)
		if !(s > 0) {
			return 0
		}
		l += float64(r.n) * math.Log(math.Min(s, 1))
	}
	return math.Exp(l)
}

// threshold solves Π_i S_{k_i}(t) = frr on the verdict's basis (t) and,
// where they apply, on the model's and the empirical description alone
// (tm, te; 0 when not computed). With one level the solution is closed:
// t = Q(1 − frr^(1/C)) for C connections; with several, bisection.
func (cm *connModel) threshold(frr float64) (t, tm, te float64) {
	withModel := cm.basis != BasisEmpirical && cm.hasModels()
	withEmp := cm.basis != BasisModel
	if len(cm.rej) == 1 {
		r := cm.rej[0]
		u := levelReject(r.n, 1, frr)
		if withModel {
			tm = r.d.model.Quantile(u)
		}
		if withEmp {
			te = r.d.emp.EmpiricalQuantile(u)
		}
		return r.d.upper(u), tm, te
	}
	solve := func(b Basis) float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		n := 0
		for _, r := range cm.rej {
			n += r.n
		}
		u := levelReject(n, 1, frr)
		for _, r := range cm.rej {
			d := r.on(b)
			lo = math.Min(lo, d.floor())
			hi = math.Max(hi, d.upper(u))
		}
		return bisect(func(x float64) bool { return cm.reject(x, b) > frr }, lo, hi)
	}
	if withModel {
		tm = solve(BasisModel)
	}
	if withEmp {
		te = solve(BasisEmpirical)
	}
	return solve(cm.basis), tm, te
}

// bisect returns the smallest x at or above lo (to float precision) where
// above(x) is false, for above true up to some point and false after it,
// starting from the guess hi and widening the bracket if rounding left
// above(hi) true; NaN when there is no such x (or no finite bracket).
func bisect(above func(float64) bool, lo, hi float64) float64 {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(hi, 0) || math.IsInf(lo, 0) {
		return math.NaN()
	}
	lo = math.Min(lo, hi)
	for i := 0; above(hi); i++ {
		if i == 64 {
			return math.NaN()
		}
		hi += math.Max(hi-lo, 1)
	}
	for range 200 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if above(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// cdf returns the false-accept side's bound on P(a connection's minimum
// ≤ s): the level's CDF, plus for extra echoes the per-echo CDF each (the
// union bound).
func (a term) cdf(s float64) float64 {
	g := a.d.cdf(s)
	if a.extra > 0 {
		g = math.Min(1, g+float64(a.extra)*a.echo.cdf(s))
	}
	return g
}

// accept returns the probability that some connection's minimum is at or
// below s: 1 − Π_i (1 − F_{k_i}(s)), with each F on the false-accept side.
// At s = t − 2d/c it is the false-accept rate of a relay at distance d,
// which shifts every echo of every connection by 2d/c.
func (cm *connModel) accept(s float64) float64 {
	var l float64
	for _, a := range cm.acc {
		g := a.cdf(s)
		if math.IsNaN(g) {
			return math.NaN()
		}
		if g >= 1 {
			return 1
		}
		l += float64(a.n) * math.Log1p(-g)
	}
	return math.Max(0, -math.Expm1(l)) // never −0

}

// acceptQuantile returns the largest s with accept(s) ≤ target, capped at
// t: a relay whose delay puts the threshold at s is accepted with
// probability target. With one level and no extra echoes it is closed,
// s = Q(1 − (1 − target)^(1/C)); otherwise bisection.
func (cm *connModel) acceptQuantile(target, t float64) float64 {
	if len(cm.acc) == 1 && cm.acc[0].extra == 0 {
		a := cm.acc[0]
		return math.Min(a.d.quantile(levelAccept(a.n, 1, target)), t)
	}
	if cm.accept(t) <= target {
		return t
	}
	lo := math.Inf(1)
	for _, a := range cm.acc {
		lo = math.Min(lo, a.d.floor())
		if a.extra > 0 {
			lo = math.Min(lo, a.echo.floor())
		}
	}
	// bisect finds the first s where accept(s) > target; just below it
	// the rate is at most the target.
	s := bisect(func(x float64) bool { return cm.accept(x) <= target }, lo, t)
	if math.IsNaN(s) {
		return lo
	}
	return s
}

// extrapolation returns a note for every level whose survival at t lies
// beyond what its calibration connections can show (below 1/N for N
// connections): there the threshold rests on the fitted model's tail and
// on interpolation towards the slowest calibrated connection.
func (cm *connModel) extrapolation(t float64) []string {
	var out []string
	for _, r := range cm.rej {
		s := r.d.survival(t)
		n := float64(r.level.Connections)
		if s*n < 1 && cm.probe {
			out = append(out, fmt.Sprintf("at the threshold a probe of connections of %v echoes is slower with probability %.2g, beyond the resolution of the %d calibration probes of that shape (1/%d): the false-reject rate rests there on the fitted model's tail and on interpolation towards the slowest calibrated probe; about %.0f probes would let the data show it",
				cm.shape, s, r.level.Connections, r.level.Connections, math.Ceil(10/s)))
			continue
		}
		if s*n < 1 {
			out = append(out, fmt.Sprintf("at the threshold a connection of %d echoes is slower with probability %.2g, beyond the resolution of the %d calibration connections of that level (1/%d): the false-reject rate rests there on the fitted model's tail and on interpolation towards the slowest calibrated connection; about %.0f connections would let the data show it",
				r.level.K, s, r.level.Connections, r.level.Connections, math.Ceil(10/s)))
		}
	}
	return out
}

// simulate draws one observation's minimum under the false-accept side's
// description, each connection's echoes delayed by extra (nil: none): a
// connection's minimum plus the least of its echoes' delays, which is at
// most the minimum of the delayed echoes, so a random relay delay is
// never understated.
func (cm *connModel) simulate(r *rand.Rand, extra func(*rand.Rand) float64) float64 {
	lo := math.Inf(1)
	for i, k := range cm.sizes {
		a := cm.acc[cm.accOf[i]]
		x := a.d.quantile(r.Float64())
		for range a.extra {
			x = math.Min(x, a.echo.quantile(r.Float64()))
		}
		if extra != nil {
			e := math.Inf(1)
			for range k {
				e = math.Min(e, extra(r))
			}
			x += e
		}
		lo = math.Min(lo, x)
	}
	return lo
}
