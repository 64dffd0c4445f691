package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/tlsprobe"
)

// example reads the profile file fitted from 100,000 round trips of the
// lab's delay model (see its provenance).
func example(t testing.TB) *profile.File {
	t.Helper()
	f, err := os.Open("../profile/testdata/example.json")
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

// labSamples draws n round trips of the model the example was fitted
// from, as samples of the example's profile.
func labSamples(p *profile.Profile, n int, seed uint64) *Empirical {
	r := rand.New(rand.NewPCG(seed, seed))
	g := distuv.Gamma{Alpha: 2, Beta: 1.0 / 20_000, Src: r}
	e := NewEmpirical()
	for range n {
		e.Add(dataset.Sample{
			Provider: p.Provider, Region: p.Region, Endpoint: p.Endpoint, Method: p.Method,
			Origin: string(p.Origin), Vantage: p.Vantage.Name,
			RTTNs: 226_000 + g.Rand() + 2_000*r.ExpFloat64(),
		})
	}
	return e
}

func files(r *Report) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range r.Files {
		m[f.Name] = f.Data
	}
	return m
}

func TestBuild(t *testing.T) {
	pf := example(t)
	emp := labSamples(&pf.Profiles[0], 20_000, 1)
	r, err := Build(pf, emp, Options{Source: "example.json"})
	if err != nil {
		t.Fatal(err)
	}
	fs := files(r)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range fs {
			if !yield(n) {
				return
			}
		}
	})
	want := []string{
		"cdf-api.westeurope.lab.test.png", "cdf-api.westeurope.lab.test.svg",
		"power-api.westeurope.lab.test.png", "power-api.westeurope.lab.test.svg", "report.md",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	for name, size := range map[string][2]int{
		"cdf-api.westeurope.lab.test.png":   {12 * DefaultDPI, 4.5 * DefaultDPI},
		"power-api.westeurope.lab.test.png": {9.5 * DefaultDPI, 5 * DefaultDPI},
	} {
		img, err := png.Decode(bytes.NewReader(fs[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != size[0] || b.Dy() != size[1] {
			t.Fatalf("%s is %v, want %dx%d", name, b, size[0], size[1])
		}
	}
	for _, name := range []string{"cdf-api.westeurope.lab.test.svg", "power-api.westeurope.lab.test.svg"} {
		svg := fs[name]
		checkXML(t, name, svg)
		if !bytes.Contains(svg, []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")) {
			t.Errorf("%s names no font fallbacks", name)
		}
		// Nothing to fetch: the only URLs are the SVG namespaces.
		for _, u := range bytes.SplitAfter(svg, []byte("http"))[1:] {
			if !bytes.HasPrefix(u, []byte("://www.w3.org/")) {
				t.Errorf("%s refers to a URL: http%.40s", name, u)
			}
		}
	}
	md := string(fs["report.md"])
	for _, s := range []string{
		"LAB PROFILES: 1 of the 1 profiles", "**Origin: lab**", "example.json",
		"![Round-trip CDF of api.westeurope.lab.test](cdf-api.westeurope.lab.test.svg) ([PNG](cdf-api.westeurope.lab.test.png))",
		"(power-api.westeurope.lab.test.svg)", "same metro", "vacuum", "20000 from the datasets given",
		"| 8 |", "| 16 |", "| 32 |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	pr := r.Profiles[0]
	if pr.Samples != 20_000 || len(pr.Figures) != 3 || pr.Figures[0].K != 8 || pr.Name != "api.westeurope.lab.test" {
		t.Fatalf("profile report %+v", pr)
	}
}

func checkXML(t *testing.T, name string, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
	}
}

// The same inputs give the same bytes: no clock, randomness or map order
// reaches the output.
func TestBuildDeterministic(t *testing.T) {
	pf := example(t)
	a, err := Build(pf, labSamples(&pf.Profiles[0], 5_000, 2), Options{Echoes: []int{32, 4}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(example(t), labSamples(&pf.Profiles[0], 5_000, 2), Options{Echoes: []int{4, 32, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Files) != len(b.Files) {
		t.Fatalf("%d and %d files", len(a.Files), len(b.Files))
	}
	for i := range a.Files {
		if a.Files[i].Name != b.Files[i].Name || !bytes.Equal(a.Files[i].Data, b.Files[i].Data) {
			t.Errorf("%s differs between two builds", a.Files[i].Name)
		}
	}
}

func TestBuildFormats(t *testing.T) {
	pf := example(t)
	r, err := Build(pf, nil, Options{Formats: []Format{PNG}, Echoes: []int{16}, DPI: 48})
	if err != nil {
		t.Fatal(err)
	}
	fs := files(r)
	if len(fs) != 3 || fs["cdf-api.westeurope.lab.test.svg"] != nil {
		t.Fatalf("PNG only: %d files", len(fs))
	}
	if md := string(fs["report.md"]); !strings.Contains(md, "](cdf-api.westeurope.lab.test.png)") || strings.Contains(md, "samples plotted") {
		t.Fatal("report.md does not link the PNG, or claims samples")
	}
	r, err = Build(pf, nil, Options{Formats: []Format{SVG}, EmbedFonts: true, Echoes: []int{16}})
	if err != nil {
		t.Fatal(err)
	}
	svg := files(r)["power-api.westeurope.lab.test.svg"]
	if !bytes.Contains(svg, []byte("@font-face")) || !bytes.Contains(svg, []byte("data:font/ttf;")) {
		t.Fatal("EmbedFonts embedded no font")
	}
	checkXML(t, "embedded", svg)
}

func TestBuildErrors(t *testing.T) {
	pf := example(t)
	for _, o := range []Options{
		{Echoes: []int{0}},
		{Echoes: []int{verdict.MaxK + 1}},
		{Echoes: []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{FRR: 1},
		{FARTarget: -1},
		{Formats: []Format{"gif"}},
		{DPI: 5},
	} {
		if _, err := Build(pf, nil, o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", o, err)
		}
	}
	if _, err := Build(nil, nil, Options{}); !errors.Is(err, profile.ErrInvalid) {
		t.Errorf("nil file: %v", err)
	}
	bad := example(t)
	bad.Profiles[0].Count = 10
	if _, err := Build(bad, nil, Options{}); !errors.Is(err, profile.ErrTooFewSamples) {
		t.Errorf("invalid profile: %v", err)
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("ab", 200)
	for in, want := range map[string]string{
		"api.westeurope.lab.test":       "api.westeurope.lab.test",
		"S3.EU-West-1.AmazonAWS.com":    "s3.eu-west-1.amazonaws.com",
		"../../etc/passwd":              "etc-passwd",
		".hidden":                       "hidden",
		"-rf":                           "rf",
		"a b/c\\d:e*f?g\"h<i>j|k":       "a-b-c-d-e-f-g-h-i-j-k",
		"":                              "profile",
		"…":                             "profile",
		"..":                            "profile",
		"azure-blob.westeurope_h2-ping": "azure-blob.westeurope_h2-ping",
		"Ünïcode-név":                   "n-code-n-v",
		long:                            long[:maxNameBytes],
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileNames(t *testing.T) {
	mk := func(ep, method, vantage string, origin profile.Origin) profile.Profile {
		return profile.Profile{Endpoint: ep, Method: method, Origin: origin, Clock: profile.ClockCounter, Vantage: profile.Vantage{Name: vantage}}
	}
	ps := []profile.Profile{
		mk("a.test", "h2-ping", "v1", profile.OriginLab),
		mk("a.test", "http1", "v1", profile.OriginLab),
		mk("b.test", "h2-ping", "v1", profile.OriginReal),
		mk("b.test", "h2-ping", "v2", profile.OriginReal),
		mk("c/d", "h2-ping", "v1", profile.OriginReal),
		mk("c?d", "h2-ping", "v1", profile.OriginReal),
		mk("e", "h2-ping", "v1", profile.OriginReal),
	}
	want := []string{
		"a.test_h2-ping", "a.test_http1",
		"b.test_h2-ping_real_counter_v1", "b.test_h2-ping_real_counter_v2",
		"c-d_h2-ping_real_counter_v1", "c-d_h2-ping_real_counter_v1-2",
		"e",
	}
	if got := fileNames(ps); !slices.Equal(got, want) {
		t.Fatalf("fileNames = %q, want %q", got, want)
	}
}

// Power states what verdict.Decide does, for any round trips.
func TestPower(t *testing.T) {
	p := &example(t).Profiles[0]
	for _, k := range []int{1, 8, 32, 200} {
		fig, err := Power(p, k, 0, verdict.Options{DistancesKm: []float64{3, 100}})
		if err != nil {
			t.Fatal(err)
		}
		rtts := make([]float64, k)
		for i := range rtts {
			rtts[i] = 250_000 + float64(i)
		}
		v, err := verdict.DecideConns(p, rtts, Conns(k, tlsprobe.DefaultEchoesPerConn), verdict.Options{Origin: profile.OriginLab, DistancesKm: []float64{1, 3, 10, 50, 100, 500}})
		if err != nil {
			t.Fatal(err)
		}
		if fig.Threshold != v.Threshold || fig.ResolutionKm != v.ResolutionKm || fig.MetroFAR != v.MetroFAR || fig.FRRModel != v.FRRModel {
			t.Fatalf("K=%d: power %+v, verdict %+v", k, fig, v)
		}
		if !slices.EqualFunc(fig.FAR, v.FAR, func(a, b verdict.FARPoint) bool { return a == b }) {
			t.Fatalf("K=%d: FAR %v, verdict %v", k, fig.FAR, v.FAR)
		}
		if got, want := fig.BoundKm, (fig.Threshold-fig.ProcessingFloorNs)/verdict.NsPerKm; math.Abs(got-want) > 1e-9*want {
			t.Errorf("K=%d: bound %v, want %v", k, got, want)
		}
		if got, want := fig.BoundNoFloorKm, fig.Threshold/verdict.NsPerKm; math.Abs(got-want) > 1e-9*want {
			t.Errorf("K=%d: bound without floor %v, want %v", k, got, want)
		}
		if far, ok := fig.FARAt(1); !ok || !(far > 0 && far < 1) {
			t.Errorf("K=%d: FAR at 1 km %v %v", k, far, ok)
		}
		// The plot's rejection rate at distance 0 is the larger of the
		// two descriptions' FRR, within the stated one.
		r0 := rejectAt(p, &fig, fig.Threshold, 0, verdict.Options{})
		if want := math.Max(fig.FRRModel, fig.FRREmpirical); math.Abs(r0-want) > 1e-9 || r0 > fig.FRR*(1+1e-9) {
			t.Errorf("K=%d: rejection at 0 km %v, FRR model %v empirical %v stated %v", k, r0, fig.FRRModel, fig.FRREmpirical, fig.FRR)
		}
		if r := rejectAt(p, &fig, fig.Threshold, 1e9, verdict.Options{}); r != 1 {
			t.Errorf("K=%d: a prover 1 s away is rejected with probability %v", k, r)
		}
	}
	if _, err := Power(p, 0, 0, verdict.Options{}); !errors.Is(err, verdict.ErrOptions) {
		t.Errorf("K=0: %v", err)
	}
	if _, err := Power(nil, 8, 0, verdict.Options{}); !errors.Is(err, verdict.ErrProfile) {
		t.Errorf("nil profile: %v", err)
	}
	if _, err := Power(p, 8, 0, verdict.Options{DistancesKm: []float64{-1}}); !errors.Is(err, verdict.ErrOptions) {
		t.Errorf("negative distance: %v", err)
	}
	if _, err := Power(p, 8, 0, verdict.Options{FRR: 2}); !errors.Is(err, verdict.ErrOptions) {
		t.Errorf("FRR 2: %v", err)
	}
}

func TestEmpirical(t *testing.T) {
	p := &example(t).Profiles[0]
	e := NewEmpirical()
	base := dataset.Sample{Provider: p.Provider, Region: p.Region, Endpoint: p.Endpoint, Method: p.Method, Origin: "lab", Vantage: p.Vantage.Name}
	for i := range 100 {
		s := base
		s.RTTNs = 200_000 + float64(i)*1000
		if i%2 == 0 {
			s.RTTKernelNs = int64(s.RTTNs) - 5000
		}
		e.Add(s)
	}
	failed := base
	failed.Error = "dial"
	e.Add(failed)
	e.Add(base) // no round trip
	other := base
	other.Vantage, other.RTTNs = "elsewhere", 1
	e.Add(other)
	if got := e.Count(p); got != 100 {
		t.Fatalf("count %d, want 100", got)
	}
	if e.Skipped() != 2 {
		t.Fatalf("skipped %d, want 2", e.Skipped())
	}
	kp := *p
	kp.Clock = profile.ClockKernel
	if got := e.Count(&kp); got != 50 {
		t.Fatalf("kernel count %d, want 50", got)
	}
	xs, ps := e.ecdf(p)
	if len(xs) != 101 || ps[0] != 0 || ps[len(ps)-1] != 1 || !slices.IsSorted(xs) || !slices.IsSorted(ps) {
		t.Fatalf("ecdf: %d points, from %v to %v", len(xs), ps[0], ps[len(ps)-1])
	}
	if math.Abs(xs[len(xs)-1]-299_000) > 299_000*EmpiricalRelErr*2 {
		t.Fatalf("ecdf ends at %v, want about 299000", xs[len(xs)-1])
	}
	var none *Empirical
	if none.Count(p) != 0 {
		t.Fatal("a nil Empirical has samples")
	}
}

func TestWriteDir(t *testing.T) {
	r, err := Build(example(t), nil, Options{Formats: []Format{PNG}, Echoes: []int{8}, DPI: 30})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	os.WriteFile(filepath.Join(dir, "report.md"), []byte("old"), 0o644)
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"cdf-api.westeurope.lab.test.png", "notes.txt", "power-api.westeurope.lab.test.png", "report.md"}
	if !slices.Equal(names, want) {
		t.Fatalf("directory holds %v, want %v", names, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Fatal("WriteDir touched another file")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "report.md")); !bytes.HasPrefix(b, []byte("# Calibration report")) {
		t.Fatal("report.md not replaced")
	}
	r.Files = append(r.Files, File{Name: "../escape", Data: nil})
	if err := r.WriteDir(dir); !errors.Is(err, ErrOptions) {
		t.Fatalf("a file name with a directory: %v", err)
	}
}

// BenchmarkBuild renders one profile's report with 100,000 samples'
// empirical CDF: both figures in both formats, and report.md.
func BenchmarkBuild(b *testing.B) {
	pf := example(b)
	emp := labSamples(&pf.Profiles[0], 100_000, 3)
	for _, bc := range []struct {
		name    string
		formats []Format
	}{{"png+svg", nil}, {"png", []Format{PNG}}, {"svg", []Format{SVG}}} {
		b.Run(bc.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				r, err := Build(pf, emp, Options{Formats: bc.formats})
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				for _, f := range r.Files {
					n += len(f.Data)
				}
			}
			b.ReportMetric(float64(n)/1e3, "kB/report")
		})
	}
}

// Profiles of other shapes render too: no fitted model, a tail spanning
// decades (logarithmic RTT axis), round trips of tens of ms (ms axis), a
// distribution that is nearly a constant.
func TestBuildShapes(t *testing.T) {
	locate := func(_, _, _ string) (profile.Location, bool) { return profile.Location{Lat: 52.37, Lon: 4.9}, true }
	fitted := func(n int, draw func(r *rand.Rand) float64) *profile.File {
		t.Helper()
		r := rand.New(rand.NewPCG(9, 9))
		fr, err := fit.NewFitter(fit.Options{Locate: locate})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := fr.Add(dataset.Sample{Campaign: "c", Seq: uint64(i), Vantage: "v", VantageLat: 52.37, VantageLon: 4.9, Origin: "real",
				Endpoint: "s3.eu-west-1.amazonaws.com", Provider: "aws", Region: "eu-west-1", Method: "http1", RTTNs: draw(r)}); err != nil {
				t.Fatal(err)
			}
		}
		f, err := fr.File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	noModel := example(t)
	noModel.Profiles[0].Models = nil
	for name, f := range map[string]*profile.File{
		"no model":  noModel,
		"long tail": fitted(5000, func(r *rand.Rand) float64 { return 500_000 + math.Exp(12+1.5*r.NormFloat64()) }),
		"ms":        fitted(5000, func(r *rand.Rand) float64 { return 30e6 + 2e6*r.ExpFloat64() }),
		"constant":  fitted(2000, func(r *rand.Rand) float64 { return 100_000 + r.Float64() }),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := Build(f, nil, Options{Formats: []Format{PNG, SVG}, DPI: 40})
			if err != nil {
				t.Fatal(err)
			}
			for _, file := range r.Files {
				if strings.HasSuffix(file.Name, ".png") {
					if _, err := png.Decode(bytes.NewReader(file.Data)); err != nil {
						t.Fatalf("%s: %v", file.Name, err)
					}
				}
			}
			md := string(files(r)["report.md"])
			if f.Profiles[0].Origin == profile.OriginReal && (strings.Contains(md, "LAB PROFILES") || !strings.Contains(md, "**Origin: real**")) {
				t.Fatal("a real profile's report does not say so")
			}
		})
	}
}
