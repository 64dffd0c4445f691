package verdict

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
)

// connWorld is a synthetic endpoint whose echoes are not independent, with
// known parameters: a 200 µs floor; per connection, with probability 0.2,
// a shift drawn uniformly from 30-80 µs on every echo (the lab's scheduling
// stalls, or a slower ECMP path), and for every connection a small shift
// Exp(3 µs); per echo, Gamma(2, 10 µs) noise; and warm-up, the first echo
// Exp(40 µs) slower and the second Exp(10 µs).
type connWorld struct{ r *rand.Rand }

// conn draws the round trips of one connection of k echoes.
func (w connWorld) conn(k int) []float64 {
	shift := 3_000 * w.r.ExpFloat64()
	if w.r.Float64() < 0.2 {
		shift += 30_000 + 50_000*w.r.Float64()
	}
	g := distuv.Gamma{Alpha: 2, Beta: 1.0 / 10_000, Src: w.r}
	out := make([]float64, k)
	for i := range out {
		out[i] = 200_000 + shift + g.Rand()
		switch i {
		case 0:
			out[i] += 40_000 * w.r.ExpFloat64()
		case 1:
			out[i] += 10_000 * w.r.ExpFloat64()
		}
	}
	return out
}

// min draws the minimum of an observation on connections of the given
// sizes, each echo delayed by extra.
func (w connWorld) min(conns []int, extra float64) float64 {
	lo := math.Inf(1)
	for _, k := range conns {
		for _, x := range w.conn(k) {
			lo = math.Min(lo, x+extra)
		}
	}
	return lo
}

// connSource is a calibration campaign of the world: n probes of k echoes,
// each on one connection, numbered as datasets number them.
type connSource struct {
	w       connWorld
	n, k    int
	round   int
	pending []float64
	seq     uint64
}

func (s *connSource) Read() (dataset.Sample, error) {
	if len(s.pending) == 0 {
		if s.round >= s.n {
			return dataset.Sample{}, io.EOF
		}
		s.round++
		s.pending = s.w.conn(s.k)
	}
	echo := s.k - len(s.pending)
	x := s.pending[0]
	s.pending = s.pending[1:]
	s.seq++
	return dataset.Sample{
		Campaign: "conn", Seq: s.seq, Round: s.round - 1, Conn: 0, Echo: echo,
		Vantage: "westeurope-vm", VantageLat: amsterdam.Lat, VantageLon: amsterdam.Lon,
		Origin: "real", Endpoint: "api.westeurope.lab.test", Provider: "lab", Region: "westeurope", Method: "h2-ping",
		RTTNs: x,
	}, nil
}

// connProfile fits the world's profile from 20,000 calibration connections
// of 16 echoes, once.
var connProfile = func() func(t *testing.T) *profile.Profile {
	var p *profile.Profile
	return func(t *testing.T) *profile.Profile {
		t.Helper()
		if p != nil {
			return p
		}
		f, err := fit.Fit(&connSource{w: connWorld{rand.New(rand.NewPCG(41, 41))}, n: 20_000, k: 16},
			fit.Options{Locate: func(_, _, _ string) (profile.Location, bool) { return amsterdam, true }})
		if err != nil {
			t.Fatal(err)
		}
		p = &f.Profiles[0]
		return p
	}
}()

// perEcho returns the profile without its connection levels: a version-1
// profile, decided with the per-echo model.
func perEcho(p *profile.Profile) *profile.Profile {
	q := *p
	q.ConnMins = nil
	return &q
}

// The fitter finds the world's connections and states a level for every
// power of two up to their 16 echoes, each on every connection.
func TestConnLevelsFitted(t *testing.T) {
	p := connProfile(t)
	var ks []int
	for _, c := range p.ConnMins {
		ks = append(ks, c.K)
		if c.Connections != 20_000 || c.Model() == nil {
			t.Errorf("level %d: %d connections, model %v", c.K, c.Connections, c.Model())
		}
	}
	if !slices.Equal(ks, []int{1, 2, 4, 8, 16}) {
		t.Fatalf("levels %v", ks)
	}
	// Levels nest: more echoes, a faster minimum, at every quantile.
	for i := 1; i < len(p.ConnMins); i++ {
		for _, q := range profile.RequiredConn {
			a, _ := p.ConnMins[i-1].Quantile(q)
			b, _ := p.ConnMins[i].Quantile(q)
			if b > a {
				t.Errorf("p%v of K=%d (%v) above K=%d's (%v)", q, p.ConnMins[i].K, b, p.ConnMins[i-1].K, a)
			}
		}
	}
	m := p.ConnMins[4].Model()
	t.Logf("K=16: %s, objective %.3g, KS %.4f; p50 %.1f µs, p99 %.1f µs (per echo p50 %.1f µs)", m.Family, m.GoF.Objective, m.GoF.KS,
		p.ConnMins[4].EmpiricalQuantile(0.5)/1e3, p.ConnMins[4].EmpiricalQuantile(0.99)/1e3, p.EmpiricalQuantile(0.5)/1e3)
}

// TestConnFRRFAR is the evidence that the connection model states true
// rates where the per-echo model does not: fresh honest observations of
// the world, on connections of several sizes, are rejected at the stated
// FRR (within binomial errors of the test and of the calibration), and
// relays at the stated FAR; the per-echo model's realised FRR is several
// times what it states.
func TestConnFRRFAR(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 320,000 samples and decides 10⁶ observations")
	}
	p := connProfile(t)
	old := perEcho(p)
	const frr, trials, calConns = 0.01, 20_000, 20_000
	tests := []struct {
		conns []int
		exact bool // every connection is a calibrated level
	}{
		{[]int{16}, true},
		{[]int{8, 8}, true},
		{[]int{4, 4, 4, 4}, true},
		{[]int{2, 2, 2, 2, 2, 2, 2, 2}, true},
		{[]int{16, 16}, true},
		{[]int{1, 1, 1, 1}, true},
		{[]int{16, 8}, true},
		{[]int{12}, false}, // between levels: both rates bounds
		{[]int{20}, false}, // beyond the largest level
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(tc.conns), func(t *testing.T) {
			k := 0
			for _, n := range tc.conns {
				k += n
			}
			w := connWorld{rand.New(rand.NewPCG(43, uint64(i)))}
			honest := make([]float64, trials)
			for j := range honest {
				honest[j] = w.min(tc.conns, 0)
			}
			rate := func(dc *decider, mins []float64, extra float64) float64 {
				n := 0
				for _, x := range mins {
					if x+extra >= dc.floor && x+extra <= dc.t {
						n++
					}
				}
				return float64(n) / float64(len(mins))
			}
			for _, basis := range []Basis{BasisEmpirical, BasisConservative} {
				dc, err := newConnDecider(p, k, tc.conns, Options{FRR: frr, Basis: basis})
				if err != nil {
					t.Fatal(err)
				}
				if dc.cm == nil {
					t.Fatalf("%s: no connection model: %v", basis, dc.notes)
				}
				got := 1 - rate(dc, honest, 0)
				// The test's binomial error, and the calibration's: the
				// threshold solves Π S = FRR from levels estimated on
				// calConns connections, and an error δ in each S moves
				// the product by C·FRR·δ/S.
				c := float64(len(tc.conns))
				s := math.Pow(frr, 1/c)
				sd := math.Hypot(math.Sqrt(frr*(1-frr)/trials), c*frr/s*math.Sqrt(s*(1-s)/calConns))
				switch {
				case got > frr+zTol*sd:
					t.Errorf("%s: realised FRR %.4f above the stated %v (σ %.4f)", basis, got, frr, sd)
				case tc.exact && basis == BasisEmpirical && got < frr-zTol*sd:
					t.Errorf("%s: realised FRR %.4f far below the stated %v (σ %.4f)", basis, got, frr, sd)
				}
				// A relay whose stated FAR is 0.2.
				x := dc.t - dc.cm.acceptQuantile(0.2, dc.t)
				far := dc.far(x)
				relayed := rate(dc, honest, x)
				sdFAR := math.Hypot(math.Sqrt(far*(1-far)/trials), math.Sqrt(far*(1-far)/calConns)*c)
				switch {
				case relayed > far+zTol*sdFAR:
					t.Errorf("%s: relay %.1f km accepted at %.4f, stated FAR %.4f (σ %.4f)", basis, x/NsPerKm, relayed, far, sdFAR)
				case tc.exact && basis == BasisEmpirical && relayed < far-zTol*sdFAR:
					t.Errorf("%s: relay %.1f km accepted at %.4f, far below the stated FAR %.4f (σ %.4f)", basis, x/NsPerKm, relayed, far, sdFAR)
				}
				if basis == BasisConservative {
					od, err := newConnDecider(old, k, tc.conns, Options{FRR: frr})
					if err != nil {
						t.Fatal(err)
					}
					oldFRR := 1 - rate(od, honest, 0)
					if tc.exact && oldFRR < 3*frr {
						t.Errorf("per-echo model: realised FRR %.4f, expected well above the stated %v", oldFRR, frr)
					}
					// The per-echo model's own relay at stated FAR 0.2.
					xo := od.t - od.d.quantile(levelAccept(k, 1, 0.2))
					t.Logf("K=%d on %v: threshold %.1f µs; realised FRR %.4f (stated %v, σ %.4f); relay %.2f km: accepted %.4f, stated FAR %.4f | per-echo model: threshold %.1f µs, realised FRR %.4f; relay %.2f km: accepted %.4f, stated FAR %.4f",
						k, tc.conns, dc.t/1e3, got, frr, sd, x/NsPerKm, relayed, far, od.t/1e3, oldFRR, xo/NsPerKm, rate(od, honest, xo), od.far(xo))
				} else {
					t.Logf("%s: threshold %.1f µs, realised FRR %.4f, relay accepted %.4f at stated %.4f", basis, dc.t/1e3, got, relayed, far)
				}
			}
		})
	}
}

// TestConnMonteCarloAgrees: SimulateConns and the closed forms (or the
// bisection where levels differ) agree, honest and relayed.
func TestConnMonteCarloAgrees(t *testing.T) {
	p := connProfile(t)
	const trials = 40_000
	for _, conns := range [][]int{{16}, {8, 2, 2}, {20}} {
		for _, basis := range []Basis{BasisModel, BasisEmpirical, BasisConservative} {
			for _, km := range []float64{0, 2} {
				t.Run(fmt.Sprintf("%v/%s/%gkm", conns, basis, km), func(t *testing.T) {
					k := 0
					for _, n := range conns {
						k += n
					}
					opts := Options{FRR: 0.02, Basis: basis}
					dc, err := newConnDecider(p, k, conns, opts)
					if err != nil {
						t.Fatal(err)
					}
					sim, err := SimulateConns(p, conns, opts, func(*rand.Rand) float64 { return km * NsPerKm }, trials, 9)
					if err != nil {
						t.Fatal(err)
					}
					want := dc.far(km * NsPerKm)
					if conns[0] == 20 {
						// The union bound for echoes beyond the largest
						// level states more than the simulation draws.
						if sim.Rate > want+zTol*math.Sqrt(want*(1-want)/trials) {
							t.Errorf("simulated %v above the bound %v", sim.Rate, want)
						}
						return
					}
					withinZ(t, "acceptance", sim.Rate, want, trials)
					if basis != BasisConservative && km == 0 {
						// One description: the false-accept side at
						// the threshold is 1 − the stated FRR.
						if math.Abs(want-(1-0.02)) > 1e-9 {
							t.Errorf("acceptance at 0 km %v, want 0.98", want)
						}
					}
				})
			}
		}
	}
}

// TestConnDecide: the public path states what it did, falls back to the
// per-echo model with a note where it must, and refuses groupings that do
// not match the round trips.
func TestConnDecide(t *testing.T) {
	p := connProfile(t)
	w := connWorld{rand.New(rand.NewPCG(44, 44))}
	rtts := append(w.conn(8), w.conn(8)...)
	v, err := DecideConns(p, rtts, []int{8, 8}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Unit != UnitConnection || !slices.Equal(v.Conns, []int{8, 8}) || !slices.Equal(v.ConnLevels, []int{8, 8}) || v.K != 16 {
		t.Fatalf("verdict %+v", v)
	}
	if !(v.FRREmpirical <= v.FRR*(1+1e-9)) || !(v.FRRModel <= v.FRR*(1+1e-9)) || v.Threshold < math.Max(v.ThresholdModel, v.ThresholdEmpirical) {
		t.Fatalf("rates: FRR model %v, empirical %v; thresholds %v ≥ max(%v, %v)?", v.FRRModel, v.FRREmpirical, v.Threshold, v.ThresholdModel, v.ThresholdEmpirical)
	}
	// Decide takes the round trips as one connection of 16.
	one, err := Decide(p, rtts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one.Conns, []int{16}) || one.Threshold == v.Threshold {
		t.Fatalf("one connection: %+v", one)
	}
	// An old profile: the per-echo model, said so.
	old, err := DecideConns(perEcho(p), rtts, []int{8, 8}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if old.Unit != UnitEcho || !hasNote(old.Limitations, "no connection levels") {
		t.Fatalf("old profile: %s, %q", old.Unit, old.Limitations)
	}
	// The second smallest: the per-echo model, said so.
	if v, err := DecideConns(p, rtts, []int{8, 8}, Options{Order: 2}); err != nil || v.Unit != UnitEcho || !hasNote(v.Limitations, "per-echo model") {
		t.Fatalf("order 2: %v %s", err, v.Unit)
	}
	// Sizes that are not levels: bounds, said so.
	if v, err := DecideConns(p, append(rtts, w.conn(20)...), []int{12, 4, 20}, Options{}); err != nil || !slices.Equal(v.ConnLevels, []int{8, 4, 16}) ||
		!hasNote(v.Limitations, "not a calibrated level") || !hasNote(v.Limitations, "longer than the largest") {
		t.Fatalf("sizes between and beyond levels: %v %v %q", err, v.ConnLevels, v.Limitations)
	}
	for _, tc := range []struct {
		name  string
		conns []int
	}{{"too few", []int{8}}, {"too many", []int{8, 9}}, {"empty connection", []int{16, 0}}, {"negative", []int{17, -1}}} {
		if _, err := DecideConns(p, rtts, tc.conns, Options{}); !errors.Is(err, ErrConns) {
			t.Errorf("%s: err = %v, want ErrConns", tc.name, err)
		}
	}
	// A basis that needs models, on a level without one.
	noModel := *p
	noModel.ConnMins = slices.Clone(p.ConnMins)
	noModel.ConnMins[3].Models = nil
	if _, err := DecideConns(&noModel, rtts, []int{8, 8}, Options{Basis: BasisModel}); !errors.Is(err, ErrNoModel) {
		t.Errorf("level without model: %v", err)
	}
	if v, err := DecideConns(&noModel, rtts, []int{8, 8}, Options{}); err != nil || v.FRRModel != 0 || v.ThresholdModel != 0 {
		t.Errorf("level without model, conservative: %v %+v", err, v)
	}
}

func hasNote(notes []string, s string) bool {
	for _, n := range notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// RejectAt at the verdict's own threshold is the false-reject rate the
// verdict states it achieves, rises with the relay's delay to 1, and
// refuses shapes DecideConns refuses.
func TestRejectAt(t *testing.T) {
	p := connProfile(t)
	rtts := make([]float64, 16)
	for i := range rtts {
		rtts[i] = p.MaxNs
	}
	for _, prof := range []*profile.Profile{p, perEcho(p)} {
		for _, conns := range [][]int{{16}, {4, 4, 4, 4}, {8, 4, 4}} {
			v, err := DecideConns(prof, rtts, conns, Options{Origin: profile.OriginReal})
			if err != nil {
				t.Fatal(err)
			}
			r0, err := RejectAt(prof, 16, conns, v.Threshold, 0, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if want := math.Max(v.FRRModel, v.FRREmpirical); math.Abs(r0-want) > 1e-9 || r0 > v.FRR*(1+1e-9) {
				t.Errorf("%s %v: RejectAt %v, the verdict's FRR model %v empirical %v stated %v", v.Unit, conns, r0, v.FRRModel, v.FRREmpirical, v.FRR)
			}
			last := r0
			for _, km := range []float64{1, 5, 20, 100, 1000} {
				r, err := RejectAt(prof, 16, conns, v.Threshold, km*NsPerKm, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if r < last {
					t.Errorf("%s %v: rejection falls from %v to %v at %v km", v.Unit, conns, last, r, km)
				}
				last = r
			}
			if last != 1 {
				t.Errorf("%s %v: a relay 1000 km away is rejected with probability %v", v.Unit, conns, last)
			}
		}
	}
	if _, err := RejectAt(p, 16, []int{4, 4}, 1e5, 0, Options{}); !errors.Is(err, ErrConns) {
		t.Fatalf("connections that do not add up to K: %v", err)
	}
	if _, err := RejectAt(p, 16, nil, math.NaN(), 0, Options{}); !errors.Is(err, ErrOptions) {
		t.Fatalf("NaN threshold: %v", err)
	}
}

// probeSource is a campaign of the world with slow periods shared by a
// probe's connections: n probes on connections of the given sizes; with
// probability 0.15 every echo of a probe is 40-80 µs slower (the
// prover's machine busy for the whole probe), on top of the connections'
// own shifts. draw returns one fresh probe's round trips.
type probeSource struct {
	w       connWorld
	n       int
	shape   []int
	round   int
	pending []dataset.Sample
	seq     uint64
}

func (s *probeSource) draw() [][]float64 {
	shared := 0.0
	if s.w.r.Float64() < 0.15 {
		shared = 40_000 + 40_000*s.w.r.Float64()
	}
	var out [][]float64
	for _, k := range s.shape {
		c := s.w.conn(k)
		for i := range c {
			c[i] += shared
		}
		out = append(out, c)
	}
	return out
}

func (s *probeSource) Read() (dataset.Sample, error) {
	if len(s.pending) == 0 {
		if s.round >= s.n {
			return dataset.Sample{}, io.EOF
		}
		echo := 0
		for j, c := range s.draw() {
			for _, x := range c {
				s.pending = append(s.pending, dataset.Sample{
					Campaign: "probe", Round: s.round, Conn: j, Echo: echo,
					Vantage: "westeurope-vm", VantageLat: amsterdam.Lat, VantageLon: amsterdam.Lon,
					Origin: "real", Endpoint: "api.westeurope.lab.test", Provider: "lab", Region: "westeurope", Method: "h2-ping",
					RTTNs: x,
				})
				echo++
			}
		}
		s.round++
	}
	x := s.pending[0]
	s.pending = s.pending[1:]
	s.seq++
	x.Seq = s.seq
	return x, nil
}

// TestProbeLevelFRR: when a probe's connections share slow periods, the
// connection model (which takes them as independent) rejects honest probes
// far more often than it states, and the probe level of the proofs' shape,
// which measures the dependence, states its rate truly.
func TestProbeLevelFRR(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 64,000 samples and decides 20,000 probes")
	}
	shape := []int{4, 4, 4, 4}
	src := &probeSource{w: connWorld{rand.New(rand.NewPCG(51, 52))}, n: 4000, shape: shape}
	f, err := fit.Fit(src, fit.Options{Locate: func(_, _, _ string) (profile.Location, bool) { return amsterdam, true }})
	if err != nil {
		t.Fatal(err)
	}
	p := &f.Profiles[0]
	if p.ProbeLevel(shape) == nil {
		t.Fatalf("no probe level: %+v", p.ProbeMins)
	}
	indep := *p
	indep.ProbeMins = nil
	const frr, trials = 0.01, 20_000
	fresh := &probeSource{w: connWorld{rand.New(rand.NewPCG(53, 54))}, shape: shape}
	rejected := map[string]int{}
	var units = map[string]string{}
	for range trials {
		var rtts []float64
		for _, c := range fresh.draw() {
			rtts = append(rtts, c...)
		}
		for name, prof := range map[string]*profile.Profile{"probe": p, "connection": &indep} {
			v, err := DecideConns(prof, rtts, shape, Options{FRR: frr})
			if err != nil {
				t.Fatal(err)
			}
			units[name] = v.Unit
			if v.Decision == Reject {
				rejected[name]++
			}
		}
	}
	if units["probe"] != UnitProbe || units["connection"] != UnitConnection {
		t.Fatalf("units %v", units)
	}
	// The probe level's own estimate rests on 4,000 calibration probes:
	// allow its sampling error and the test's (both binomial, 3σ each).
	sd := math.Sqrt(frr*(1-frr)/trials) + math.Sqrt(frr*(1-frr)/4000)
	got := float64(rejected["probe"]) / trials
	t.Logf("stated FRR %g: the probe level rejects %.4f, the connection model %.4f", frr, got, float64(rejected["connection"])/trials)
	if got > frr+3*sd {
		t.Errorf("probe level: realised FRR %.4f above the stated %g (+3σ %.4f)", got, frr, frr+3*sd)
	}
	if c := float64(rejected["connection"]) / trials; c < 2*frr {
		t.Errorf("the connection model's realised FRR %.4f: the world's shared slow periods should push it well above %g", c, frr)
	}
}
