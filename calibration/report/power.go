package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/tlsprobe"
)

// StandardDistancesKm are the relay distances at which Power states the
// false-accept rate besides those asked for.
var StandardDistancesKm = []float64{1, 10, 50, 100, 500}

// PowerFigures are what a verdict with one profile and K echoes can tell
// apart: its threshold, its error rates and its distance figures. Times
// are nanoseconds.
type PowerFigures struct {
	Provider string         `json:"provider"`
	Region   string         `json:"region"`
	Endpoint string         `json:"endpoint"`
	Method   string         `json:"method"`
	Clock    profile.Clock  `json:"clock"`
	Origin   profile.Origin `json:"origin"`
	Vantage  string         `json:"vantage"`

	K     int           `json:"k"`
	Order int           `json:"order"`
	Basis verdict.Basis `json:"basis"`
	// EchoesPerConn is the connection size the K echoes were spread over
	// and Unit what the verdict took as independent (verdict.UnitConnection
	// when the profile has connection levels).
	EchoesPerConn int    `json:"echoes_per_conn"`
	Unit          string `json:"unit"`

	// Threshold is the verdict's; ThresholdModel and ThresholdEmpirical
	// each description's (0 when not computed).
	Threshold          float64 `json:"threshold_ns"`
	ThresholdModel     float64 `json:"threshold_model_ns,omitempty"`
	ThresholdEmpirical float64 `json:"threshold_empirical_ns,omitempty"`
	// FRR is the stated false-reject rate; FRRModel and FRREmpirical what
	// each description achieves at Threshold.
	FRR          float64 `json:"frr"`
	FRRModel     float64 `json:"frr_model,omitempty"`
	FRREmpirical float64 `json:"frr_empirical,omitempty"`

	// FloorNs is the profile's "too fast" floor; ProcessingFloorNs what
	// the distance bound subtracts.
	FloorNs           float64 `json:"floor_ns"`
	ProcessingFloorNs float64 `json:"processing_floor_ns"`

	// FAR is the false-accept rate for a relay at each distance.
	FAR []verdict.FARPoint `json:"far"`
	// ResolutionKm: a relay this far or farther passes with probability
	// at most FARTarget.
	FARTarget    float64 `json:"far_target"`
	ResolutionKm float64 `json:"resolution_km"`
	// BoundKm is the vacuum distance bound of a prover whose fastest echo
	// is exactly at the threshold, (Threshold − ProcessingFloorNs) × c/2:
	// the farthest any accepted prover can be if the endpoint's processing
	// takes at least the floor. BoundNoFloorKm is Threshold × c/2, which
	// assumes nothing about the endpoint.
	BoundKm        float64 `json:"vacuum_bound_at_threshold_km"`
	BoundNoFloorKm float64 `json:"vacuum_bound_no_floor_km"`
	// SameMetro: a relay verdict.MetroKm away passes with probability
	// MetroFAR, above FARTarget.
	SameMetro bool    `json:"same_metro"`
	MetroFAR  float64 `json:"metro_far"`
	// Limitations say, in words, what the verdict cannot show.
	Limitations []string `json:"limitations"`
}

// FARAt returns the stated false-accept rate at distance km, if Power was
// asked for it.
func (f *PowerFigures) FARAt(km float64) (float64, bool) {
	for _, p := range f.FAR {
		if p.DistanceKm == km {
			return p.FAR, true
		}
	}
	return 0, false
}

// Power computes the figures of a verdict with profile p and K echoes
// spread over connections of perConn (0 means tlsprobe.DefaultEchoesPerConn;
// the last connection takes the remainder), as a prover does, without any
// round trips: everything but the decision itself depends only on the
// profile, the shape and the options. The false-accept rate is stated at
// opts.DistancesKm and StandardDistancesKm (sorted, without repeats).
// opts.Origin and opts.Clock are taken from p: the caller has chosen the
// profile (verdict.Decide's check that a lab profile is not used by
// accident is the caller's to make, e.g. by looking profiles up by origin).
// The other options are verdict.Options', with the same defaults.
func Power(p *profile.Profile, k, perConn int, opts verdict.Options) (PowerFigures, error) {
	if p == nil {
		return PowerFigures{}, fmt.Errorf("%w: nil profile", verdict.ErrProfile)
	}
	if k <= 0 || k > verdict.MaxK {
		return PowerFigures{}, fmt.Errorf("%w: K = %d (want 1 to %d)", verdict.ErrOptions, k, verdict.MaxK)
	}
	if perConn < 0 {
		return PowerFigures{}, fmt.Errorf("%w: %d echoes per connection", verdict.ErrOptions, perConn)
	}
	perConn = tlsprobe.ConnSize(perConn, 0)
	conns := Conns(k, perConn)
	opts.Origin, opts.Clock = p.Origin, p.Clock
	opts.DistancesKm = distances(opts.DistancesKm)
	// The threshold does not depend on the round trips: a first decision
	// on any valid ones (the profile's maximum lies above its floor) finds
	// it, and a second on K echoes at the threshold makes the distance
	// bounds and the limitations speak of a prover right at it.
	rtts := make([]float64, k)
	fill := func(x float64) {
		for i := range rtts {
			rtts[i] = x
		}
	}
	fill(p.MaxNs)
	v, err := verdict.DecideConns(p, rtts, conns, opts)
	if err != nil {
		return PowerFigures{}, err
	}
	fill(v.Threshold)
	if v, err = verdict.DecideConns(p, rtts, conns, opts); err != nil {
		return PowerFigures{}, err
	}
	return PowerFigures{
		Provider: p.Provider, Region: p.Region, Endpoint: p.Endpoint, Method: p.Method,
		Clock: p.Clock, Origin: p.Origin, Vantage: p.Vantage.Name,
		K: k, Order: v.Order, Basis: v.Basis, EchoesPerConn: perConn, Unit: v.Unit,
		Threshold: v.Threshold, ThresholdModel: v.ThresholdModel, ThresholdEmpirical: v.ThresholdEmpirical,
		FRR: v.FRR, FRRModel: v.FRRModel, FRREmpirical: v.FRREmpirical,
		FloorNs: v.FloorNs, ProcessingFloorNs: v.ProcessingFloorNs,
		FAR: v.FAR, FARTarget: v.FARTarget, ResolutionKm: v.ResolutionKm,
		BoundKm: v.MaxRelayKm, BoundNoFloorKm: v.BoundNoFloorKm,
		SameMetro: v.SameMetro, MetroFAR: v.MetroFAR,
		Limitations: v.Limitations,
	}, nil
}

// Conns splits K echoes into connections of perConn, the last taking the
// remainder, as tlsprobe does.
func Conns(k, perConn int) []int {
	if perConn <= 0 || perConn > k {
		perConn = k
	}
	var out []int
	for left := k; left > 0; left -= perConn {
		out = append(out, min(left, perConn))
	}
	return out
}

// distances merges the asked distances with the standard ones.
func distances(asked []float64) []float64 {
	out := append(slices.Clone(asked), StandardDistancesKm...)
	slices.Sort(out)
	return slices.Compact(out)
}

// rejectAt returns the probability that a prover whose round trips are
// the profile's delayed by extra ns is rejected with the figure's shape (K
// echoes on connections of EchoesPerConn) against threshold t: the larger of
// the two descriptions' rejection rates (verdict.RejectAt). At extra = 0
// it is the achieved false-reject rate.
func rejectAt(p *profile.Profile, f *PowerFigures, t, extra float64, opts verdict.Options) float64 {
	opts.Origin, opts.Clock = p.Origin, p.Clock
	r, err := verdict.RejectAt(p, f.K, Conns(f.K, f.EchoesPerConn), t, extra, opts)
	if err != nil {
		return math.NaN()
	}
	return r
}
