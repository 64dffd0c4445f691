package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/tlsprobe"
)

func TestDefaultWorld(t *testing.T) {
	w, err := DefaultWorld()
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Regions) < 3 || len(w.Endpoints) < 6 || len(w.Vantages) < 3 {
		t.Fatalf("default world too small: %d regions, %d endpoints, %d vantages", len(w.Regions), len(w.Endpoints), len(w.Vantages))
	}
	protos := map[string]bool{}
	for _, e := range w.Endpoints {
		protos[e.Protocol] = true
	}
	if !protos["h2"] || !protos["http1"] {
		t.Fatal("default world needs both HTTP/2 and HTTP/1.1-only endpoints")
	}
}

func TestGreatCircle(t *testing.T) {
	// London to Paris, about 344 km.
	if d := datasets.GreatCircleKm(51.5074, -0.1278, 48.8566, 2.3522); math.Abs(d-344) > 3 {
		t.Fatalf("London–Paris %v km", d)
	}
	if d := datasets.GreatCircleKm(10, 20, 10, 20); d != 0 {
		t.Fatalf("same point %v km", d)
	}
	// Antipodes: half the circumference.
	if d := datasets.GreatCircleKm(0, 0, 0, 180); math.Abs(d-math.Pi*datasets.EarthRadiusKm) > 1 {
		t.Fatalf("antipodes %v km", d)
	}
}

const smallWorld = `{
  "version": 1, "name": "small", "route_factor": 1.0,
  "regions": [{"name": "r1", "lat": 50, "lon": 5}, {"name": "r2", "lat": 50.5, "lon": 5}],
  "endpoints": [{"service": "api", "region": "r1", "protocol": "h2"}, {"service": "blob", "region": "r1", "protocol": "http1", "echoes_per_conn": 2}],
  "vantages": [
    {"name": "near", "region": "r1"},
    {"name": "far", "region": "r2", "base": "2ms", "jitter": {"dist": "uniform", "max": "50us"}}
  ]
}`

func TestReadWorldRejects(t *testing.T) {
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(smallWorld), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	first := func(m map[string]any, key string) map[string]any { return m[key].([]any)[0].(map[string]any) }
	tests := map[string]string{
		"version":          mutate(func(m map[string]any) { m["version"] = 2 }),
		"unknown field":    mutate(func(m map[string]any) { m["colour"] = "blue" }),
		"bad region name":  mutate(func(m map[string]any) { first(m, "regions")["name"] = "R 1" }),
		"bad latitude":     mutate(func(m map[string]any) { first(m, "regions")["lat"] = 91 }),
		"unknown region":   mutate(func(m map[string]any) { first(m, "endpoints")["region"] = "nowhere" }),
		"bad protocol":     mutate(func(m map[string]any) { first(m, "endpoints")["protocol"] = "h3" }),
		"no endpoints":     mutate(func(m map[string]any) { m["endpoints"] = []any{} }),
		"negative base":    mutate(func(m map[string]any) { first(m, "vantages")["base"] = "-1ms" }),
		"bare number base": mutate(func(m map[string]any) { first(m, "vantages")["base"] = 100 }),
		"bad jitter":       mutate(func(m map[string]any) { first(m, "vantages")["jitter"] = map[string]any{"dist": "pareto"} }),
		"jitter no mean":   mutate(func(m map[string]any) { first(m, "vantages")["jitter"] = map[string]any{"dist": "exponential"} }),
		"route factor":     mutate(func(m map[string]any) { m["route_factor"] = -1 }),
		"duplicate vantage": mutate(func(m map[string]any) {
			m["vantages"] = append(m["vantages"].([]any), first(m, "vantages"))
		}),
		"oversized": `{"name": "` + strings.Repeat("x", MaxWorldBytes) + `"}`,
		"not json":  `{`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadWorld(strings.NewReader(doc)); !errors.Is(err, ErrWorld) {
				t.Fatalf("err = %v, want ErrWorld", err)
			}
		})
	}
}

func startSmall(t *testing.T) *Lab {
	t.Helper()
	w, err := ReadWorld(strings.NewReader(smallWorld))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Start(w, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A lab probe goes through the vantage's relay: the far vantage's echoes
// carry at least its configured delay both ways (a lower bound, safe to
// assert on a loaded machine), and both protocols work.
func TestLabProbes(t *testing.T) {
	l := startSmall(t)
	st := l.State
	roots, err := st.Roots()
	if err != nil {
		t.Fatal(err)
	}
	far, err := st.Vantage("far")
	if err != nil {
		t.Fatal(err)
	}
	d := far.Delays["api.r1.lab.test"]
	if km := d.RouteKm; math.Abs(km-55.6) > 1 {
		t.Errorf("far route %v km, want about 55.6", km)
	}
	if time.Duration(d.OneWay) < 2*time.Millisecond {
		t.Errorf("far one-way delay %v below its base", time.Duration(d.OneWay))
	}
	for _, host := range []string{"api.r1.lab.test", "blob.r1.lab.test"} {
		e, ok := st.Catalog.Lookup(host)
		if !ok {
			t.Fatalf("%s not in the catalog", host)
		}
		method, _ := tlsprobe.ParseMethod(e.Echo.Method)
		res, err := tlsprobe.Probe(context.Background(), tlsprobe.Config{
			Endpoint: e.Address(), Echoes: 4, Method: method, Roots: roots, Dial: far.Dialer(),
			Budget: tlsprobe.Budget{EchoesPerConn: e.Echo.EchoesPerConn},
		})
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if min := time.Duration(res.MinEchoNs); min < 2*time.Duration(d.OneWay) {
			t.Errorf("%s: min echo %v through a %v each-way relay", host, min, time.Duration(d.OneWay))
		}
		if host == "blob.r1.lab.test" && len(res.Conns) != 2 {
			t.Errorf("blob's budget of 2 echoes per connection gave %d connections", len(res.Conns))
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	l := startSmall(t)
	path := filepath.Join(t.TempDir(), "state.json")
	if err := l.State.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	st, err := ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Vantages) != 2 || len(st.Catalog.Endpoints) != 2 {
		t.Fatalf("state read back with %d vantages, %d endpoints", len(st.Vantages), len(st.Catalog.Endpoints))
	}
	if _, err := st.Vantage("moon"); !errors.Is(err, ErrUnknownVantage) {
		t.Fatalf("unknown vantage: err = %v", err)
	}
	near, _ := st.Vantage("near")
	if _, err := near.Dialer()(context.Background(), "tcp", "example.com:443"); !errors.Is(err, ErrUnknownHost) {
		t.Fatalf("a lab dialer must refuse names outside the lab, err = %v", err)
	}
	// The state is a catalog too: its endpoints validate as one.
	if err := st.Catalog.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestReadStateRejects(t *testing.T) {
	l := startSmall(t)
	good, _ := json.Marshal(l.State)
	bad := func(f func(s *State)) []byte {
		var s State
		_ = json.Unmarshal(good, &s)
		f(&s)
		b, _ := json.Marshal(s)
		return b
	}
	tests := map[string][]byte{
		"version":      bad(func(s *State) { s.Version = 9 }),
		"no CA":        bad(func(s *State) { s.CAPEM = "" }),
		"bad catalog":  bad(func(s *State) { s.Catalog.Endpoints[0].Port = 0 }),
		"unknown key":  []byte(`{"version":1,"extra":true}`),
		"oversized":    bytes.Repeat([]byte(" "), MaxStateBytes+1),
		"not a state":  []byte(`[]`),
		"edge catalog": bad(func(s *State) { s.Catalog.Endpoints[0].Termination = "anycast" }),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadState(bytes.NewReader(doc)); !errors.Is(err, ErrState) {
				t.Fatalf("err = %v, want ErrState", err)
			}
		})
	}
}

// A lab that fails to start releases what it started and does not panic.
func TestStartFailureCleansUp(t *testing.T) {
	w, err := ReadWorld(strings.NewReader(smallWorld))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(w, Options{Host: "192.0.2.1"}); err == nil {
		t.Fatal("a lab on an address this machine does not have started")
	}
}
