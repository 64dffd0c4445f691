package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/eval"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/internal/labcal"
	"github.com/latencyproof/poc/internal/relay"
	"github.com/latencyproof/poc/tlsprobe"
)

// TestDemoCalibrationStudy measures what the demo's short calibration
// gives its honest prover and its 10 km relay on this machine. It runs one
// long campaign (POC_DEMO_STUDY_ROUNDS probes, default 1500, about two and
// a half minutes) from the demo world's westeurope vantage over the claimed
// region's two endpoints, then slides a calibration window of N
// consecutive probes along it, fits profiles from each window exactly as
// the demo does, and decides the probes that follow each window as proofs
// at the demo's FRR (and at 10⁻³): the honest proofs as measured, and a 10 km relay as
// the same probes with the relay's fibre delay added to every round trip
// (the lab's relays differ only by that delay). After every refused honest
// proof it decides the next probe too: the demo's second attempt.
//
// Run with POC_DEMO_STUDY=1 (make demo-study); docs/EVALUATION.md reports
// its figures.
func TestDemoCalibrationStudy(t *testing.T) {
	if os.Getenv("POC_DEMO_STUDY") == "" {
		t.Skip("set POC_DEMO_STUDY=1 (make demo-study): a campaign of minutes")
	}
	rounds := 1500
	if s := os.Getenv("POC_DEMO_STUDY_ROUNDS"); s != "" {
		if _, err := fmt.Sscan(s, &rounds); err != nil || rounds < 400 {
			t.Fatalf("POC_DEMO_STUDY_ROUNDS=%q: want a number ≥ 400", s)
		}
	}
	w, err := lab.ReadWorld(strings.NewReader(string(datasets.DemoWorld)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	start := time.Now()
	if _, err := labcal.Calibrate(context.Background(), l.State, []labcal.Run{{Vantage: Region + "-vm", Region: Region}},
		labcal.Options{Rounds: rounds, Echoes: DefaultEchoes, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign: %d probes per endpoint in %.0f s", rounds, time.Since(start).Seconds())
	byRound, err := readRounds(filepath.Join(dir, "campaign-"+Region+"-vm.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := w.Vantage("attacker-10km")
	shift := 2 * float64(relay.FibreDelay(w.DistanceKm(v, Region), w.RouteFactor))
	fmt.Printf("demo calibration study: %d probes of %d echoes per endpoint, FRR %g per proof, 10 km relay = honest + %.0f µs\n",
		rounds, DefaultEchoes, FRR, shift/1e3)
	fmt.Println("| calibration probes | stated FRR | honest proofs refused | refused again at the retry | 10 km relay accepted | threshold p05 / p50 / p95 |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, c := range []struct {
		n   int
		frr float64
	}{{120, FRR}, {240, FRR}, {240, 1e-3}} {
		n := c.n
		r, err := studyWindows(byRound, rounds, n, c.frr, shift)
		if err != nil {
			t.Fatal(err)
		}
		hon, again, far := eval.NewRate(r.refused, r.proofs, 0.95), eval.NewRate(r.again, r.refused, 0.95), eval.NewRate(r.accepted10, r.proofs, 0.95)
		slices.Sort(r.thresholds)
		q := func(p float64) float64 { return r.thresholds[int(p*float64(len(r.thresholds)-1))] / 1e3 }
		fmt.Printf("| %d | %g | %d/%d = %.2f%% [%.2f, %.2f] | %d/%d | %d/%d [%.2f, %.2f%%] | %.0f / %.0f / %.0f µs |\n",
			n, c.frr, hon.X, hon.N, 100*hon.Rate, 100*hon.Lo, 100*hon.Hi, again.X, again.N, far.X, far.N, 100*far.Lo, 100*far.Hi, q(0.05), q(0.5), q(0.95))
	}
}

type windowStudy struct {
	proofs, refused, again, accepted10 int
	thresholds                         []float64
}

// studyWindows slides a window of n probes (stepping 37 probes) and
// decides every second one of the 40 probes after it.
func studyWindows(byRound map[int][]dataset.Sample, rounds, n int, frr, shift float64) (windowStudy, error) {
	var r windowStudy
	for start := 0; start+n+41 < rounds; start += 37 {
		f, err := fit.NewFitter(fit.Options{Locate: func(_, _, _ string) (profile.Location, bool) { return profile.Location{}, true }})
		if err != nil {
			return r, err
		}
		for i := start; i < start+n; i++ {
			for _, s := range byRound[i] {
				if err := f.Add(s); err != nil {
					return r, err
				}
			}
		}
		pf, err := f.File()
		if err != nil {
			return r, err
		}
		decide := func(round int, add float64) (bool, error) {
			ok := true
			for i := range pf.Profiles {
				p := &pf.Profiles[i]
				var rtts []float64
				for _, s := range byRound[round] {
					if s.Endpoint == p.Endpoint && s.Error == "" {
						rtts = append(rtts, s.RTTNs+add)
					}
				}
				if len(rtts) != DefaultEchoes {
					return false, fmt.Errorf("probe %d of %s: %d echoes", round, p.Endpoint, len(rtts))
				}
				// The verifier splits the proof's FRR evenly among the
				// claimed region's endpoints.
				v, err := verdict.DecideConns(p, rtts, probeShape(), verdict.Options{FRR: frr / float64(len(pf.Profiles)), Origin: profile.OriginLab})
				if err != nil {
					return false, err
				}
				if add == 0 {
					r.thresholds = append(r.thresholds, v.Threshold)
				}
				ok = ok && v.Decision == verdict.Accept
			}
			return ok, nil
		}
		for j := start + n; j < start+n+40; j += 2 {
			r.proofs++
			ok, err := decide(j, 0)
			if err != nil {
				return r, err
			}
			if !ok {
				r.refused++
				if ok, err = decide(j+1, 0); err != nil {
					return r, err
				} else if !ok {
					r.again++
				}
			}
			if ok, err = decide(j, shift); err != nil {
				return r, err
			} else if ok {
				r.accepted10++
			}
		}
	}
	return r, nil
}

func probeShape() []int {
	var c []int
	for left := DefaultEchoes; left > 0; left -= tlsprobe.DefaultEchoesPerConn {
		c = append(c, min(tlsprobe.DefaultEchoesPerConn, left))
	}
	return c
}

func readRounds(path string) (map[int][]dataset.Sample, error) {
	rd, err := dataset.Open(path)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	m := map[int][]dataset.Sample{}
	for {
		s, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		m[s.Round] = append(m[s.Round], s)
	}
}
