package calibration

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/internal/lab"
)

// labWorld: two regions 2° of latitude apart (about 222 km, 1.1 ms of fibre
// each way), an HTTP/2 and an HTTP/1.1-only endpoint in r1, an HTTP/2 one in
// r2, and a vantage in each region.
const labWorld = `{
  "version": 1, "name": "cal", "route_factor": 1.0,
  "regions": [{"name": "r1", "lat": 50, "lon": 5}, {"name": "r2", "lat": 52, "lon": 5}],
  "endpoints": [
    {"service": "api", "region": "r1", "protocol": "h2"},
    {"service": "blob", "region": "r1", "protocol": "http1", "echoes_per_conn": 2},
    {"service": "api", "region": "r2", "protocol": "h2"}
  ],
  "vantages": [
    {"name": "v1", "region": "r1", "base": "50us"},
    {"name": "v2", "region": "r2", "base": "50us"}
  ]
}`

func startLab(t *testing.T) *lab.Lab {
	t.Helper()
	w, err := lab.ReadWorld(strings.NewReader(labWorld))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A short campaign from each vantage of a small lab: every unit measured
// through the vantage's relay, the vantage's metadata on every sample, and
// a dataset that reads back, exports and imports.
func TestLabCampaign(t *testing.T) {
	l := startLab(t)
	dir := t.TempDir()
	minRTT := map[string]float64{} // vantage/region → least echo RTT
	for _, v := range []string{"v1", "v2"} {
		out := filepath.Join(dir, v+".jsonl")
		c := Campaign{Lab: l.State, Vantage: dataset.Vantage{Name: v}, Rounds: 2, Echoes: 3, Seed: 5, Out: out, Timeout: 10 * time.Second}
		if err := Run(context.Background(), c); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		h, samples := checkDataset(t, out)
		want := dataset.Vantage{Name: v, Provider: "lab", Region: "r" + v[1:], Origin: dataset.OriginLab}
		want.Lat, want.Lon = h.Vantage.Lat, h.Vantage.Lon
		if h.Vantage != want {
			t.Fatalf("vantage %+v, want %+v", h.Vantage, want)
		}
		if len(samples) != 2*3*3 {
			t.Fatalf("%s: %d samples", v, len(samples))
		}
		for _, s := range samples {
			if s.Error != "" {
				t.Fatalf("%s: %s failed: %s", v, s.Endpoint, s.Error)
			}
			if s.Origin != "lab" || s.Vantage != v || s.VantageRegion != want.Region {
				t.Fatalf("sample without its vantage: %+v", s)
			}
			wantMethod := "h2-ping"
			if strings.HasPrefix(s.Endpoint, "blob.") {
				wantMethod = "http1"
				if s.Conn != s.Echo/2 {
					t.Fatalf("blob's budget of 2 echoes per connection not kept: echo %d on conn %d", s.Echo, s.Conn)
				}
			}
			if s.Method != wantMethod || s.FrequencyHz == 0 || s.Address == "" {
				t.Fatalf("sample %+v", s)
			}
			k := v + "/" + s.Region
			if m, ok := minRTT[k]; !ok || s.RTTNs < m {
				minRTT[k] = s.RTTNs
			}
		}
		pq := filepath.Join(dir, v+".parquet")
		if _, err := dataset.ExportParquet(out, pq); err != nil {
			t.Fatal(err)
		}
		_, back, err := dataset.ReadParquet(pq)
		if err != nil || !reflect.DeepEqual(back, samples) {
			t.Fatalf("Parquet round trip: %v", err)
		}
	}
	// The far vantage sees at least the relay's delay both ways; the near
	// one less than that (lower bounds only: safe on a loaded machine).
	v2, _ := l.State.Vantage("v2")
	oneWay := time.Duration(v2.Delays["api.r1.lab.test"].OneWay)
	if far := time.Duration(minRTT["v2/r1"]); far < 2*oneWay {
		t.Errorf("v2 → r1 min echo %v below the relay's %v each way", far, oneWay)
	}
	if near, far := minRTT["v1/r1"], minRTT["v2/r1"]; !(near < far) || math.IsNaN(near) {
		t.Errorf("v1 → r1 %v ns, not below v2 → r1 %v ns", near, far)
	}
}
