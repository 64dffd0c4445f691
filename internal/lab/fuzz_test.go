package lab

import (
	"bytes"
	"testing"

	"github.com/latencyproof/poc/datasets"
)

// FuzzReadWorld: any bytes give a valid world or an ErrWorld, never a panic.
func FuzzReadWorld(f *testing.F) {
	f.Add(datasets.LabWorld)
	f.Add([]byte(smallWorld))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ReadWorld(bytes.NewReader(b))
		if err != nil {
			return
		}
		// A world that validates can be used: every vantage has coordinates
		// and every route a finite, non-negative length.
		for _, v := range w.Vantages {
			for _, e := range w.Endpoints {
				if km := w.RouteKm(v, e.Region); !(km >= 0) {
					t.Fatalf("route %s → %s: %v km", v.Name, e.Hostname(), km)
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
