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
