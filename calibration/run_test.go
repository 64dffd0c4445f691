package calibration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/timing"
	"github.com/latencyproof/poc/tlsprobe"
)

// fakeClock moves only when told to: Sleep and the fake probe advance it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.advance(d)
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// call is one probe the fake saw.
type call struct {
	cfg        tlsprobe.Config
	start, end time.Time
}

// fakeProber answers probes with made-up echoes, taking probeTime of fake
// time each; fail decides which endpoints fail.
type fakeProber struct {
	clock     *fakeClock
	probeTime time.Duration
	fail      func(endpoint string, attempt int) error
	mu        sync.Mutex
	calls     []call
	attempts  map[string]int
}

func (f *fakeProber) probe(ctx context.Context, cfg tlsprobe.Config) (*tlsprobe.Result, error) {
	f.mu.Lock()
	if f.attempts == nil {
		f.attempts = map[string]int{}
	}
	f.attempts[cfg.Endpoint]++
	n := f.attempts[cfg.Endpoint]
	f.mu.Unlock()
	start := f.clock.Now()
	f.clock.advance(f.probeTime)
	f.mu.Lock()
	f.calls = append(f.calls, call{cfg: cfg, start: start, end: f.clock.Now()})
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(cfg.Endpoint, n); err != nil {
			return nil, err
		}
	}
	res := &tlsprobe.Result{Endpoint: cfg.Endpoint, Frequency: timing.Frequency{Hz: 2_000_000_000, Source: timing.SourceCPUID15}}
	per := cfg.Echoes
	if cfg.Budget.EchoesPerConn > 0 {
		per = cfg.Budget.EchoesPerConn
	}
	for i := 0; i < cfg.Echoes; i++ {
		c := uint32(i / per)
		if i%per == 0 {
			res.Conns = append(res.Conns, tlsprobe.Conn{Index: c, Address: "192.0.2.1:443", Method: tlsprobe.MethodH2Ping,
				HandshakeNs: 900_000, Started: start, EchoBase: uint32(i)})
		}
		cycles := uint64(1_000_000 + 1000*i)
		res.Echoes = append(res.Echoes, tlsprobe.Sample{Index: uint32(i), Conn: c, Cycles: cycles, Ns: float64(cycles) / 2})
	}
	return res, nil
}

func testCatalog() *datasets.Catalog {
	ep := func(name, host, region, method string, perConn int, spacing time.Duration) datasets.Endpoint {
		return datasets.Endpoint{Name: name, Provider: "azure", Region: region, Lat: 52.37, Lon: 4.9, Hostname: host, Port: 443,
			Termination: datasets.TerminationRegional,
			Echo:        datasets.Echo{Method: method, EchoesPerConn: perConn, MinSpacing: datasets.Duration(spacing)}}
	}
	edge := ep("edge", "edge.example.net", "westeurope", "h2-ping", 0, 0)
	edge.Termination = datasets.TerminationEdge
	return &datasets.Catalog{Version: 1, Name: "test", Endpoints: []datasets.Endpoint{
		ep("a", "a.westeurope.example.net", "westeurope", "h2-ping", 0, 2*time.Second),
		ep("b", "b.westeurope.example.net", "westeurope", "http1", 2, 0),
		ep("c", "c.northeurope.example.net", "northeurope", "auto", 0, 0),
		edge,
	}}
}

func testCampaign(t *testing.T, p *fakeProber) Campaign {
	return Campaign{
		Catalog: testCatalog(),
		Vantage: dataset.Vantage{Name: "vm1", Provider: "azure", Region: "westeurope", Lat: 52.37, Lon: 4.9},
		Rounds:  4, Echoes: 3, Seed: 99,
		Out:   filepath.Join(t.TempDir(), "c.jsonl"),
		Probe: p.probe, Clock: p.clock,
	}
}

// checkDataset reads a finished dataset and checks it holds every (round,
// endpoint) unit once in plan order, with Seq gapless.
func checkDataset(t *testing.T, path string) (*dataset.Header, []dataset.Sample) {
	t.Helper()
	h, samples, err := dataset.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		round int
		ep    string
		echo  int
	}
	seen := map[key]bool{}
	units := map[[2]any]bool{}
	for i, s := range samples {
		if s.Seq != uint64(i) {
			t.Fatalf("sample %d has seq %d", i, s.Seq)
		}
		k := key{s.Round, s.Endpoint, s.Echo}
		if seen[k] {
			t.Fatalf("round %d endpoint %s echo %d twice", s.Round, s.Endpoint, s.Echo)
		}
		seen[k] = true
		units[[2]any{s.Round, s.Endpoint}] = true
	}
	if len(units) != h.Plan.Units() {
		t.Fatalf("%d units of %d", len(units), h.Plan.Units())
	}
	return h, samples
}

func TestRunFake(t *testing.T) {
	p := &fakeProber{clock: newFakeClock(), probeTime: 300 * time.Millisecond}
	c := testCampaign(t, p)
	if err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h, samples := checkDataset(t, c.Out)
	if !slices.Equal(h.Plan.Endpoints, []string{"a", "b", "c"}) {
		t.Fatalf("plan endpoints %v (the edge entry must be left out)", h.Plan.Endpoints)
	}
	if h.Vantage.Origin != dataset.OriginReal || h.Plan.Seed != 99 {
		t.Fatalf("header %+v", h)
	}
	if len(samples) != 4*3*3 {
		t.Fatalf("%d samples", len(samples))
	}
	// Each round in the plan's order.
	for r := 0; r < 4; r++ {
		var got []string
		for _, s := range samples {
			if s.Round == r && s.Echo == 0 {
				got = append(got, s.Endpoint)
			}
		}
		if !slices.Equal(got, h.Plan.Order(r)) {
			t.Fatalf("round %d probed %v, plan says %v", r, got, h.Plan.Order(r))
		}
	}
	// Fresh nonces, K echoes, the endpoint's method and budget.
	nonces := map[[32]byte]bool{}
	for _, cl := range p.calls {
		if nonces[cl.cfg.Nonce] {
			t.Fatal("a nonce was used twice")
		}
		nonces[cl.cfg.Nonce] = true
		if cl.cfg.Echoes != 3 {
			t.Fatalf("probe with %d echoes", cl.cfg.Echoes)
		}
		switch cl.cfg.Endpoint {
		case "b.westeurope.example.net:443":
			if cl.cfg.Method != tlsprobe.MethodHTTP1 || cl.cfg.Budget.EchoesPerConn != 2 {
				t.Fatalf("b probed with %+v", cl.cfg)
			}
		case "a.westeurope.example.net:443":
			if cl.cfg.Budget.MinSpacing != 2*time.Second {
				t.Fatalf("a's spacing not passed on: %+v", cl.cfg.Budget)
			}
		}
	}
	// a's spacing holds across rounds: between the end of one probe and
	// the start of the next.
	var last time.Time
	for _, cl := range p.calls {
		if cl.cfg.Endpoint != "a.westeurope.example.net:443" {
			continue
		}
		if !last.IsZero() && cl.start.Sub(last) < 2*time.Second {
			t.Fatalf("a probed %v after its previous probe", cl.start.Sub(last))
		}
		last = cl.end
	}
	// b's echoes sit on connections of two.
	for _, s := range samples {
		if s.Endpoint == "b" && s.Conn != s.Echo/2 {
			t.Fatalf("b echo %d on conn %d", s.Echo, s.Conn)
		}
	}
	// A second run over the finished file is refused without resume, and
	// with it does nothing.
	if err := Run(context.Background(), c); !errors.Is(err, dataset.ErrExists) {
		t.Fatalf("rerun: %v", err)
	}
	c.Resume = true
	n := len(p.calls)
	if err := Run(context.Background(), c); err != nil || len(p.calls) != n {
		t.Fatalf("resume of a finished campaign: %v, %d probes", err, len(p.calls)-n)
	}
}

// Failures are recorded and do not stop the campaign; an endpoint failing
// again and again backs off, and is measured again once it recovers.
func TestRunFailuresBackoff(t *testing.T) {
	p := &fakeProber{clock: newFakeClock(), probeTime: 5 * time.Second}
	p.fail = func(ep string, attempt int) error {
		if strings.HasPrefix(ep, "b.") && attempt <= 4 {
			return fmt.Errorf("%w: b.westeurope.example.net:443: connection refused", tlsprobe.ErrDial)
		}
		if strings.HasPrefix(ep, "c.") && attempt == 2 {
			return fmt.Errorf("%w: connection 0: bad PING", tlsprobe.ErrEcho)
		}
		return nil
	}
	c := testCampaign(t, p)
	c.Rounds = 14
	c.Backoff = Backoff{After: 2, Base: 20 * time.Second, Max: 40 * time.Second}
	var progress recorder
	c.Progress = &progress
	if err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	_, samples := checkDataset(t, c.Out)
	var bKinds []string
	for _, s := range samples {
		if s.Endpoint == "b" && s.Echo == 0 {
			kind := s.ErrorKind
			if kind == "" {
				kind = "ok"
			}
			bKinds = append(bKinds, kind)
		}
		if s.Endpoint == "c" && s.Error != "" && s.ErrorKind != dataset.ErrorKindEcho {
			t.Fatalf("c's failure recorded as %q", s.ErrorKind)
		}
	}
	t.Logf("b: %v", bKinds)
	count := func(k string) int {
		n := 0
		for _, x := range bKinds {
			if x == k {
				n++
			}
		}
		return n
	}
	if count("dial") != 4 || count("backoff") == 0 || bKinds[len(bKinds)-1] != "ok" {
		t.Fatalf("b's units: %v", bKinds)
	}
	// No backoff before the second failure in a row.
	if bKinds[0] != "dial" || bKinds[1] != "dial" {
		t.Fatalf("b's units: %v", bKinds)
	}
	last := progress.statuses[len(progress.statuses)-1]
	if last.Failures != 5 || last.Skipped != count("backoff") || last.Done != last.Units || !progress.ended {
		t.Fatalf("progress: %+v", last)
	}
}

type recorder struct {
	statuses []Status
	begun    bool
	ended    bool
	onUnit   func(Status)
}

func (r *recorder) Begin(s Status) { r.begun = true; r.statuses = append(r.statuses, s) }
func (r *recorder) Unit(s Status) {
	r.statuses = append(r.statuses, s)
	if r.onUnit != nil {
		r.onUnit(s)
	}
}
func (r *recorder) End(s Status) { r.ended = true; r.statuses = append(r.statuses, s) }

// An interrupted run leaves whole units on disk; resuming finishes the plan
// without repeating any unit, and a resume that does not match the file is
// refused.
// TestEchoesPerConn: a campaign spreads its K echoes over connections of
// the size proofs use (tlsprobe.DefaultEchoesPerConn unless told), records
// it in the plan, keeps it when resuming, and never exceeds an endpoint's
// own budget.
func TestEchoesPerConn(t *testing.T) {
	tests := []struct {
		name         string
		perConn      int
		wantPlan     int
		wantA, wantB int // a has no budget, b allows 2
	}{
		{"default", 0, tlsprobe.DefaultEchoesPerConn, tlsprobe.DefaultEchoesPerConn, 2},
		{"three", 3, 3, 3, 2},
		{"one", 1, 1, 1, 1},
		{"whole probe", 10, 10, 10, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProber{clock: newFakeClock()}
			c := testCampaign(t, p)
			c.Echoes, c.EchoesPerConn, c.Rounds = 10, tc.perConn, 2
			if err := Run(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			h, samples := checkDataset(t, c.Out)
			if h.Plan.EchoesPerConn != tc.wantPlan {
				t.Fatalf("plan records %d echoes per connection, want %d", h.Plan.EchoesPerConn, tc.wantPlan)
			}
			for _, cl := range p.calls {
				got := cl.cfg.Budget.EchoesPerConn
				switch cl.cfg.Endpoint {
				case "a.westeurope.example.net:443":
					if got != tc.wantA {
						t.Fatalf("a probed with %d per connection, want %d", got, tc.wantA)
					}
				case "b.westeurope.example.net:443":
					if got != tc.wantB {
						t.Fatalf("b probed with %d per connection, want %d", got, tc.wantB)
					}
				}
			}
			// The samples say which connection each echo came on.
			for _, s := range samples {
				if s.Endpoint == "a" && s.Conn != s.Echo/tc.wantA {
					t.Fatalf("a's echo %d on connection %d", s.Echo, s.Conn)
				}
			}
			// Resuming with another size is refused; as recorded is not.
			c.Resume = true
			c.EchoesPerConn = tc.wantPlan + 1
			if err := Run(context.Background(), c); !errors.Is(err, ErrMismatch) {
				t.Fatalf("resume with another size: %v", err)
			}
			c.EchoesPerConn = 0
			if err := Run(context.Background(), c); err != nil {
				t.Fatalf("resume as recorded: %v", err)
			}
		})
	}
}

func TestInterruptResume(t *testing.T) {
	p := &fakeProber{clock: newFakeClock(), probeTime: 100 * time.Millisecond}
	c := testCampaign(t, p)
	c.Seed = 0 // drawn, recorded, and read back on resume
	ctx, cancel := context.WithCancel(context.Background())
	c.Progress = &recorder{onUnit: func(s Status) {
		if s.Done == 5 {
			cancel()
		}
	}}
	if err := Run(ctx, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	c.Progress = nil
	c.Resume = true
	bad := c
	bad.Echoes = 4
	if err := Run(context.Background(), bad); !errors.Is(err, ErrMismatch) {
		t.Fatalf("resume with other echoes: %v", err)
	}
	bad = c
	bad.Vantage.Name = "vm2"
	if err := Run(context.Background(), bad); !errors.Is(err, ErrMismatch) {
		t.Fatalf("resume from another vantage: %v", err)
	}
	n := len(p.calls)
	c.Echoes = 0 // as recorded
	if err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := len(p.calls) - n; got != 12-5 {
		t.Fatalf("resume ran %d probes, want %d", got, 12-5)
	}
	h, _ := checkDataset(t, c.Out)
	if h.Plan.Seed == 0 {
		t.Fatal("no seed recorded")
	}
}

// A probe interrupted in flight is not recorded as the endpoint's failure:
// its unit is simply not done.
func TestInterruptInProbe(t *testing.T) {
	p := &fakeProber{clock: newFakeClock()}
	c := testCampaign(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	c.Probe = func(ctx2 context.Context, cfg tlsprobe.Config) (*tlsprobe.Result, error) {
		if calls++; calls == 3 {
			cancel()
			return nil, fmt.Errorf("%w: %v", tlsprobe.ErrEcho, ctx2.Err())
		}
		return p.probe(ctx2, cfg)
	}
	if err := Run(ctx, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	st, err := dataset.Resume(c.Out)
	if err != nil || st.Units != 2 {
		t.Fatalf("after the interruption: %+v %v", st, err)
	}
}

// A result that cannot become samples is a recorded failure, not a crash.
func TestBadResult(t *testing.T) {
	p := &fakeProber{clock: newFakeClock()}
	c := testCampaign(t, p)
	c.Rounds = 1
	c.Probe = func(ctx context.Context, cfg tlsprobe.Config) (*tlsprobe.Result, error) {
		res, err := p.probe(ctx, cfg)
		res.Echoes = res.Echoes[:1]
		return res, err
	}
	if err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	_, samples := checkDataset(t, c.Out)
	for _, s := range samples {
		if s.ErrorKind != dataset.ErrorKindResult {
			t.Fatalf("sample %+v", s)
		}
	}
}

func TestCampaignRejects(t *testing.T) {
	p := &fakeProber{clock: newFakeClock()}
	tests := map[string]func(c *Campaign){
		"no out":            func(c *Campaign) { c.Out = "" },
		"no catalog":        func(c *Campaign) { c.Catalog = nil },
		"unknown endpoint":  func(c *Campaign) { c.Endpoints = []string{"nowhere"} },
		"negative rounds":   func(c *Campaign) { c.Rounds = -1 },
		"too many echoes":   func(c *Campaign) { c.Echoes = dataset.MaxEchoes + 1 },
		"negative per conn": func(c *Campaign) { c.EchoesPerConn = -1 },
		"bad id":            func(c *Campaign) { c.ID = "a b" },
		"no vantage":        func(c *Campaign) { c.Vantage.Name = "" },
		"bad coordinates":   func(c *Campaign) { c.Vantage.Lat = 91 },
		"template named": func(c *Campaign) {
			c.Catalog.Version = datasets.CatalogVersion
			c.Catalog.Placeholders = map[string]string{"account": "a storage account of the region"}
			c.Catalog.Endpoints = c.Catalog.Endpoints[3:] // the edge entry, which needs no scope
			c.Catalog.Endpoints[0].Hostname = "{{account}}.blob.core.windows.net"
			c.Endpoints = []string{"edge"}
		},
		"nothing to probe": func(c *Campaign) { c.Catalog.Endpoints = c.Catalog.Endpoints[3:] },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			c := testCampaign(t, p)
			edit(&c)
			if err := Run(context.Background(), c); !errors.Is(err, ErrCampaign) {
				t.Fatalf("err = %v, want ErrCampaign", err)
			}
			if _, err := os.Stat(c.Out); err == nil {
				t.Fatal("a refused campaign wrote its file")
			}
		})
	}
}

func TestBackoffWait(t *testing.T) {
	b := Backoff{After: 2, Base: 30 * time.Second, Max: 5 * time.Minute}
	for f, want := range []time.Duration{0, 0, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if got := b.wait(f); got != want {
			t.Errorf("wait(%d) = %v, want %v", f, got, want)
		}
	}
}

// The project's cloud catalog as it ships: edge entries and template entries
// whose placeholders a deployer has not filled are left out (and said so);
// every other entry is probed with its own method and budget.
func TestCloudCatalog(t *testing.T) {
	cat, err := datasets.ReadCatalog(bytes.NewReader(datasets.CloudCatalogJSON))
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProber{clock: newFakeClock(), probeTime: time.Second}
	c := testCampaign(t, p)
	c.Catalog, c.Rounds, c.Echoes = cat, 1, 2
	var rec recorder
	c.Progress = &rec
	if err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h, _ := checkDataset(t, c.Out)
	begin := rec.statuses[0]
	if len(begin.LeftOutUnfilled) == 0 || len(begin.LeftOutEdge) == 0 {
		t.Fatalf("left out: %v, %v", begin.LeftOutEdge, begin.LeftOutUnfilled)
	}
	if len(h.Plan.Endpoints)+len(begin.LeftOutEdge)+len(begin.LeftOutUnfilled) != len(cat.Endpoints) {
		t.Fatal("entries unaccounted for")
	}
	for _, name := range h.Plan.Endpoints {
		e, _ := cat.Lookup(name)
		if e.Termination != datasets.TerminationRegional || len(e.Placeholders()) > 0 {
			t.Fatalf("%s probed", name)
		}
	}
	for _, cl := range p.calls {
		e, _ := cat.Lookup(cl.cfg.Endpoint)
		if want := time.Duration(e.Echo.MinSpacing); cl.cfg.Budget.MinSpacing < want {
			t.Fatalf("%s probed with spacing %v, its budget says %v", cl.cfg.Endpoint, cl.cfg.Budget.MinSpacing, want)
		}
	}
}
