package profile

import (
	"fmt"
	"slices"
	"time"
)

// Version is the profile-file schema this package writes. It reads every
// version from MinVersion to Version: version 2 added the connection-level
// description (Profile.ConnMins); a version-1 file, which cannot carry it,
// still reads, and verdicts on its profiles fall back to the per-echo model.
const Version = 2

// MinVersion is the oldest schema this package reads.
const MinVersion = 1

// Limits on what Read accepts.
const (
	// MaxFileBytes bounds a profile file.
	MaxFileBytes = 64 << 20
	// MaxProfiles bounds the profiles in one file.
	MaxProfiles = 100_000
	// MaxQuantiles bounds the quantiles of one profile.
	MaxQuantiles = 128
	// MaxModels bounds the models of one profile.
	MaxModels = 8
	// MaxString bounds every name in a profile.
	MaxString = 256
	// MinSamples is the fewest kept samples a profile may rest on: with
	// fewer, its 0.1% quantile is not an interior order statistic.
	MinSamples = 1000
	// MinConnections is the fewest connections a connection level (ConnMin)
	// may rest on: with fewer, its 1% and 99% quantiles are not interior
	// order statistics.
	MinConnections = 100
	// MaxConnLevels bounds the connection levels of one profile.
	MaxConnLevels = 32
	// MaxConnK bounds a connection level's echoes per connection.
	MaxConnK = 1 << 20
	// MaxProbeLevels bounds the probe levels (ProbeMins) of one profile,
	// and MaxProbeConns the connections of one probe level's shape.
	MaxProbeLevels = 8
	MaxProbeConns  = 64
)

// Origin says where a profile's samples were measured.
type Origin string

// Origins.
const (
	// OriginLab: the loopback lab, whose delays are emulated.
	OriginLab Origin = "lab"
	// OriginReal: a vantage in a real cloud region.
	OriginReal Origin = "real"
)

// Clock says which clock timed a profile's round trips.
type Clock string

// Clocks.
const (
	// ClockCounter: the CPU cycle counter converted with the stated
	// frequency (dataset.Sample.RTTNs). This is what proofs carry.
	ClockCounter Clock = "counter"
	// ClockKernel: the kernel's receive timestamps
	// (dataset.Sample.RTTKernelNs).
	ClockKernel Clock = "kernel"
)

// Family names a fitted model.
type Family string

// Model families.
const (
	// FamilyLogNormal: ln(x − ShiftNs) ~ N(Mu, Sigma²), x in ns.
	FamilyLogNormal Family = "shifted-lognormal"
	// FamilyGamma: x − ShiftNs ~ Gamma(shape Alpha, rate Beta per ns).
	FamilyGamma Family = "shifted-gamma"
)

// File is a set of profiles with its provenance.
type File struct {
	Version    int        `json:"version"`
	Provenance Provenance `json:"provenance"`
	Profiles   []Profile  `json:"profiles"`
}

// Provenance says how a profile file was made.
type Provenance struct {
	// Generator names the program and its settings.
	Generator string `json:"generator"`
	// Created is when the file was written (UTC).
	Created time.Time `json:"created,omitzero"`
	// Sources lists the datasets read (file names, campaign ids).
	Sources []string `json:"sources,omitempty"`
	// Notes is free text for people.
	Notes string `json:"notes,omitempty"`
}

// Location is a point on the Earth, in degrees.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Vantage is where the calibration samples were measured.
type Vantage struct {
	Name     string  `json:"name"`
	Provider string  `json:"provider,omitempty"`
	Region   string  `json:"region,omitempty"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
}

// Location returns the vantage's coordinates.
func (v Vantage) Location() Location { return Location{Lat: v.Lat, Lon: v.Lon} }

// Quantile is one empirical quantile: a fraction P of the kept samples lie
// at or below Ns (within the sketch's relative error).
type Quantile struct {
	P  float64 `json:"p"`
	Ns float64 `json:"ns"`
}

// GoF is a model's goodness of fit.
type GoF struct {
	// Method names how the parameters were estimated.
	Method string `json:"method"`
	// Objective is the minimised distance: the mean over the fitting grid
	// of (F(q_i) − p_i)² divided by its variance (binomial sampling plus
	// the sketch's rounding of q_i). About 1 or below when the model is
	// the true distribution; much larger means misfit.
	Objective float64 `json:"objective"`
	// GridPoints is how many quantiles the fit used.
	GridPoints int `json:"grid_points"`
	// KS is the Kolmogorov–Smirnov statistic |F_n − F| against every kept
	// sample, its supremum taken over the sketch's bucket edges, where the
	// empirical CDF F_n is exact. The supremum over all x lies between KS
	// and KS + KSBucketMass, the model's largest probability in one
	// occupied bucket.
	KS           float64 `json:"ks"`
	KSBucketMass float64 `json:"ks_bucket_mass"`
	// KSLow is the same supremum over edges at or below the median, the
	// part of the distribution the verdict uses.
	KSLow float64 `json:"ks_low"`
	// AD is the Anderson–Darling statistic A² on a uniform random
	// subsample of ADSamples kept samples.
	AD        float64 `json:"ad"`
	ADSamples int     `json:"ad_samples"`
}

// Model is a fitted shifted distribution of the round trip in ns.
type Model struct {
	Family Family `json:"family"`
	// ShiftNs is the model's floor: it gives no probability below it.
	ShiftNs float64 `json:"shift_ns"`
	// Mu and Sigma parametrise FamilyLogNormal.
	Mu    float64 `json:"mu,omitempty"`
	Sigma float64 `json:"sigma,omitempty"`
	// Alpha (shape) and Beta (rate, per ns) parametrise FamilyGamma.
	Alpha float64 `json:"alpha,omitempty"`
	Beta  float64 `json:"beta,omitempty"`
	GoF   GoF     `json:"gof"`
}

// Outliers records how outliers were handled.
type Outliers struct {
	// HardCapNs: samples above it were dropped before anything else.
	HardCapNs float64 `json:"hard_cap_ns"`
	AboveCap  uint64  `json:"above_cap"`
	// TrimFactor and TrimNs: samples above TrimNs = TrimFactor × p99.9 (of
	// the samples under the cap) were dropped from the quantiles and the
	// fit. Zero TrimFactor: no trimming.
	TrimFactor float64 `json:"trim_factor"`
	TrimNs     float64 `json:"trim_ns"`
	AboveTrim  uint64  `json:"above_trim"`
	// LowNs = p1 − (p50 − p1): kept samples below it are low outliers.
	// They are never dropped; Low counts them (to the sketch's
	// resolution) and MinFarBelowP01 says the minimum is one of them.
	LowNs          float64 `json:"low_ns"`
	Low            uint64  `json:"low"`
	MinFarBelowP01 bool    `json:"min_far_below_p01"`
}

// Profile is the calibrated round-trip distribution of one endpoint, echo
// method and vantage. All times are nanoseconds.
type Profile struct {
	Provider string `json:"provider"`
	Region   string `json:"region"`
	Endpoint string `json:"endpoint"`
	// Method is the echo method: "h2-ping" or "http1".
	Method string `json:"method"`
	Clock  Clock  `json:"clock"`
	Origin Origin `json:"origin"`

	Vantage          Vantage  `json:"vantage"`
	EndpointLocation Location `json:"endpoint_location"`

	// Count is the samples kept (measured, under the cap, not trimmed);
	// Failures the attempts that recorded an error.
	Count    uint64 `json:"count"`
	Failures uint64 `json:"failures"`
	// FirstSample and LastSample bound the samples' times when known.
	FirstSample time.Time `json:"first_sample,omitzero"`
	LastSample  time.Time `json:"last_sample,omitzero"`

	// MinNs is exact over the kept samples; so is MaxNs unless trimming
	// dropped samples, when it is the trim edge if that is lower. MeanNs and
	// StddevNs are over every sample under the hard cap (trimmed ones
	// included: moments are streamed before p99.9 is known).
	MinNs    float64 `json:"min_ns"`
	MaxNs    float64 `json:"max_ns"`
	MeanNs   float64 `json:"mean_ns"`
	StddevNs float64 `json:"stddev_ns"`

	// Quantiles are in increasing P: the kept sample of rank ⌊P·(Count−1)⌋
	// (0-based), exact for the lowest ranks (the fitter keeps the smallest
	// samples exactly) and otherwise within a relative error SketchRelErr.
	Quantiles    []Quantile `json:"quantiles"`
	SketchRelErr float64    `json:"sketch_rel_err"`

	// Models are the fitted models, best first; empty when no family fit.
	Models []Model `json:"models,omitempty"`

	// FloorNs is the "too fast" floor, FloorRule how it was chosen.
	FloorNs   float64 `json:"floor_ns"`
	FloorRule string  `json:"floor_rule"`

	Outliers Outliers `json:"outliers"`

	// ConnMins describe the connection, not the echo, as the independent
	// unit (schema version 2): level k is the distribution of the fastest
	// of a connection's first k echoes, measured on every calibration
	// connection that had at least k. Sorted by increasing K; empty in
	// version-1 files and when the samples did not show connections.
	ConnMins []ConnMin `json:"conn_min,omitempty"`
	// ProbeMins describe whole probes (schema version 2): a probe level is
	// the distribution of the fastest echo of a probe whose connections
	// had the sizes Conns, one value per calibration probe of that shape.
	// Connections opened back to back by one probe share slow periods of
	// the prover's machine and path, so they are not independent; a probe
	// level measures that dependence instead of assuming it away. At most
	// MaxProbeLevels, in no particular order, each shape once.
	ProbeMins []ConnMin `json:"probe_min,omitempty"`
}

// ConnMin is one connection level: the distribution of M_K, the smallest
// round trip among the first K echoes of one connection, with one value per
// calibration connection that carried at least K echoes.
//
// Why the connection: echoes of one connection share its path and its
// server-side state (ECMP gives each TCP flow its own path; a busy core
// delays every echo of the connection it serves), so they are not
// independent draws, while separate connections nearly are. Counting prefix
// minima rather than whole connections makes levels nest exactly: the first
// k′ ≤ k echoes are among the first k, so M_k ≤ M_k′ on every connection,
// and a verifier can bound a connection of any size by the levels around it
// without a model of how echoes within a connection depend on each other.
// The first echoes' warm-up (a connection's first round trips are slower)
// is inside every level, as it is inside every proof's connections.
type ConnMin struct {
	// K is the echoes per connection the level describes (for a probe
	// level, the probe's echoes, the sum of Conns).
	K int `json:"k"`
	// Conns, for a probe level only, are the sizes of the probe's
	// connections in order.
	Conns []int `json:"conns,omitempty"`
	// Connections is how many calibration connections it rests on (for a
	// probe level, how many probes).
	Connections uint64 `json:"connections"`
	// MinNs and MaxNs are the exact extremes of M_K; MeanNs and StddevNs
	// its moments.
	MinNs    float64 `json:"min_ns"`
	MaxNs    float64 `json:"max_ns"`
	MeanNs   float64 `json:"mean_ns"`
	StddevNs float64 `json:"stddev_ns"`
	// Quantiles of M_K, in increasing P, with the profile's rules (rank
	// ⌊P·(Connections−1)⌋, exact for low ranks, otherwise within the
	// profile's SketchRelErr); p 0.01, 0.05, 0.5, 0.95 and 0.99 are
	// required.
	Quantiles []Quantile `json:"quantiles"`
	// Models are shifted models of M_K fitted as the profile's are, best
	// first, each with its goodness of fit against the level's values.
	Models []Model `json:"models,omitempty"`
}

// Model returns the level's best model, or nil when it has none.
func (c *ConnMin) Model() *Model {
	if len(c.Models) == 0 {
		return nil
	}
	return &c.Models[0]
}

// Quantile returns the level's stated quantile at exactly prob, if present.
func (c *ConnMin) Quantile(prob float64) (float64, bool) {
	for _, q := range c.Quantiles {
		if q.P == prob {
			return q.Ns, true
		}
	}
	return 0, false
}

// ConnAtMost returns the connection level with the largest K ≤ k, or nil.
// Its M_K is never faster than a k-echo connection's minimum, so its
// survival function bounds the k-echo one from above: the side that keeps
// a false-reject rate from being understated.
func (p *Profile) ConnAtMost(k int) *ConnMin {
	var out *ConnMin
	for i := range p.ConnMins {
		if p.ConnMins[i].K <= k {
			out = &p.ConnMins[i]
		}
	}
	return out
}

// ProbeLevel returns the probe level of exactly this shape (connection
// sizes in order), or nil.
func (p *Profile) ProbeLevel(conns []int) *ConnMin {
	for i := range p.ProbeMins {
		if slices.Equal(p.ProbeMins[i].Conns, conns) {
			return &p.ProbeMins[i]
		}
	}
	return nil
}

// ConnAtLeast returns the connection level with the smallest K ≥ k, or nil.
// Its M_K is never slower than a k-echo connection's minimum, so its CDF
// bounds the k-echo one from above: the side that keeps a false-accept
// rate from being understated.
func (p *Profile) ConnAtLeast(k int) *ConnMin {
	for i := range p.ConnMins {
		if p.ConnMins[i].K >= k {
			return &p.ConnMins[i]
		}
	}
	return nil
}

// Key identifies what a profile describes.
type Key struct {
	Provider, Region, Endpoint, Method string
}

// String returns provider/region/endpoint/method.
func (k Key) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.Provider, k.Region, k.Endpoint, k.Method)
}

// Key returns the profile's key.
func (p *Profile) Key() Key {
	return Key{Provider: p.Provider, Region: p.Region, Endpoint: p.Endpoint, Method: p.Method}
}

// Name identifies the profile in messages: its key, origin and vantage.
func (p *Profile) Name() string {
	return fmt.Sprintf("%s (%s, vantage %s)", p.Key(), p.Origin, p.Vantage.Name)
}

// Model returns the best model, or nil when the profile has none.
func (p *Profile) Model() *Model {
	if len(p.Models) == 0 {
		return nil
	}
	return &p.Models[0]
}

// Quantile returns the stated quantile at exactly prob, if present.
func (p *Profile) Quantile(prob float64) (float64, bool) {
	for _, q := range p.Quantiles {
		if q.P == prob {
			return q.Ns, true
		}
	}
	return 0, false
}

// Grid is the quantile grid fitters state, from which each profile keeps
// the quantiles its sample count supports (n·min(p, 1−p) ≥ 1).
var Grid = []float64{
	0.0001, 0.0002, 0.0005,
	0.001, 0.002, 0.005,
	0.01, 0.02, 0.03, 0.05, 0.075,
	0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45,
	0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
	0.925, 0.95, 0.97, 0.98, 0.99, 0.995,
	0.998, 0.999, 0.9995, 0.9998, 0.9999,
}

// Required are the quantiles every profile must state.
var Required = []float64{0.001, 0.01, 0.05, 0.5, 0.95, 0.99}

// RequiredConn are the quantiles every connection level must state.
var RequiredConn = []float64{0.01, 0.05, 0.5, 0.95, 0.99}
