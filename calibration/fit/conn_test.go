package fit

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/profile"
)

// probes is a Source of a campaign's samples: n probes of k echoes, spread
// over connections of at most perConn echoes (0: one connection), numbered
// as datasets number them (echo indexes across the probe, connection
// indexes within it). Each connection's round trips are a per-connection
// shift plus per-echo noise. It keeps every probe's round trips so that
// tests can compute prefix minima exactly.
type probes struct {
	n, k, perConn int
	endpoint      string
	r             *rand.Rand
	round         int
	pending       []dataset.Sample
	seq           uint64
	kept          [][]float64 // per connection, its round trips
}

func (p *probes) Read() (dataset.Sample, error) {
	if len(p.pending) == 0 {
		if p.round >= p.n {
			return dataset.Sample{}, io.EOF
		}
		per := p.perConn
		if per == 0 {
			per = p.k
		}
		var shift float64
		for i := range p.k {
			if i%per == 0 {
				shift = 40_000 * p.r.ExpFloat64()
				p.kept = append(p.kept, nil)
			}
			x := 200_000 + shift + 20_000*p.r.ExpFloat64()
			s := sample(x)
			s.Endpoint = p.endpoint
			s.Round, s.Conn, s.Echo = p.round, i/per, i
			p.pending = append(p.pending, s)
			p.kept[len(p.kept)-1] = append(p.kept[len(p.kept)-1], x)
		}
		p.round++
	}
	s := p.pending[0]
	p.pending = p.pending[1:]
	s.Seq = p.seq
	p.seq++
	return s, nil
}

// prefixMins returns, per connection with at least k round trips, the
// minimum of its first k.
func prefixMins(conns [][]float64, k int) []float64 {
	var out []float64
	for _, c := range conns {
		if len(c) >= k {
			out = append(out, slices.Min(c[:k]))
		}
	}
	slices.Sort(out)
	return out
}

// TestConnLevels: the fitter finds a campaign's connections, states a level
// for every power of two and every connection size seen, each over every
// connection long enough, with exact extremes and quantiles (exact order
// statistics among the lowest ones kept, within the sketch's error above).
func TestConnLevels(t *testing.T) {
	api := &probes{n: 400, k: 16, endpoint: "api.westeurope.lab.test", r: rand.New(rand.NewPCG(1, 2))}
	blob := &probes{n: 400, k: 16, perConn: 3, endpoint: "blob.westeurope.lab.test", r: rand.New(rand.NewPCG(3, 4))}
	f := fitInterleaved(t, api, blob)
	if f.Version != profile.Version {
		t.Fatalf("version %d", f.Version)
	}
	for _, tc := range []struct {
		src   *probes
		ks    []int
		conns []uint64
	}{
		{api, []int{1, 2, 4, 8, 16}, []uint64{400, 400, 400, 400, 400}},
		// Five connections of 3 and one of 1 per probe.
		{blob, []int{1, 2, 3}, []uint64{2400, 2000, 2000}},
	} {
		var p *profile.Profile
		for i := range f.Profiles {
			if f.Profiles[i].Endpoint == tc.src.endpoint {
				p = &f.Profiles[i]
			}
		}
		var ks []int
		var conns []uint64
		for _, c := range p.ConnMins {
			ks = append(ks, c.K)
			conns = append(conns, c.Connections)
			want := prefixMins(tc.src.kept, c.K)
			if c.MinNs != want[0] || c.MaxNs != want[len(want)-1] {
				t.Errorf("%s K=%d: extremes %v, %v; want %v, %v", p.Endpoint, c.K, c.MinNs, c.MaxNs, want[0], want[len(want)-1])
			}
			for _, q := range c.Quantiles {
				exact := want[int(math.Floor(q.P*float64(len(want)-1)))]
				if math.Abs(q.Ns-exact) > DefaultRelErr*exact {
					t.Errorf("%s K=%d p%v: %v, exact %v", p.Endpoint, c.K, q.P, q.Ns, exact)
				}
			}
			if len(c.Models) == 0 || c.Models[0].GoF.Method != GoFMethod {
				t.Errorf("%s K=%d: models %+v", p.Endpoint, c.K, c.Models)
			}
		}
		if !slices.Equal(ks, tc.ks) || !slices.Equal(conns, tc.conns) {
			t.Errorf("%s: levels %v on %v connections, want %v on %v", p.Endpoint, ks, conns, tc.ks, tc.conns)
		}
	}
	// The file writes and reads back.
	var b bytes.Buffer
	if err := profile.Write(&b, f); err != nil {
		t.Fatal(err)
	}
	if _, err := profile.Read(&b); err != nil {
		t.Fatal(err)
	}
}

// TestConnLevelsAbsent: samples that do not show connections (no indexes,
// as from a CSV import, or a connection per echo) give no levels; too few
// connections give none and a note.
func TestConnLevelsAbsent(t *testing.T) {
	f, err := Fit(newGen(5000, 1, lognormalDraw(100_000, math.Log(30_000), 0.5)), Options{Locate: locate})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Profiles[0].ConnMins); n != 0 {
		t.Fatalf("%d levels from samples without connections", n)
	}
	one := &probes{n: 200, k: 8, perConn: 1, endpoint: "api.westeurope.lab.test", r: rand.New(rand.NewPCG(5, 6))}
	if f, err = Fit(one, Options{Locate: locate}); err != nil || len(f.Profiles[0].ConnMins) != 0 {
		t.Fatalf("one echo per connection: %v, %d levels", err, len(f.Profiles[0].ConnMins))
	}
	few := &probes{n: 70, k: 16, endpoint: "api.westeurope.lab.test", r: rand.New(rand.NewPCG(7, 8))}
	f, err = Fit(few, Options{Locate: locate})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Profiles[0].ConnMins) != 0 || !strings.Contains(f.Provenance.Notes, "70 connections") {
		t.Fatalf("70 connections: %d levels, notes %q", len(f.Profiles[0].ConnMins), f.Provenance.Notes)
	}
}

// TestConnLevelsKernelSkip: with the kernel clock, an echo without a stamp
// ends what its connection contributes: prefixes that include it are not
// recorded, shorter ones are.
func TestConnLevelsKernelSkip(t *testing.T) {
	fr, err := NewFitter(Options{Locate: locate, Clock: profile.ClockKernel})
	if err != nil {
		t.Fatal(err)
	}
	src := &probes{n: 300, k: 8, endpoint: "api.westeurope.lab.test", r: rand.New(rand.NewPCG(9, 10))}
	for {
		s, err := src.Read()
		if err == io.EOF {
			break
		}
		s.RTTKernelNs = int64(s.RTTNs)
		if s.Round%3 == 0 && s.Echo == 2 {
			s.RTTKernelNs = 0 // a third of the connections lose their third echo
		}
		if err := fr.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fr.File()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, c := range f.Profiles[0].ConnMins {
		got = append(got, c.Connections)
	}
	if want := []uint64{300, 300, 200, 200}; !slices.Equal(got, want) {
		t.Fatalf("connections per level %v, want %v", got, want)
	}
}

// TestProbeLevels: the fitter follows whole probes too and states, per
// probe shape of two or more connections, the distribution of the probe's
// fastest echo, with exact extremes; single-connection probes get none.
func TestProbeLevels(t *testing.T) {
	api := &probes{n: 150, k: 16, endpoint: "api.westeurope.lab.test", r: rand.New(rand.NewPCG(5, 6))}
	blob := &probes{n: 150, k: 16, perConn: 3, endpoint: "blob.westeurope.lab.test", r: rand.New(rand.NewPCG(7, 8))}
	f := fitInterleaved(t, api, blob)
	for i := range f.Profiles {
		p := &f.Profiles[i]
		switch p.Endpoint {
		case api.endpoint:
			if len(p.ProbeMins) != 0 {
				t.Errorf("single-connection probes got probe levels %+v", p.ProbeMins)
			}
		case blob.endpoint:
			if len(p.ProbeMins) != 1 {
				t.Fatalf("probe levels %+v", p.ProbeMins)
			}
			pm := p.ProbeMins[0]
			if !slices.Equal(pm.Conns, []int{3, 3, 3, 3, 3, 1}) || pm.K != 16 || pm.Connections != 150 || p.ProbeLevel(pm.Conns) == nil {
				t.Fatalf("probe level %v, K %d, %d probes", pm.Conns, pm.K, pm.Connections)
			}
			var mins []float64
			for j := 0; j < len(blob.kept); j += 6 {
				m := math.Inf(1)
				for _, c := range blob.kept[j : j+6] {
					m = math.Min(m, slices.Min(c))
				}
				mins = append(mins, m)
			}
			if pm.MinNs != slices.Min(mins) || pm.MaxNs != slices.Max(mins) {
				t.Errorf("extremes %v, %v; want %v, %v", pm.MinNs, pm.MaxNs, slices.Min(mins), slices.Max(mins))
			}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fitInterleaved fits two endpoints' probes of 16 echoes, interleaved
// probe by probe as a campaign does, until api's probes run out.
func fitInterleaved(t *testing.T, api, blob *probes) *profile.File {
	t.Helper()
	fr, err := NewFitter(Options{Locate: locate})
	if err != nil {
		t.Fatal(err)
	}
	for api.round < api.n || len(api.pending) > 0 {
		for _, src := range []*probes{api, blob} {
			for range 16 {
				s, err := src.Read()
				if err != nil {
					t.Fatal(err)
				}
				if err := fr.Add(s); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	f, err := fr.File()
	if err != nil {
		t.Fatal(err)
	}
	return f
}
