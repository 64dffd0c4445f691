package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleProfiles is a lab profile fitted from 100,000 synthetic round
// trips (calibration/profile/testdata, with its provenance).
const exampleProfiles = "../../calibration/profile/testdata/example.json"

const exampleEndpoint = "api.westeurope.lab.test"

func TestCalibratePower(t *testing.T) {
	args := []string{"calibrate", "power", "--profiles", exampleProfiles, "--endpoint", exampleEndpoint,
		"--echoes", "16", "--distance-km", "2.5", "--origin", "lab"}
	code, stdout, stderr := pocCal(t, append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r powerReport
	decodeOne(t, stdout, &r)
	if r.K != 16 || r.Origin != "lab" || r.FRR != 0.001 || r.DistanceKm != 2.5 || r.FARTarget != 1e-6 {
		t.Fatalf("report %+v", r)
	}
	var dists []float64
	for _, p := range r.FAR {
		dists = append(dists, p.DistanceKm)
	}
	if len(dists) != 6 || dists[0] != 1 || dists[1] != 2.5 || dists[5] != 500 {
		t.Fatalf("FAR stated at %v, want 1, 2.5, 10, 50, 100, 500 km", dists)
	}
	if far, _ := r.FARAt(2.5); far != r.FARAtDistance || !(far > 0 && far < 1) {
		t.Fatalf("FAR at 2.5 km: %v, list says %v", r.FARAtDistance, far)
	}
	if !(r.Threshold > 226_000 && r.FRRModel <= r.FRR*(1+1e-9) && r.FRREmpirical <= r.FRR*(1+1e-9)) {
		t.Fatalf("threshold %v, FRR model %v empirical %v", r.Threshold, r.FRRModel, r.FRREmpirical)
	}
	if !(r.ResolutionKm > 0 && r.BoundKm > r.ResolutionKm && r.BoundNoFloorKm > r.BoundKm) || len(r.Limitations) == 0 {
		t.Fatalf("resolution %v, bound %v / %v, limitations %v", r.ResolutionKm, r.BoundKm, r.BoundNoFloorKm, r.Limitations)
	}

	// A stricter FRR raises the threshold.
	code, stdout, _ = pocCal(t, append(args, "--json", "--frr", "1e-6")...)
	var strict powerReport
	decodeOne(t, stdout, &strict)
	if code != exitOK || !(strict.Threshold > r.Threshold) {
		t.Fatalf("FRR 1e-6: exit %d, threshold %v (at 1e-3: %v)", code, strict.Threshold, r.Threshold)
	}

	code, stdout, stderr = pocCal(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"LAB PROFILE", "threshold", "stated 0.001", "at 2.5 km", "at 500 km", "resolution", "vacuum bound", "same metro", "cannot"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("text output lacks %q:\n%s", s, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr on success: %q", stderr)
	}
}

func TestCalibratePowerErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"version": 1, "profiles": []}`), 0o644)
	base := []string{"calibrate", "power", "--profiles", exampleProfiles, "--echoes", "16", "--distance-km", "100"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"lab profile needs --origin lab", append(base, "--endpoint", exampleEndpoint), exitUsage, "--origin lab"},
		{"unknown endpoint", append(base, "--endpoint", "nowhere.test", "--origin", "lab"), exitUsage, exampleEndpoint},
		{"no such method", append(base, "--endpoint", exampleEndpoint, "--origin", "lab", "--method", "http1"), exitUsage, "h2-ping"},
		{"kernel clock", append(base, "--endpoint", exampleEndpoint, "--origin", "lab", "--clock", "kernel"), exitUsage, "clock counter"},
		{"bad origin", append(base, "--endpoint", exampleEndpoint, "--origin", "moon"), exitUsage, "--origin"},
		{"bad frr", append(base, "--endpoint", exampleEndpoint, "--origin", "lab", "--frr", "1"), exitUsage, "--frr"},
		{"no echoes", []string{"calibrate", "power", "--profiles", exampleProfiles, "--endpoint", exampleEndpoint, "--echoes", "0", "--distance-km", "1", "--origin", "lab"}, exitUsage, "--echoes"},
		{"far distance", []string{"calibrate", "power", "--profiles", exampleProfiles, "--endpoint", exampleEndpoint, "--echoes", "8", "--distance-km", "30000", "--origin", "lab"}, exitUsage, "--distance-km"},
		{"missing flag", []string{"calibrate", "power", "--profiles", exampleProfiles, "--endpoint", exampleEndpoint}, exitUsage, "echoes"},
		{"missing file", []string{"calibrate", "power", "--profiles", filepath.Join(dir, "none.json"), "--endpoint", "x", "--echoes", "8", "--distance-km", "1"}, exitCouldNot, "hint:"},
		{"invalid file", []string{"calibrate", "power", "--profiles", broken, "--endpoint", "x", "--echoes", "8", "--distance-km", "1"}, exitCouldNot, "broken.json"},
		{"argument", append(base, "--endpoint", exampleEndpoint, "extra"), exitUsage, "no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := pocCal(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q: %s", code, tc.code, tc.want, stderr)
			}
			if stdout != "" && tc.name != "missing flag" {
				t.Fatalf("stdout on failure: %q", stdout)
			}
		})
	}
}
