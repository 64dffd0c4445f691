package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/internal/lab"
)

// pocCal runs the command line with 'calibrate' registered, whether or not
// main.go registers it yet, mapping errors to exit codes as run does.
func pocCal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp(&out, &errOut)
	for _, c := range app.Commands {
		if c.Name == "calibrate" {
			return poc(t, args...)
		}
	}
	app.Commands = append(app.Commands, calibrateCommand())
	usageErrors(app.Commands)
	err := app.Run(append([]string{"poc"}, args...))
	if err == nil {
		return exitOK, out.String(), errOut.String()
	}
	code := exitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(&errOut, "error: %v\n", err)
	var he *hintError
	if errors.As(err, &he) {
		fmt.Fprintf(&errOut, "hint: %s\n", he.hint)
	}
	return code, out.String(), errOut.String()
}

const calWorld = `{
  "version": 1, "name": "cal", "route_factor": 1.0,
  "regions": [{"name": "r1", "lat": 50, "lon": 5}, {"name": "r2", "lat": 52, "lon": 5}],
  "endpoints": [
    {"service": "api", "region": "r1", "protocol": "h2"},
    {"service": "blob", "region": "r1", "protocol": "http1"},
    {"service": "api", "region": "r2", "protocol": "h2"}
  ],
  "vantages": [{"name": "v1", "region": "r1"}, {"name": "v2", "region": "r2"}]
}`

func startCalLab(t *testing.T) string {
	t.Helper()
	w, err := lab.ReadWorld(strings.NewReader(calWorld))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	path := filepath.Join(t.TempDir(), "lab.json")
	if err := l.State.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// lab serve → calibrate run → calibrate export, with no glue: the state
// file is the catalog.
func TestCalibrateLab(t *testing.T) {
	state := startCalLab(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "v1.jsonl")
	args := []string{"calibrate", "run", "--lab", state, "--vantage", "v1", "--rounds", "2", "--echoes", "2", "--seed", "3", "--out", out}
	code, stdout, stderr := pocCal(t, append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum calibrateSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if !sum.Complete || sum.Samples != 2*3*2 || sum.Measured != 12 || sum.Failures != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(stderr, "campaign "+sum.Campaign) {
		t.Fatalf("no progress on stderr: %q", stderr)
	}
	h, samples, err := dataset.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if h.Vantage.Origin != "lab" || h.Vantage.Region != "r1" || len(samples) != 12 {
		t.Fatalf("header %+v, %d samples", h, len(samples))
	}
	// Again without --resume: refused, with the hint; with it: nothing to do.
	if code, _, stderr := pocCal(t, args...); code != exitUsage || !strings.Contains(stderr, "--resume") {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if code, _, stderr := pocCal(t, "calibrate", "run", "--lab", state, "--vantage", "v1", "--out", out, "--resume", "--quiet"); code != exitOK {
		t.Fatalf("resume of a finished campaign: exit %d: %s", code, stderr)
	}
	// A resume that contradicts the file is a usage error.
	if code, _, stderr := pocCal(t, append(args, "--resume", "--quiet", "--echoes", "5")...); code != exitUsage {
		t.Fatalf("mismatched resume: exit %d: %s", code, stderr)
	}
	pq := filepath.Join(dir, "v1.parquet")
	code, stdout, stderr = pocCal(t, "calibrate", "export", "--in", out, "--parquet", pq)
	if code != exitOK || !strings.Contains(stdout, "exported 12 samples") {
		t.Fatalf("export: exit %d: %s %s", code, stdout, stderr)
	}
	if _, back, err := dataset.ReadParquet(pq); err != nil || len(back) != 12 {
		t.Fatalf("parquet: %v", err)
	}
	if code, _, _ := pocCal(t, "calibrate", "export", "--in", out, "--parquet", pq); code != exitUsage {
		t.Fatalf("export over a file without --force: exit %d", code)
	}
	if code, _, stderr := pocCal(t, "calibrate", "export", "--in", out, "--parquet", pq, "--force"); code != exitOK {
		t.Fatalf("export --force: exit %d: %s", code, stderr)
	}
	// A torn dataset does not export; the hint says to resume.
	b, _ := os.ReadFile(out)
	torn := filepath.Join(dir, "torn.jsonl")
	os.WriteFile(torn, b[:len(b)-20], 0o644)
	if code, _, stderr := pocCal(t, "calibrate", "export", "--in", torn, "--parquet", filepath.Join(dir, "t.parquet")); code != exitCouldNot || !strings.Contains(stderr, "resume") {
		t.Fatalf("export of a torn file: exit %d: %s", code, stderr)
	}
}

// Outside the lab the same command uses the system's dialer and roots; an
// endpoint that refuses every connection is recorded, probe after probe,
// and the run ends with exit 4 because nothing was measured.
func TestCalibrateRealFailures(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog.json")
	os.WriteFile(cat, []byte(`{"version": 1, "name": "t", "endpoints": [
	  {"name": "closed", "provider": "azure", "region": "westeurope", "lat": 52.37, "lon": 4.9,
	   "hostname": "127.0.0.1", "port": 1, "termination": "regional", "echo": {"method": "h2-ping"}}]}`), 0o644)
	out := filepath.Join(dir, "c.jsonl")
	code, _, stderr := pocCal(t, "calibrate", "run", "--catalog", cat, "--vantage", "vm", "--vantage-provider", "azure",
		"--vantage-region", "westeurope", "--rounds", "2", "--echoes", "2", "--out", out, "--quiet")
	if code != exitCouldNot || !strings.Contains(stderr, "hint:") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	h, samples, err := dataset.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if h.Vantage.Origin != "real" || h.Vantage.Lat != 52.37 || len(samples) != 2 {
		t.Fatalf("header %+v, %d samples", h.Vantage, len(samples))
	}
	for _, s := range samples {
		if s.ErrorKind != dataset.ErrorKindDial {
			t.Fatalf("sample %+v", s)
		}
	}
}

func TestCalibrateUsage(t *testing.T) {
	state := startCalLab(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.jsonl")
	cat := filepath.Join(dir, "catalog.json")
	os.WriteFile(cat, []byte(`{"version": 1, "endpoints": [
	  {"name": "e", "provider": "azure", "region": "westeurope", "lat": 52.37, "lon": 4.9,
	   "hostname": "e.example.net", "port": 443, "termination": "regional", "echo": {"method": "h2-ping"}}]}`), 0o644)
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"calibrate", "run", "--vantage", "v1", "--out", out}, exitUsage},                                             // no catalog
		{[]string{"calibrate", "run", "--catalog", state, "--vantage", "v1", "--out", out}, exitUsage},                         // a state without --lab
		{[]string{"calibrate", "run", "--lab", state, "--vantage", "moon", "--out", out}, exitUsage},                           // unknown vantage
		{[]string{"calibrate", "run", "--lab", state, "--vantage", "v1", "--out", out, "--lat", "1", "--lon", "2"}, exitUsage}, // lab places vantages
		{[]string{"calibrate", "run", "--lab", state, "--vantage", "v1", "--out", out, "--rounds", "0"}, exitUsage},
		{[]string{"calibrate", "run", "--lab", state, "--vantage", "v1", "--out", out, "--endpoint", "nowhere"}, exitUsage},
		{[]string{"calibrate", "run", "--catalog", cat, "--vantage", "vm", "--out", out}, exitUsage},                                                                                // no provider, region
		{[]string{"calibrate", "run", "--catalog", cat, "--vantage", "vm", "--vantage-provider", "aws", "--vantage-region", "x", "--out", out}, exitUsage},                          // no coordinates known
		{[]string{"calibrate", "run", "--catalog", cat, "--vantage", "vm", "--vantage-provider", "azure", "--vantage-region", "westeurope", "--lat", "1", "--out", out}, exitUsage}, // lat without lon
		{[]string{"calibrate", "run", "--catalog", filepath.Join(dir, "missing.json"), "--vantage", "vm", "--out", out}, exitCouldNot},
		{[]string{"calibrate", "run", "--lab", state, "--vantage", "v1", "--out", out, "extra"}, exitUsage},
		{[]string{"calibrate", "run", "--lab", state, "--out", out}, exitUsage}, // no vantage
		{[]string{"calibrate", "export", "--in", filepath.Join(dir, "missing.jsonl"), "--parquet", filepath.Join(dir, "p")}, exitCouldNot},
		{[]string{"calibrate", "export", "--in", out}, exitUsage},
	}
	for _, tc := range tests {
		code, _, stderr := pocCal(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused command wrote a dataset")
	}
}

// A lab that has stopped is reported before any probe, with a hint.
func TestCalibrateLabGone(t *testing.T) {
	w, _ := lab.ReadWorld(strings.NewReader(calWorld))
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "lab.json")
	l.State.WriteFile(state)
	l.Close()
	out := filepath.Join(t.TempDir(), "x.jsonl")
	code, _, stderr := pocCal(t, "calibrate", "run", "--lab", state, "--vantage", "v1", "--out", out, "--quiet")
	if code != exitCouldNot || !strings.Contains(stderr, "poc lab serve") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
