package lab

import (
	"bytes"
	"math"
	"testing"

	"github.com/latencyproof/poc/datasets"
)

// FuzzReadWorld: any bytes give a valid world or an ErrWorld, never a panic.
func FuzzReadWorld(f *testing.F) {
	f.Add(datasets.LabWorld)
	f.Add(datasets.DemoWorld)
	f.Add([]byte(attackWorld))
	f.Add([]byte(smallWorld))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ReadWorld(bytes.NewReader(b))
		if err != nil {
			return
		}
		// A world that validates can be used: every vantage has valid
		// coordinates and every route a finite, non-negative length to a
		// region of the world.
		for _, v := range w.Vantages {
			if lat, lon := w.Coords(v); !validCoords(lat, lon) {
				t.Fatalf("vantage %s at %v,%v", v.Name, lat, lon)
			}
			for _, e := range w.Endpoints {
				km, site := w.EndpointKm(v, e)
				if !(km >= 0) || math.IsInf(km, 0) {
					t.Fatalf("route %s → %s: %v km", v.Name, e.Hostname(), km)
				}
				if _, ok := w.regionIndex[site]; !ok {
					t.Fatalf("route %s → %s reaches %q, not a region", v.Name, e.Hostname(), site)
				}
			}
		}
	})
}

// FuzzReadState: any bytes give a usable state or an ErrState.
func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"version":1,"ca_pem":"","catalog":{"version":1,"endpoints":[]}}`))
	f.Add([]byte(`{"version":1,"vantages":[{"name":"v","routes":{"a":"127.0.0.1:1"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ReadState(bytes.NewReader(b))
		if err != nil {
			return
		}
		if _, err := st.Roots(); err != nil {
			t.Fatalf("a state that reads must have roots: %v", err)
		}
	})
}
