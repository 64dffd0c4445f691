package verdict

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/latencyproof/poc/calibration/profile"
)

// wide is a profile shape as wide as cloud round trips.
var wide = profile.Model{Family: profile.FamilyLogNormal, ShiftNs: 150_000, Mu: math.Log(300_000), Sigma: 0.8}

// proofFile has three endpoints in westeurope (Amsterdam) and one in
// northeurope (Dublin), each profiled from a vantage in its own region.
func proofFile() *profile.File {
	f := &profile.File{Version: profile.Version, Provenance: profile.Provenance{Generator: "test"}}
	for _, e := range []struct {
		region, name string
		loc          profile.Location
	}{
		{"westeurope", "api.westeurope", amsterdam},
		{"westeurope", "blob.westeurope", amsterdam},
		{"westeurope", "kv.westeurope", amsterdam},
		{"northeurope", "api.northeurope", dublin},
	} {
		p := modelProfile(wide, 1_000_000, e.loc)
		p.Provider, p.Region, p.Endpoint = "azure", e.region, e.name
		p.Vantage.Name = e.region + "-vm"
		f.Profiles = append(f.Profiles, *p)
	}
	return f
}

var europe = []Region{
	{Provider: "azure", Name: "westeurope", Lat: amsterdam.Lat, Lon: amsterdam.Lon},
	{Provider: "azure", Name: "northeurope", Lat: dublin.Lat, Lon: dublin.Lon},
	{Provider: "azure", Name: "francecentral", Lat: paris.Lat, Lon: paris.Lon},
	{Provider: "azure", Name: "germanywestcentral", Lat: frankfurt.Lat, Lon: frankfurt.Lon},
	{Provider: "azure", Name: "uksouth", Lat: london.Lat, Lon: london.Lon},
}

// prover returns the observations of a prover at loc: honest processing
// (the wide model) plus glass fibre over 1.4× the great circle to each
// endpoint.
func prover(r *rand.Rand, loc profile.Location, k int, endpoints ...string) []Observation {
	at := map[string]profile.Location{
		"api.westeurope": amsterdam, "blob.westeurope": amsterdam, "kv.westeurope": amsterdam,
		"api.northeurope": dublin,
	}
	var obs []Observation
	for _, e := range endpoints {
		km := GreatCircleKm(loc, at[e])
		rtts := make([]float64, k)
		for i := range rtts {
			rtts[i] = wide.Rand(r) + km*1.4*1.467*NsPerKm
		}
		obs = append(obs, Observation{Endpoint: e, Method: "h2-ping", RTTs: rtts})
	}
	return obs
}

func TestDecideProof(t *testing.T) {
	all := []string{"api.westeurope", "blob.westeurope", "kv.westeurope", "api.northeurope"}
	claim := Claim{Provider: "azure", Region: "westeurope"}
	r := rand.New(rand.NewPCG(21, 21))
	tests := []struct {
		name    string
		obs     []Observation
		opts    Options
		want    Decision
		reasons []Reason
		inside  bool
	}{
		{"honest prover in Amsterdam", prover(r, amsterdam, 32, all...), Options{}, Accept, nil, true},
		{"relay from Paris", prover(r, paris, 32, all...), Options{}, Reject, []Reason{ReasonEndpointRejected}, true},
		{"relay from Frankfurt", prover(r, frankfurt, 32, all...), Options{}, Reject, []Reason{ReasonEndpointRejected}, true},
		{"one endpoint missing", prover(r, amsterdam, 32, all[1:]...), Options{}, Reject, []Reason{ReasonMissing}, true},
		{"one endpoint missing, allowed", prover(r, amsterdam, 32, all[1:]...), Options{AllowMissing: true}, Accept, nil, true},
	}
	// A prover whose frequency is misstated so that every round trip
	// shrinks to 30%: the claimed endpoints say too fast (their bounds
	// collapse to 0 km), and the Dublin disc no longer reaches Amsterdam,
	// so the discs do not meet.
	lie := prover(r, amsterdam, 32, all...)
	for _, o := range lie {
		for i := range o.RTTs {
			o.RTTs[i] *= 0.3
		}
	}
	tests = append(tests, struct {
		name    string
		obs     []Observation
		opts    Options
		want    Decision
		reasons []Reason
		inside  bool
	}{"counter lie", lie, Options{}, Reject, []Reason{ReasonEndpointRejected, ReasonInfeasible}, false})

	// Bounds that meet, but not at Amsterdam: 20 km discs around the
	// westeurope endpoints and a Dublin disc 10 km short of Amsterdam.
	fl := proofFile().Profiles[0].FloorNs
	dAD := GreatCircleKm(amsterdam, dublin)
	var edge []Observation
	for _, e := range all[:3] {
		edge = append(edge, Observation{Endpoint: e, Method: "h2-ping", RTTs: slices.Repeat([]float64{fl + 20*NsPerKm}, 32)})
	}
	edge = append(edge, Observation{Endpoint: all[3], Method: "h2-ping", RTTs: slices.Repeat([]float64{fl + (dAD-10)*NsPerKm}, 32)})
	tests = append(tests, struct {
		name    string
		obs     []Observation
		opts    Options
		want    Decision
		reasons []Reason
		inside  bool
	}{"claim outside the feasible region", edge, Options{}, Reject, []Reason{ReasonOutside}, false})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pv, err := DecideProof(proofFile(), claim, tc.obs, europe, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if pv.Decision != tc.want || !slices.Equal(pv.Reasons, append([]Reason{}, tc.reasons...)) {
				t.Fatalf("got %s %v, want %s %v\n%+v", pv.Decision, pv.Reasons, tc.want, tc.reasons, pv.Endpoints)
			}
			if pv.ClaimInside == nil || *pv.ClaimInside != tc.inside {
				t.Errorf("claim inside = %v, want %v", pv.ClaimInside, tc.inside)
			}
			if m := len(pv.Endpoints); pv.FRRPerEndpoint != pv.FRR/float64(m) {
				t.Errorf("FRR per endpoint %v with %d endpoints", pv.FRRPerEndpoint, m)
			}
			for _, c := range pv.FAR {
				if c.FARIndependent > c.FAR {
					t.Errorf("FAR at %v km: independent %v above the bound %v", c.DistanceKm, c.FARIndependent, c.FAR)
				}
			}
			if len(pv.Limitations) == 0 {
				t.Error("no limitations stated")
			}
			t.Logf("%s: %s %v, candidates %v, resolution %.1f km", tc.name, pv.Decision, pv.Reasons, names(pv.Feasible.Candidates), pv.ResolutionKm)
		})
	}
}

// TestDecideProofFRR: honest provers pass a four-endpoint proof at the
// stated combined FRR or better (union bound).
func TestDecideProofFRR(t *testing.T) {
	const trials, frr = 4000, 0.05
	all := []string{"api.westeurope", "blob.westeurope", "kv.westeurope", "api.northeurope"}
	f := proofFile()
	r := rand.New(rand.NewPCG(22, 22))
	rejected := 0
	for range trials {
		pv, err := DecideProof(f, Claim{"azure", "westeurope"}, prover(r, amsterdam, 16, all...), europe, Options{FRR: frr, DistancesKm: []float64{}})
		if err != nil {
			t.Fatal(err)
		}
		if pv.Decision != Accept {
			rejected++
		}
	}
	got := float64(rejected) / trials
	// Three independent endpoints at FRR/3 each: 1 − (1 − FRR/3)³ ≈ FRR.
	want := 1 - math.Pow(1-frr/3, 3)
	withinZ(t, "combined FRR", got, want, trials)
}

func TestDecideProofErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 23))
	claim := Claim{"azure", "westeurope"}
	twoVantages := proofFile()
	extra := twoVantages.Profiles[0]
	extra.Vantage.Name = "other-vm"
	twoVantages.Profiles = append(twoVantages.Profiles, extra)
	tooFew := proofFile()
	tooFew.Profiles[1].Count = 999
	tests := []struct {
		name  string
		f     *profile.File
		claim Claim
		obs   []Observation
		opts  Options
		want  []error
	}{
		{"nil file", nil, claim, prover(r, amsterdam, 8, "api.westeurope"), Options{}, []error{ErrProfile}},
		{"unknown endpoint", proofFile(), claim, []Observation{{Endpoint: "nowhere", Method: "h2-ping", RTTs: []float64{1e5}}}, Options{}, []error{ErrUnknownEndpoint}},
		{"unknown method", proofFile(), claim, []Observation{{Endpoint: "api.westeurope", Method: "http1", RTTs: []float64{1e5}}}, Options{}, []error{ErrUnknownEndpoint}},
		{"lab origin asked", proofFile(), claim, prover(r, amsterdam, 8, "api.westeurope"), Options{Origin: profile.OriginLab}, []error{ErrUnknownEndpoint}},
		{"ambiguous vantage", twoVantages, claim, prover(r, amsterdam, 8, "api.westeurope"), Options{}, []error{ErrAmbiguous}},
		{"no claimed endpoint", proofFile(), claim, prover(r, amsterdam, 8, "api.northeurope"), Options{}, []error{ErrNoClaimEndpoint}},
		{"K = 0", proofFile(), claim, []Observation{{Endpoint: "api.westeurope", Method: "h2-ping"}}, Options{}, []error{ErrNoEchoes}},
		{"NaN RTT", proofFile(), claim, []Observation{{Endpoint: "api.westeurope", Method: "h2-ping", RTTs: []float64{math.NaN()}}}, Options{}, []error{ErrRTT}},
		{"too few samples", tooFew, claim, prover(r, amsterdam, 8, "blob.westeurope"), Options{}, []error{ErrProfile, profile.ErrTooFewSamples}},
		{"bad options", proofFile(), claim, prover(r, amsterdam, 8, "api.westeurope"), Options{FRR: 2}, []error{ErrOptions}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecideProof(tc.f, tc.claim, tc.obs, europe, tc.opts)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			}
		})
	}
	// The vantage option resolves the ambiguity.
	if _, err := DecideProof(twoVantages, claim, prover(r, amsterdam, 8, "api.westeurope"), europe, Options{Vantage: "other-vm", AllowMissing: true}); err != nil {
		t.Error(err)
	}
	var ee *EndpointError
	_, err := DecideProof(proofFile(), claim, []Observation{{Endpoint: "nowhere", Method: "h2-ping", RTTs: []float64{1}}}, nil, Options{})
	if !errors.As(err, &ee) || ee.Endpoint != "nowhere" {
		t.Errorf("err = %v, want an *EndpointError naming the endpoint", err)
	}
}

// BenchmarkDecideProof: the verdict's cost per proof, 8 endpoints × K = 32,
// with FAR at the default distances and the feasible region over 5
// regions.
func BenchmarkDecideProof(b *testing.B) {
	f := &profile.File{Version: profile.Version, Provenance: profile.Provenance{Generator: "bench"}}
	var obs []Observation
	r := rand.New(rand.NewPCG(24, 24))
	for i := range 8 {
		m := wide
		if i%2 == 1 {
			m = profile.Model{Family: profile.FamilyGamma, ShiftNs: 150_000, Alpha: 2, Beta: 1.0 / 100_000}
		}
		p := modelProfile(m, 1_000_000, amsterdam)
		p.Provider, p.Region = "azure", "westeurope"
		p.Endpoint = string(rune('a'+i)) + ".westeurope"
		f.Profiles = append(f.Profiles, *p)
		rtts := make([]float64, 32)
		for j := range rtts {
			rtts[j] = m.Rand(r)
		}
		obs = append(obs, Observation{Endpoint: p.Endpoint, Method: p.Method, RTTs: rtts})
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		pv, err := DecideProof(f, Claim{"azure", "westeurope"}, obs, europe, Options{})
		if err != nil || pv.Decision != Accept {
			b.Fatal(err, pv.Reasons)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkDecide: one endpoint, K = 32.
func BenchmarkDecide(b *testing.B) {
	for _, m := range []profile.Model{wide, gamma} {
		b.Run(string(m.Family), func(b *testing.B) {
			p := modelProfile(m, 1_000_000, amsterdam)
			rtts := slices.Repeat([]float64{m.Quantile(0.3)}, 32)
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				if _, err := Decide(p, rtts, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// A claim's JSON keys are lower case, like the rest of a verdict's.
func TestClaimJSON(t *testing.T) {
	b, err := json.Marshal(Claim{Provider: "azure", Region: "westeurope"})
	if err != nil || string(b) != `{"provider":"azure","region":"westeurope"}` {
		t.Fatalf("%s %v", b, err)
	}
}
