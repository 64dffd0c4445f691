package e2elab

import (
	"context"
	"errors"
	"os"
	"testing"
)

// Start interrupted during its calibration returns the error and removes
// what it made.
func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	env, err := Start(ctx, Options{})
	if env != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a canceled context: %v, %v", env, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in the temporary directory: %v", left)
	}
}

// ProverOptions probe every endpoint of the claimed region, with the
// world's K, from the named vantage only.
func TestProverOptions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a lab and calibrates it")
	}
	env, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	o, err := env.ProverOptions(Vantage)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Endpoints) != 2 || o.Echoes != Echoes || o.Attester == nil || o.Dial == nil || o.Roots == nil {
		t.Fatalf("options %+v", o)
	}
	for _, ep := range o.Endpoints {
		if ep.Region != Region {
			t.Errorf("endpoint %s of region %s", ep.Name, ep.Region)
		}
	}
	if _, err := env.ProverOptions("moon"); err == nil {
		t.Error("an unknown vantage gave options")
	}
	if len(env.Profiles.Profiles) != 2 {
		t.Errorf("%d profiles, want the region's 2", len(env.Profiles.Profiles))
	}
}
