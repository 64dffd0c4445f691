package fit

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/profile"
)

var amsterdam = profile.Location{Lat: 52.3676, Lon: 4.9041}

func locate(_, _, _ string) (profile.Location, bool) { return amsterdam, true }

// gen is a Source of n synthetic samples: draw gives each round trip, and
// every sample names the same endpoint, method and vantage.
type gen struct {
	n, i int
	r    *rand.Rand
	draw func(*rand.Rand) float64
	t0   time.Time
}

func newGen(n int, seed uint64, draw func(*rand.Rand) float64) *gen {
	return &gen{n: n, r: rand.New(rand.NewPCG(seed, 99)), draw: draw, t0: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

func (g *gen) Read() (dataset.Sample, error) {
	if g.i >= g.n {
		return dataset.Sample{}, io.EOF
	}
	s := sample(g.draw(g.r))
	s.Seq = uint64(g.i)
	s.Time = g.t0.Add(time.Duration(g.i) * time.Millisecond)
	g.i++
	return s, nil
}

func sample(rtt float64) dataset.Sample {
	return dataset.Sample{
		Campaign: "test", Vantage: "westeurope-vm", VantageLat: amsterdam.Lat, VantageLon: amsterdam.Lon,
		Origin: "lab", Endpoint: "api.westeurope.lab.test", Provider: "lab", Region: "westeurope",
		Method: "h2-ping", RTTNs: rtt,
	}
}

func lognormalDraw(shift, mu, sigma float64) func(*rand.Rand) float64 {
	return func(r *rand.Rand) float64 { return shift + math.Exp(mu+sigma*r.NormFloat64()) }
}

func gammaDraw(shift, alpha, beta float64) func(*rand.Rand) float64 {
	return func(r *rand.Rand) float64 { return shift + distuv.Gamma{Alpha: alpha, Beta: beta, Src: r}.Rand() }
}

// TestFitRecovers: fitting synthetic data with known parameters recovers
// them. Tolerances (n = 200,000 samples, fixed seeds), chosen about 3×
// the spread seen over seeds and sample sizes 10⁴-10⁶:
//
//	shift: within 2% of the true median − shift (the distribution's scale)
//	log-normal: |Δmu| ≤ 0.03, |Δsigma| ≤ 3% of sigma
//	gamma: |Δalpha| ≤ 5% and |Δbeta| ≤ 5%
//
// and the right family ranks first.
func TestFitRecovers(t *testing.T) {
	const n = 200_000
	tests := []struct {
		name  string
		truth profile.Model
	}{
		{"lognormal narrow", profile.Model{Family: profile.FamilyLogNormal, ShiftNs: 100_000, Mu: math.Log(30_000), Sigma: 0.5}},
		{"lognormal wide", profile.Model{Family: profile.FamilyLogNormal, ShiftNs: 150_000, Mu: math.Log(300_000), Sigma: 1}},
		{"gamma lab (two exponential jitters)", profile.Model{Family: profile.FamilyGamma, ShiftNs: 200_000, Alpha: 2, Beta: 1.0 / 20_000}},
		{"gamma exponential", profile.Model{Family: profile.FamilyGamma, ShiftNs: 200_000, Alpha: 1, Beta: 1.0 / 20_000}},
		{"gamma peaked", profile.Model{Family: profile.FamilyGamma, ShiftNs: 500_000, Alpha: 6, Beta: 1.0 / 10_000}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.truth
			draw := func(r *rand.Rand) float64 { return m.Rand(r) }
			f, err := Fit(newGen(n, uint64(i+1), draw), Options{Locate: locate})
			if err != nil {
				t.Fatal(err)
			}
			p := f.Profiles[0]
			got := p.Models[0]
			if got.Family != m.Family {
				t.Fatalf("best family %s (objective %v), want %s; models %+v", got.Family, got.GoF.Objective, m.Family, p.Models)
			}
			scale := m.Quantile(0.5) - m.ShiftNs
			check := func(what string, got, want, tol float64) {
				t.Helper()
				if math.Abs(got-want) > tol {
					t.Errorf("%s = %.6g, want %.6g ± %.3g", what, got, want, tol)
				}
			}
			check("shift", got.ShiftNs, m.ShiftNs, 0.02*scale)
			if m.Family == profile.FamilyLogNormal {
				check("mu", got.Mu, m.Mu, 0.03)
				check("sigma", got.Sigma, m.Sigma, 0.03*m.Sigma)
			} else {
				check("alpha", got.Alpha, m.Alpha, 0.05*m.Alpha)
				check("beta", got.Beta, m.Beta, 0.05*m.Beta)
			}
			if got.GoF.Objective > 3 || got.GoF.KS > 0.01 || got.GoF.ADSamples != DefaultReservoir {
				t.Errorf("goodness of fit of the true family: %+v", got.GoF)
			}
			if len(p.Models) == 2 && p.Models[1].GoF.Objective <= got.GoF.Objective {
				t.Errorf("models not sorted by objective")
			}
			if p.Count != n || p.FloorNs > got.ShiftNs || p.FloorNs > p.MinNs*(1-DefaultFloorMargin) {
				t.Errorf("count %d, floor %v (shift %v, min %v)", p.Count, p.FloorNs, got.ShiftNs, p.MinNs)
			}
			t.Logf("%s: shift %.0f (true %.0f), mu %.4f sigma %.4f alpha %.4f beta %.4g; objective %.3g, KS %.4f, AD %.3g",
				got.Family, got.ShiftNs, m.ShiftNs, got.Mu, got.Sigma, got.Alpha, got.Beta, got.GoF.Objective, got.GoF.KS, got.GoF.AD)
		})
	}
}

// TestFitQuantilesExact: quantiles of low rank are exact order statistics,
// the others within the sketch's error; min and max exact.
func TestFitQuantilesExact(t *testing.T) {
	const n = 50_000
	g := newGen(n, 7, lognormalDraw(100_000, math.Log(30_000), 0.5))
	var xs []float64
	fr, _ := NewFitter(Options{Locate: locate})
	for {
		s, err := g.Read()
		if err == io.EOF {
			break
		}
		xs = append(xs, s.RTTNs)
		if err := fr.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fr.File()
	if err != nil {
		t.Fatal(err)
	}
	p := f.Profiles[0]
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	if p.MinNs != sorted[0] || p.MaxNs != sorted[n-1] {
		t.Fatalf("min/max %v/%v, want %v/%v", p.MinNs, p.MaxNs, sorted[0], sorted[n-1])
	}
	for _, q := range p.Quantiles {
		rank := int(math.Floor(q.P * float64(n-1)))
		exact := sorted[rank]
		tol := 0.0
		if rank >= DefaultLowest {
			tol = p.SketchRelErr * exact * (1 + 1e-9)
		}
		if math.Abs(q.Ns-exact) > tol {
			t.Errorf("p %v (rank %d): %v, exact %v", q.P, rank, q.Ns, exact)
		}
	}
	// File is repeatable: calling it again gives the same profiles.
	f2, err := fr.File()
	if err != nil || !reflect.DeepEqual(f, f2) {
		t.Fatalf("second File differs: %v", err)
	}
}

// TestFitReproducible: the same input and seed give the same file.
func TestFitReproducible(t *testing.T) {
	draw := gammaDraw(200_000, 2, 1.0/20_000)
	a, err := Fit(newGen(30_000, 3, draw), Options{Locate: locate, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(newGen(30_000, 3, draw), Options{Locate: locate, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two fits of the same samples differ")
	}
}

// TestFitOutliers: high outliers are dropped (hard cap, trim), low ones
// kept and flagged.
func TestFitOutliers(t *testing.T) {
	const n = 20_000
	draw := lognormalDraw(100_000, math.Log(30_000), 0.5)
	r := rand.New(rand.NewPCG(8, 8))
	fr, err := NewFitter(Options{Locate: locate, HardCapNs: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	add := func(x float64) {
		t.Helper()
		if err := fr.Add(sample(x)); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		add(draw(r))
	}
	for range 5 {
		add(5e9) // above the hard cap
	}
	for range 7 {
		add(1e8) // far above 10 × p99.9 (~0.3 ms)
	}
	add(20_000) // a low outlier: a lie or the floor
	f, err := fr.File()
	if err != nil {
		t.Fatal(err)
	}
	p := f.Profiles[0]
	o := p.Outliers
	if o.AboveCap != 5 || o.AboveTrim != 7 || p.Count != n+1 {
		t.Errorf("above cap %d (want 5), above trim %d (want 7), count %d (want %d)", o.AboveCap, o.AboveTrim, p.Count, n+1)
	}
	if p.MaxNs > o.TrimNs || o.TrimNs > 1e7 {
		t.Errorf("max %v, trim edge %v", p.MaxNs, o.TrimNs)
	}
	if p.MinNs != 20_000 || !o.MinFarBelowP01 || o.Low != 1 {
		t.Errorf("low outlier: min %v, flagged %v, low count %d", p.MinNs, o.MinFarBelowP01, o.Low)
	}
	if p.FloorNs > 20_000 {
		t.Errorf("floor %v above the low outlier", p.FloorNs)
	}
	// Trimming off: the 7 stay.
	fr2, _ := NewFitter(Options{Locate: locate, NoTrim: true})
	r = rand.New(rand.NewPCG(8, 8))
	for range n {
		_ = fr2.Add(sample(draw(r)))
	}
	for range 7 {
		_ = fr2.Add(sample(1e8))
	}
	f2, err := fr2.File()
	if err != nil {
		t.Fatal(err)
	}
	if p2 := f2.Profiles[0]; p2.Count != n+7 || p2.MaxNs != 1e8 || p2.Outliers.TrimFactor != 0 {
		t.Errorf("no trim: count %d, max %v, %+v", p2.Count, p2.MaxNs, p2.Outliers)
	}
}

// TestFitGroups: samples group by (provider, region, endpoint, method,
// origin, vantage); failures count per group and are excluded.
func TestFitGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	draw := lognormalDraw(100_000, math.Log(30_000), 0.5)
	fr, _ := NewFitter(Options{Locate: locate})
	must := func(s dataset.Sample) {
		t.Helper()
		if err := fr.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	for range 2000 {
		must(sample(draw(r)))
		s := sample(2 * draw(r))
		s.Method = "http1"
		must(s)
		s = sample(draw(r))
		s.Origin = "real"
		must(s)
	}
	fail := sample(0)
	fail.Error, fail.ErrorKind = "dial tcp: refused", dataset.ErrorKindDial
	must(fail)
	auto := fail
	auto.Method = dataset.MethodAuto
	must(auto) // counts for h2-ping and http1 of the lab origin
	backoff := fail
	backoff.ErrorKind = dataset.ErrorKindBackoff
	must(backoff) // not an attempt
	orphan := fail
	orphan.Endpoint = "dead.endpoint"
	must(orphan)
	f, err := fr.File()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Profiles) != 3 {
		t.Fatalf("%d profiles, want 3", len(f.Profiles))
	}
	want := map[string]uint64{"h2-ping/lab": 2, "http1/lab": 1, "h2-ping/real": 0}
	for _, p := range f.Profiles {
		k := p.Method + "/" + string(p.Origin)
		if p.Failures != want[k] || p.Count != 2000 {
			t.Errorf("%s: failures %d (want %d), count %d", k, p.Failures, want[k], p.Count)
		}
		if !p.FirstSample.IsZero() {
			t.Errorf("%s: samples without times gave dates", k)
		}
	}
	if !strings.Contains(f.Provenance.Notes, "1 failed attempts of endpoints without measured samples") {
		t.Errorf("notes %q", f.Provenance.Notes)
	}
}

// TestFitErrors: bad samples and options give typed errors naming what is
// wrong.
func TestFitErrors(t *testing.T) {
	bad := func(edit func(*dataset.Sample)) dataset.Sample {
		s := sample(120_000)
		edit(&s)
		return s
	}
	samples := []struct {
		name string
		s    dataset.Sample
	}{
		{"NaN RTT", bad(func(s *dataset.Sample) { s.RTTNs = math.NaN() })},
		{"negative RTT", bad(func(s *dataset.Sample) { s.RTTNs = -1 })},
		{"zero RTT", bad(func(s *dataset.Sample) { s.RTTNs = 0 })},
		{"infinite RTT", bad(func(s *dataset.Sample) { s.RTTNs = math.Inf(1) })},
		{"no endpoint", bad(func(s *dataset.Sample) { s.Endpoint = "" })},
		{"no origin", bad(func(s *dataset.Sample) { s.Origin = "" })},
		{"method", bad(func(s *dataset.Sample) { s.Method = "auto" })},
		{"vantage latitude", bad(func(s *dataset.Sample) { s.VantageLat = 100 })},
		{"failure with a bad method", bad(func(s *dataset.Sample) { s.Error, s.Method = "x", "udp" })},
	}
	for _, tc := range samples {
		t.Run(tc.name, func(t *testing.T) {
			fr, _ := NewFitter(Options{Locate: locate})
			err := fr.Add(tc.s)
			var se *SampleError
			if !errors.Is(err, ErrSample) || !errors.As(err, &se) || se.Campaign != "test" {
				t.Fatalf("err = %v, want a *SampleError wrapping ErrSample", err)
			}
		})
	}
	t.Run("vantage moved", func(t *testing.T) {
		fr, _ := NewFitter(Options{Locate: locate})
		_ = fr.Add(sample(1e5))
		if err := fr.Add(bad(func(s *dataset.Sample) { s.VantageLat += 1 })); !errors.Is(err, ErrSample) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("too many groups", func(t *testing.T) {
		fr, _ := NewFitter(Options{Locate: locate, MaxGroups: 2})
		for i := range 3 {
			err := fr.Add(bad(func(s *dataset.Sample) { s.Endpoint = fmt.Sprint("e", i) }))
			if i < 2 && err != nil || i == 2 && !errors.Is(err, ErrTooManyGroups) {
				t.Fatalf("sample %d: %v", i, err)
			}
		}
	})
	t.Run("too few samples", func(t *testing.T) {
		_, err := Fit(newGen(999, 1, lognormalDraw(1e5, 10, 0.5)), Options{Locate: locate})
		if !errors.Is(err, profile.ErrTooFewSamples) || !strings.Contains(err.Error(), "api.westeurope.lab.test") {
			t.Fatalf("err = %v, want ErrTooFewSamples naming the group", err)
		}
	})
	t.Run("too few samples dropped", func(t *testing.T) {
		_, err := Fit(newGen(999, 1, lognormalDraw(1e5, 10, 0.5)), Options{Locate: locate, DropSmall: true})
		if !errors.Is(err, ErrNoSamples) {
			t.Fatalf("err = %v, want ErrNoSamples", err)
		}
	})
	t.Run("no location", func(t *testing.T) {
		_, err := Fit(newGen(2000, 1, lognormalDraw(1e5, 10, 0.5)), Options{Locate: func(_, _, _ string) (profile.Location, bool) { return profile.Location{}, false }})
		if !errors.Is(err, ErrNoLocation) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("source error", func(t *testing.T) {
		_, err := Fit(errSource{}, Options{Locate: locate})
		if !errors.Is(err, errBroken) {
			t.Fatalf("err = %v", err)
		}
	})
	for _, o := range []Options{
		{},
		{Locate: locate, RelErr: 0.5},
		{Locate: locate, Reservoir: -1},
		{Locate: locate, HardCapNs: -1},
		{Locate: locate, TrimFactor: 0.5},
		{Locate: locate, FloorMargin: 1},
		{Locate: locate, Clock: "wall"},
		{Locate: locate, Families: []profile.Family{"weibull"}},
		{Locate: locate, Lowest: -1},
	} {
		if _, err := NewFitter(o); !errors.Is(err, ErrOptions) {
			t.Errorf("options %+v: err = %v", o, err)
		}
	}
}

var errBroken = errors.New("broken source")

type errSource struct{}

func (errSource) Read() (dataset.Sample, error) { return dataset.Sample{}, errBroken }

// TestFitKernelClock: the kernel clock fits RTTKernelNs and skips samples
// without it.
func TestFitKernelClock(t *testing.T) {
	fr, _ := NewFitter(Options{Locate: locate, Clock: profile.ClockKernel})
	r := rand.New(rand.NewPCG(10, 10))
	for range 3000 {
		s := sample(200_000)
		s.RTTKernelNs = int64(100_000 + 30_000*r.ExpFloat64())
		_ = fr.Add(s)
	}
	_ = fr.Add(sample(200_000)) // no kernel stamp
	f, err := fr.File()
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Profiles[0]; p.Clock != profile.ClockKernel || p.MaxNs >= 200_000*5 || p.MinNs < 100_000 || !strings.Contains(f.Provenance.Notes, "1 samples without a kernel timestamp") {
		t.Fatalf("%+v %q", p, f.Provenance.Notes)
	}
}

// TestFitterMemoryBounded: the per-group state does not grow with the
// number of samples (the benchmark reports the heap; this checks the
// structure).
func TestFitterMemoryBounded(t *testing.T) {
	fr, _ := NewFitter(Options{Locate: locate})
	r := rand.New(rand.NewPCG(12, 12))
	draw := lognormalDraw(100_000, math.Log(30_000), 0.5)
	size := func() int {
		g := fr.groups[groupKey{Key: profile.Key{Provider: "lab", Region: "westeurope", Endpoint: "api.westeurope.lab.test", Method: "h2-ping"}, origin: "lab", vantage: "westeurope-vm"}]
		return g.sketch.Bytes() + 8*cap(g.reservoir) + 8*cap(g.lowest)
	}
	var at100k int
	for i := range 1_000_000 {
		_ = fr.Add(sample(draw(r)))
		if i == 100_000 {
			at100k = size()
		}
	}
	if got := size(); got > 2*at100k || got > 2<<20 {
		t.Fatalf("group state grew from %d to %d bytes", at100k, got)
	}
}

// TestFitDegenerate: data no continuous model fits (every round trip the
// same) gives an empirical-only profile, not an error.
func TestFitDegenerate(t *testing.T) {
	f, err := Fit(newGen(5000, 1, func(*rand.Rand) float64 { return 250_000 }), Options{Locate: locate})
	if err != nil {
		t.Fatal(err)
	}
	p := f.Profiles[0]
	if len(p.Models) != 0 || p.MinNs != 250_000 || p.MaxNs != 250_000 || p.FloorNs != 250_000*(1-DefaultFloorMargin) {
		t.Fatalf("%+v", p)
	}
	if !strings.HasPrefix(p.FloorRule, "min_ns") {
		t.Errorf("floor rule %q", p.FloorRule)
	}
}
