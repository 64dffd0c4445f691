package eval

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
)

// Shape of the proofs evaluated.
const (
	// EchoesPerConn is the connection size of every probe: K echoes go
	// over K/EchoesPerConn connections, as proofs send them.
	EchoesPerConn = 4
	// Region is the lab region, at westeurope's coordinates.
	Region = "westeurope"
	// RegionLat and RegionLon are westeurope's (Amsterdam) coordinates,
	// as in datasets/demo-world.json.
	RegionLat = 52.3676
	RegionLon = 4.9041
	// Service is the lab endpoint's service name: its hostname is
	// api.westeurope.lab.test.
	Service = "api"
	// RelayBearing is the bearing along which relay vantages are placed.
	RelayBearing = 135
	// HonestVantage names the vantage in the region.
	HonestVantage = "honest"
)

// Defaults of Options.
var (
	// DefaultKs are the echo counts evaluated.
	DefaultKs = []int{8, 16, 32}
	// DefaultDistancesKm are the relay distances (vacuum-equivalent km).
	DefaultDistancesKm = []float64{1, 2, 5, 10, 20, 50, 100, 200}
)

// Sizes of a full and a quick run: probes per regime.
const (
	fullCalibration  = 1000
	fullHonest       = 800
	fullRelay        = 100
	quickCalibration = 140
	quickHonest      = 64
	quickRelay       = 12
)

// Stated rates of the evaluated verdict.
const (
	// FRR is the false-reject rate the verdicts are asked to hold.
	FRR = verdict.DefaultFRR
	// FARTarget is the false-accept rate at which resolution is stated.
	FARTarget = verdict.DefaultFARTarget
	// AltFRR is the second stated FRR of the connection-versus-echo
	// comparison: at 10⁻³ a few hundred probes expect less than one
	// rejection, at 10⁻² the difference shows.
	AltFRR = 1e-2
	// Confidence is the level of every interval (Clopper–Pearson).
	Confidence = 0.95
)

// ErrOptions is wrapped by every error about unusable Options.
var ErrOptions = errors.New("invalid evaluation options")

// Regime is an intra-region delay regime: what every vantage's route adds
// to the server's own time, each way.
type Regime struct {
	// Name is a short lower-case label (file names, vantage names).
	Name string `json:"name"`
	// Title describes the regime in a few words.
	Title string `json:"title"`
	// Base is the fixed one-way delay of every route.
	Base datasets.Duration `json:"base"`
	// Jitter is drawn per chunk and direction on top of Base.
	Jitter lab.Jitter `json:"jitter"`
	// Why says how the parameters were chosen.
	Why string `json:"why"`
}

// DefaultRegimes returns the regimes evaluated by default: a prover in the
// endpoint's availability zone, and one in another zone of the region.
// The figures they are chosen from are in the project's ANCHORS.md
// (cloud proximity): same-zone round trips measured at 0.2-0.4 ms; Azure
// zones under 2 ms apart and usually within 100 km, AWS zones "usually
// < 1 ms", GCP < 1 ms at p95 within a region.
func DefaultRegimes() []Regime {
	return []Regime{
		{
			Name: "same-zone", Title: "same availability zone",
			Base:   datasets.Duration(100 * time.Microsecond),
			Jitter: lab.Jitter{Dist: "lognormal", Mean: datasets.Duration(30 * time.Microsecond), Stddev: datasets.Duration(30 * time.Microsecond)},
			Why: "measured same-zone RTTs are 0.2-0.4 ms (ANCHORS.md): a fixed 2 x 100 us plus two log-normal draws " +
				"(mean 30 us, sd 30 us each way) gives 260 us on average before the lab's own relay and TLS-stack overhead " +
				"(about 40 us at the minimum, more at the median), a median near 0.3-0.35 ms, the middle of that range; " +
				"log-normal because delay variation is right-skewed with a long tail (one-way p99 about 150 us)",
		},
		{
			Name: "cross-zone", Title: "another availability zone of the region",
			Base:   datasets.Duration(400 * time.Microsecond),
			Jitter: lab.Jitter{Dist: "lognormal", Mean: datasets.Duration(80 * time.Microsecond), Stddev: datasets.Duration(100 * time.Microsecond)},
			Why: "zones of a region are under 2 ms RTT apart and usually within 100 km (Azure), 'usually < 1 ms' (AWS), " +
				"< 1 ms at p95 (GCP) (ANCHORS.md): a fixed 2 x 400 us (about 80 km of glass fibre each way) plus two log-normal " +
				"draws (mean 80 us, sd 100 us each way: a wider spread and a heavier tail for more hops and switches) gives a median near 1 ms and a p99 under 2 ms",
		},
	}
}

// Options configure an evaluation. The zero value is the full run.
type Options struct {
	// Quick runs a small evaluation (CI): fewer probes of each kind.
	Quick bool
	// Seed fixes the lab's jitter draws, the probe order and the fits;
	// 0 means 1.
	Seed uint64
	// Regimes to evaluate; nil means DefaultRegimes().
	Regimes []Regime
	// Ks are the echo counts (multiples of EchoesPerConn); nil means
	// DefaultKs.
	Ks []int
	// DistancesKm are the relay distances; nil means DefaultDistancesKm.
	DistancesKm []float64
	// CalibrationProbes, HonestProbes and RelayProbes are the probes per
	// regime (relay: per distance); 0 means the full or quick default.
	CalibrationProbes int
	HonestProbes      int
	RelayProbes       int
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// normalise fills defaults and checks the options.
func (o Options) normalise() (Options, error) {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Regimes == nil {
		o.Regimes = DefaultRegimes()
	}
	if o.Ks == nil {
		o.Ks = DefaultKs
	}
	if o.DistancesKm == nil {
		o.DistancesKm = DefaultDistancesKm
	}
	o.Ks = slices.Clone(o.Ks)
	o.DistancesKm = slices.Clone(o.DistancesKm)
	slices.Sort(o.Ks)
	slices.Sort(o.DistancesKm)
	o.Ks = slices.Compact(o.Ks)
	o.DistancesKm = slices.Compact(o.DistancesKm)
	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if o.Quick {
				*v = quick
			}
		}
	}
	def(&o.CalibrationProbes, fullCalibration, quickCalibration)
	def(&o.HonestProbes, fullHonest, quickHonest)
	def(&o.RelayProbes, fullRelay, quickRelay)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, a...))
	}
	if len(o.Regimes) == 0 || len(o.Ks) == 0 || len(o.DistancesKm) == 0 {
		return o, bad("no regime, K or distance")
	}
	// A probe level needs two connections or more.
	for _, k := range o.Ks {
		if k < 2*EchoesPerConn || k%EchoesPerConn != 0 || k > 256 {
			return o, bad("K = %d: want a multiple of %d in [%d, 256] (two connections or more, for a probe level)", k, EchoesPerConn, 2*EchoesPerConn)
		}
	}
	for _, d := range o.DistancesKm {
		if !(d > 0 && d <= 5000) {
			return o, bad("relay distance %v km not in (0, 5000]", d)
		}
	}
	names := map[string]bool{}
	for _, r := range o.Regimes {
		if names[r.Name] {
			return o, bad("regime %q twice", r.Name)
		}
		names[r.Name] = true
		if _, err := r.World(o.DistancesKm); err != nil {
			return o, fmt.Errorf("%w: regime %q: %w", ErrOptions, r.Name, err)
		}
	}
	// A handshake profile needs profile.MinSamples handshakes: one per
	// calibration connection.
	if need := (1000*EchoesPerConn + o.kMax() - 1) / o.kMax(); o.CalibrationProbes < need+need/10 {
		return o, bad("%d calibration probes: the handshake profile needs at least %d (1000 handshakes, with a margin for trimming)", o.CalibrationProbes, need+need/10)
	}
	// A probe level needs profile.MinConnections probes of its shape.
	if o.CalibrationProbes < profile.MinConnections+profile.MinConnections/10 {
		return o, bad("%d calibration probes: a probe level needs %d (with a margin for failed probes)", o.CalibrationProbes, profile.MinConnections+profile.MinConnections/10)
	}
	if o.HonestProbes < 1 || o.RelayProbes < 1 || o.CalibrationProbes > 100_000 || o.HonestProbes > 100_000 || o.RelayProbes > 100_000 {
		return o, bad("probe counts %d/%d/%d", o.CalibrationProbes, o.HonestProbes, o.RelayProbes)
	}
	return o, nil
}

// kMax is the echoes of every probe: the largest K.
func (o Options) kMax() int { return o.Ks[len(o.Ks)-1] }

// RelayVantage names the relay vantage at a distance.
func RelayVantage(km float64) string {
	return "relay-" + strings.ReplaceAll(strconv.FormatFloat(km, 'f', -1, 64), ".", "-") + "km"
}

// World returns the regime's lab world: the region, its endpoint, the
// honest vantage and a relay vantage per distance (vacuum-equivalent km).
func (r Regime) World(distancesKm []float64) (*lab.World, error) {
	j := r.Jitter
	w := &lab.World{
		Version: lab.WorldVersion, Name: "eval-" + r.Name, RouteFactor: 1,
		Regions:   []lab.Region{{Name: Region, Provider: "lab", Lat: RegionLat, Lon: RegionLon}},
		Endpoints: []lab.Service{{Service: Service, Region: Region, Protocol: "h2", EchoesPerConn: EchoesPerConn}},
		Vantages:  []lab.Vantage{{Name: HonestVantage, Region: Region, Base: r.Base, Jitter: &j}},
		Source:    "poc eval (internal/eval): regime " + r.Name,
		Notes: []string{
			"Regime " + r.Name + " (" + r.Title + "): " + r.Why + ".",
			"Relay vantages sit d/1.467 km from the region along bearing 135 with route_factor 1, so that the lab's glass-fibre delay over that great circle is the vacuum round trip 2d/c: relay-<d>km adds exactly what the verdict's false-accept rate assumes.",
		},
	}
	for _, d := range distancesKm {
		w.Vantages = append(w.Vantages, lab.Vantage{
			Name:   RelayVantage(d),
			Offset: &lab.Offset{From: Region, Km: d / datasets.GlassIndex, Bearing: RelayBearing},
			Base:   r.Base, Jitter: &j,
		})
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// Probe kinds.
const (
	KindCalibration = "calibration"
	KindHonest      = "honest"
	KindRelay       = "relay"
)

// ProbeRecord is one probe as measured: its round trips in ns, the echoes
// on each connection, and each connection's handshake time.
type ProbeRecord struct {
	Regime string `json:"regime"`
	// Seq is the probe's place in the regime's shuffled order.
	Seq        int       `json:"seq"`
	Kind       string    `json:"kind"`
	Vantage    string    `json:"vantage"`
	DistanceKm float64   `json:"distance_km,omitempty"`
	Time       time.Time `json:"time"`
	EchoNs     []float64 `json:"echo_ns,omitempty"`
	Conns      []int     `json:"conns,omitempty"`
	// HandshakeNs runs from the ClientHello written to the server
	// Finished received, one per connection.
	HandshakeNs []float64 `json:"handshake_ns,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// Machine describes where the evaluation ran.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
}

// Result is an evaluation.
type Result struct {
	Version int       `json:"version"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Quick   bool      `json:"quick"`
	Seed    uint64    `json:"seed"`
	Machine Machine   `json:"machine"`

	Ks                []int     `json:"ks"`
	DistancesKm       []float64 `json:"distances_km"`
	EchoesPerConn     int       `json:"echoes_per_conn"`
	FRR               float64   `json:"frr"`
	FARTarget         float64   `json:"far_target"`
	Confidence        float64   `json:"confidence"`
	CalibrationProbes int       `json:"calibration_probes"`
	HonestProbes      int       `json:"honest_probes"`
	RelayProbes       int       `json:"relay_probes"`

	Regimes []RegimeResult `json:"regimes"`

	// Probes are every probe measured, for probes.jsonl.
	Probes []ProbeRecord `json:"-"`
	// Worlds are the regimes' lab worlds, by regime name.
	Worlds map[string]*lab.World `json:"-"`
}

// ResultVersion is the version of Result's JSON form.
//
// Version 2: rows per echo model (probe level, connection model, per-echo,
// dependence-free); model rows of three models; probe levels.
const ResultVersion = 2

// Run runs the evaluation: for each regime, a lab, a shuffled schedule of
// calibration, honest and relay probes, the fits and the decisions.
func Run(ctx context.Context, opts Options) (*Result, error) {
	o, err := opts.normalise()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Result{
		Version: ResultVersion, Started: start.UTC(), Quick: o.Quick, Seed: o.Seed, Machine: machine(),
		Ks: o.Ks, DistancesKm: o.DistancesKm, EchoesPerConn: EchoesPerConn,
		FRR: FRR, FARTarget: FARTarget, Confidence: Confidence,
		CalibrationProbes: o.CalibrationProbes, HonestProbes: o.HonestProbes, RelayProbes: o.RelayProbes,
		Worlds: map[string]*lab.World{},
	}
	for i, r := range o.Regimes {
		w, err := r.World(o.DistancesKm)
		if err != nil {
			return nil, fmt.Errorf("regime %s: %w", r.Name, err)
		}
		res.Worlds[r.Name] = w
		recs, err := measure(ctx, o, r, w, uint64(i))
		if err != nil {
			return nil, fmt.Errorf("regime %s: %w", r.Name, err)
		}
		res.Probes = append(res.Probes, recs...)
		rr, err := analyse(o, r, recs)
		if err != nil {
			return nil, fmt.Errorf("regime %s: %w", r.Name, err)
		}
		res.Regimes = append(res.Regimes, *rr)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (o Options) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

// job is one probe to run.
type job struct {
	kind    string
	vantage string
	km      float64
}

// schedule returns the regime's probes in a seeded random order.
func schedule(o Options, stream uint64) []job {
	var jobs []job
	for range o.CalibrationProbes {
		jobs = append(jobs, job{kind: KindCalibration, vantage: HonestVantage})
	}
	for range o.HonestProbes {
		jobs = append(jobs, job{kind: KindHonest, vantage: HonestVantage})
	}
	for _, d := range o.DistancesKm {
		for range o.RelayProbes {
			jobs = append(jobs, job{kind: KindRelay, vantage: RelayVantage(d), km: d})
		}
	}
	r := mrand.New(mrand.NewPCG(o.Seed, stream))
	r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	return jobs
}

// measure starts the regime's lab and runs its schedule, one probe at a
// time (concurrent probes would share the two cores and slow each other).
func measure(ctx context.Context, o Options, r Regime, w *lab.World, stream uint64) (_ []ProbeRecord, err error) {
	l, err := lab.Start(w, lab.Options{Seed: o.Seed + stream})
	if err != nil {
		return nil, fmt.Errorf("starting the lab: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the lab: %w", cerr)
		}
	}()
	roots, err := l.State.Roots()
	if err != nil {
		return nil, err
	}
	if len(l.State.Catalog.Endpoints) != 1 {
		return nil, fmt.Errorf("the lab catalog has %d endpoints, want 1", len(l.State.Catalog.Endpoints))
	}
	ep := l.State.Catalog.Endpoints[0]
	dialers := map[string]tlsprobe.DialFunc{}
	for _, v := range w.Vantages {
		vs, err := l.State.Vantage(v.Name)
		if err != nil {
			return nil, err
		}
		dialers[v.Name] = vs.Dialer()
	}
	jobs := schedule(o, stream)
	o.logf("eval: regime %s: %d probes of %d echoes (%d calibration, %d honest, %d relay at each of %d distances)",
		r.Name, len(jobs), o.kMax(), o.CalibrationProbes, o.HonestProbes, o.RelayProbes, len(o.DistancesKm))
	started := time.Now()
	recs := make([]ProbeRecord, 0, len(jobs))
	failures := 0
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := ProbeRecord{Regime: r.Name, Seq: i, Kind: j.kind, Vantage: j.vantage, DistanceKm: j.km, Time: time.Now().UTC()}
		var nonce [32]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, fmt.Errorf("drawing a nonce: %w", err)
		}
		pr, perr := tlsprobe.Probe(ctx, tlsprobe.Config{
			Endpoint: ep.Address(), Nonce: nonce, Echoes: o.kMax(), Method: tlsprobe.MethodH2Ping,
			Budget: tlsprobe.Budget{EchoesPerConn: EchoesPerConn}, Roots: roots, Dial: dialers[j.vantage],
			Timeout: 10 * time.Second,
		})
		if perr == nil {
			perr = fill(&rec, pr, o.kMax())
		}
		if perr != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rec.Error = perr.Error()
			rec.EchoNs, rec.Conns, rec.HandshakeNs = nil, nil, nil
			failures++
			if failures > 10 && failures*20 > i+1 {
				return nil, fmt.Errorf("%d of %d probes failed; last: %w", failures, i+1, perr)
			}
		}
		recs = append(recs, rec)
		if n := len(jobs); (i+1)%(max(n/5, 1)) == 0 || i+1 == n {
			o.logf("eval: regime %s: %d/%d probes, %.0f s", r.Name, i+1, n, time.Since(started).Seconds())
		}
	}
	return recs, nil
}

// fill copies a probe's result into rec, checking its shape: k echoes in
// order on connections numbered from 0, each with a handshake time.
func fill(rec *ProbeRecord, pr *tlsprobe.Result, k int) error {
	if len(pr.Echoes) != k {
		return fmt.Errorf("%d echoes, want %d", len(pr.Echoes), k)
	}
	hs := map[uint32]float64{}
	for _, c := range pr.Conns {
		hs[c.Index] = c.HandshakeNs
	}
	last := uint32(0)
	for i, e := range pr.Echoes {
		switch {
		case i == 0 && e.Conn != 0, i > 0 && e.Conn != last && e.Conn != last+1:
			return fmt.Errorf("echo %d on connection %d after %d", i, e.Conn, last)
		case !(e.Ns > 0):
			return fmt.Errorf("echo %d: round trip %v ns", i, e.Ns)
		}
		if i == 0 || e.Conn != last {
			h, ok := hs[e.Conn]
			if !ok || !(h > 0) {
				return fmt.Errorf("connection %d: no handshake time", e.Conn)
			}
			rec.Conns = append(rec.Conns, 0)
			rec.HandshakeNs = append(rec.HandshakeNs, h)
		}
		last = e.Conn
		rec.Conns[len(rec.Conns)-1]++
		rec.EchoNs = append(rec.EchoNs, e.Ns)
	}
	return nil
}

// machine describes this machine.
func machine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
