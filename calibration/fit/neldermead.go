package fit

import (
	"math"
	"sort"
)

// nelderMead minimises f from x0 with the Nelder–Mead simplex method
// (reflection 1, expansion 2, contraction ½, shrink ½), starting from a
// simplex of x0 and x0 + step·e_i, until the function values across the
// simplex agree to tol (absolute and relative) or after maxEval
// evaluations. It returns the best vertex and its value.
//
// gonum's optimize package would do, but importing it pulls in
// golang.org/x/tools through gonum's distmv, which the module does not
// carry; the method is short enough to keep here.
func nelderMead(f func([]float64) float64, x0 []float64, step, tol float64, maxEval int) ([]float64, float64) {
	n := len(x0)
	type vertex struct {
		x []float64
		f float64
	}
	evals := 0
	eval := func(x []float64) float64 {
		evals++
		v := f(x)
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}
	simplex := make([]vertex, n+1)
	for i := range simplex {
		x := append([]float64(nil), x0...)
		if i > 0 {
			x[i-1] += step
		}
		simplex[i] = vertex{x, eval(x)}
	}
	centroid := make([]float64, n)
	along := func(t float64) []float64 { // centroid + t·(centroid − worst)
		x := make([]float64, n)
		w := simplex[n].x
		for j := range x {
			x[j] = centroid[j] + t*(centroid[j]-w[j])
		}
		return x
	}
	for evals < maxEval {
		sort.Slice(simplex, func(a, b int) bool { return simplex[a].f < simplex[b].f })
		best, worst := simplex[0].f, simplex[n].f
		if math.Abs(worst-best) <= tol*(math.Abs(best)+tol) {
			break
		}
		for j := range centroid {
			centroid[j] = 0
			for _, v := range simplex[:n] {
				centroid[j] += v.x[j] / float64(n)
			}
		}
		xr := along(1)
		fr := eval(xr)
		switch {
		case fr < best:
			xe := along(2)
			if fe := eval(xe); fe < fr {
				simplex[n] = vertex{xe, fe}
			} else {
				simplex[n] = vertex{xr, fr}
			}
		case fr < simplex[n-1].f:
			simplex[n] = vertex{xr, fr}
		default:
			t := -0.5 // inside contraction
			if fr < worst {
				t = 0.5 // outside contraction
			}
			xc := along(t)
			if fc := eval(xc); fc < math.Min(fr, worst) {
				simplex[n] = vertex{xc, fc}
				continue
			}
			for i := 1; i <= n; i++ { // shrink towards the best
				for j := range simplex[i].x {
					simplex[i].x[j] = simplex[0].x[j] + 0.5*(simplex[i].x[j]-simplex[0].x[j])
				}
				simplex[i].f = eval(simplex[i].x)
			}
		}
	}
	sort.Slice(simplex, func(a, b int) bool { return simplex[a].f < simplex[b].f })
	return simplex[0].x, simplex[0].f
}
