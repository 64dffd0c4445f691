package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latencyproof/poc/internal/eval"
)

// TestEvalQuick runs 'poc eval --quick' on the loopback lab and checks the
// structure of what it writes, not its statistics: lab timing moves with
// the machine's load, so the assertions are ones no load can break — a
// relay 200 km away (1.33 ms of added round trip, several times any
// threshold) is refused by every probe, and honest probes, calibrated
// under the same load in the same shuffled schedule, are mostly accepted.
func TestEvalQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick evaluation on the lab (under a minute)")
	}
	dir := t.TempDir()
	start := time.Now()
	code, out, errOut := poc(t, "eval", "--quick", "--json", "--out", dir, "--seed", "3")
	if code != exitOK {
		t.Fatalf("exit %d\nstderr: %s", code, errOut)
	}
	t.Logf("poc eval --quick: %v", time.Since(start).Round(time.Second))
	var res eval.Result
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not one Result: %v", err)
	}
	if dec.More() {
		t.Fatal("stdout holds more than one JSON document")
	}
	if !res.Quick || res.Seed != 3 || len(res.Ks) != 3 || len(res.Regimes) != 2 {
		t.Fatalf("quick %v seed %d Ks %v regimes %d", res.Quick, res.Seed, res.Ks, len(res.Regimes))
	}
	for _, rr := range res.Regimes {
		name := rr.Regime.Name
		if len(rr.Calibration.Levels) == 0 || rr.Calibration.Levels[len(rr.Calibration.Levels)-1] != eval.EchoesPerConn {
			t.Errorf("%s: connection levels %v", name, rr.Calibration.Levels)
		}
		if len(rr.Calibration.ProbeLevels) != len(res.Ks) {
			t.Errorf("%s: probe levels %+v, want one per K", name, rr.Calibration.ProbeLevels)
		}
		for _, m := range eval.Methods {
			for _, k := range res.Ks {
				row := rr.Row(m, k)
				if row == nil {
					t.Fatalf("%s: no row for %s, K = %d", name, m, k)
				}
				if len(row.Points) != len(res.DistancesKm) || len(row.Curve) == 0 || row.ThresholdNs <= 0 {
					t.Errorf("%s %s K=%d: %d points, %d curve points, threshold %v", name, m, k, len(row.Points), len(row.Curve), row.ThresholdNs)
				}
				if want := map[string]string{eval.MethodProbeLevel: "probe", eval.MethodConnModel: "connection", eval.MethodPerEcho: "echo"}[m]; want != "" && row.Unit != want {
					t.Errorf("%s %s K=%d: decided per %s, want %s", name, m, k, row.Unit, want)
				}
				if row.Rejected.N != res.HonestProbes && m != eval.MethodHandshakesRTTs && m != eval.MethodHandshakesOneConn {
					t.Errorf("%s %s K=%d: %d honest observations, want %d", name, m, k, row.Rejected.N, res.HonestProbes)
				}
				if m != eval.MethodProbeLevel {
					continue
				}
				t.Logf("%s K=%d: threshold %.1f µs, honest rejected %d/%d, resolution %.1f km, no relay passed from %g km",
					name, k, row.ThresholdNs/1e3, row.Rejected.X, row.Rejected.N, row.ResolutionKm, row.RefusedKm)
				if !(row.ResolutionKm > 0) {
					t.Errorf("%s K=%d: resolution %v", name, k, row.ResolutionKm)
				}
				far := row.Points[len(row.Points)-1]
				if far.DistanceKm != 200 || far.Accepted.X != 0 || far.Accepted.N == 0 {
					t.Errorf("%s K=%d: the relay %g km away was accepted %d/%d times", name, k, far.DistanceKm, far.Accepted.X, far.Accepted.N)
				}
				if 4*row.Rejected.X > row.Rejected.N {
					t.Errorf("%s K=%d: %d of %d honest probes rejected", name, k, row.Rejected.X, row.Rejected.N)
				}
			}
		}
		if len(rr.Models) != 2*len(res.Ks) {
			t.Errorf("%s: %d model rows", name, len(rr.Models))
		}
	}
	want := []string{eval.ReportFile, eval.JSONFile, eval.ProbesFile, eval.ResolutionPlot}
	for _, rr := range res.Regimes {
		n := rr.Regime.Name
		want = append(want, eval.RegimePlot(n), "world-"+n+".json", "profiles-"+n+".json", "handshake-profiles-"+n+".json")
	}
	for _, f := range want {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, eval.ProbesFile))
	perRegime := res.CalibrationProbes + res.HonestProbes + res.RelayProbes*len(res.DistancesKm)
	if n := bytes.Count(b, []byte("\n")); n != 2*perRegime {
		t.Errorf("%s: %d probes, want %d", eval.ProbesFile, n, 2*perRegime)
	}

	// The table form, and usage errors.
	var tab bytes.Buffer
	printEval(&tab, &res)
	for _, w := range []string{"same-zone", "cross-zone", "probe level", "connection model", "K/4 handshakes"} {
		if !bytes.Contains(tab.Bytes(), []byte(w)) {
			t.Errorf("the table lacks %q:\n%s", w, tab.String())
		}
	}
	if code, _, _ := poc(t, "eval", "--seed", "0"); code != exitUsage {
		t.Errorf("--seed 0: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := poc(t, "eval", "extra"); code != exitUsage {
		t.Errorf("an argument: exit %d, want %d", code, exitUsage)
	}
}
