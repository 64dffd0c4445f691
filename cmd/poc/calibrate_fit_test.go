package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration"
	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
)

// nearFarWorld has two regions 660 km apart (Amsterdam and Munich), one
// HTTP/2 endpoint in the first, and a vantage in each: "near" in the
// endpoint's region, "far" in the other. Both see the lab's jitter.
const nearFarWorld = `{
  "version": 1, "name": "nearfar", "route_factor": 1.0,
  "regions": [{"name": "ra", "lat": 52.3676, "lon": 4.9041}, {"name": "rb", "lat": 48.1351, "lon": 11.582}],
  "endpoints": [{"service": "api", "region": "ra", "protocol": "h2"}],
  "vantages": [
    {"name": "near", "region": "ra", "base": "100us", "jitter": {"dist": "exponential", "mean": "20us"}},
    {"name": "far", "region": "rb", "base": "100us", "jitter": {"dist": "exponential", "mean": "20us"}}
  ]
}`

// The "done when": a short lab campaign from the near vantage →
// 'calibrate fit' → a lab profile, with which the verdict accepts a fresh
// probe from the near vantage and rejects one from the far vantage; then
// 'calibrate power' and 'calibrate report' on that profile.
func TestCalibrateLabNearFar(t *testing.T) {
	w, err := lab.ReadWorld(strings.NewReader(nearFarWorld))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	dir := t.TempDir()
	state := filepath.Join(dir, "lab.json")
	if err := l.State.WriteFile(state); err != nil {
		t.Fatal(err)
	}

	// 110 rounds of 32 echoes on connections of 4, as the probes below
	// carry: 3,520 samples on 880 connections in 110 probes, above
	// profile.MinSamples and profile.MinConnections, so the profile has
	// connection levels and a probe level of the probes' shape.
	const k, rounds, per = 32, 110, tlsprobe.DefaultEchoesPerConn
	conns := make([]int, k/per)
	for i := range conns {
		conns[i] = per
	}
	ds := filepath.Join(dir, "near.jsonl")
	start := time.Now()
	err = calibration.Run(context.Background(), calibration.Campaign{
		Lab: l.State, Vantage: dataset.Vantage{Name: "near"}, Rounds: rounds, Echoes: k, Seed: 5, Out: ds,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign: %v", time.Since(start).Round(time.Millisecond))

	before := fileDigest(t, ds)
	profiles := filepath.Join(dir, "profiles.json")
	code, stdout, stderr := pocCal(t, "calibrate", "fit", ds, "--lab", state, "--out", profiles, "--json")
	if code != exitOK {
		t.Fatalf("fit: exit %d: %s", code, stderr)
	}
	if fileDigest(t, ds) != before {
		t.Fatal("fit changed its input")
	}
	var sum fitSummary
	decodeOne(t, stdout, &sum)
	if len(sum.Profiles) != 1 || sum.Profiles[0].Origin != "lab" || sum.Profiles[0].Count < profile.MinSamples {
		t.Fatalf("fit summary %+v", sum)
	}
	pf := readProfileFile(t, profiles)
	p := &pf.Profiles[0]
	if p.Origin != profile.OriginLab || p.EndpointLocation.Lat != 52.3676 || p.Vantage.Name != "near" {
		t.Fatalf("profile %s at %+v", p.Name(), p.EndpointLocation)
	}
	if c := p.ConnAtMost(k); c == nil || c.K != per || c.Connections != rounds*k/per {
		t.Fatalf("connection levels %+v", p.ConnMins)
	}

	// Fresh probes through the lab's relays, decided with the lab profile.
	roots, err := l.State.Roots()
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := l.State.Catalog.Lookup("api.ra.lab.test")
	probe := func(vantage string) []float64 {
		v, err := l.State.Vantage(vantage)
		if err != nil {
			t.Fatal(err)
		}
		var nonce [32]byte
		rand.Read(nonce[:])
		res, err := tlsprobe.Probe(context.Background(), tlsprobe.Config{
			Endpoint: ep.Address(), Nonce: nonce, Echoes: k, Method: tlsprobe.MethodH2Ping, Roots: roots, Dial: v.Dialer(),
			Budget: tlsprobe.Budget{EchoesPerConn: per},
		})
		if err != nil {
			t.Fatalf("probe from %s: %v", vantage, err)
		}
		rtts := make([]float64, len(res.Echoes))
		for i, e := range res.Echoes {
			rtts[i] = e.Ns
		}
		return rtts
	}
	opts := verdict.Options{Origin: profile.OriginLab}
	// The verdict takes the whole probe as one draw of the profile's
	// probe level of its shape (8 connections of 4), not each echo: whole
	// connections run slow on a shared two-core machine, and a
	// connection's first echoes are slower. Count the campaign's own
	// probes it rejects, for the log.
	_, samples, err := dataset.ReadFile(ds)
	if err != nil {
		t.Fatal(err)
	}
	inSample := 0
	for u := 0; u+k <= len(samples); u += k {
		rtts := make([]float64, k)
		for i := range rtts {
			rtts[i] = samples[u+i].RTTNs
		}
		if v, err := verdict.DecideConns(p, rtts, conns, opts); err != nil {
			t.Fatal(err)
		} else if v.Decision == verdict.Reject {
			inSample++
		}
	}
	// One retry, spaced out, before the acceptance counts as broken; the
	// far vantage gets one try. The retry is for the load of other test
	// packages sharing the two cores, which moves round trips between
	// the campaign and the probe: a single probe right after its campaign
	// was rejected at the default FRR of 1e-3 in 1 of 300 trials on a
	// quiet machine, and in 5 of 300 under such load (the per-echo model,
	// which this test used to need five tries for: 10 and 11).
	var near verdict.Verdict
	const tries = 2
	for try := 1; try <= tries; try++ {
		if near, err = verdict.DecideConns(p, probe("near"), conns, opts); err != nil {
			t.Fatal(err)
		}
		if near.Decision == verdict.Accept {
			break
		}
		t.Logf("near try %d rejected: min %.1f µs, threshold %.1f µs", try, near.MinNs/1e3, near.Threshold/1e3)
		time.Sleep(50 * time.Millisecond)
	}
	if near.Decision != verdict.Accept {
		t.Fatalf("near vantage rejected %d times: %s, min %.1f µs above threshold %.1f µs", tries, near.Reason, near.MinNs/1e3, near.Threshold/1e3)
	}
	if near.Unit != verdict.UnitProbe {
		t.Fatalf("near decided per %s: %q", near.Unit, near.Limitations)
	}
	far, err := verdict.DecideConns(p, probe("far"), conns, opts)
	if err != nil {
		t.Fatal(err)
	}
	if far.Decision != verdict.Reject || far.Reason != verdict.ReasonAbove {
		t.Fatalf("far vantage: %s (%s), min %.1f µs, threshold %.1f µs", far.Decision, far.Reason, far.MinNs/1e3, far.Threshold/1e3)
	}
	// The far vantage's fastest echo bounds its distance from the endpoint
	// by at least the 660 km it is away (plus the lab's base delay).
	if far.BoundNoFloorKm < 660 {
		t.Fatalf("far bound %.0f km below the 660 km between the regions", far.BoundNoFloorKm)
	}
	far100, _ := farAt(near, 100)
	t.Logf("profile: %d samples, min %.1f µs, p50 %.1f µs, floor %.1f µs, model %s (KS %.3f)",
		p.Count, p.MinNs/1e3, sum.Profiles[0].P50Ns/1e3, p.FloorNs/1e3, p.Model().Family, p.Model().GoF.KS)
	t.Logf("K=%d threshold %.1f µs; near min %.1f µs → %s; far min %.1f µs → %s (%s); FAR at 100 km %g; resolution %.2f km",
		k, near.Threshold/1e3, near.MinNs/1e3, near.Decision, far.MinNs/1e3, far.Decision, far.Reason, far100, near.ResolutionKm)
	t.Logf("in-sample: %d of %d campaign probes rejected at stated FRR %g", inSample, len(samples)/k, near.FRR)

	// power: the same figures from the command line, as one JSON document.
	code, stdout, stderr = pocCal(t, "calibrate", "power", "--profiles", profiles, "--endpoint", "api.ra.lab.test",
		"--echoes", strconv.Itoa(k), "--distance-km", "100", "--origin", "lab", "--json")
	if code != exitOK {
		t.Fatalf("power: exit %d: %s", code, stderr)
	}
	var pw powerReport
	decodeOne(t, stdout, &pw)
	if pw.Threshold != near.Threshold || pw.FARAtDistance != far100 || pw.ResolutionKm != near.ResolutionKm {
		t.Fatalf("power says threshold %v, FAR(100 km) %v, resolution %v; the verdict %v, %v, %v",
			pw.Threshold, pw.FARAtDistance, pw.ResolutionKm, near.Threshold, far100, near.ResolutionKm)
	}

	// report, with the samples' empirical CDF.
	out := filepath.Join(dir, "report")
	code, stdout, stderr = pocCal(t, "calibrate", "report", "--profiles", profiles, "--dataset", ds, "--out", out, "--echoes", "16", "--echoes", "32")
	if code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, fmt.Sprintf("%d samples plotted", rounds*k)) {
		t.Fatalf("report summary: %s", stdout)
	}
	img, err := os.Open(filepath.Join(out, "cdf-api.ra.lab.test.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, err := png.Decode(img); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !bytes.Contains(md, []byte("LAB PROFILES")) {
		t.Fatalf("report.md: %v", err)
	}
}

func farAt(v verdict.Verdict, km float64) (float64, bool) {
	for _, p := range v.FAR {
		if p.DistanceKm == km {
			return p.FAR, true
		}
	}
	return 0, false
}

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// decodeOne decodes stdout, which must be exactly one JSON document.
func decodeOne(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
}

func readProfileFile(t *testing.T, path string) *profile.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := profile.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// synthEndpoint is one endpoint of a synthetic dataset: which rounds it
// answers (nil: every round) and how its round trips are drawn.
type synthEndpoint struct {
	name, provider, region, method string
	answers                        func(round int) bool
}

// writeSynth writes a valid campaign dataset without probing: the default
// lab world's westeurope vantage, its catalog named in the header (so the
// built-in catalog knows the endpoints), and round trips of the lab's
// delay model (226 µs + Gamma(2, 20 µs) + Exp(2 µs)).
func writeSynth(t *testing.T, path string, rounds, echoes int, eps []synthEndpoint) {
	t.Helper()
	names := make([]string, len(eps))
	byName := map[string]synthEndpoint{}
	for i, e := range eps {
		names[i] = e.name
		byName[e.name] = e
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	h := dataset.Header{
		Format: dataset.Format, Version: dataset.Version, Campaign: "synth-1", Created: t0,
		Vantage:       dataset.Vantage{Name: "westeurope-vm", Provider: "lab", Region: "westeurope", Lat: 52.3676, Lon: 4.9041, Origin: dataset.OriginLab},
		CatalogName:   "lab:default",
		CatalogDigest: "sha256:" + strings.Repeat("ab", 32),
		Plan:          dataset.Plan{Rounds: rounds, Echoes: echoes, Seed: 1, Endpoints: names},
	}
	w, err := dataset.Create(path, h)
	if err != nil {
		t.Fatal(err)
	}
	r := mrand.New(mrand.NewPCG(3, 4))
	gamma := distuv.Gamma{Alpha: 2, Beta: 1.0 / 20_000, Src: r}
	for round := range rounds {
		for _, name := range h.Plan.Order(round) {
			e := byName[name]
			base := dataset.Sample{
				Round: round, Vantage: h.Vantage.Name, VantageProvider: "lab", VantageRegion: "westeurope",
				VantageLat: h.Vantage.Lat, VantageLon: h.Vantage.Lon, Origin: dataset.OriginLab,
				Endpoint: name, Provider: e.provider, Region: e.region, Hostname: name, Port: 443, Method: e.method,
				Time: t0.Add(time.Duration(round) * time.Second),
			}
			if e.answers != nil && !e.answers(round) {
				s := base
				s.Error, s.ErrorKind, s.Method = "dial tcp: connection refused", dataset.ErrorKindDial, dataset.MethodAuto
				if err := w.Write(&s); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for i := range echoes {
				s := base
				s.Echo = i
				s.RTTNs = 226_000 + gamma.Rand() + 2_000*r.ExpFloat64()
				s.RTTCycles = uint64(s.RTTNs * 2.1)
				s.FrequencyHz, s.FrequencySource = 2_100_000_000, "test"
				s.Time = base.Time.Add(time.Duration(i) * time.Millisecond)
				if err := w.Write(&s); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeCSV writes a dataset's measured samples as a CSV file of the
// columns other tools have, leaving provider and region to the catalog.
func writeCSV(t *testing.T, from, to string) int {
	t.Helper()
	_, samples, err := dataset.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write([]string{"endpoint", "method", "rtt_ns", "origin", "vantage", "vantage_lat", "vantage_lon", "time"})
	n := 0
	for _, s := range samples {
		if s.Error != "" {
			continue
		}
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		cw.Write([]string{s.Endpoint, s.Method, f(s.RTTNs), s.Origin, s.Vantage, f(s.VantageLat), f(s.VantageLon), s.Time.Format(time.RFC3339Nano)})
		n++
	}
	cw.Flush()
	if err := os.WriteFile(to, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	synthAPI  = synthEndpoint{name: "api.westeurope.lab.test", provider: "lab", region: "westeurope", method: "h2-ping"}
	synthBlob = synthEndpoint{name: "blob.westeurope.lab.test", provider: "lab", region: "westeurope", method: "http1"}
)

// Several inputs of every format combine into one profile per group; the
// dataset header's catalog supplies the coordinates; inputs are left
// untouched; an existing profiles file is replaced only with --force.
func TestCalibrateFitInputs(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "synth.jsonl")
	writeSynth(t, ds, 12, 100, []synthEndpoint{synthAPI, synthBlob})
	pq := filepath.Join(dir, "synth.parquet")
	if _, err := dataset.ExportParquet(ds, pq); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "other-tool.csv")
	writeCSV(t, ds, csvPath)
	// A CSV without the extension is told by its header.
	noExt := filepath.Join(dir, "rtts")
	b, _ := os.ReadFile(csvPath)
	os.WriteFile(noExt, b, 0o644)
	digests := map[string][32]byte{}
	for _, p := range []string{ds, pq, csvPath, noExt} {
		digests[p] = fileDigest(t, p)
	}

	out := filepath.Join(dir, "profiles.json")
	code, stdout, stderr := pocCal(t, "calibrate", "fit", ds, pq, csvPath, noExt, "--out", out, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum fitSummary
	decodeOne(t, stdout, &sum)
	if len(sum.Inputs) != 4 || sum.Inputs[1].Format != "parquet" || sum.Inputs[3].Format != "csv" || sum.Inputs[0].Campaign != "synth-1" {
		t.Fatalf("inputs %+v", sum.Inputs)
	}
	if len(sum.Profiles) != 2 {
		t.Fatalf("%d profiles, want 2 (api h2-ping, blob http1)", len(sum.Profiles))
	}
	for _, p := range sum.Profiles {
		if p.Count != 4*12*100 || p.Origin != "lab" || p.Model == "" || !(p.MinNs > 226_000 && p.P01Ns < p.P50Ns && p.P50Ns < p.P99Ns) {
			t.Fatalf("profile %+v", p)
		}
	}
	if !strings.Contains(stderr, `catalog "lab:default"`) {
		t.Fatalf("no note about the built-in catalog: %s", stderr)
	}
	pf := readProfileFile(t, out)
	if pf.Profiles[0].EndpointLocation != (profile.Location{Lat: 52.3676, Lon: 4.9041}) || len(pf.Provenance.Sources) != 4 {
		t.Fatalf("location %+v, sources %v", pf.Profiles[0].EndpointLocation, pf.Provenance.Sources)
	}
	for p, d := range digests {
		if fileDigest(t, p) != d {
			t.Fatalf("fit changed its input %s", p)
		}
	}

	// Text summary; an existing output is kept without --force.
	before := fileDigest(t, out)
	code, _, stderr = pocCal(t, "calibrate", "fit", ds, "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "--force") || fileDigest(t, out) != before {
		t.Fatalf("refit over an existing file: exit %d: %s", code, stderr)
	}
	code, stdout, stderr = pocCal(t, "calibrate", "fit", ds, "--out", out, "--force")
	if code != exitOK || !strings.Contains(stdout, "fitted 2 profiles") || !strings.Contains(stdout, "LAB") || !strings.Contains(stdout, "shifted-") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if got := readProfileFile(t, out); got.Profiles[0].Count != 12*100 {
		t.Fatalf("--force did not replace the file: count %d", got.Profiles[0].Count)
	}
	// Never over an input, even with --force.
	code, _, stderr = pocCal(t, "calibrate", "fit", ds, "--out", ds, "--force")
	if code != exitUsage || fileDigest(t, ds) != digests[ds] {
		t.Fatalf("--out = input: exit %d: %s", code, stderr)
	}
	// The kernel clock: the synthetic samples have no kernel stamps.
	code, _, stderr = pocCal(t, "calibrate", "fit", ds, "--out", filepath.Join(dir, "k.json"), "--clock", "kernel")
	if code != exitCouldNot || !strings.Contains(stderr, "0 kept samples") || !strings.Contains(stderr, "rtt_kernel_ns") {
		t.Fatalf("kernel clock without stamps: exit %d: %s", code, stderr)
	}
}

// Errors name the file and the line or row, map to main.go's exit codes,
// and leave no profiles file behind.
func TestCalibrateFitErrors(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "synth.jsonl")
	writeSynth(t, ds, 11, 100, []synthEndpoint{synthAPI})
	lines := bytes.Split(mustRead(t, ds), []byte("\n"))

	// Line 5 (the header is line 1) with a negative round trip.
	bad := filepath.Join(dir, "bad.jsonl")
	l := lines[4]
	i := bytes.Index(l, []byte(`"rtt_ns":`))
	lines[4] = append(append(append([]byte{}, l[:i]...), []byte(`"rtt_ns":-5,`)...), l[bytes.IndexByte(l[i:], ',')+i+1:]...)
	os.WriteFile(bad, bytes.Join(lines, []byte("\n")), 0o644)

	// A CSV whose third data row (line 4) has a round trip in the wrong unit.
	badCSV := filepath.Join(dir, "bad.csv")
	os.WriteFile(badCSV, []byte("endpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon\n"+
		"api.westeurope.lab.test,h2-ping,230000,lab,v,52.3676,4.9041\n"+
		"api.westeurope.lab.test,h2-ping,231000,lab,v,52.3676,4.9041\n"+
		"api.westeurope.lab.test,h2-ping,0.23ms,lab,v,52.3676,4.9041\n"), 0o644)
	// A CSV whose vantage moves: the fitter refuses data row 2.
	moved := filepath.Join(dir, "moved.csv")
	os.WriteFile(moved, []byte("endpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon,provider,region\n"+
		"api.westeurope.lab.test,h2-ping,230000,lab,v,52.3676,4.9041,lab,westeurope\n"+
		"api.westeurope.lab.test,h2-ping,231000,lab,v,48,11,lab,westeurope\n"), 0o644)
	// A CSV of an endpoint no catalog knows, without provider and region.
	unknown := filepath.Join(dir, "unknown.csv")
	os.WriteFile(unknown, []byte("endpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon\nx.example,h2-ping,1,lab,v,1,1\n"), 0o644)
	// Enough rows of an endpoint with provider and region but no catalog
	// entry: fitted, then refused for want of coordinates.
	var nowhere bytes.Buffer
	nowhere.WriteString("endpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon,provider,region\n")
	for i := range profile.MinSamples + 50 {
		fmt.Fprintf(&nowhere, "x.example,h2-ping,%d,real,v,1,1,aws,eu-west-1\n", 200_000+i*37%5000)
	}
	nowherePath := filepath.Join(dir, "nowhere.csv")
	os.WriteFile(nowherePath, nowhere.Bytes(), 0o644)
	torn := filepath.Join(dir, "torn.jsonl")
	b := mustRead(t, ds)
	os.WriteFile(torn, b[:len(b)-10], 0o644)
	junk := filepath.Join(dir, "junk.dat")
	os.WriteFile(junk, []byte("this is not data\n"), 0o644)
	// Too few samples: 8 rounds × 100 echoes.
	small := filepath.Join(dir, "small.jsonl")
	writeSynth(t, small, 8, 100, []synthEndpoint{synthAPI})
	// Two endpoints, one of which answers in a third of the rounds only.
	mixed := filepath.Join(dir, "mixed.jsonl")
	writeSynth(t, mixed, 12, 100, []synthEndpoint{synthAPI, {name: synthBlob.name, provider: "lab", region: "westeurope", method: "http1",
		answers: func(r int) bool { return r%3 == 0 }}})

	out := filepath.Join(dir, "profiles.json")
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"bad line", []string{bad}, exitCouldNot, []string{"bad.jsonl:5:", "rtt_ns"}},
		{"bad csv", []string{ds, badCSV}, exitCouldNot, []string{"bad.csv:4:", "rtt_ns"}},
		{"moved vantage", []string{moved}, exitCouldNot, []string{"moved.csv: data row 2:", "moved"}},
		{"unknown endpoint", []string{unknown}, exitCouldNot, []string{"unknown.csv: data row 1:", "hint:"}},
		{"no coordinates", []string{nowherePath}, exitCouldNot, []string{"coordinates unknown", "hint: give --catalog"}},
		{"torn", []string{torn}, exitCouldNot, []string{"torn.jsonl:", "hint:", "resume"}},
		{"junk", []string{junk}, exitCouldNot, []string{"junk.dat: not a dataset", "hint:"}},
		{"missing", []string{filepath.Join(dir, "missing.jsonl")}, exitCouldNot, []string{"missing.jsonl"}},
		{"too few", []string{small}, exitCouldNot, []string{"too few samples", "--drop-small"}},
		{"too few mixed", []string{mixed}, exitCouldNot, []string{"blob.westeurope.lab.test", "too few samples"}},
		{"no inputs", nil, exitUsage, []string{"DATASET"}},
		{"catalog and lab", []string{ds, "--catalog", ds, "--lab", ds}, exitUsage, []string{"not both"}},
		{"bad clock", []string{ds, "--clock", "wall"}, exitUsage, []string{"--clock"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := pocCal(t, append([]string{"calibrate", "fit", "--out", out}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout on failure: %q", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a failed fit wrote a profiles file")
			}
		})
	}
	// Dropping the small profile instead keeps the other and says so.
	code, stdout, stderr := pocCal(t, "calibrate", "fit", mixed, "--out", out, "--drop-small", "--json")
	if code != exitOK {
		t.Fatalf("--drop-small: exit %d: %s", code, stderr)
	}
	var sum fitSummary
	decodeOne(t, stdout, &sum)
	if len(sum.Profiles) != 1 || sum.Profiles[0].Endpoint != synthAPI.name || !strings.Contains(sum.Notes, "dropped") {
		t.Fatalf("--drop-small: %+v", sum)
	}
	if sum.Profiles[0].Failures != 0 || sum.Inputs[0].Failed != 8 {
		t.Fatalf("failures: profile %d, input %d", sum.Profiles[0].Failures, sum.Inputs[0].Failed)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Flags may stand before, between or after the datasets; "--" ends them;
// --help shows the command's help.
func TestCalibrateFitFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "synth.jsonl")
	writeSynth(t, ds, 11, 100, []synthEndpoint{synthAPI})
	out := filepath.Join(dir, "p.json")
	for _, args := range [][]string{
		{"--out", out, ds},
		{ds, "--out", out, "--json"},
		{"--json", ds, "--out=" + out, "--drop-small"},
		{"--out", out, "--", ds},
	} {
		code, _, stderr := pocCal(t, append([]string{"calibrate", "fit", "--force"}, args...)...)
		if code != exitOK {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	}
	code, stdout, _ := pocCal(t, "calibrate", "fit", ds, "--help")
	if code != exitOK || !strings.Contains(stdout, "--drop-small") {
		t.Fatalf("--help: exit %d: %s", code, stdout)
	}
	if code, _, stderr := pocCal(t, "calibrate", "fit", ds, "--out", out, "--no-such-flag"); code != exitUsage {
		t.Fatalf("unknown flag: exit %d: %s", code, stderr)
	}
	// After "--", a dataset may look like a flag.
	if code, _, stderr := pocCal(t, "calibrate", "fit", "--out", out, "--force", "--", "--out"); code != exitCouldNot || !strings.Contains(stderr, "--out") {
		t.Fatalf("a dataset named --out: exit %d: %s", code, stderr)
	}
}
