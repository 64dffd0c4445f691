package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// example returns a valid file with one profile built from a known model:
// its quantiles are the model's exact ones.
func example() *File {
	m := Model{Family: FamilyLogNormal, ShiftNs: 100_000, Mu: math.Log(30_000), Sigma: 0.5,
		GoF: GoF{Method: "exact", GridPoints: 39}}
	const n = 100_000
	p := Profile{
		Provider: "lab", Region: "westeurope", Endpoint: "api.westeurope.lab.test", Method: "h2-ping",
		Clock: ClockCounter, Origin: OriginLab,
		Vantage:          Vantage{Name: "westeurope-vm", Provider: "lab", Region: "westeurope", Lat: 52.3676, Lon: 4.9041},
		EndpointLocation: Location{Lat: 52.3676, Lon: 4.9041},
		Count:            n, Failures: 3,
		FirstSample:  time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		LastSample:   time.Date(2026, 11, 1, 12, 30, 0, 0, time.UTC),
		MinNs:        m.Quantile(1.0 / (n + 1)),
		MaxNs:        m.Quantile(1 - 1.0/(n+1)),
		MeanNs:       m.Mean(),
		StddevNs:     16_000,
		SketchRelErr: 1e-3,
		Models:       []Model{m},
		Outliers:     Outliers{HardCapNs: 1e10, TrimFactor: 10, TrimNs: 1e7},
	}
	for _, prob := range Grid {
		if n*math.Min(prob, 1-prob) >= 1 {
			p.Quantiles = append(p.Quantiles, Quantile{P: prob, Ns: m.Quantile(prob)})
		}
	}
	p.FloorNs = math.Min(m.ShiftNs, 0.95*p.MinNs)
	p.FloorRule = "min(shift_ns of the best model, min_ns × (1 − 0.05))"
	p01, _ := p.Quantile(0.01)
	p50, _ := p.Quantile(0.5)
	p.Outliers.LowNs = p01 - (p50 - p01)
	// Connection levels: K = 1 (a connection's first echo, slower than the
	// rest) and K = 16, each from 5,000 connections.
	for _, l := range []struct {
		k  int
		mu float64
	}{{1, math.Log(40_000)}, {16, math.Log(12_000)}} {
		const conns = 5000
		cm := Model{Family: FamilyLogNormal, ShiftNs: 103_000, Mu: l.mu, Sigma: 0.4, GoF: GoF{Method: "exact", GridPoints: 20}}
		c := ConnMin{K: l.k, Connections: conns, MinNs: cm.Quantile(1.0 / (conns + 1)), MaxNs: cm.Quantile(1 - 1.0/(conns+1)),
			MeanNs: cm.Mean(), StddevNs: 5_000, Models: []Model{cm}}
		for _, prob := range Grid {
			if conns*math.Min(prob, 1-prob) >= 1 {
				c.Quantiles = append(c.Quantiles, Quantile{P: prob, Ns: cm.Quantile(prob)})
			}
		}
		p.ConnMins = append(p.ConnMins, c)
	}
	return &File{Version: Version, Provenance: Provenance{Generator: "profile test", Created: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), Sources: []string{"synthetic"}}, Profiles: []Profile{p}}
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	f := example()
	b := encode(t, f)
	g, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("round trip changed the file:\n%+v\n%+v", f, g)
	}
	// The example in testdata (docs/profiles.md shows it) still reads.
	tb, err := os.ReadFile("testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	old, err := Read(bytes.NewReader(tb))
	if err != nil {
		t.Fatalf("testdata/example.json: %v", err)
	}
	// It is a version-1 file: it reads, without connection levels, and
	// writes back as what it is.
	if old.Version != 1 || len(old.Profiles[0].ConnMins) != 0 {
		t.Fatalf("testdata/example.json: version %d, %d connection levels", old.Version, len(old.Profiles[0].ConnMins))
	}
	if b := encode(t, old); !bytes.Contains(b, []byte(`"version": 1`)) {
		t.Fatalf("a version-1 file rewritten as %s", b[:40])
	}
}

// TestConnLevels: levels are chosen on the safe side of a connection size,
// and their empirical description interpolates their knots.
func TestConnLevels(t *testing.T) {
	p := &example().Profiles[0]
	tests := []struct {
		k               int
		atMost, atLeast int // 0: none
	}{{1, 1, 1}, {2, 1, 16}, {15, 1, 16}, {16, 16, 16}, {17, 16, 0}, {0, 0, 1}}
	for _, tc := range tests {
		got := func(c *ConnMin) int {
			if c == nil {
				return 0
			}
			return c.K
		}
		if a, b := got(p.ConnAtMost(tc.k)), got(p.ConnAtLeast(tc.k)); a != tc.atMost || b != tc.atLeast {
			t.Errorf("k=%d: at most %d, at least %d; want %d, %d", tc.k, a, b, tc.atMost, tc.atLeast)
		}
	}
	c := &p.ConnMins[1]
	for _, q := range c.Quantiles {
		if got := c.EmpiricalCDF(q.Ns); math.Abs(got-q.P) > 1e-12 {
			t.Errorf("level CDF at the %v quantile: %v", q.P, got)
		}
		if got := c.EmpiricalQuantile(q.P); got != q.Ns {
			t.Errorf("level quantile %v: %v, want %v", q.P, got, q.Ns)
		}
	}
	if c.EmpiricalCDF(c.MinNs-1) != 0 || c.EmpiricalCDF(c.MaxNs) != 1 || c.Model() == nil {
		t.Error("level edge values")
	}
	if q, ok := c.Quantile(0.5); !ok || q != c.EmpiricalQuantile(0.5) {
		t.Errorf("level median %v %v", q, ok)
	}
	r := rand.New(rand.NewPCG(1, 1))
	if x := c.EmpiricalRand(r); x < c.MinNs || x > c.MaxNs {
		t.Errorf("level draw %v outside [%v, %v]", x, c.MinNs, c.MaxNs)
	}
}

// TestReadRejects: every way a file can be wrong gives ErrInvalid (and the
// specific error where there is one), naming the profile when it is one
// profile's fault.
func TestReadRejects(t *testing.T) {
	good := string(encode(t, example()))
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("example has no %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	mutate := func(fn func(*File)) string {
		f := example()
		fn(f)
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name    string
		doc     string
		want    error
		profile bool // the error names the profile
	}{
		{"unknown field", edit(`"count":`, `"cnt": 1, "count":`), nil, false},
		{"field name in another case", edit(`"count":`, `"Count":`), nil, false},
		{"repeated field", edit(`"count": 100000`, `"count": 100000, "count": 100000`), nil, false},
		{"repeated nested field", edit(`"lat": 52.3676`, `"lat": 52.3676, "lat": 1`), nil, false},
		{"unknown top-level field", edit(`"version": 2`, `"version": 2, "extra": true`), nil, false},
		{"version", edit(`"version": 2`, `"version": 3`), ErrVersion, false},
		{"version 0", edit(`"version": 2`, `"version": 0`), ErrVersion, false},
		{"connection levels in version 1", edit(`"version": 2`, `"version": 1`), nil, true},
		{"trailing data", good + `{}`, nil, false},
		{"not JSON", `{"version": 1,`, nil, false},
		{"NaN literal", edit(`"min_ns": `, `"min_ns": NaN, "x": `), nil, false},
		{"string for number", edit(`"count": 100000`, `"count": "100000"`), nil, false},
		{"too few samples", edit(`"count": 100000`, `"count": 999`), ErrTooFewSamples, true},
		{"negative count", edit(`"count": 100000`, `"count": -1`), nil, false},
		{"no profiles", `{"version": 1, "provenance": {"generator": "x"}, "profiles": []}`, nil, false},
		{"no generator", edit(`"generator": "profile test"`, `"generator": ""`), nil, false},
		{"oversized", `{"version": 1, "provenance": {"notes": "` + strings.Repeat("x", MaxFileBytes) + `"}}`, ErrTooLarge, false},
		{"negative min", mutate(func(f *File) { f.Profiles[0].MinNs = -1 }), nil, true},
		{"zero min", mutate(func(f *File) { f.Profiles[0].MinNs = 0 }), nil, true},
		{"max below min", mutate(func(f *File) { f.Profiles[0].MaxNs = 1 }), nil, true},
		{"negative stddev", mutate(func(f *File) { f.Profiles[0].StddevNs = -1 }), nil, true},
		{"origin missing", mutate(func(f *File) { f.Profiles[0].Origin = "" }), nil, true},
		{"origin unknown", mutate(func(f *File) { f.Profiles[0].Origin = "cloud" }), nil, true},
		{"clock unknown", mutate(func(f *File) { f.Profiles[0].Clock = "wall" }), nil, true},
		{"method unknown", mutate(func(f *File) { f.Profiles[0].Method = "udp" }), nil, true},
		{"no endpoint", mutate(func(f *File) { f.Profiles[0].Endpoint = "" }), nil, true},
		{"control character", mutate(func(f *File) { f.Profiles[0].Region = "west\neurope" }), nil, true},
		{"long name", mutate(func(f *File) { f.Profiles[0].Region = strings.Repeat("r", MaxString+1) }), ErrTooLarge, true},
		{"vantage latitude", mutate(func(f *File) { f.Profiles[0].Vantage.Lat = 91 }), nil, true},
		{"endpoint longitude", mutate(func(f *File) { f.Profiles[0].EndpointLocation.Lon = -181 }), nil, true},
		{"dates reversed", mutate(func(f *File) {
			f.Profiles[0].FirstSample, f.Profiles[0].LastSample = f.Profiles[0].LastSample, f.Profiles[0].FirstSample
		}), nil, true},
		{"one date", mutate(func(f *File) { f.Profiles[0].LastSample = time.Time{} }), nil, true},
		{"quantiles out of order", mutate(func(f *File) { q := f.Profiles[0].Quantiles; q[3].Ns, q[4].Ns = q[4].Ns, q[3].Ns }), nil, true},
		{"quantile p repeated", mutate(func(f *File) { q := f.Profiles[0].Quantiles; q[4].P = q[3].P }), nil, true},
		{"quantile p 1", mutate(func(f *File) { q := f.Profiles[0].Quantiles; q[len(q)-1].P = 1 }), nil, true},
		{"quantile below min", mutate(func(f *File) { f.Profiles[0].Quantiles[0].Ns = f.Profiles[0].MinNs / 2 }), nil, true},
		{"quantile negative", mutate(func(f *File) { f.Profiles[0].Quantiles[0].Ns = -5 }), nil, true},
		{"required quantile missing", mutate(func(f *File) {
			var q []Quantile
			for _, x := range f.Profiles[0].Quantiles {
				if x.P != 0.05 {
					q = append(q, x)
				}
			}
			f.Profiles[0].Quantiles = q
		}), nil, true},
		{"too many quantiles", mutate(func(f *File) {
			f.Profiles[0].Quantiles = make([]Quantile, MaxQuantiles+1)
		}), ErrTooLarge, true},
		{"sketch error", mutate(func(f *File) { f.Profiles[0].SketchRelErr = 0.5 }), nil, true},
		{"shift above min", mutate(func(f *File) { f.Profiles[0].Models[0].ShiftNs = f.Profiles[0].MinNs + 1 }), nil, true},
		{"negative shift", mutate(func(f *File) { f.Profiles[0].Models[0].ShiftNs = -1 }), nil, true},
		{"sigma zero", mutate(func(f *File) { f.Profiles[0].Models[0].Sigma = 0 }), nil, true},
		{"gamma params on lognormal", mutate(func(f *File) { f.Profiles[0].Models[0].Alpha = 2 }), nil, true},
		{"gamma without beta", mutate(func(f *File) {
			f.Profiles[0].Models[0] = Model{Family: FamilyGamma, ShiftNs: 1, Alpha: 2, GoF: GoF{Method: "x"}}
		}), nil, true},
		{"family unknown", mutate(func(f *File) { f.Profiles[0].Models[0].Family = "weibull" }), nil, true},
		{"ks above 1", mutate(func(f *File) { f.Profiles[0].Models[0].GoF.KS = 2 }), nil, true},
		{"too many models", mutate(func(f *File) {
			for range MaxModels {
				f.Profiles[0].Models = append(f.Profiles[0].Models, f.Profiles[0].Models[0])
			}
		}), ErrTooLarge, true},
		{"floor above min", mutate(func(f *File) { f.Profiles[0].FloorNs = f.Profiles[0].MinNs * 2 }), nil, true},
		{"no floor rule", mutate(func(f *File) { f.Profiles[0].FloorRule = "" }), nil, true},
		{"cap below max", mutate(func(f *File) { f.Profiles[0].Outliers.HardCapNs = 1 }), nil, true},
		{"trim factor below 1", mutate(func(f *File) { f.Profiles[0].Outliers.TrimFactor = 0.5 }), nil, true},
		{"low above count", mutate(func(f *File) { f.Profiles[0].Outliers.Low = 1e9 }), nil, true},
		{"duplicate", mutate(func(f *File) { f.Profiles = append(f.Profiles, f.Profiles[0]) }), nil, true},
		{"too few connections", mutate(func(f *File) { f.Profiles[0].ConnMins[1].Connections = MinConnections - 1 }), ErrTooFewSamples, true},
		{"connections exceed samples", mutate(func(f *File) { f.Profiles[0].ConnMins[1].Connections = 7000 }), nil, true},
		{"connection levels out of order", mutate(func(f *File) { c := f.Profiles[0].ConnMins; c[0], c[1] = c[1], c[0] }), nil, true},
		{"connection level k 0", mutate(func(f *File) { f.Profiles[0].ConnMins[0].K = 0 }), nil, true},
		{"connection level k repeated", mutate(func(f *File) { f.Profiles[0].ConnMins[1].K = 1 }), nil, true},
		{"connection minimum below the profile's", mutate(func(f *File) { f.Profiles[0].ConnMins[0].MinNs = f.Profiles[0].MinNs - 1 }), nil, true},
		{"connection max below min", mutate(func(f *File) { f.Profiles[0].ConnMins[0].MaxNs = 1 }), nil, true},
		{"connection quantiles out of order", mutate(func(f *File) { q := f.Profiles[0].ConnMins[1].Quantiles; q[3].Ns, q[4].Ns = q[4].Ns, q[3].Ns }), nil, true},
		{"connection required quantile missing", mutate(func(f *File) {
			c := &f.Profiles[0].ConnMins[1]
			c.Quantiles = slices.DeleteFunc(c.Quantiles, func(q Quantile) bool { return q.P == 0.99 })
		}), nil, true},
		{"connection model shift above its min", mutate(func(f *File) { c := &f.Profiles[0].ConnMins[1]; c.Models[0].ShiftNs = c.MinNs + 1 }), nil, true},
		{"too many connection levels", mutate(func(f *File) {
			c := f.Profiles[0].ConnMins[1]
			for k := range MaxConnLevels {
				c.K = 17 + k
				f.Profiles[0].ConnMins = append(f.Profiles[0].ConnMins, c)
			}
		}), ErrTooLarge, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.doc))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var pe *Error
			if tc.profile && (!errors.As(err, &pe) || !strings.HasPrefix(pe.Name, "lab/")) {
				t.Fatalf("err = %v, want an *Error naming the profile", err)
			}
		})
	}
}

// TestWriteValidates: Write refuses what Read would.
func TestWriteValidates(t *testing.T) {
	f := example()
	f.Profiles[0].Count = 10
	if err := Write(&bytes.Buffer{}, f); !errors.Is(err, ErrTooFewSamples) {
		t.Fatalf("err = %v", err)
	}
}

// TestModel: CDF and Quantile are inverse, Survival complements CDF, edge
// cases give documented values, and nonsense gives NaN, not a panic.
func TestModel(t *testing.T) {
	models := []Model{
		{Family: FamilyLogNormal, ShiftNs: 100_000, Mu: math.Log(30_000), Sigma: 0.5},
		{Family: FamilyGamma, ShiftNs: 200_000, Alpha: 2, Beta: 1.0 / 20_000},
		{Family: FamilyGamma, ShiftNs: 0, Alpha: 0.7, Beta: 1e-4},
		{Family: FamilyGamma, ShiftNs: 50_000, Alpha: 400, Beta: 0.01},
	}
	for _, m := range models {
		for _, p := range []float64{1e-9, 1e-6, 1e-3, 0.01, 0.19, 0.5, 0.9, 0.999} {
			x := m.Quantile(p)
			if got := m.CDF(x); math.Abs(got-p) > 1e-8*math.Max(p, 1e-3) {
				t.Errorf("%s α=%v: CDF(Quantile(%v)) = %v", m.Family, m.Alpha, p, got)
			}
			if s := m.Survival(x); math.Abs(s-(1-p)) > 1e-9 {
				t.Errorf("%s: Survival %v at p %v", m.Family, s, p)
			}
		}
		if m.Quantile(0) != m.ShiftNs || !math.IsInf(m.Quantile(1), 1) || m.CDF(m.ShiftNs) != 0 || m.CDF(m.ShiftNs-1) != 0 {
			t.Errorf("%s: edge values", m.Family)
		}
		if !math.IsNaN(m.Quantile(-0.1)) || !math.IsNaN(m.Quantile(math.NaN())) || !math.IsNaN(m.CDF(math.NaN())) {
			t.Errorf("%s: NaN cases", m.Family)
		}
		// Draws follow the CDF: the fraction below the median is ~1/2.
		r := rand.New(rand.NewPCG(1, 1))
		below, med := 0, m.Quantile(0.5)
		for range 20_000 {
			if m.Rand(r) <= med {
				below++
			}
		}
		if math.Abs(float64(below)/20_000-0.5) > 5*math.Sqrt(0.25/20_000) {
			t.Errorf("%s: %d of 20000 draws below the median", m.Family, below)
		}
	}
	for _, bad := range []Model{{}, {Family: FamilyLogNormal, Sigma: -1}, {Family: FamilyGamma, Alpha: 0, Beta: 1}, {Family: "x"}, {Family: FamilyGamma, Alpha: 1, Beta: math.NaN()}} {
		r := rand.New(rand.NewPCG(1, 1))
		if !math.IsNaN(bad.CDF(1)) || !math.IsNaN(bad.Quantile(0.5)) || !math.IsNaN(bad.Survival(1)) || !math.IsNaN(bad.Rand(r)) || !math.IsNaN(bad.Mean()) {
			t.Errorf("invalid model %+v evaluated", bad)
		}
	}
}

// TestEmpirical: EmpiricalCDF and EmpiricalQuantile are inverse, pass
// through the knots, and are 0 below the minimum and 1 above the maximum.
func TestEmpirical(t *testing.T) {
	p := &example().Profiles[0]
	for _, q := range p.Quantiles {
		if got := p.EmpiricalCDF(q.Ns); math.Abs(got-q.P) > 1e-12 {
			t.Errorf("CDF at the %v quantile: %v", q.P, got)
		}
		if got := p.EmpiricalQuantile(q.P); got != q.Ns {
			t.Errorf("quantile %v: %v, want %v", q.P, got, q.Ns)
		}
	}
	for _, u := range []float64{1e-7, 3e-4, 0.123, 0.5, 0.77, 0.99995} {
		if got := p.EmpiricalCDF(p.EmpiricalQuantile(u)); math.Abs(got-u) > 1e-9 {
			t.Errorf("CDF(Quantile(%v)) = %v", u, got)
		}
	}
	if p.EmpiricalCDF(p.MinNs-1) != 0 || p.EmpiricalCDF(p.MaxNs) != 1 || p.EmpiricalQuantile(0) != p.MinNs || p.EmpiricalQuantile(1) != p.MaxNs {
		t.Error("edge values")
	}
	if !math.IsNaN(p.EmpiricalQuantile(2)) || !math.IsNaN(p.EmpiricalCDF(math.NaN())) || !math.IsNaN((&Profile{}).EmpiricalCDF(1)) {
		t.Error("NaN cases")
	}
}

// FuzzRead: any bytes give a file or an ErrInvalid, never a panic; a file
// that reads writes and reads back identically.
func FuzzRead(f *testing.F) {
	f.Add(encode(f, example()))
	if b, err := os.ReadFile("testdata/example.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"provenance":{"generator":"x"},"profiles":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Write(&out, file); err != nil {
			t.Fatalf("a file that reads must write: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("a written file must read: %v", err)
		}
		var out2 bytes.Buffer
		if err := Write(&out2, again); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("write → read → write changed the file (%v)", err)
		}
		// Evaluating a valid profile never panics and stays in range.
		for i := range file.Profiles {
			p := &file.Profiles[i]
			for _, u := range []float64{0, 1e-6, 0.5, 1} {
				x := p.EmpiricalQuantile(u)
				if c := p.EmpiricalCDF(x); math.IsNaN(c) || c < 0 || c > 1 {
					t.Fatalf("empirical CDF %v", c)
				}
				if m := p.Model(); m != nil {
					_ = m.CDF(x)
					_ = m.Quantile(u)
				}
			}
		}
	})
}
