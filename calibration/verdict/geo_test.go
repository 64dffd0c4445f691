package verdict

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/latencyproof/poc/calibration/profile"
)

func regionsOf(names ...string) []Region {
	all := map[string]profile.Location{
		"amsterdam": amsterdam, "dublin": dublin, "paris": paris,
		"frankfurt": frankfurt, "london": london, "sydney": sydney,
	}
	var out []Region
	for _, n := range names {
		l := all[n]
		out = append(out, Region{Provider: "test", Name: n, Lat: l.Lat, Lon: l.Lon})
	}
	return out
}

func names(rs []Region) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// TestGreatCircle: distances between real cities, against published
// great-circle figures (spherical Earth, ±0.5%).
func TestGreatCircle(t *testing.T) {
	tests := []struct {
		a, b profile.Location
		km   float64
	}{
		{amsterdam, paris, 430},
		{amsterdam, frankfurt, 364},
		{london, paris, 344},
		{dublin, frankfurt, 1088},
		{london, sydney, 16994},
	}
	for _, tc := range tests {
		if got := GreatCircleKm(tc.a, tc.b); math.Abs(got-tc.km) > 0.005*tc.km {
			t.Errorf("%v–%v: %.1f km, want %.0f", tc.a, tc.b, got, tc.km)
		}
	}
}

// TestFeasibleRegion: discs around real cities with known answers.
func TestFeasibleRegion(t *testing.T) {
	all := regionsOf("amsterdam", "dublin", "paris", "frankfurt", "london", "sydney")
	dAP := GreatCircleKm(amsterdam, paris)
	tests := []struct {
		name     string
		discs    []Disc
		empty    bool
		cands    []string
		vertices bool
	}{
		{"three 500 km discs over the Benelux",
			[]Disc{{"a", amsterdam, 500}, {"p", paris, 500}, {"f", frankfurt, 500}},
			false, []string{"amsterdam", "frankfurt", "paris"}, true},
		{"Dublin and Frankfurt 100 km each",
			[]Disc{{"d", dublin, 100}, {"f", frankfurt, 100}}, true, nil, false},
		{"Amsterdam–Paris overlapping by 10 m",
			[]Disc{{"a", amsterdam, dAP/2 + 0.005}, {"p", paris, dAP/2 + 0.005}}, false, nil, true},
		{"Amsterdam–Paris apart by 10 m",
			[]Disc{{"a", amsterdam, dAP/2 - 0.005}, {"p", paris, dAP/2 - 0.005}}, true, nil, false},
		{"nested: 50 km around Paris inside 1000 km around London",
			[]Disc{{"l", london, 1000}, {"p", paris, 50}}, false, []string{"paris"}, false},
		{"one disc", []Disc{{"l", london, 400}}, false, []string{"amsterdam", "london", "paris"}, false},
		{"no discs", nil, false, []string{"amsterdam", "dublin", "frankfurt", "london", "paris", "sydney"}, false},
		{"zero radius at London", []Disc{{"l", london, 0}, {"p", paris, 400}}, false, []string{"london"}, false},
		{"bigger than a hemisphere: 15000 km around Sydney and 1000 km around London",
			[]Disc{{"s", sydney, 15000}, {"l", london, 1000}}, true, nil, false},
		{"bigger than a hemisphere: 17500 km around Sydney and 1000 km around London",
			[]Disc{{"s", sydney, 17500}, {"l", london, 1000}}, false, []string{"amsterdam", "dublin", "frankfurt", "london", "paris"}, true},
		{"whole Earth", []Disc{{"s", sydney, 25000}, {"p", paris, 10}}, false, []string{"paris"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := FeasibleRegion(tc.discs, all)
			if err != nil {
				t.Fatal(err)
			}
			if f.Empty != tc.empty {
				t.Fatalf("empty = %v, want %v", f.Empty, tc.empty)
			}
			if !slices.Equal(names(f.Candidates), tc.cands) {
				t.Errorf("candidates %v, want %v", names(f.Candidates), tc.cands)
			}
			if (len(f.Vertices) > 0) != tc.vertices {
				t.Errorf("vertices %v", f.Vertices)
			}
			if !f.Empty && (f.Witness == nil || !f.Contains(*f.Witness)) {
				t.Errorf("witness %v not inside", f.Witness)
			}
			for _, v := range f.Vertices {
				on := 0
				for _, d := range tc.discs {
					if math.Abs(GreatCircleKm(d.Center, v)-d.RadiusKm) < 10*ToleranceKm {
						on++
					}
				}
				if on < 2 || !f.Contains(v) {
					t.Errorf("vertex %v is on %d circles, inside %v", v, on, f.Contains(v))
				}
			}
		})
	}
}

// TestFeasibleRegionRandom checks the exact test against brute force: for
// random discs over Europe, a grid point inside every disc proves the
// region non-empty, and a non-empty answer must come with a witness inside.
func TestFeasibleRegionRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	disagree := 0
	for trial := range 100 {
		var discs []Disc
		for range 2 + r.IntN(3) {
			c := profile.Location{Lat: 40 + 20*r.Float64(), Lon: -10 + 30*r.Float64()}
			discs = append(discs, Disc{Center: c, RadiusKm: 100 + 900*r.Float64()})
		}
		f, err := FeasibleRegion(discs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Empty && (f.Witness == nil || !f.Contains(*f.Witness)) {
			t.Fatalf("trial %d: non-empty without a witness inside", trial)
		}
		grid := false
		for lat := 25.0; lat <= 75 && !grid; lat += 0.2 {
			for lon := -35.0; lon <= 45 && !grid; lon += 0.2 {
				grid = inAll(discs, profile.Location{Lat: lat, Lon: lon})
			}
		}
		if grid && f.Empty {
			t.Fatalf("trial %d: a grid point lies in every disc but the region is empty: %+v", trial, discs)
		}
		if !grid && !f.Empty {
			disagree++ // a sliver thinner than the grid: allowed, counted
		}
	}
	if disagree > 5 {
		t.Errorf("%d of 100 non-empty regions missed by a 0.2° grid: suspicious", disagree)
	}
}

func TestFeasibleRegionErrors(t *testing.T) {
	tests := []struct {
		name    string
		discs   []Disc
		regions []Region
	}{
		{"latitude", []Disc{{"x", profile.Location{Lat: 91}, 1}}, nil},
		{"NaN radius", []Disc{{"x", london, math.NaN()}}, nil},
		{"negative radius", []Disc{{"x", london, -1}}, nil},
		{"infinite radius", []Disc{{"x", london, math.Inf(1)}}, nil},
		{"region longitude", nil, []Region{{Name: "x", Lon: 200}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := FeasibleRegion(tc.discs, tc.regions); !errors.Is(err, ErrGeometry) {
				t.Fatalf("err = %v, want ErrGeometry", err)
			}
		})
	}
}
