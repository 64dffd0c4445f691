package verdict

import (
	"fmt"
	"math"
	"slices"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
)

// Physical constants.
const (
	// LightKmPerSecond is the speed of light in vacuum, exactly. Bounds
	// and relay delays use it and nothing slower: microwave links and
	// hollow-core fibre come within a few percent of it.
	LightKmPerSecond = datasets.LightKmPerSecond
	// NsPerKm is the round trip light in vacuum needs per km of distance:
	// 2 / c, about 6.67 µs.
	NsPerKm = 2e9 / LightKmPerSecond
	// EarthRadiusKm is the Earth's mean radius, for great circles.
	EarthRadiusKm = datasets.EarthRadiusKm
	// MetroKm is the distance of a colocation site "in the same metro" in
	// the verdict's limitation statement: a relay this close adds at least
	// 33 µs of round trip in vacuum, and in practice well under 0.5 ms.
	MetroKm = 5.0
)

// Defaults of Options.
const (
	DefaultFRR       = 1e-3
	DefaultFARTarget = 1e-6
	// MaxK bounds the echoes one decision accepts.
	MaxK = 1_000_000
)

// DefaultDistancesKm are the relay distances at which a verdict states its
// false-accept rate when Options.DistancesKm is nil.
var DefaultDistancesKm = []float64{MetroKm, 50, 100, 200, 500, 1000, 2000}

// Decision is a verdict's answer.
type Decision string

// Decisions.
const (
	Accept Decision = "accept"
	Reject Decision = "reject"
)

// Reason says why.
type Reason string

// Reasons.
const (
	// ReasonWithin: the statistic is at or below the threshold.
	ReasonWithin Reason = "within-threshold"
	// ReasonAbove: the statistic exceeds the threshold: too slow for the
	// claimed place.
	ReasonAbove Reason = "above-threshold"
	// ReasonTooFast: some round trip is below the profile's floor, faster
	// than the place allows: the mark of a misstated cycle-counter
	// frequency (or a broken profile), never of distance.
	ReasonTooFast Reason = "too-fast"
	// ReasonEndpointRejected: an endpoint of the claimed region rejected.
	ReasonEndpointRejected Reason = "endpoint-rejected"
	// ReasonMissing: an endpoint of the claimed region was not observed.
	ReasonMissing Reason = "endpoint-missing"
	// ReasonInfeasible: the distance discs do not intersect: the bounds
	// contradict each other (a misstated frequency, wrong coordinates, or
	// a processing floor that does not hold).
	ReasonInfeasible Reason = "feasible-region-empty"
	// ReasonOutside: the claimed region's coordinates lie outside the
	// feasible region.
	ReasonOutside Reason = "claim-outside-feasible-region"
)

// Units a verdict can take as independent.
const (
	// UnitConnection: connections are independent, echoes within one are
	// not (the profile's connection levels).
	UnitConnection = "connection"
	// UnitEcho: every echo an independent draw (the per-echo model).
	UnitEcho = "echo"
	// UnitProbe: the whole observation is one draw of the profile's probe
	// level of its shape; nothing about dependence is assumed.
	UnitProbe = "probe"
)

// Basis selects the description of honest round trips the verdict uses.
type Basis string

// Bases.
const (
	// BasisConservative (the default, also ""): the threshold is the
	// larger of the model's and the empirical one, so the stated FRR holds
	// under either description; false-accept rates use the larger of the
	// two CDFs, so they hold under either too. Without a model, the
	// empirical description alone.
	BasisConservative Basis = "conservative"
	// BasisModel: the best fitted model alone (error without one).
	BasisModel Basis = "model"
	// BasisEmpirical: the empirical quantiles alone, linearly
	// interpolated, zero below the observed minimum.
	BasisEmpirical Basis = "empirical"
)

// Options configure a verdict. The zero value is the safe default
// throughout.
type Options struct {
	// FRR is the false-reject rate to hold: the probability that an
	// honest prover is rejected (DefaultFRR). For a proof over several
	// endpoints it is the whole proof's, split evenly among the claimed
	// region's endpoints.
	FRR float64
	// FARTarget is the false-accept rate at which the verdict states its
	// resolution (DefaultFARTarget).
	FARTarget float64
	// DistancesKm are the relay distances to state FAR at
	// (DefaultDistancesKm when nil).
	DistancesKm []float64
	// Order makes the statistic the Order-th smallest round trip (0 or 1:
	// the minimum). A higher order tolerates Order−1 spuriously fast
	// echoes, at the price of resolution.
	Order int
	// Basis selects the honest description (BasisConservative).
	Basis Basis
	// Origin is the profile origin to use; "" means profile.OriginReal,
	// so a lab profile is never used by accident.
	Origin profile.Origin
	// Clock is the clock the round trips were timed with; ""
	// means profile.ClockCounter.
	Clock profile.Clock
	// Vantage chooses among several profiles of one endpoint ("" when the
	// file holds one).
	Vantage string
	// AllowMissing lets a proof omit endpoints of the claimed region that
	// the profile file describes.
	AllowMissing bool
}

func (o Options) normalise() (Options, error) {
	if o.FRR == 0 {
		o.FRR = DefaultFRR
	}
	if !(o.FRR > 0 && o.FRR < 1) {
		return o, fmt.Errorf("%w: FRR %v not in (0, 1)", ErrOptions, o.FRR)
	}
	if o.FARTarget == 0 {
		o.FARTarget = DefaultFARTarget
	}
	if !(o.FARTarget > 0 && o.FARTarget < 1) {
		return o, fmt.Errorf("%w: FAR target %v not in (0, 1)", ErrOptions, o.FARTarget)
	}
	if o.DistancesKm == nil {
		o.DistancesKm = DefaultDistancesKm
	}
	for _, d := range o.DistancesKm {
		if !(d >= 0 && d <= math.Pi*EarthRadiusKm) {
			return o, fmt.Errorf("%w: distance %v km", ErrOptions, d)
		}
	}
	if o.Order == 0 {
		o.Order = 1
	}
	if o.Order < 0 {
		return o, fmt.Errorf("%w: order %d", ErrOptions, o.Order)
	}
	switch o.Basis {
	case "":
		o.Basis = BasisConservative
	case BasisConservative, BasisModel, BasisEmpirical:
	default:
		return o, fmt.Errorf("%w: basis %q", ErrOptions, o.Basis)
	}
	if o.Origin == "" {
		o.Origin = profile.OriginReal
	}
	if o.Clock == "" {
		o.Clock = profile.ClockCounter
	}
	return o, nil
}

// FARPoint is the false-accept rate for a relay at one distance.
type FARPoint struct {
	DistanceKm float64 `json:"distance_km"`
	FAR        float64 `json:"far"`
}

// Verdict is the decision for one endpoint, with everything it rests on.
// Times are nanoseconds.
type Verdict struct {
	Provider string         `json:"provider"`
	Region   string         `json:"region"`
	Endpoint string         `json:"endpoint"`
	Method   string         `json:"method"`
	Origin   profile.Origin `json:"origin"`
	Vantage  string         `json:"vantage"`

	Decision Decision `json:"decision"`
	Reason   Reason   `json:"reason"`

	// K echoes; Statistic is their Order-th smallest, MinNs the smallest.
	K         int     `json:"k"`
	Order     int     `json:"order"`
	Statistic float64 `json:"statistic_ns"`
	MinNs     float64 `json:"min_ns"`
	// Unit is what the verdict took as independent: UnitConnection (Conns
	// are the echoes per connection, ConnLevels the calibrated level each
	// connection's false-reject side was decided with, 0 for none),
	// UnitProbe (the profile's probe level of exactly the shape Conns) or
	// UnitEcho (the per-echo model; Limitations say why).
	Unit       string `json:"unit"`
	Conns      []int  `json:"conns,omitempty"`
	ConnLevels []int  `json:"conn_levels,omitempty"`

	// Threshold is what the statistic was compared with; ThresholdModel
	// and ThresholdEmpirical the two descriptions' (0 when not computed).
	Basis              Basis   `json:"basis"`
	Threshold          float64 `json:"threshold_ns"`
	ThresholdModel     float64 `json:"threshold_model_ns,omitempty"`
	ThresholdEmpirical float64 `json:"threshold_empirical_ns,omitempty"`
	// FRR is the stated false-reject rate; FRRModel and FRREmpirical
	// what each description gives at Threshold (at most FRR under the
	// conservative basis).
	FRR          float64 `json:"frr"`
	FRRModel     float64 `json:"frr_model,omitempty"`
	FRREmpirical float64 `json:"frr_empirical,omitempty"`

	// FloorNs is the profile's "too fast" floor.
	FloorNs float64 `json:"floor_ns"`
	// ProcessingFloorNs is what the bound subtracts: FloorNs minus the
	// vacuum round trip over the calibration vantage–endpoint distance
	// (never negative).
	ProcessingFloorNs float64 `json:"processing_floor_ns"`
	// BoundKm is the hard bound on the prover's distance from the
	// endpoint: (MinNs − ProcessingFloorNs) × c/2. BoundNoFloorKm is
	// MinNs × c/2, which assumes nothing about the server.
	BoundKm        float64 `json:"bound_km"`
	BoundNoFloorKm float64 `json:"bound_no_floor_km"`

	// FAR are false-accept rates for a relay at the requested distances:
	// the probability that K honest round trips each delayed by the
	// vacuum round trip over the distance pass the threshold.
	FAR []FARPoint `json:"far"`
	// FARTarget and ResolutionKm: a relay ResolutionKm or farther away is
	// accepted with probability at most FARTarget.
	FARTarget    float64 `json:"far_target"`
	ResolutionKm float64 `json:"resolution_km"`
	// MaxRelayKm = (Threshold − ProcessingFloorNs) × c/2: a relay
	// farther away cannot pass at all if the server's processing is at
	// least the floor.
	MaxRelayKm float64 `json:"max_relay_km"`
	// SameMetro reports that a relay MetroKm away is accepted with a
	// probability above FARTarget; MetroFAR is that probability.
	SameMetro bool    `json:"same_metro"`
	MetroFAR  float64 `json:"metro_far"`

	// Limitations says what the verdict cannot show, in words.
	Limitations []string `json:"limitations"`
}

// decider holds what a decision with one profile, one observation's shape
// (K echoes on connections of given sizes) and options needs.
type decider struct {
	p    *profile.Profile
	opts Options
	k    int
	// d describes one honest echo (the profile's own quantiles and model):
	// the per-echo model decides with it.
	d dist
	// cm is the connection model, nil when the verdict falls back to the
	// per-echo model.
	cm      *connModel
	t       float64 // threshold
	tm, te  float64
	uT      float64 // per-echo model: CDF level of the threshold
	floor   float64
	process float64
	// notes say how the verdict had to model the observation, for
	// Limitations.
	notes []string
}

// newDecider prepares decisions on K echoes of one connection.
func newDecider(p *profile.Profile, k int, opts Options) (*decider, error) {
	return newConnDecider(p, k, nil, opts)
}

// newConnDecider prepares decisions on K echoes spread over connections of
// the given sizes (nil: one connection of K).
func newConnDecider(p *profile.Profile, k int, conns []int, opts Options) (*decider, error) {
	opts, err := opts.normalise()
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: nil profile", ErrProfile)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	if p.Origin != opts.Origin || p.Clock != opts.Clock {
		return nil, fmt.Errorf("%w: profile %s is %s/%s, want %s/%s", ErrOrigin, p.Name(), p.Origin, p.Clock, opts.Origin, opts.Clock)
	}
	if k <= 0 {
		return nil, fmt.Errorf("%w: K = %d", ErrNoEchoes, k)
	}
	if k > MaxK {
		return nil, fmt.Errorf("%w: K = %d (at most %d)", ErrOptions, k, MaxK)
	}
	if opts.Order > k {
		return nil, fmt.Errorf("%w: order %d exceeds K = %d", ErrOptions, opts.Order, k)
	}
	if conns == nil {
		conns = []int{k}
	}
	sum := 0
	for i, n := range conns {
		if n <= 0 || n > k {
			return nil, fmt.Errorf("%w: connection %d has %d echoes", ErrConns, i, n)
		}
		sum += n
	}
	if sum != k {
		return nil, fmt.Errorf("%w: %d connections carry %d echoes, the observation %d", ErrConns, len(conns), sum, k)
	}
	dc := &decider{p: p, opts: opts, k: k, d: dist{model: p.Model(), emp: p, basis: opts.Basis}}
	if opts.Basis == BasisModel && dc.d.model == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoModel, p.Name())
	}
	dc.floor = p.FloorNs
	cal := greatCircleKm(p.Vantage.Location(), p.EndpointLocation)
	dc.process = math.Max(0, p.FloorNs-cal*NsPerKm)

	switch {
	case len(p.ConnMins) == 0:
		dc.notes = append(dc.notes, "the profile has no connection levels (a version-1 file, or samples that did not show their connections): the verdict treats the echoes as independent draws, so its false-reject rate is understated when whole connections run slow, as they do on shared machines and on ECMP paths")
	case opts.Order > 1:
		dc.notes = append(dc.notes, fmt.Sprintf("the statistic is the %d-th smallest echo, which the connection levels do not describe: the verdict uses the per-echo model, which treats the echoes as independent draws and understates the false-reject rate when whole connections run slow", opts.Order))
	default:
		if pl := p.ProbeLevel(conns); pl != nil {
			cm, err := newProbeModel(p, pl, conns, opts.Basis)
			if err != nil {
				return nil, err
			}
			dc.cm = cm
			break
		}
		cm, notes, err := newConnModel(p, conns, opts.Basis, dc.d)
		if err != nil {
			return nil, err
		}
		dc.cm, dc.notes = cm, notes
		if cm != nil && len(conns) > 1 {
			dc.notes = append(dc.notes, fmt.Sprintf("the profile has no probe level for connections of %v echoes: the verdict takes the connections as independent, and connections opened back to back share slow periods of the machine and the path, so the false-reject rate is understated (in the lab, by a factor of 3 to 19 at 10⁻³); calibrate with the proofs' shape", conns))
		}
	}

	if dc.cm != nil {
		dc.t, dc.tm, dc.te = dc.cm.threshold(opts.FRR)
	} else {
		dc.uT = levelReject(k, opts.Order, opts.FRR)
		if dc.d.model != nil && opts.Basis != BasisEmpirical {
			dc.tm = dc.d.model.Quantile(dc.uT)
		}
		if opts.Basis != BasisModel {
			dc.te = p.EmpiricalQuantile(dc.uT)
		}
		dc.t = math.Max(dc.tm, dc.te)
	}
	if !(dc.t > 0) || math.IsInf(dc.t, 0) {
		return nil, fmt.Errorf("%w: %s gives no threshold for FRR %v", ErrProfile, p.Name(), opts.FRR)
	}
	if dc.cm != nil {
		dc.notes = append(dc.notes, dc.cm.extrapolation(dc.t)...)
	}
	return dc, nil
}

// far returns the false-accept rate for a relay adding extra ns to every
// round trip.
func (dc *decider) far(extra float64) float64 {
	if dc.cm != nil {
		return dc.cm.accept(dc.t - extra)
	}
	return atLeast(dc.k, dc.opts.Order, dc.d.cdf(dc.t-extra))
}

// Decide decides whether K round trips (ns) to one endpoint are consistent
// with the profile, for the stated false-reject rate. The round trips are
// taken as one connection's; DecideConns says how they were spread over
// connections. See the package documentation for the statistics. The error
// is for input it cannot judge (an invalid profile, K = 0, a NaN or
// non-positive round trip, bad options); a claim it judges false is a
// Verdict with Decision Reject.
func Decide(p *profile.Profile, rtts []float64, opts Options) (Verdict, error) {
	return DecideConns(p, rtts, nil, opts)
}

// DecideConns is Decide for round trips timed on several connections:
// conns[i] echoes on the i-th, in the order of rtts (nil: one connection).
// The sizes must add up to len(rtts) (ErrConns).
func DecideConns(p *profile.Profile, rtts []float64, conns []int, opts Options) (Verdict, error) {
	dc, err := newConnDecider(p, len(rtts), conns, opts)
	if err != nil {
		return Verdict{}, err
	}
	for i, x := range rtts {
		if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
			return Verdict{}, fmt.Errorf("%w: round trip %d is %v ns", ErrRTT, i, x)
		}
	}
	return dc.decide(rtts), nil
}

func (dc *decider) decide(rtts []float64) Verdict {
	p, o := dc.p, dc.opts
	sorted := slices.Clone(rtts)
	slices.Sort(sorted)
	v := Verdict{
		Provider: p.Provider, Region: p.Region, Endpoint: p.Endpoint, Method: p.Method,
		Origin: p.Origin, Vantage: p.Vantage.Name,
		K: dc.k, Order: o.Order, Statistic: sorted[o.Order-1], MinNs: sorted[0],
		Unit:  UnitEcho,
		Basis: o.Basis, Threshold: dc.t, ThresholdModel: dc.tm, ThresholdEmpirical: dc.te,
		FRR: o.FRR, FloorNs: dc.floor, ProcessingFloorNs: dc.process,
		FARTarget: o.FARTarget,
	}
	switch cm := dc.cm; {
	case cm != nil && cm.probe:
		v.Unit, v.Conns = UnitProbe, slices.Clone(cm.shape)
		if o.Basis != BasisEmpirical && cm.hasModels() {
			v.FRRModel = cm.reject(dc.t, BasisModel)
		}
		if o.Basis != BasisModel {
			v.FRREmpirical = cm.reject(dc.t, BasisEmpirical)
		}
	case cm != nil:
		v.Unit, v.Conns, v.ConnLevels = UnitConnection, slices.Clone(cm.sizes), slices.Clone(cm.levels)
		if o.Basis != BasisEmpirical && cm.hasModels() {
			v.FRRModel = cm.reject(dc.t, BasisModel)
		}
		if o.Basis != BasisModel {
			v.FRREmpirical = cm.reject(dc.t, BasisEmpirical)
		}
	default:
		if m := dc.d.model; m != nil && o.Basis != BasisEmpirical {
			v.FRRModel = 1 - atLeast(dc.k, o.Order, m.CDF(dc.t))
		}
		if o.Basis != BasisModel {
			v.FRREmpirical = 1 - atLeast(dc.k, o.Order, p.EmpiricalCDF(dc.t))
		}
	}
	switch {
	case v.MinNs < dc.floor:
		v.Decision, v.Reason = Reject, ReasonTooFast
	case v.Statistic <= dc.t:
		v.Decision, v.Reason = Accept, ReasonWithin
	default:
		v.Decision, v.Reason = Reject, ReasonAbove
	}
	v.BoundKm = math.Max(0, v.MinNs-dc.process) / NsPerKm
	v.BoundNoFloorKm = v.MinNs / NsPerKm
	for _, d := range o.DistancesKm {
		v.FAR = append(v.FAR, FARPoint{DistanceKm: d, FAR: dc.far(d * NsPerKm)})
	}
	v.ResolutionKm = dc.resolution()
	v.MaxRelayKm = math.Max(0, dc.t-dc.process) / NsPerKm
	v.MetroFAR = dc.far(MetroKm * NsPerKm)
	v.SameMetro = v.MetroFAR > o.FARTarget
	v.Limitations = dc.limitations(&v)
	return v
}

// resolution returns the smallest relay distance whose false-accept rate
// is at most the target: the relay's statistic passes with probability
// FARTarget when the honest CDF at (t − extra) is u*, so extra = t − Q(u*).
func (dc *decider) resolution() float64 {
	var x float64
	if dc.cm != nil {
		x = dc.cm.acceptQuantile(dc.opts.FARTarget, dc.t)
	} else {
		x = dc.d.quantile(levelAccept(dc.k, dc.opts.Order, dc.opts.FARTarget))
	}
	if math.IsNaN(x) {
		return math.Inf(1)
	}
	return math.Max(0, dc.t-x) / NsPerKm
}

func (dc *decider) limitations(v *Verdict) []string {
	var out []string
	if v.SameMetro {
		out = append(out, fmt.Sprintf("a relay in the same metro cannot be excluded: one %g km away (adding %.0f µs in vacuum, and in practice well under 0.5 ms) passes with probability %.3g; only relays %.0f km or farther are excluded at FAR %g",
			MetroKm, MetroKm*NsPerKm/1e3, v.MetroFAR, v.ResolutionKm, v.FARTarget))
	} else {
		out = append(out, fmt.Sprintf("a relay closer than %.1f km (adding less than %.0f µs) cannot be excluded at FAR %g: a colocation site in the same building is indistinguishable",
			v.ResolutionKm, v.ResolutionKm*NsPerKm/1e3, v.FARTarget))
	}
	out = append(out, fmt.Sprintf("the distance bound assumes the endpoint's processing takes at least %.0f ns, as during calibration; without that assumption it is %.0f km",
		v.ProcessingFloorNs, v.BoundNoFloorKm))
	if dc.d.model == nil && dc.opts.Basis != BasisEmpirical {
		out = append(out, "the profile has no fitted model: rates below its lowest stated quantile rest on linear interpolation to its minimum")
	}
	out = append(out, dc.notes...)
	if dc.p.Origin == profile.OriginLab {
		out = append(out, "the profile comes from the lab: its delays are emulated, not a cloud region's")
	}
	if dc.p.Outliers.MinFarBelowP01 {
		out = append(out, "the profile's minimum lies far below its 1% quantile: its floor may rest on a single spurious sample")
	}
	return out
}

// RejectAt returns the probability that a prover whose round trips are the
// profile's honest ones delayed by extra ns is rejected at threshold t, its
// echoes spread over connections of the given sizes (nil: one connection of
// k) as DecideConns would model them. Under BasisConservative it is the
// larger of the two descriptions' rates. At extra = 0 and the verdict's own
// threshold it is the false-reject rate the verdict achieves; as extra
// grows it is the rate at which a relay is caught.
func RejectAt(p *profile.Profile, k int, conns []int, t, extra float64, opts Options) (float64, error) {
	dc, err := newConnDecider(p, k, conns, opts)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(t) || math.IsNaN(extra) {
		return 0, fmt.Errorf("%w: threshold %v, extra %v", ErrOptions, t, extra)
	}
	x := t - extra
	if dc.cm != nil {
		return dc.cm.reject(x, dc.opts.Basis), nil
	}
	return 1 - atLeast(dc.k, dc.opts.Order, 1-dc.d.survival(x)), nil
}
