package fit

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSketchBound: for every p on a fine grid, the sketch's quantile is
// within α (relative) of the exact sample quantile of rank ⌊p(n−1)⌋, for
// data sets of different shapes, and after merging.
func TestSketchBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	sets := map[string][]float64{}
	var ln, wide, ties, tiny []float64
	for range 100_000 {
		ln = append(ln, 100_000+math.Exp(math.Log(30_000)+0.5*r.NormFloat64()))
		wide = append(wide, math.Pow(10, 1+9*r.Float64())) // 10 ns to 10 s
		ties = append(ties, float64(100_000+1000*r.IntN(5)))
		tiny = append(tiny, 1e-6+r.Float64()*1e-3) // below SketchMin: one bucket
	}
	sets["lognormal"], sets["ten decades"], sets["ties"] = ln, wide, ties
	for _, alpha := range []float64{1e-3, 1e-2} {
		for name, xs := range sets {
			sk, err := NewSketch(alpha)
			if err != nil {
				t.Fatal(err)
			}
			// Two halves merged: merging must keep the guarantee.
			a, _ := NewSketch(alpha)
			for i, x := range xs {
				if i%2 == 0 {
					sk.Add(x)
				} else {
					a.Add(x)
				}
			}
			if err := sk.Merge(a); err != nil {
				t.Fatal(err)
			}
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			n := len(sorted)
			if sk.Count() != uint64(n) {
				t.Fatalf("count %d", sk.Count())
			}
			worst := 0.0
			for i := 0; i <= 10_000; i++ {
				p := float64(i) / 10_000
				exact := sorted[int(math.Floor(p*float64(n-1)))]
				got := sk.Quantile(p)
				rel := math.Abs(got-exact) / exact
				worst = math.Max(worst, rel)
				if rel > alpha*(1+1e-9) {
					t.Fatalf("α=%v %s p=%v: %v vs exact %v (relative error %v)", alpha, name, p, got, exact, rel)
				}
			}
			t.Logf("α=%v %-12s worst relative error %.3g, %d bytes", alpha, name, worst, sk.Bytes())
			// Counts at bucket edges are exact.
			var cum uint64
			sk.Buckets(func(b Bucket) bool {
				cum += b.Count
				want, _ := slices.BinarySearch(sorted, math.Nextafter(b.Hi, math.Inf(1)))
				if diff := int(cum) - want; diff != 0 {
					// A value exactly at an edge may fall on either
					// side by rounding of the logarithm.
					if math.Abs(float64(diff)) > 1 || sorted[min(want, n-1)] != b.Hi {
						t.Fatalf("%s: %d values ≤ edge %v, want %d", name, cum, b.Hi, want)
					}
				}
				if got := sk.CountAtMost(b.Hi); got != cum {
					t.Fatalf("CountAtMost(%v) = %d, want %d", b.Hi, got, cum)
				}
				return true
			})
		}
	}
	// Values below SketchMin share the lowest bucket: allowed, documented.
	sk, _ := NewSketch(1e-3)
	for _, x := range tiny {
		sk.Add(x)
	}
	if q := sk.Quantile(0.5); !(q > 0 && q < 2*SketchMin) {
		t.Errorf("tiny values: median %v", q)
	}
}

// TestSketchMemory: the sketch's memory depends on the range of values,
// not their number.
func TestSketchMemory(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	sk, _ := NewSketch(1e-3)
	var at10k int
	for i := range 1_000_000 {
		sk.Add(50_000 + 100_000*r.ExpFloat64())
		if i == 10_000 {
			at10k = sk.Bytes()
		}
	}
	if sk.Bytes() > 4*at10k || sk.Bytes() > 1<<20 {
		t.Errorf("sketch grew from %d to %d bytes", at10k, sk.Bytes())
	}
}

func TestSketchTrimAndErrors(t *testing.T) {
	sk, _ := NewSketch(1e-3)
	for i := 1; i <= 1000; i++ {
		sk.Add(float64(i))
	}
	removed, edge := sk.TrimAbove(500)
	if edge < 500 || edge > 500*1.003 || removed < 499 || removed > 500 || sk.Count() != 1000-removed {
		t.Fatalf("trim: removed %d, edge %v, count %d", removed, edge, sk.Count())
	}
	if q := sk.Quantile(1); q > edge {
		t.Fatalf("max after trim %v above edge %v", q, edge)
	}
	if _, err := NewSketch(0); !errors.Is(err, ErrSketch) {
		t.Error("α = 0 accepted")
	}
	if _, err := NewSketch(0.5); !errors.Is(err, ErrSketch) {
		t.Error("α = 0.5 accepted")
	}
	a, _ := NewSketch(1e-3)
	b, _ := NewSketch(1e-2)
	if err := a.Merge(b); !errors.Is(err, ErrSketch) {
		t.Error("merging different α accepted")
	}
	empty, _ := NewSketch(1e-3)
	if !math.IsNaN(empty.Quantile(0.5)) || !math.IsNaN(sk.Quantile(1.5)) {
		t.Error("NaN cases")
	}
}
