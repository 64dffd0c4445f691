package demo

import (
	"context"
	"errors"
	"testing"

	"github.com/latencyproof/poc/verifier"
)

func TestExpectationAllows(t *testing.T) {
	all := []verifier.Outcome{verifier.Accepted, verifier.RefusedCrypto, verifier.RefusedPolicy, verifier.RefusedLatency, verifier.CouldNotCheck}
	tests := []struct {
		x    Expectation
		want []verifier.Outcome
	}{
		{expect(verifier.Accepted), []verifier.Outcome{verifier.Accepted}},
		{expect(verifier.RefusedLatency), []verifier.Outcome{verifier.RefusedLatency}},
		{expect(verifier.RefusedCrypto), []verifier.Outcome{verifier.RefusedCrypto}},
		// Latency may go either way; a refusal at any other stage is a
		// mismatch, so the same-metro line still checks the proof.
		{Undecidable, []verifier.Outcome{verifier.Accepted, verifier.RefusedLatency}},
	}
	for _, tt := range tests {
		for _, o := range all {
			want := false
			for _, w := range tt.want {
				want = want || w == o
			}
			if got := tt.x.Allows(o); got != want {
				t.Errorf("%s allows %s: %v, want %v", tt.x, o, got, want)
			}
		}
	}
}

func TestScenariosExpectations(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range scenarios() {
		if seen[sc.Name] {
			t.Errorf("scenario %q twice", sc.Name)
		}
		seen[sc.Name] = true
		if sc.Note == "" || sc.prove == nil {
			t.Errorf("%s: no note or no proof", sc.Name)
		}
		if sc.Expected == Undecidable && sc.Name != "relay 1 km away (same metro)" {
			t.Errorf("%s: only the same-metro relay is undecidable", sc.Name)
		}
		for _, o := range sc.Expected.Allowed() {
			if o != verifier.Accepted && o != verifier.RefusedCrypto && o != verifier.RefusedPolicy && o != verifier.RefusedLatency {
				t.Errorf("%s: expects %q, not a verdict", sc.Name, o)
			}
		}
	}
}

// A demo interrupted while it sets up (Ctrl-C during the calibration)
// returns the error and closes what it started, without a panic.
func TestRunCanceledDuringSetup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Options{})
	if err == nil || res != nil {
		t.Fatalf("Run with a canceled context: %v, %v", res, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
