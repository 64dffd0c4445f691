package labcal

import (
	"context"
	"errors"
	"testing"

	"github.com/latencyproof/poc/internal/lab"
)

func TestNothingToCalibrate(t *testing.T) {
	w, err := lab.DefaultWorld()
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, runs := range [][]Run{nil, {{Vantage: "moon", Region: "westeurope"}}, {{Vantage: "westeurope-vm", Region: "atlantis"}}} {
		if _, err := Calibrate(context.Background(), l.State, runs, Options{Rounds: 1}); !errors.Is(err, ErrNothing) {
			t.Errorf("%v: err = %v, want ErrNothing", runs, err)
		}
	}
}

// A run's own Rounds overrides the options' for that campaign alone.
func TestRunRoundsOverride(t *testing.T) {
	w, err := lab.DefaultWorld()
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	runs := []Run{{Vantage: "westeurope-vm", Region: "westeurope", Rounds: 20}, {Vantage: "northeurope-vm", Region: "northeurope"}}
	f, err := Calibrate(context.Background(), l.State, runs, Options{Rounds: 16, Echoes: 64})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"westeurope": 20 * 64, "northeurope": 16 * 64}
	seen := 0
	for _, p := range f.Profiles {
		w, ok := want[p.Region]
		if !ok {
			t.Fatalf("profile of %s/%s: no campaign went there", p.Region, p.Endpoint)
		}
		seen++
		if p.Count+p.Outliers.AboveCap+p.Outliers.AboveTrim != w {
			t.Errorf("%s: %d samples (+%d dropped), want %d", p.Endpoint, p.Count, p.Outliers.AboveCap+p.Outliers.AboveTrim, w)
		}
	}
	if seen == 0 {
		t.Fatal("no profiles")
	}
}
