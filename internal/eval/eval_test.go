package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/internal/relay"
)

func TestClopperPearson(t *testing.T) {
	for _, c := range []struct {
		x, n   int
		lo, hi float64
	}{
		// The exact interval's ends, found independently by bisection on
		// the binomial CDF: P(X ≤ x | hi) = 0.025 = P(X ≥ x | lo).
		{0, 100, 0, 0.036217},
		{5, 100, 0.016432, 0.112835},
		{1, 80, 0.000316, 0.067688},
		{100, 100, 0.963783, 1},
		{0, 1, 0, 0.975},
	} {
		lo, hi := ClopperPearson(c.x, c.n, 0.95)
		if math.Abs(lo-c.lo) > 2e-6 || math.Abs(hi-c.hi) > 2e-6 {
			t.Errorf("%d of %d: [%.6f, %.6f], want [%.6f, %.6f]", c.x, c.n, lo, hi, c.lo, c.hi)
		}
	}
	// 0 of N: the upper end is 1 − 0.025^(1/N), about 3.69/N.
	if _, hi := ClopperPearson(0, 1000, 0.95); math.Abs(hi*1000-3.682) > 0.01 {
		t.Errorf("0 of 1000: upper %.5f, want about 3.68/1000", hi)
	}
	for _, bad := range [][2]int{{0, 0}, {-1, 5}, {6, 5}} {
		if lo, hi := ClopperPearson(bad[0], bad[1], 0.95); lo != 0 || hi != 1 {
			t.Errorf("%v: [%v, %v], want [0, 1]", bad, lo, hi)
		}
	}
	if r := NewRate(0, 0, 0.95); r.Rate != 0 || r.Lo != 0 || r.Hi != 1 {
		t.Errorf("empty rate %+v", r)
	}
}

// A relay vantage must add exactly the vacuum round trip over its
// distance: the lab's glass-fibre delay over d/1.467 km of great circle
// with route factor 1.
func TestRegimeWorldRelayDelay(t *testing.T) {
	for _, r := range DefaultRegimes() {
		w, err := r.World(DefaultDistancesKm)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		// The world round-trips through its JSON form (poc lab serve --world).
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if w, err = lab.ReadWorld(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: the world's JSON does not read back: %v", r.Name, err)
		}
		if len(w.Vantages) != 1+len(DefaultDistancesKm) {
			t.Fatalf("%s: %d vantages", r.Name, len(w.Vantages))
		}
		for _, d := range DefaultDistancesKm {
			v, ok := w.Vantage(RelayVantage(d))
			if !ok {
				t.Fatalf("%s: no vantage %s", r.Name, RelayVantage(d))
			}
			got := relay.FibreDelay(w.RouteKm(v, Region), 1)
			want := time.Duration(d / datasets.LightKmPerSecond * 1e9)
			if diff := got - want; diff < -2 || diff > 2 {
				t.Errorf("%s at %g km: one way %v, want %v (vacuum)", r.Name, d, got, want)
			}
			if v.Base != r.Base || v.Jitter == nil || *v.Jitter != r.Jitter {
				t.Errorf("%s: the relay's access delays differ from the honest vantage's", v.Name)
			}
		}
	}
	if RelayVantage(0.5) != "relay-0-5km" || RelayVantage(20) != "relay-20km" {
		t.Errorf("vantage names %q %q", RelayVantage(0.5), RelayVantage(20))
	}
}

func TestOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"K not a multiple of 4":  {Ks: []int{6}},
		"K of one connection":    {Ks: []int{4, 8}},
		"distance 0":             {DistancesKm: []float64{0, 10}},
		"too few calibration":    {CalibrationProbes: 50},
		"no regime":              {Regimes: []Regime{}},
		"duplicate regime":       {Regimes: append(DefaultRegimes(), DefaultRegimes()[0])},
		"bad jitter":             {Regimes: []Regime{{Name: "x", Jitter: lab.Jitter{Dist: "pareto"}}}},
		"negative honest probes": {HonestProbes: -1},
	} {
		if _, err := o.normalise(); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: error %v, want ErrOptions", name, err)
		}
	}
	o, err := Options{Quick: true}.normalise()
	if err != nil {
		t.Fatal(err)
	}
	if o.CalibrationProbes != quickCalibration || o.kMax() != 32 || len(o.Regimes) != 2 {
		t.Errorf("quick defaults %+v", o)
	}
}

// synthetic returns probes of a known world: each connection's echoes are
// a floor, a connection-wide slowdown, a warm-up on the first echo and
// log-normal noise, plus, with shared > 0, a probe-wide slowdown
// (exponential, mean shared ns) common to all its connections; a relay
// adds 2d/c to every echo and handshake.
func synthetic(o Options, seed uint64, shared float64) []ProbeRecord {
	r := rand.New(rand.NewPCG(seed, 7))
	lognormal := func(mean, sd float64) float64 {
		s2 := math.Log(1 + sd*sd/(mean*mean))
		return math.Exp(math.Log(mean) - s2/2 + math.Sqrt(s2)*r.NormFloat64())
	}
	probe := func(kind string, d float64) ProbeRecord {
		rec := ProbeRecord{Regime: "synthetic", Kind: kind, Vantage: HonestVantage, DistanceKm: d, Time: time.Unix(0, 0).UTC()}
		if kind == KindRelay {
			rec.Vantage = RelayVantage(d)
		}
		extra := d * verdict.NsPerKm
		probeSlow := 0.0
		if shared > 0 {
			probeSlow = r.ExpFloat64() * shared
		}
		for range o.kMax() / EchoesPerConn {
			slow := r.ExpFloat64()*8e3 + probeSlow
			rec.Conns = append(rec.Conns, EchoesPerConn)
			rec.HandshakeNs = append(rec.HandshakeNs, 500e3+slow+lognormal(150e3, 150e3)+extra)
			for e := range EchoesPerConn {
				x := 230e3 + slow + lognormal(40e3, 35e3) + extra
				if e == 0 {
					x += 15e3
				}
				rec.EchoNs = append(rec.EchoNs, x)
			}
		}
		return rec
	}
	var recs []ProbeRecord
	for range o.CalibrationProbes {
		recs = append(recs, probe(KindCalibration, 0))
	}
	for range o.HonestProbes {
		recs = append(recs, probe(KindHonest, 0))
	}
	for _, d := range o.DistancesKm {
		for range o.RelayProbes {
			recs = append(recs, probe(KindRelay, d))
		}
	}
	recs = append(recs, ProbeRecord{Kind: KindRelay, DistanceKm: 1, Vantage: RelayVantage(1), Error: "a failed probe"})
	return recs
}

// The analysis on synthetic probes of a known distribution: every row is
// there, the predictions are coherent, far relays are refused, and the
// report renders.
func TestAnalyseSynthetic(t *testing.T) {
	o, err := Options{Quick: true, HonestProbes: 200, RelayProbes: 40}.normalise()
	if err != nil {
		t.Fatal(err)
	}
	reg := DefaultRegimes()[0]
	recs := synthetic(o, 1, 0)
	rr, err := analyse(o, reg, recs)
	if err != nil {
		t.Fatal(err)
	}
	if rr.RelayFailures != 1 || rr.Calibration.Connections != o.CalibrationProbes*8 {
		t.Errorf("failures %d, calibration connections %d", rr.RelayFailures, rr.Calibration.Connections)
	}
	if len(rr.Calibration.Levels) == 0 || rr.Calibration.Levels[len(rr.Calibration.Levels)-1] != EchoesPerConn {
		t.Fatalf("echo profile levels %v, want up to %d", rr.Calibration.Levels, EchoesPerConn)
	}
	// A probe level per K, from every calibration probe (K < 32: their
	// first K/4 connections).
	if len(rr.Calibration.ProbeLevels) != len(o.Ks) {
		t.Fatalf("probe levels %+v, want one per K", rr.Calibration.ProbeLevels)
	}
	for i, l := range rr.Calibration.ProbeLevels {
		if l.K != o.Ks[i] || !slices.Equal(l.Conns, probeShape(l.K)) || l.Probes != uint64(o.CalibrationProbes) || !(l.MaxNs > 0) {
			t.Errorf("probe level %+v", l)
		}
	}
	if got := len(rr.EchoProfile.Profiles[0].ProbeMins); got != len(o.Ks) {
		t.Errorf("the echo profile has %d probe levels", got)
	}
	if len(rr.Rows) != len(Methods)*len(o.Ks) || len(rr.Models) != 2*len(o.Ks) {
		t.Fatalf("%d rows, %d model rows", len(rr.Rows), len(rr.Models))
	}
	for _, row := range rr.Rows {
		wantUnit := map[string]string{
			MethodProbeLevel: verdict.UnitProbe, MethodConnModel: verdict.UnitConnection, MethodOneConn: verdict.UnitConnection,
			MethodPerEcho: verdict.UnitEcho, MethodHandshakesRTTs: verdict.UnitEcho, MethodHandshakesConns: verdict.UnitEcho,
			MethodHandshakesOneConn: UnitUnion,
		}[row.Method]
		wantTimed := row.K
		if row.Method == MethodHandshakesConns {
			wantTimed = row.K / EchoesPerConn
		}
		if row.Unit != wantUnit || row.Timed != wantTimed {
			t.Errorf("%s K=%d: unit %s timed %d, want %s and %d", row.Method, row.K, row.Unit, row.Timed, wantUnit, wantTimed)
		}
		if !(row.ResolutionKm > 0) || row.ThresholdNs <= row.FloorNs {
			t.Errorf("%s K=%d: resolution %v, threshold %v, floor %v", row.Method, row.K, row.ResolutionKm, row.ThresholdNs, row.FloorNs)
		}
		for i := 1; i < len(row.Curve); i++ {
			if row.Curve[i].FAR > row.Curve[i-1].FAR+1e-12 {
				t.Errorf("%s K=%d: predicted FAR rises from %v km to %v km", row.Method, row.K, row.Curve[i-1].DistanceKm, row.Curve[i].DistanceKm)
				break
			}
		}
		last := row.Points[len(row.Points)-1]
		if last.Accepted.X != 0 || last.PredictedFAR > FARTarget {
			t.Errorf("%s K=%d: a relay %g km away accepted %d/%d (predicted %g)", row.Method, row.K, last.DistanceKm, last.Accepted.X, last.Accepted.N, last.PredictedFAR)
		}
		if row.RefusedKm == 0 || row.RefusedFARUpper <= 0 {
			t.Errorf("%s K=%d: refused from %v (FAR ≤ %v)", row.Method, row.K, row.RefusedKm, row.RefusedFARUpper)
		}
		// The honest probes are drawn from the calibrated distribution:
		// at a stated FRR of 10⁻³, 200 of them give a handful of
		// rejections at the very most.
		if row.Method != MethodPerEcho && row.Rejected.X > 5 {
			t.Errorf("%s K=%d: %d of %d honest probes rejected", row.Method, row.K, row.Rejected.X, row.Rejected.N)
		}
	}
	// A dependence-free threshold is one connection's (one handshake's)
	// alone: above the one that takes them as independent, and above the
	// probe level's, which has the whole probe's minimum.
	for _, k := range o.Ks {
		for free, indep := range map[string]string{MethodOneConn: MethodConnModel, MethodHandshakesOneConn: MethodHandshakesRTTs} {
			if f, i := rr.Row(free, k), rr.Row(indep, k); f.ThresholdNs < i.ThresholdNs || f.ResolutionKm < i.ResolutionKm {
				t.Errorf("K=%d: %s threshold %v and resolution %v below %s's %v and %v", k, free, f.ThresholdNs, f.ResolutionKm, indep, i.ThresholdNs, i.ResolutionKm)
			}
		}
	}
	for _, k := range o.Ks {
		if pl, oc := rr.Row(MethodProbeLevel, k), rr.Row(MethodOneConn, k); pl.ThresholdNs > oc.ThresholdNs {
			t.Errorf("K=%d: the probe level's threshold %v above the dependence-free one %v", k, pl.ThresholdNs, oc.ThresholdNs)
		}
	}
	// The synthetic connections are independent of each other.
	if d := rr.Dependence; math.Abs(d.AdjacentConns) > 0.15 || math.Abs(d.AdjacentProbes) > 0.15 || d.Probes != o.CalibrationProbes+o.HonestProbes {
		t.Errorf("dependence of independent connections: %+v", d)
	}
	// Independent connections: the product predicts what is seen.
	if len(rr.Independence) != len(o.Ks) {
		t.Fatalf("%d independence rows", len(rr.Independence))
	}
	for _, ir := range rr.Independence {
		if ir.Conns != ir.K/EchoesPerConn || ir.CalibSlow.N != o.CalibrationProbes*8 || ir.AllSlow.N != o.HonestProbes {
			t.Errorf("independence row %+v", ir)
		}
		if d := math.Abs(ir.CalibSlow.Rate - ir.HonestSlow.Rate); d > 0.1 {
			t.Errorf("K=%d: calibration and honest connections slower than the threshold %v and %v of the time", ir.K, ir.CalibSlow.Rate, ir.HonestSlow.Rate)
		}
	}
	// Connection slowdowns shared by a connection's echoes: the per-echo
	// model's threshold is lower than the connection model's.
	for _, m := range rr.Models {
		if m.Probe.Unit != verdict.UnitProbe || m.Conn.Unit != verdict.UnitConnection || m.PerEcho.Unit != verdict.UnitEcho {
			t.Errorf("K=%d FRR %g: units %s, %s, %s", m.K, m.StatedFRR, m.Probe.Unit, m.Conn.Unit, m.PerEcho.Unit)
		}
		if m.PerEcho.ThresholdNs > m.Conn.ThresholdNs {
			t.Errorf("K=%d FRR %g: per-echo threshold %v above the connection model's %v", m.K, m.StatedFRR, m.PerEcho.ThresholdNs, m.Conn.ThresholdNs)
		}
		for _, c := range []ModelCell{m.Probe, m.Conn, m.PerEcho} {
			if c.Rejected.N != o.HonestProbes || !(c.ResolutionKm > 0) {
				t.Errorf("K=%d FRR %g: %+v", m.K, m.StatedFRR, c)
			}
		}
	}

	res := &Result{
		Version: ResultVersion, Started: time.Unix(0, 0).UTC(), Seed: o.Seed, Ks: o.Ks, DistancesKm: o.DistancesKm,
		EchoesPerConn: EchoesPerConn, FRR: FRR, FARTarget: FARTarget, Confidence: Confidence,
		CalibrationProbes: o.CalibrationProbes, HonestProbes: o.HonestProbes, RelayProbes: o.RelayProbes,
		Regimes: []RegimeResult{*rr}, Probes: recs,
	}
	dir := t.TempDir()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ReportFile, JSONFile, ProbesFile, ResolutionPlot, RegimePlot(reg.Name), "profiles-" + reg.Name + ".json", "handshake-profiles-" + reg.Name + ".json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, ProbesFile))
	if n := bytes.Count(b, []byte("\n")); n != len(recs) {
		t.Errorf("%s: %d lines, want %d", ProbesFile, n, len(recs))
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	for _, want := range []string{"## Headline", "## Regime same-zone", "Probe level, connection model and per-echo model", "Probe levels (K < 32", RegimePlot(reg.Name)} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

func TestSpearman(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	if r := spearman(x, []float64{10, 20, 30, 40, 50}); math.Abs(r-1) > 1e-12 {
		t.Errorf("monotone: %v", r)
	}
	if r := spearman(x, []float64{5, 4, 3, 2, 1}); math.Abs(r+1) > 1e-12 {
		t.Errorf("reversed: %v", r)
	}
	if r := spearman(x, []float64{1, 1, 1, 1, 1}); r != 0 {
		t.Errorf("constant: %v", r)
	}
	if r := spearman(x[:2], x[:2]); r != 0 {
		t.Errorf("too short: %v", r)
	}
	if got := ranks([]float64{3, 1, 3, 2}); !slices.Equal(got, []float64{2.5, 0, 2.5, 1}) {
		t.Errorf("ranks with ties: %v", got)
	}
}

func TestObservers(t *testing.T) {
	rec := ProbeRecord{Conns: []int{4, 4, 4}, EchoNs: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, HandshakeNs: []float64{10, 20, 30}}
	if o := echoObs([]ProbeRecord{rec}, 8); len(o) != 1 || len(o[0].rtts) != 8 || len(o[0].conns) != 2 {
		t.Errorf("echoes of K = 8: %+v", o)
	}
	if o := echoObs([]ProbeRecord{rec}, 16); len(o) != 0 {
		t.Errorf("a probe of 12 echoes gave K = 16: %+v", o)
	}
	if o := oneConnObs([]ProbeRecord{rec}, 8); len(o) != 1 || !slices.Equal(o[0].conns, []int{8}) {
		t.Errorf("one connection of K = 8: %+v", o)
	}
	if o := handshakeConnObs([]ProbeRecord{rec}, 8); len(o) != 1 || len(o[0].rtts) != 2 || o[0].rtts[1] != 20 {
		t.Errorf("handshakes of K = 8's connections: %+v", o)
	}
	// K handshakes from consecutive probes; the remainder is left out.
	if o := handshakeRTTObs([]ProbeRecord{rec, rec, rec}, 4); len(o) != 2 || o[1].rtts[0] != 20 {
		t.Errorf("4 handshakes from 3 probes of 3: %+v", o)
	}
}

// Calibration probes of another shape than the evaluated probes' give no
// probe level for them: the analysis must fail, not fall back to the
// connection model unnoticed.
func TestAnalyseNoProbeLevel(t *testing.T) {
	o, err := Options{Quick: true}.normalise()
	if err != nil {
		t.Fatal(err)
	}
	recs := synthetic(o, 2, 0)
	for i := range recs {
		if recs[i].Kind == KindCalibration {
			recs[i].Conns = []int{8, 8, 8, 8}
			recs[i].HandshakeNs = recs[i].HandshakeNs[:4]
		}
	}
	// 4 handshakes a probe: too few for the handshake profile; double them.
	var extra []ProbeRecord
	for _, rec := range recs {
		if rec.Kind == KindCalibration {
			extra = append(extra, rec)
		}
	}
	recs = append(recs, extra...)
	_, err = analyse(o, DefaultRegimes()[0], recs)
	if !errors.Is(err, ErrUnit) {
		t.Fatalf("error %v, want ErrUnit", err)
	}
	t.Log(err)
}

// Slow periods shared by a probe's connections, about as strong as the
// lab's (a rank correlation of adjacent connections near 0.2): the
// connection model's product understates the FRR several times, the probe
// level, which measures the dependence, holds it. At a stated 1% on 3,000
// honest probes.
func TestAnalyseSharedSlowdowns(t *testing.T) {
	o, err := Options{Ks: []int{16}, DistancesKm: []float64{100}, CalibrationProbes: 1500, HonestProbes: 3000, RelayProbes: 10}.normalise()
	if err != nil {
		t.Fatal(err)
	}
	rr, err := analyse(o, DefaultRegimes()[0], synthetic(o, 5, 6e3))
	if err != nil {
		t.Fatal(err)
	}
	if rr.Dependence.AdjacentConns < 0.1 {
		t.Errorf("adjacent connections' rank correlation %.2f: the slow periods are not shared", rr.Dependence.AdjacentConns)
	}
	for _, m := range rr.Models {
		t.Logf("stated FRR %g: probe level %d/%d, connection model %d/%d, per-echo model %d/%d", m.StatedFRR,
			m.Probe.Rejected.X, m.Probe.Rejected.N, m.Conn.Rejected.X, m.Conn.Rejected.N, m.PerEcho.Rejected.X, m.PerEcho.Rejected.N)
		if m.StatedFRR != AltFRR {
			continue
		}
		if p := m.Probe.Rejected; p.Lo > 2*m.StatedFRR || p.Hi < m.StatedFRR/2 {
			t.Errorf("the probe level rejected %d of %d at a stated %g", p.X, p.N, m.StatedFRR)
		}
		if c := m.Conn.Rejected; c.Lo < 2*m.StatedFRR || c.X < 2*m.Probe.Rejected.X {
			t.Errorf("the connection model rejected %d of %d at a stated %g: not the understatement shared slow periods make", c.X, c.N, m.StatedFRR)
		}
	}
}
