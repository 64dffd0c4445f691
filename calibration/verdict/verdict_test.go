package verdict

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/latencyproof/poc/calibration/profile"
)

// Statistical tolerance: an observed rate from N independent trials must
// lie within zTol binomial standard errors of the stated rate. With fixed
// seeds the tests are deterministic; zTol = 5 keeps them meaningful (a
// wrong formula misses by many σ) without being fragile to a seed change
// (a correct one misses by 5σ with probability 6·10⁻⁷).
const zTol = 5

func withinZ(t *testing.T, what string, got, want float64, n int) {
	t.Helper()
	sd := math.Sqrt(want * (1 - want) / float64(n))
	if math.Abs(got-want) > zTol*sd+1e-12 {
		t.Errorf("%s: observed %.5g, stated %.5g (N=%d, |Δ| = %.1fσ > %dσ)", what, got, want, n, math.Abs(got-want)/sd, zTol)
	}
}

// truthDraw draws one honest round trip from m directly (not through the
// package), so the tests check the package against the distribution.
func truthDraw(m profile.Model, r *rand.Rand) float64 { return m.Rand(r) }

// TestFRR: honest draws are rejected at the stated FRR (basis model, where
// the stated FRR is exact), for both families, several K, both orders.
func TestFRR(t *testing.T) {
	tests := []struct {
		m      profile.Model
		k      int
		order  int
		frr    float64
		trials int
	}{
		{lognormal, 1, 1, 0.01, 200_000},
		{lognormal, 8, 1, 1e-3, 1_000_000},
		{lognormal, 32, 1, 0.01, 200_000},
		{gamma, 32, 1, 0.01, 200_000},
		{gamma, 16, 1, 1e-3, 500_000},
		{gamma, 32, 3, 0.01, 200_000},
		{lognormal, 32, 2, 0.05, 100_000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/K=%d/r=%d/FRR=%g", tc.m.Family, tc.k, tc.order, tc.frr), func(t *testing.T) {
			p := modelProfile(tc.m, 1_000_000, amsterdam)
			dc, err := newDecider(p, tc.k, Options{FRR: tc.frr, Order: tc.order, Basis: BasisModel})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, uint64(tc.k*10+tc.order)))
			rtts := make([]float64, tc.k)
			rejected := 0
			for range tc.trials {
				for i := range rtts {
					rtts[i] = truthDraw(tc.m, r)
				}
				if !dc.accepts(rtts) {
					rejected++
				}
			}
			withinZ(t, "FRR", float64(rejected)/float64(tc.trials), tc.frr, tc.trials)
			// The public path agrees with the internal one.
			v, err := Decide(p, rtts, Options{FRR: tc.frr, Order: tc.order, Basis: BasisModel})
			if err != nil {
				t.Fatal(err)
			}
			if (v.Decision == Accept) != dc.accepts(rtts) || v.Threshold != dc.t {
				t.Fatalf("Decide and accepts disagree: %+v", v)
			}
			if math.Abs(v.FRRModel-tc.frr) > 1e-9*tc.frr+1e-12 {
				t.Errorf("FRRModel %v, want %v", v.FRRModel, tc.frr)
			}
		})
	}
}

// TestFRRConservative: under the default basis the stated FRR holds (the
// threshold is at least the model's), and the empirical cross-check is
// close to the model's threshold when the model is right.
func TestFRRConservative(t *testing.T) {
	const trials, k, frr = 300_000, 32, 0.01
	p := modelProfile(gamma, 1_000_000, amsterdam)
	dc, err := newDecider(p, k, Options{FRR: frr})
	if err != nil {
		t.Fatal(err)
	}
	if dc.t < dc.tm || dc.t < dc.te || math.Abs(dc.tm-dc.te) > 0.01*(dc.tm-gamma.ShiftNs) {
		t.Fatalf("thresholds: used %v, model %v, empirical %v", dc.t, dc.tm, dc.te)
	}
	r := rand.New(rand.NewPCG(2, 2))
	rtts := make([]float64, k)
	rejected := 0
	for range trials {
		for i := range rtts {
			rtts[i] = truthDraw(gamma, r)
		}
		if !dc.accepts(rtts) {
			rejected++
		}
	}
	got := float64(rejected) / trials
	sd := math.Sqrt(frr * (1 - frr) / trials)
	if got > frr+zTol*sd {
		t.Errorf("conservative FRR %v exceeds stated %v by more than %dσ", got, frr, zTol)
	}
}

// TestFAR: a relay at distance d, whose round trips are honest draws plus
// the vacuum round trip over d, is accepted at the stated FAR.
func TestFAR(t *testing.T) {
	// Distances as fractions of the largest relay distance that can pass
	// at all, (t − floor)·c/2, so that the FAR is measurable.
	tests := []struct {
		m      profile.Model
		k      int
		order  int
		frac   float64
		trials int
	}{
		{lognormal, 32, 1, 0.2, 100_000},
		{lognormal, 32, 1, 0.6, 100_000},
		{gamma, 32, 1, 0.2, 100_000},
		{gamma, 32, 1, 0.6, 100_000},
		{gamma, 8, 2, 0.5, 100_000},
		{lognormal, 1, 1, 0.5, 100_000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/K=%d/r=%d/%g", tc.m.Family, tc.k, tc.order, tc.frac), func(t *testing.T) {
			p := modelProfile(tc.m, 1_000_000, amsterdam)
			opts := Options{FRR: 1e-3, Order: tc.order, Basis: BasisModel}
			dc, err := newDecider(p, tc.k, opts)
			if err != nil {
				t.Fatal(err)
			}
			km := tc.frac * (dc.t - tc.m.ShiftNs) / NsPerKm
			opts.DistancesKm = []float64{km}
			want := dc.far(km * NsPerKm)
			if !(want > 1e-3 && want < 0.999) {
				t.Fatalf("pick a distance with a measurable FAR (got %v)", want)
			}
			r := rand.New(rand.NewPCG(3, uint64(tc.frac*100)))
			rtts := make([]float64, tc.k)
			accepted := 0
			for range tc.trials {
				for i := range rtts {
					rtts[i] = truthDraw(tc.m, r) + km*NsPerKm
				}
				if dc.accepts(rtts) {
					accepted++
				}
			}
			withinZ(t, "FAR", float64(accepted)/float64(tc.trials), want, tc.trials)
			v, err := Decide(p, rtts, opts)
			if err != nil {
				t.Fatal(err)
			}
			if v.FAR[0].FAR != want {
				t.Fatalf("verdict FAR %v, decider %v", v.FAR[0].FAR, want)
			}
		})
	}
}

// TestMonteCarloAgrees: Simulate and the closed forms agree for every
// basis, both orders, honest and relayed draws.
func TestMonteCarloAgrees(t *testing.T) {
	const trials = 40_000
	for _, basis := range []Basis{BasisModel, BasisEmpirical, BasisConservative} {
		for _, order := range []int{1, 3} {
			for _, km := range []float64{0, 1.5} {
				name := fmt.Sprintf("%s/r=%d/%gkm", basis, order, km)
				t.Run(name, func(t *testing.T) {
					p := modelProfile(lognormal, 1_000_000, amsterdam)
					opts := Options{FRR: 0.02, Basis: basis, Order: order}
					dc, err := newDecider(p, 16, opts)
					if err != nil {
						t.Fatal(err)
					}
					extra := func(*rand.Rand) float64 { return km * NsPerKm }
					sim, err := Simulate(p, 16, opts, extra, trials, 7)
					if err != nil {
						t.Fatal(err)
					}
					want := dc.far(km * NsPerKm) // at km = 0: 1 − FRR at t
					withinZ(t, "acceptance", sim.Rate, want, trials)
				})
			}
		}
	}
}

// TestResolution: the stated FAR at the resolution distance is the target.
func TestResolution(t *testing.T) {
	for _, m := range []profile.Model{lognormal, gamma} {
		for _, basis := range []Basis{BasisModel, BasisEmpirical, BasisConservative} {
			p := modelProfile(m, 1_000_000, amsterdam)
			rtts := slices.Repeat([]float64{m.Quantile(0.3)}, 32)
			v, err := Decide(p, rtts, Options{Basis: basis, FARTarget: 1e-4})
			if err != nil {
				t.Fatal(err)
			}
			v2, err := Decide(p, rtts, Options{Basis: basis, FARTarget: 1e-4, DistancesKm: []float64{v.ResolutionKm, v.ResolutionKm * 0.9}})
			if err != nil {
				t.Fatal(err)
			}
			if got := v2.FAR[0].FAR; math.Abs(got-1e-4) > 1e-6 {
				t.Errorf("%s/%s: FAR at resolution %.2f km is %v, want 1e-4", m.Family, basis, v.ResolutionKm, got)
			}
			if v2.FAR[1].FAR <= 1e-4 {
				t.Errorf("%s/%s: FAR closer than the resolution %v is not above the target", m.Family, basis, v2.FAR[1].FAR)
			}
			if v.MaxRelayKm < v.ResolutionKm {
				t.Errorf("%s/%s: max relay %v km below resolution %v km", m.Family, basis, v.MaxRelayKm, v.ResolutionKm)
			}
		}
	}
}

// TestTooFast: a prover whose counter frequency is misstated low sees all
// round trips shrink; the verdict says too fast, not accept.
func TestTooFast(t *testing.T) {
	p := modelProfile(lognormal, 1_000_000, amsterdam)
	r := rand.New(rand.NewPCG(4, 4))
	honest := make([]float64, 32)
	for i := range honest {
		honest[i] = truthDraw(lognormal, r)
	}
	scaled := make([]float64, len(honest))
	for i, x := range honest {
		scaled[i] = x * 0.7 // frequency claimed 30% low... every RTT 30% short
	}
	one := slices.Clone(honest)
	one[5] = p.FloorNs * 0.99
	tests := []struct {
		name   string
		rtts   []float64
		want   Decision
		reason Reason
	}{
		{"honest", honest, Accept, ReasonWithin},
		{"scaled", scaled, Reject, ReasonTooFast},
		{"one echo below the floor", one, Reject, ReasonTooFast},
		{"slow", slices.Repeat([]float64{lognormal.Quantile(0.99)}, 32), Reject, ReasonAbove},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decide(p, tc.rtts, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Decision != tc.want || v.Reason != tc.reason {
				t.Fatalf("got %s/%s, want %s/%s", v.Decision, v.Reason, tc.want, tc.reason)
			}
		})
	}
}

// TestBoundNeverTooSmall: provers at known distances, reaching the endpoint
// through glass fibre or an ideal vacuum link, always get a bound at least
// their true distance, also when calibration ran some way from the
// endpoint.
func TestBoundNeverTooSmall(t *testing.T) {
	for _, calKm := range []float64{0, 5} {
		for _, m := range []profile.Model{lognormal, gamma} {
			// The vantage calKm north of the endpoint: the profile's
			// round trips include at least calKm of vacuum path, so the
			// server's own processing is X − 2·calKm/c.
			p := modelProfile(m, 1_000_000, amsterdam)
			p.Vantage.Lat += calKm / EarthRadiusKm * 180 / math.Pi
			cal := greatCircleKm(p.Vantage.Location(), p.EndpointLocation)
			r := rand.New(rand.NewPCG(5, uint64(calKm)))
			worst := math.Inf(1)
			for _, km := range []float64{0, 1, 10, 100, 1000, 5000, 15000} {
				for _, path := range []struct {
					name   string
					factor float64 // ns per km of distance
				}{{"vacuum", NsPerKm}, {"glass", NsPerKm * 1.467 * 1.4}} {
					for range 500 {
						rtts := make([]float64, 32)
						for i := range rtts {
							rtts[i] = truthDraw(m, r) - cal*NsPerKm + km*path.factor
						}
						v, err := Decide(p, rtts, Options{DistancesKm: []float64{}})
						if err != nil {
							t.Fatal(err)
						}
						if v.BoundKm < km {
							t.Fatalf("cal %g km, %s, %s: bound %v km below the true %v km", calKm, m.Family, path.name, v.BoundKm, km)
						}
						worst = math.Min(worst, v.BoundKm-km)
					}
				}
			}
			t.Logf("cal %g km, %s: smallest slack bound − truth = %.2f km", calKm, m.Family, worst)
		}
	}
}

// TestDecideErrors: input that cannot be judged gives a typed error, never
// a panic.
func TestDecideErrors(t *testing.T) {
	good := modelProfile(lognormal, 1_000_000, amsterdam)
	few := modelProfile(lognormal, 1_000_000, amsterdam)
	few.Count = 10
	lab := modelProfile(lognormal, 1_000_000, amsterdam)
	lab.Origin = profile.OriginLab
	noModel := modelProfile(lognormal, 1_000_000, amsterdam)
	noModel.Models = nil
	broken := modelProfile(lognormal, 1_000_000, amsterdam)
	broken.Quantiles[3].Ns = math.NaN()
	rtts := slices.Repeat([]float64{130_000}, 8)
	tests := []struct {
		name string
		p    *profile.Profile
		rtts []float64
		opts Options
		want []error
	}{
		{"nil profile", nil, rtts, Options{}, []error{ErrProfile}},
		{"too few samples", few, rtts, Options{}, []error{ErrProfile, profile.ErrTooFewSamples}},
		{"NaN quantile", broken, rtts, Options{}, []error{ErrProfile, profile.ErrInvalid}},
		{"K = 0", good, nil, Options{}, []error{ErrNoEchoes}},
		{"NaN RTT", good, []float64{1e5, math.NaN()}, Options{}, []error{ErrRTT}},
		{"negative RTT", good, []float64{1e5, -1}, Options{}, []error{ErrRTT}},
		{"zero RTT", good, []float64{0}, Options{}, []error{ErrRTT}},
		{"infinite RTT", good, []float64{math.Inf(1)}, Options{}, []error{ErrRTT}},
		{"FRR 1", good, rtts, Options{FRR: 1}, []error{ErrOptions}},
		{"FRR NaN", good, rtts, Options{FRR: math.NaN()}, []error{ErrOptions}},
		{"FAR target negative", good, rtts, Options{FARTarget: -1}, []error{ErrOptions}},
		{"order above K", good, rtts, Options{Order: 9}, []error{ErrOptions}},
		{"negative order", good, rtts, Options{Order: -1}, []error{ErrOptions}},
		{"unknown basis", good, rtts, Options{Basis: "vibes"}, []error{ErrOptions}},
		{"negative distance", good, rtts, Options{DistancesKm: []float64{-1}}, []error{ErrOptions}},
		{"lab profile for a real verdict", lab, rtts, Options{}, []error{ErrOrigin}},
		{"kernel clock asked", good, rtts, Options{Clock: profile.ClockKernel}, []error{ErrOrigin}},
		{"model basis without model", noModel, rtts, Options{Basis: BasisModel}, []error{ErrNoModel}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decide(tc.p, tc.rtts, tc.opts)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			}
		})
	}
	// A lab profile with the lab asked for, and no model on the default
	// basis, decide.
	if _, err := Decide(lab, rtts, Options{Origin: profile.OriginLab}); err != nil {
		t.Error(err)
	}
	if v, err := Decide(noModel, rtts, Options{}); err != nil || v.ThresholdModel != 0 {
		t.Errorf("empirical-only: %v %+v", err, v)
	}
}

// TestLimitations: with a profile as wide as cloud round trips (floor
// 150 µs, median 450 µs), the verdict says a same-metro relay cannot be
// excluded; with the narrow lognormal it states the smaller distance.
func TestLimitations(t *testing.T) {
	wide := profile.Model{Family: profile.FamilyLogNormal, ShiftNs: 150_000, Mu: math.Log(300_000), Sigma: 0.8}
	p := modelProfile(wide, 1_000_000, amsterdam)
	v, err := Decide(p, slices.Repeat([]float64{250_000}, 32), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.SameMetro || v.MetroFAR <= v.FARTarget || len(v.Limitations) == 0 {
		t.Fatalf("metro limitation missing: %+v", v)
	}
	if v.ResolutionKm <= MetroKm {
		t.Fatalf("resolution %v km", v.ResolutionKm)
	}
	t.Logf("wide, K=32: threshold %.1f µs, resolution %.1f km at FAR 1e-6, metro FAR %.3g; %s", v.Threshold/1e3, v.ResolutionKm, v.MetroFAR, v.Limitations[0])

	v, err = Decide(modelProfile(lognormal, 1_000_000, amsterdam), slices.Repeat([]float64{110_000}, 32), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.SameMetro || v.Decision != Accept || !strings.Contains(v.Limitations[0], "closer than") {
		t.Fatalf("narrow profile: %+v", v)
	}
	t.Logf("narrow, K=32: threshold %.1f µs, resolution %.1f km; %s", v.Threshold/1e3, v.ResolutionKm, v.Limitations[0])
}
