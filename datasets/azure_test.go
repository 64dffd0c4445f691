package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestLoadAzureLatency(t *testing.T) {
	a, err := LoadAzureLatency()
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Regions) != 56 || len(a.Sources) != 50 || len(a.Destinations) != 50 || len(a.Pairs()) != 2350 {
		t.Fatalf("%d regions, %d sources, %d destinations, %d pairs", len(a.Regions), len(a.Sources), len(a.Destinations), len(a.Pairs()))
	}
	p50 := func(from, to string) time.Duration {
		t.Helper()
		d, ok := a.P50(from, to)
		if !ok {
			t.Fatalf("%s → %s: no value", from, to)
		}
		return d
	}
	if d := p50("eastus", "westeurope"); d != 83*time.Millisecond {
		t.Errorf("East US → West Europe %v, want 83ms", d)
	}
	if d := p50("eastus", "eastus2"); d != 10*time.Millisecond {
		t.Errorf("East US → East US 2 %v, want 10ms", d)
	}
	// Direction-specific: the file gives 3 ms one way and 4 ms the other.
	if p50("australiacentral", "australiacentral2") == p50("australiacentral2", "australiacentral") {
		t.Error("the matrix must keep both directions")
	}
	// Rows and columns name different regions: Indonesia Central is only
	// a source, West India only a destination.
	if !slices.Contains(a.Sources, "indonesiacentral") || slices.Contains(a.Destinations, "indonesiacentral") ||
		!slices.Contains(a.Destinations, "westindia") || slices.Contains(a.Sources, "westindia") {
		t.Error("rows and columns as in the file")
	}
	for _, pair := range [][2]string{{"westeurope", "westeurope"}, {"westindia", "westeurope"}, {"westeurope", "indonesiacentral"}, {"indonesiacentral", "westindia"}, {"nowhere", "westeurope"}} {
		if d, ok := a.P50(pair[0], pair[1]); ok {
			t.Errorf("%s → %s: %v, want no value", pair[0], pair[1], d)
		}
	}
	if r, ok := a.Region("westeurope"); !ok || r.DisplayName != "West Europe" || math.Abs(r.Lat-52.3676) > 1e-9 {
		t.Errorf("westeurope: %+v %v", r, ok)
	}
}

// The dataset check: no median round trip beats light in vacuum between the
// regions' coordinates. A violation would mean wrong data or wrong
// coordinates, and it would be listed in PROVENANCE.md, not dropped.
func TestAzurePhysics(t *testing.T) {
	a, err := LoadAzureLatency()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.VacuumViolations() {
		t.Errorf("%s → %s: P50 %v < %v, the vacuum round trip over %.0f km", p.From, p.To, p.P50, p.Vacuum(), p.Km)
	}
	s := summarise(a.Pairs())
	// Pinned: these figures are quoted in PROVENANCE.md.
	if s.pairs != 2350 || s.belowGlass14 != 264 || s.belowGlass10 != 0 || s.tightest.From != "australiaeast" && s.tightest.From != "westus3" {
		t.Errorf("summary changed; update PROVENANCE.md:\n%s", s)
	}
	t.Logf("\n%s", s)
}

type physicsSummary struct {
	pairs, belowGlass14, belowGlass10, samePlace int
	tightest                                     AzurePair // smallest P50 / vacuum RTT
	ratios                                       []float64 // P50 / glass RTT at 1.4×, pairs over 500 km
}

func summarise(pairs []AzurePair) physicsSummary {
	s := physicsSummary{pairs: len(pairs)}
	best := math.Inf(1)
	for _, p := range pairs {
		if p.Km < 1 {
			s.samePlace++
			continue
		}
		if r := float64(p.P50) / float64(p.Vacuum()); r < best {
			best, s.tightest = r, p
		}
		if p.P50 < GlassRTT(p.Km, 1.4) {
			s.belowGlass14++
		}
		if p.P50 < GlassRTT(p.Km, 1) {
			s.belowGlass10++
		}
		if p.Km >= 500 {
			s.ratios = append(s.ratios, float64(p.P50)/float64(GlassRTT(p.Km, 1.4)))
		}
	}
	sort.Float64s(s.ratios)
	return s
}

func (s physicsSummary) String() string {
	q := func(f float64) float64 { return s.ratios[int(f*float64(len(s.ratios)-1))] }
	var b strings.Builder
	fmt.Fprintf(&b, "measured directed pairs: %d (%d between identical coordinates)\n", s.pairs, s.samePlace)
	fmt.Fprintf(&b, "below the vacuum bound: 0 required\n")
	fmt.Fprintf(&b, "tightest: %s → %s, %v over %.0f km (vacuum %v, ratio %.3f)\n", s.tightest.From, s.tightest.To, s.tightest.P50, s.tightest.Km, s.tightest.Vacuum().Round(time.Microsecond), float64(s.tightest.P50)/float64(s.tightest.Vacuum()))
	fmt.Fprintf(&b, "below glass fibre over 1.4× the great circle: %d; below glass over the great circle itself: %d\n", s.belowGlass14, s.belowGlass10)
	fmt.Fprintf(&b, "P50 / glass-at-1.4× for %d pairs ≥ 500 km: min %.2f, p10 %.2f, median %.2f, p90 %.2f, max %.2f\n", len(s.ratios), q(0), q(0.1), q(0.5), q(0.9), q(1))
	return b.String()
}

func TestGeo(t *testing.T) {
	if d := GreatCircleKm(51.5074, -0.1278, 48.8566, 2.3522); math.Abs(d-344) > 3 {
		t.Errorf("London–Paris %v km", d)
	}
	if d := GreatCircleKm(0, 0, 0, 180); math.Abs(d-math.Pi*EarthRadiusKm) > 1e-6 {
		t.Errorf("antipodes %v km", d)
	}
	// 1 ms of round trip: light covers 149.9 km each way.
	if d := VacuumRTT(LightKmPerSecond / 2000); d != time.Millisecond {
		t.Errorf("VacuumRTT %v", d)
	}
	if g, v := GlassRTT(1000, 1), VacuumRTT(1000); math.Abs(float64(g)/float64(v)-GlassIndex) > 1e-6 {
		t.Errorf("glass %v vs vacuum %v", g, v)
	}
}

const testRegions = `{
  "westeurope": {"lat": 52.37, "lon": 4.90, "displayName": "West Europe"},
  "northeurope": {"lat": 53.35, "lon": -6.26, "displayName": "North Europe"},
  "eastus": {"lat": 37.37, "lon": -79.82, "displayName": "East US"}
}`

const testRTT = "Source,West Europe,North Europe,East US\n" +
	"West Europe,,18,83\n" +
	"North Europe,19,,75.5\n"

func TestReadAzureRegionsRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int // where the error must point; 0: no position
	}{
		{"not an object", `[]`, 1},
		{"empty", ``, 1},
		{"no regions", `{}`, 1},
		{"bad name", "{\n \"West Europe\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"W\"}}", 2},
		{"region twice", "{\"a1\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"A\"},\n \"a1\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"B\"}}", 2},
		{"field twice", "{\"a1\": {\"lat\": 1,\n \"lat\": 2, \"lon\": 1, \"displayName\": \"A\"}}", 2},
		{"unknown field", "{\"a1\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"A\",\n \"x\": 1}}", 2},
		{"no lon", "{\"a1\": {\"lat\": 1, \"displayName\": \"A\"}\n}", 1},
		{"latitude", "{\n\"a1\": {\"lat\": 91, \"lon\": 1, \"displayName\": \"A\"}}", 2},
		{"longitude", "{\"a1\": {\"lat\": 1, \"lon\": -180.5, \"displayName\": \"A\"}}", 1},
		{"string latitude", "{\"a1\": {\"lat\": \"1\", \"lon\": 1, \"displayName\": \"A\"}}", 1},
		{"display name comma", "{\"a1\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"A, B\"}}", 1},
		{"display name twice", "{\"a1\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"A\"},\n\"a2\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"A\"}}", 2},
		{"trailing data", "{\"a1\": {\"lat\": 1, \"lon\": 1, \"displayName\": \"A\"}}\n{}", 2},
		{"syntax", "{\"a1\": {\"lat\": 1,, \"lon\": 1}}", 1},
		{"oversized", `{"a1": {"lat": 1, "lon": 1, "displayName": "` + strings.Repeat("x", MaxAzureRegionsBytes) + `"}}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadAzureRegions(strings.NewReader(tc.doc))
			var de *AzureDatasetError
			if !errors.Is(err, ErrAzureDataset) || !errors.As(err, &de) {
				t.Fatalf("err = %v, want an *AzureDatasetError", err)
			}
			if de.Line != tc.line || (tc.line > 0) != (de.Column > 0) {
				t.Fatalf("error at line %d, column %d, want line %d: %v", de.Line, de.Column, tc.line, err)
			}
		})
	}
}

func TestReadAzureRTTRejects(t *testing.T) {
	regions, err := ReadAzureRegions(strings.NewReader(testRegions))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := ReadAzureRTT(strings.NewReader(testRTT), regions); err != nil {
		t.Fatal(err)
	} else if d, ok := a.P50("northeurope", "eastus"); !ok || d != 75500*time.Microsecond {
		t.Fatalf("North Europe → East US %v %v", d, ok)
	}
	tests := []struct {
		name      string
		doc       string
		line, col int // 0, 0: no position
	}{
		{"first cell", "From,West Europe\nWest Europe,\n", 1, 1},
		{"unknown destination", "Source,West Europe,Mars\nWest Europe,,1\n", 1, 20},
		{"destination twice", "Source,West Europe,West Europe\nWest Europe,,1\n", 1, 20},
		{"no destinations", "Source\nWest Europe\n", 1, 1},
		{"unknown source", "Source,West Europe\nWest Europe,\nMars,1\n", 3, 1},
		{"source twice", "Source,West Europe,East US\nEast US,1,\nEast US,1,\n", 3, 1},
		{"field count", "Source,West Europe,East US\nEast US,1\n", 2, 1},
		{"not a number", "Source,West Europe,East US\nEast US,abc,\n", 2, 9},
		{"negative", "Source,West Europe,East US\nEast US,-5,\n", 2, 9},
		{"zero", "Source,West Europe,East US\nEast US,0,\n", 2, 9},
		{"exponent", "Source,West Europe,East US\nEast US,1e2,\n", 2, 9},
		{"too long", "Source,West Europe,East US\nEast US,2000,\n", 2, 9},
		{"spaces", "Source,West Europe,East US\nEast US, 83,\n", 2, 9},
		{"bare dot", "Source,West Europe,East US\nEast US,83.,\n", 2, 9},
		{"long fraction", "Source,West Europe,East US\nEast US,83.1234,\n", 2, 9},
		{"diagonal", "Source,West Europe,East US\nEast US,83,1\n", 2, 12},
		{"bare quote", "Source,West Europe\nWest \"Europe,\n", 2, 6},
		{"byte-order mark", "\ufeffSource,West Europe\nWest Europe,\n", 1, 1},
		{"no rows", "Source,West Europe\n", 0, 0},
		{"empty", "", 0, 0},
		{"oversized", "Source," + strings.Repeat("x", MaxAzureRTTBytes), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadAzureRTT(strings.NewReader(tc.doc), regions)
			var de *AzureDatasetError
			if !errors.Is(err, ErrAzureDataset) || !errors.As(err, &de) {
				t.Fatalf("err = %v, want an *AzureDatasetError", err)
			}
			if de.Line != tc.line || de.Column != tc.col {
				t.Fatalf("error at line %d, column %d, want %d, %d: %v", de.Line, de.Column, tc.line, tc.col, err)
			}
		})
	}
	dup := append(slices.Clone(regions), AzureRegion{Name: "eastus", DisplayName: "Other"})
	if _, err := ReadAzureRTT(strings.NewReader(testRTT), dup); !errors.Is(err, ErrAzureDataset) {
		t.Fatalf("duplicate region: err = %v", err)
	}
}

func FuzzReadAzureRegions(f *testing.F) {
	f.Add(azureRegionsJSON)
	f.Add([]byte(testRegions))
	f.Fuzz(func(t *testing.T, b []byte) {
		regions, err := ReadAzureRegions(bytes.NewReader(b))
		if err != nil {
			var de *AzureDatasetError
			if !errors.As(err, &de) || !errors.Is(err, ErrAzureDataset) {
				t.Fatalf("error %v is not an *AzureDatasetError", err)
			}
			return
		}
		for _, r := range regions {
			if !(r.Lat >= -90 && r.Lat <= 90 && r.Lon >= -180 && r.Lon <= 180) || r.DisplayName == "" {
				t.Fatalf("region read: %+v", r)
			}
		}
	})
}

func FuzzReadAzureRTT(f *testing.F) {
	f.Add([]byte(testRTT))
	f.Add(azureRTTCSV)
	all, err := ReadAzureRegions(bytes.NewReader(azureRegionsJSON))
	if err != nil {
		f.Fatal(err)
	}
	small, err := ReadAzureRegions(strings.NewReader(testRegions))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, regions := range [][]AzureRegion{small, all} {
			a, err := ReadAzureRTT(bytes.NewReader(b), regions)
			if err != nil {
				var de *AzureDatasetError
				if !errors.As(err, &de) || !errors.Is(err, ErrAzureDataset) {
					t.Fatalf("error %v is not an *AzureDatasetError", err)
				}
				continue
			}
			for _, p := range a.Pairs() {
				if p.From == p.To || p.P50 <= 0 || p.P50 > maxAzureRTT || !(p.Km >= 0) {
					t.Fatalf("pair read: %+v", p)
				}
				if d, ok := a.P50(p.From, p.To); !ok || d != p.P50 {
					t.Fatalf("P50(%s, %s) = %v, %v; pair says %v", p.From, p.To, d, ok, p.P50)
				}
			}
		}
	})
}
