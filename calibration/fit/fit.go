package fit

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/profile"
)

// Defaults of Options.
const (
	DefaultReservoir   = 20_000
	DefaultLowest      = 4096
	DefaultHardCapNs   = 10e9 // 10 s
	DefaultTrimFactor  = 10
	DefaultFloorMargin = 0.05
	DefaultMaxGroups   = 10_000
)

// Errors; test them with errors.Is.
var (
	// ErrOptions: an option is out of range or missing.
	ErrOptions = errors.New("invalid fit options")
	// ErrSample: a sample cannot be used (missing names, non-finite or
	// non-positive round trip, a vantage that moved).
	ErrSample = errors.New("invalid sample")
	// ErrNoLocation: the endpoint's coordinates are unknown.
	ErrNoLocation = errors.New("endpoint coordinates unknown")
	// ErrTooManyGroups: more (provider, region, endpoint, method, origin,
	// vantage) groups than Options.MaxGroups.
	ErrTooManyGroups = errors.New("too many profile groups")
	// ErrNoSamples: the source held no usable sample.
	ErrNoSamples = errors.New("no samples")
)

// Source yields samples one at a time; Read returns io.EOF after the last.
// *dataset.Reader and this package's CSVReader implement it.
type Source interface {
	Read() (dataset.Sample, error)
}

// Locator returns an endpoint's coordinates, typically from the endpoint
// catalog's entry of that name (datasets.Catalog.Lookup, Lat and Lon).
type Locator func(provider, region, endpoint string) (profile.Location, bool)

// Options configure a fit. The zero value of every field but Locate is a
// documented default.
type Options struct {
	// Locate gives each endpoint's coordinates (required: a profile must
	// state them for the verifier's distance discs).
	Locate Locator
	// Clock selects the round trip fitted: ClockCounter (RTTNs, the
	// default) or ClockKernel (RTTKernelNs; samples without a kernel
	// stamp are skipped).
	Clock profile.Clock
	// RelErr is the quantile sketch's relative error (DefaultRelErr).
	RelErr float64
	// Reservoir is the size of the uniform subsample kept per group for
	// the Anderson–Darling statistic (DefaultReservoir).
	Reservoir int
	// Lowest is how many of the smallest round trips each group keeps
	// exactly (DefaultLowest): quantiles of rank below it are exact order
	// statistics, not sketch values, so the low tail — where thresholds
	// and false-accept rates live, and where the sketch's relative error
	// is largest against the spread above the floor — carries no rounding.
	Lowest int
	// Seed seeds the reservoirs (PCG, per group mixed with the group's
	// key), so a fit is reproducible; zero is a seed like any other.
	Seed uint64
	// HardCapNs drops samples above it before anything else
	// (DefaultHardCapNs).
	HardCapNs float64
	// TrimFactor drops samples above TrimFactor × p99.9 from the
	// quantiles and the fit (DefaultTrimFactor); NoTrim keeps them.
	TrimFactor float64
	NoTrim     bool
	// FloorMargin sets the "too fast" floor to min(best model's shift,
	// min × (1 − FloorMargin)) (DefaultFloorMargin).
	FloorMargin float64
	// Families lists the models to fit (default: log-normal and gamma).
	Families []profile.Family
	// MaxGroups bounds the groups, and so the memory (DefaultMaxGroups).
	MaxGroups int
	// DropSmall drops groups with fewer than profile.MinSamples kept
	// samples (noting them in the provenance) instead of failing.
	DropSmall bool
	// Provenance is copied into the file; Generator defaults to
	// "poc calibration/fit".
	Provenance profile.Provenance
}

func (o *Options) normalise() error {
	if o.Locate == nil {
		return fmt.Errorf("%w: Locate is required (profiles state endpoint coordinates)", ErrOptions)
	}
	if o.Clock == "" {
		o.Clock = profile.ClockCounter
	}
	if o.Clock != profile.ClockCounter && o.Clock != profile.ClockKernel {
		return fmt.Errorf("%w: clock %q", ErrOptions, o.Clock)
	}
	if o.RelErr == 0 {
		o.RelErr = DefaultRelErr
	}
	if !(o.RelErr > 0 && o.RelErr <= MaxRelErr) {
		return fmt.Errorf("%w: relative error %v not in (0, %v]", ErrOptions, o.RelErr, MaxRelErr)
	}
	if o.Reservoir == 0 {
		o.Reservoir = DefaultReservoir
	}
	if o.Reservoir < 0 || o.Reservoir > 10_000_000 {
		return fmt.Errorf("%w: reservoir %d", ErrOptions, o.Reservoir)
	}
	if o.Lowest == 0 {
		o.Lowest = DefaultLowest
	}
	if o.Lowest < 0 || o.Lowest > 10_000_000 {
		return fmt.Errorf("%w: lowest %d", ErrOptions, o.Lowest)
	}
	if o.HardCapNs == 0 {
		o.HardCapNs = DefaultHardCapNs
	}
	if !(o.HardCapNs > 0 && o.HardCapNs <= SketchMax) {
		return fmt.Errorf("%w: hard cap %v ns", ErrOptions, o.HardCapNs)
	}
	if o.TrimFactor == 0 {
		o.TrimFactor = DefaultTrimFactor
	}
	if !(o.TrimFactor >= 1 && o.TrimFactor <= 1e6) {
		return fmt.Errorf("%w: trim factor %v (want at least 1)", ErrOptions, o.TrimFactor)
	}
	if o.NoTrim {
		o.TrimFactor = 0
	}
	if o.FloorMargin == 0 {
		o.FloorMargin = DefaultFloorMargin
	}
	if !(o.FloorMargin > 0 && o.FloorMargin < 1) {
		return fmt.Errorf("%w: floor margin %v not in (0, 1)", ErrOptions, o.FloorMargin)
	}
	if o.Families == nil {
		o.Families = []profile.Family{profile.FamilyLogNormal, profile.FamilyGamma}
	}
	for _, f := range o.Families {
		if f != profile.FamilyLogNormal && f != profile.FamilyGamma {
			return fmt.Errorf("%w: family %q", ErrOptions, f)
		}
	}
	if o.MaxGroups == 0 {
		o.MaxGroups = DefaultMaxGroups
	}
	if o.MaxGroups < 0 {
		return fmt.Errorf("%w: max groups %d", ErrOptions, o.MaxGroups)
	}
	if o.Provenance.Generator == "" {
		o.Provenance.Generator = "poc calibration/fit"
	}
	return nil
}

// SampleError is a sample the fitter refused; it names the sample.
type SampleError struct {
	Campaign string
	Seq      uint64
	Err      error
}

func (e *SampleError) Error() string {
	return fmt.Sprintf("sample %s#%d: %v", e.Campaign, e.Seq, e.Err)
}

func (e *SampleError) Unwrap() error { return e.Err }

// groupKey is what one profile describes.
type groupKey struct {
	profile.Key
	origin  profile.Origin
	vantage string
}

func (k groupKey) String() string {
	return fmt.Sprintf("%s (%s, vantage %s)", k.Key, k.origin, k.vantage)
}

// acc accumulates one distribution in bounded memory: a quantile sketch,
// the smallest values exactly, Welford's running moments, the exact
// extremes and a uniform reservoir.
type acc struct {
	sketch    *Sketch
	n         uint64
	mean, m2  float64
	min, max  float64
	reservoir []float64
	rng       *rand.Rand
	lowest    maxHeap // the smallest values
}

func newAcc(relErr float64, rng *rand.Rand) (acc, error) {
	sk, err := NewSketch(relErr)
	if err != nil {
		return acc{}, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return acc{sketch: sk, min: math.Inf(1), max: math.Inf(-1), rng: rng}, nil
}

// group accumulates one profile's samples in bounded memory: the round
// trips (acc) and the connections they came on (conns).
type group struct {
	key     groupKey
	vantage profile.Vantage
	acc
	aboveCap    uint64
	first, last time.Time
	conns       connLevels
}

// Fitter fits profiles from samples added one at a time; memory is bounded
// by the number of groups, not of samples: per group one sketch (tens of
// KB), one reservoir (8 bytes × Options.Reservoir) and a few numbers.
type Fitter struct {
	opts   Options
	groups map[groupKey]*group
	// failures counts failed attempts per group; Method "" holds the
	// failures of method "auto", which count for every method.
	failures map[groupKey]uint64
	skipped  uint64 // kernel clock: samples without a kernel stamp
	last     *group // the group of the last sample added
}

// NewFitter returns a Fitter; see Options for the defaults.
func NewFitter(opts Options) (*Fitter, error) {
	if err := opts.normalise(); err != nil {
		return nil, err
	}
	return &Fitter{opts: opts, groups: map[groupKey]*group{}, failures: map[groupKey]uint64{}}, nil
}

// Add adds one sample. A sample with Error set counts as a failure of its
// group and is otherwise excluded: a failure whose method is "auto" (no
// connection said which method applied) counts for every method of its
// endpoint, and a probe skipped while its endpoint backs off (ErrorKind
// "backoff") is no attempt and is not counted. A measured sample must name
// its endpoint, method, origin and vantage and carry a positive, finite
// round trip; anything else is a *SampleError wrapping ErrSample.
func (f *Fitter) Add(s dataset.Sample) error {
	bad := func(format string, a ...any) error {
		return &SampleError{Campaign: s.Campaign, Seq: s.Seq, Err: fmt.Errorf("%w: "+format, append([]any{ErrSample}, a...)...)}
	}
	if s.Endpoint == "" || s.Vantage == "" {
		return bad("endpoint and vantage are required")
	}
	origin := profile.Origin(s.Origin)
	if origin != profile.OriginLab && origin != profile.OriginReal {
		return bad("origin %q (want lab or real)", s.Origin)
	}
	if !profile.ValidLocation(profile.Location{Lat: s.VantageLat, Lon: s.VantageLon}) {
		return bad("vantage coordinates %v,%v", s.VantageLat, s.VantageLon)
	}
	key := groupKey{Key: profile.Key{Provider: s.Provider, Region: s.Region, Endpoint: s.Endpoint, Method: s.Method}, origin: origin, vantage: s.Vantage}
	if s.Error != "" {
		switch {
		case s.ErrorKind == dataset.ErrorKindBackoff:
			return nil
		case s.Method == dataset.MethodAuto:
			key.Method = ""
		case s.Method != dataset.MethodH2Ping && s.Method != dataset.MethodHTTP1:
			return bad("method %q (want h2-ping, http1 or, for a failure, auto)", s.Method)
		}
		if _, ok := f.failures[key]; !ok && len(f.failures) >= f.opts.MaxGroups {
			return &SampleError{Campaign: s.Campaign, Seq: s.Seq, Err: fmt.Errorf("%w: failures of more than %d groups", ErrTooManyGroups, f.opts.MaxGroups)}
		}
		f.failures[key]++
		return nil
	}
	if s.Method != dataset.MethodH2Ping && s.Method != dataset.MethodHTTP1 {
		return bad("method %q (want h2-ping or http1)", s.Method)
	}
	g, err := f.group(key, s)
	if err != nil {
		return &SampleError{Campaign: s.Campaign, Seq: s.Seq, Err: err}
	}
	if g.vantage.Lat != s.VantageLat || g.vantage.Lon != s.VantageLon {
		return bad("vantage %s moved from %v,%v to %v,%v", s.Vantage, g.vantage.Lat, g.vantage.Lon, s.VantageLat, s.VantageLon)
	}
	x := s.RTTNs
	if f.opts.Clock == profile.ClockKernel {
		if s.RTTKernelNs == 0 {
			f.skipped++
			g.conns.skip(&s, &f.opts)
			return nil
		}
		x = float64(s.RTTKernelNs)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
		return bad("round trip %v ns (want a positive number)", x)
	}
	g.conns.add(&s, x, &f.opts)
	if !s.Time.IsZero() {
		if g.first.IsZero() || s.Time.Before(g.first) {
			g.first = s.Time
		}
		if s.Time.After(g.last) {
			g.last = s.Time
		}
	}
	if x > f.opts.HardCapNs {
		g.aboveCap++
		return nil
	}
	g.add(x, f.opts.Reservoir, f.opts.Lowest)
	return nil
}

func (f *Fitter) group(key groupKey, s dataset.Sample) (*group, error) {
	// Samples come in runs of one endpoint (a probe's K echoes): comparing
	// with the last group is cheaper than hashing six strings.
	if f.last != nil && f.last.key == key {
		return f.last, nil
	}
	if g, ok := f.groups[key]; ok {
		f.last = g
		return g, nil
	}
	if len(f.groups) >= f.opts.MaxGroups {
		return nil, fmt.Errorf("%w: more than %d", ErrTooManyGroups, f.opts.MaxGroups)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", key.Provider, key.Region, key.Endpoint, key.Method, key.origin, key.vantage)
	a, err := newAcc(f.opts.RelErr, rand.New(rand.NewPCG(f.opts.Seed, h.Sum64())))
	if err != nil {
		return nil, err
	}
	g := &group{
		key: key,
		vantage: profile.Vantage{Name: s.Vantage, Provider: s.VantageProvider, Region: s.VantageRegion,
			Lat: s.VantageLat, Lon: s.VantageLon},
		acc:   a,
		conns: connLevels{seed: f.opts.Seed ^ h.Sum64()},
	}
	f.groups[key] = g
	f.last = g
	return g, nil
}

// add streams one value into the accumulator: the sketch, the lowest
// values, Welford's running mean and sum of squared deviations, min and
// max, and reservoir sampling (Vitter's algorithm R: the i-th value
// replaces a random slot with probability size/i, leaving a uniform
// subsample).
func (g *acc) add(x float64, size, lowest int) {
	g.sketch.Add(x)
	g.lowest.keep(x, lowest)
	g.n++
	d := x - g.mean
	g.mean += d / float64(g.n)
	g.m2 += d * (x - g.mean)
	if x < g.min {
		g.min = x
	}
	if x > g.max {
		g.max = x
	}
	switch {
	case size == 0:
	case len(g.reservoir) < size:
		if g.reservoir == nil {
			g.reservoir = make([]float64, 0, min(size, 1024))
		}
		g.reservoir = append(g.reservoir, x)
	default:
		if j := g.rng.Uint64N(g.n); j < uint64(size) {
			g.reservoir[j] = x
		}
	}
}

// Fit reads src to its end and fits one profile per (provider, region,
// endpoint, method, origin, vantage). See the package documentation for
// the statistics.
func Fit(src Source, opts Options) (*profile.File, error) {
	f, err := NewFitter(opts)
	if err != nil {
		return nil, err
	}
	for {
		s, err := src.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading samples: %w", err)
		}
		if err := f.Add(s); err != nil {
			return nil, fmt.Errorf("fitting: %w", err)
		}
	}
	return f.File()
}

// File fits every group and returns the profiles, sorted by key, origin and
// vantage. A group with fewer than profile.MinSamples kept samples is an
// error wrapping profile.ErrTooFewSamples that names it, unless
// Options.DropSmall.
func (f *Fitter) File() (*profile.File, error) {
	keys := make([]groupKey, 0, len(f.groups))
	for k := range f.groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Method, b.Method),
			cmp.Compare(a.origin, b.origin), cmp.Compare(a.vantage, b.vantage))
	})
	out := &profile.File{Version: profile.Version, Provenance: f.opts.Provenance}
	out.Provenance.Sources = slices.Clone(out.Provenance.Sources)
	var dropped, thin []string
	for _, k := range keys {
		p, err := f.fitGroup(f.groups[k])
		if errors.Is(err, profile.ErrTooFewSamples) && f.opts.DropSmall {
			dropped = append(dropped, k.String())
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fitting profile %s: %w", k, err)
		}
		if c := &f.groups[k].conns; c.longest >= 2 && len(p.ConnMins) == 0 {
			thin = append(thin, fmt.Sprintf("%s (%d connections)", k, c.connections))
		}
		out.Profiles = append(out.Profiles, *p)
	}
	var orphans uint64
	for k, n := range f.failures {
		if _, ok := f.groups[k]; ok {
			continue
		}
		if k.Method == "" {
			k.Method = dataset.MethodH2Ping
			_, h2 := f.groups[k]
			k.Method = dataset.MethodHTTP1
			if _, h1 := f.groups[k]; h2 || h1 {
				continue
			}
		}
		orphans += n
	}
	if orphans > 0 {
		out.Provenance.Notes = joinNote(out.Provenance.Notes, fmt.Sprintf("%d failed attempts of endpoints without measured samples", orphans))
	}
	if len(dropped) > 0 {
		out.Provenance.Notes = joinNote(out.Provenance.Notes, fmt.Sprintf("dropped for fewer than %d samples: %v", profile.MinSamples, dropped))
	}
	if len(thin) > 0 {
		out.Provenance.Notes = joinNote(out.Provenance.Notes, fmt.Sprintf("no connection level has %d connections, so verdicts fall back to the per-echo model: %v", profile.MinConnections, thin))
	}
	if f.skipped > 0 {
		out.Provenance.Notes = joinNote(out.Provenance.Notes, fmt.Sprintf("%d samples without a kernel timestamp skipped", f.skipped))
	}
	if len(out.Profiles) == 0 {
		return nil, fmt.Errorf("%w: no group has %d usable samples", ErrNoSamples, profile.MinSamples)
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("fitted profiles do not validate: %w", err)
	}
	return out, nil
}

// failuresOf returns the failures of a group's key and of its endpoint's
// method-less ("auto") attempts.
func (f *Fitter) failuresOf(k groupKey) uint64 {
	n := f.failures[k]
	k.Method = ""
	return n + f.failures[k]
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// fitGroup turns one group's streamed state into a profile: trims high
// outliers, reads the quantile grid, fits each family, measures the fit,
// and sets the floor.
func (f *Fitter) fitGroup(g *group) (*profile.Profile, error) {
	loc, ok := f.opts.Locate(g.key.Provider, g.key.Region, g.key.Endpoint)
	if !ok || !profile.ValidLocation(loc) {
		return nil, fmt.Errorf("%w: %s", ErrNoLocation, g.key.Key)
	}
	p := &profile.Profile{
		Provider: g.key.Provider, Region: g.key.Region, Endpoint: g.key.Endpoint, Method: g.key.Method,
		Clock: f.opts.Clock, Origin: g.key.origin, Vantage: g.vantage, EndpointLocation: loc,
		Failures: f.failuresOf(g.key), FirstSample: g.first.UTC(), LastSample: g.last.UTC(),
		SketchRelErr: g.sketch.RelErr(),
		Outliers:     profile.Outliers{HardCapNs: f.opts.HardCapNs, AboveCap: g.aboveCap, TrimFactor: f.opts.TrimFactor},
	}
	if g.first.IsZero() {
		p.FirstSample, p.LastSample = time.Time{}, time.Time{}
	}
	if g.n < profile.MinSamples {
		return nil, fmt.Errorf("%w: %d kept samples (at least %d)", profile.ErrTooFewSamples, g.n, profile.MinSamples)
	}
	p.MeanNs = g.mean
	p.StddevNs = math.Sqrt(g.m2 / float64(g.n-1))
	p.MinNs, p.MaxNs = g.min, g.max

	// High outliers: drop what lies far above p99.9. Trimming works on the
	// sketch's buckets, so the effective cut is the bucket edge at or above
	// TrimFactor × p99.9, and MaxNs becomes min(max, that edge).
	// Work on copies, so that File can be called again.
	sk := g.sketch.Clone()
	reservoir := slices.Clone(g.reservoir)
	if f.opts.TrimFactor > 0 {
		cut := f.opts.TrimFactor * sk.Quantile(0.999)
		removed, edge := sk.TrimAbove(cut)
		p.Outliers.TrimNs = edge
		p.Outliers.AboveTrim = removed
		if removed > 0 {
			p.MaxNs = math.Min(g.max, edge)
			reservoir = slices.DeleteFunc(reservoir, func(x float64) bool { return x > edge })
		}
	}
	p.Count = sk.Count()
	if p.Count < profile.MinSamples {
		return nil, fmt.Errorf("%w: %d samples left after trimming (at least %d)", profile.ErrTooFewSamples, p.Count, profile.MinSamples)
	}

	d := f.describe(sk, g.lowest, reservoir, p.MinNs, p.MaxNs)
	p.Quantiles, p.Models = d.quantiles, d.models

	// Low outliers are kept; flag them.
	p01, _ := p.Quantile(0.01)
	p.Outliers.LowNs = p01 - (d.median - p01)
	p.Outliers.Low = countAtMost(d.low, sk, p.Outliers.LowNs)
	p.Outliers.MinFarBelowP01 = p.MinNs < p.Outliers.LowNs

	p.ConnMins = f.connMins(g)
	g.conns.closeProbe(&f.opts)
	p.ProbeMins = f.probeMins(g)

	margin := p.MinNs * (1 - f.opts.FloorMargin)
	p.FloorNs = margin
	p.FloorRule = fmt.Sprintf("min_ns × (1 − %g)", f.opts.FloorMargin)
	if m := p.Model(); m != nil {
		p.FloorNs = math.Min(margin, m.ShiftNs)
		p.FloorRule = fmt.Sprintf("min(shift_ns of the best model, min_ns × (1 − %g))", f.opts.FloorMargin)
	}
	return p, nil
}

// description is a distribution's quantiles and fitted models.
type description struct {
	quantiles []profile.Quantile
	models    []profile.Model
	median    float64
	low       []float64 // the lowest values, sorted
}

// describe states the quantiles of the values in sk (the lowest of them
// also in lowest, exactly) with extremes minNs and maxNs, fits every family
// to them and measures each fit, against the sketch and against the
// reservoir (a uniform subsample). It leaves its arguments unchanged.
func (f *Fitter) describe(sk *Sketch, lowest maxHeap, reservoir []float64, minNs, maxNs float64) description {
	// Quantiles: every grid point the count supports, exact where the rank
	// falls among the lowest values kept, otherwise from the sketch
	// clamped into [min, max] (its representative may sit a factor 1±α
	// outside the exact extremes).
	var d description
	n := float64(sk.Count())
	d.low = slices.Clone(lowest)
	slices.Sort(d.low)
	quantile := func(prob float64) (float64, bool) {
		if rank := int(math.Floor(prob * (n - 1))); rank < len(d.low) {
			return d.low[rank], true
		}
		return math.Min(math.Max(sk.Quantile(prob), minNs), maxNs), false
	}
	var pts []point
	for _, prob := range profile.Grid {
		if n*math.Min(prob, 1-prob) < 1 {
			continue
		}
		q, exact := quantile(prob)
		d.quantiles = append(d.quantiles, profile.Quantile{P: prob, Ns: q})
		if n*math.Min(prob, 1-prob) >= MinGridCount {
			pts = append(pts, point{p: prob, q: q, exact: exact})
		}
	}
	weigh(pts, n, sk.RelErr())
	d.median, _ = quantile(0.5)

	sorted := slices.Clone(reservoir)
	slices.Sort(sorted)
	for _, fam := range f.opts.Families {
		m, err := fitFamily(fam, pts, minNs)
		if err != nil {
			continue // the profile states the families that fit
		}
		m.GoF.KS, m.GoF.KSLow, m.GoF.KSBucketMass = ks(&m, sk, d.median)
		m.GoF.AD = andersonDarling(&m, sorted)
		m.GoF.ADSamples = len(sorted)
		d.models = append(d.models, m)
	}
	slices.SortStableFunc(d.models, func(a, b profile.Model) int { return cmp.Compare(a.GoF.Objective, b.GoF.Objective) })
	return d
}

// maxHeap keeps the smallest values seen, up to a size, with the largest
// of them on top.
type maxHeap []float64

// keep adds x if the heap has room or x is below its largest value.
func (h *maxHeap) keep(x float64, size int) {
	a := *h
	switch {
	case size == 0:
		return
	case len(a) < size:
		a = append(a, x)
		for i := len(a) - 1; i > 0; { // sift up
			parent := (i - 1) / 2
			if a[parent] >= a[i] {
				break
			}
			a[parent], a[i] = a[i], a[parent]
			i = parent
		}
	case x < a[0]:
		a[0] = x
		for i := 0; ; { // sift down
			l, r, big := 2*i+1, 2*i+2, i
			if l < len(a) && a[l] > a[big] {
				big = l
			}
			if r < len(a) && a[r] > a[big] {
				big = r
			}
			if big == i {
				break
			}
			a[i], a[big] = a[big], a[i]
			i = big
		}
	}
	*h = a
}

// countAtMost counts kept values ≤ x: exactly from the sorted lowest values
// when x lies below their largest, otherwise from the sketch (to its bucket
// resolution).
func countAtMost(low []float64, sk *Sketch, x float64) uint64 {
	if len(low) > 0 && x < low[len(low)-1] {
		n, _ := slices.BinarySearch(low, math.Nextafter(x, math.Inf(1)))
		return uint64(n)
	}
	return sk.CountAtMost(x)
}
