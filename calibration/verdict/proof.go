package verdict

import (
	"fmt"
	"math"
	"slices"

	"github.com/latencyproof/poc/calibration/profile"
)

// Observation is the round trips a proof carries for one endpoint.
type Observation struct {
	// Endpoint is the catalog name; Method the echo method used.
	Endpoint string
	Method   string
	// RTTs are the K round trips, ns.
	RTTs []float64
	// Conns are the echoes per connection, in the order of RTTs (their
	// sum is K); nil means one connection. With a profile's connection
	// levels the verdict takes connections, not echoes, as independent.
	Conns []int
}

// Claim is the region a prover claims to run in.
type Claim struct {
	Provider string `json:"provider"`
	Region   string `json:"region"`
}

// CombinedFAR is the false-accept rate of a whole proof for a relay at one
// distance from every endpoint of the claimed region.
type CombinedFAR struct {
	DistanceKm float64 `json:"distance_km"`
	// FAR bounds the probability that the relay passes every endpoint
	// without assuming anything about how their round trips depend on
	// each other: it is the smallest per-endpoint rate.
	FAR float64 `json:"far"`
	// FARIndependent is the product of the per-endpoint rates, the
	// combined rate if the endpoints' round trips are independent.
	FARIndependent float64 `json:"far_independent"`
}

// ProofVerdict is the decision for a whole proof: several endpoints, some
// in the claimed region (they decide) and maybe some elsewhere (they only
// bound the distance).
type ProofVerdict struct {
	Claim    Claim    `json:"claim"`
	Decision Decision `json:"decision"`
	// Reasons are every reason to reject (none when accepted).
	Reasons []Reason `json:"reasons"`
	// Endpoints are the claimed region's verdicts; Others the verdicts of
	// endpoints elsewhere, which contribute only their discs.
	Endpoints []Verdict `json:"endpoints"`
	Others    []Verdict `json:"others,omitempty"`
	// Missing lists the claimed region's endpoints that the profile file
	// describes and the proof does not observe.
	Missing []string `json:"missing,omitempty"`
	// FRR is the stated false-reject rate of the whole proof; each of the
	// m claimed-region endpoints was decided at FRR/m, so by the union
	// bound the proof rejects an honest prover with probability at most
	// FRR, whatever the dependence between endpoints.
	FRR            float64 `json:"frr"`
	FRRPerEndpoint float64 `json:"frr_per_endpoint"`
	// FAR is the combined false-accept rate at the requested distances;
	// ResolutionKm the smallest distance whose bound FAR is at most
	// FARTarget (the smallest per-endpoint resolution).
	FAR          []CombinedFAR `json:"far"`
	FARTarget    float64       `json:"far_target"`
	ResolutionKm float64       `json:"resolution_km"`
	// Feasible is the intersection of every observed endpoint's distance
	// disc; ClaimInside whether the claimed region's coordinates lie in it
	// (nil when the regions given do not include the claim).
	Feasible    Feasible `json:"feasible"`
	ClaimInside *bool    `json:"claim_inside,omitempty"`
	Limitations []string `json:"limitations"`
}

// DecideProof decides a claim from several endpoints' round trips.
//
// Each observation is matched to the profile of its endpoint and method
// (of Options.Origin, Options.Clock and, if several, Options.Vantage);
// an unknown endpoint is an error. Every observed endpoint of the claimed
// region must accept, each at FRR/m; with Options.AllowMissing unset, every
// endpoint of the claimed region that the file describes must be observed.
// Every observation's distance bound becomes a disc around its endpoint;
// the discs must intersect, and when regions include the claimed region,
// its coordinates must lie in the intersection. Regions are the candidate
// places listed in the feasible region (e.g. all regions of a catalog).
func DecideProof(f *profile.File, claim Claim, obs []Observation, regions []Region, opts Options) (ProofVerdict, error) {
	o, err := opts.normalise()
	if err != nil {
		return ProofVerdict{}, err
	}
	if f == nil {
		return ProofVerdict{}, fmt.Errorf("%w: nil profile file", ErrProfile)
	}
	type match struct {
		obs   Observation
		p     *profile.Profile
		claim bool
	}
	var ms []match
	m := 0
	for _, ob := range obs {
		p, err := lookup(f, ob, o)
		if err != nil {
			return ProofVerdict{}, &EndpointError{Endpoint: ob.Endpoint, Method: ob.Method, Err: err}
		}
		in := p.Provider == claim.Provider && p.Region == claim.Region
		if in {
			m++
		}
		ms = append(ms, match{ob, p, in})
	}
	if m == 0 {
		return ProofVerdict{}, fmt.Errorf("%w: %s/%s", ErrNoClaimEndpoint, claim.Provider, claim.Region)
	}
	pv := ProofVerdict{Claim: claim, Decision: Accept, Reasons: []Reason{}, FRR: o.FRR, FRRPerEndpoint: o.FRR / float64(m), FARTarget: o.FARTarget}
	per := o
	per.FRR = pv.FRRPerEndpoint
	var discs []Disc
	for _, mt := range ms {
		v, err := DecideConns(mt.p, mt.obs.RTTs, mt.obs.Conns, per)
		if err != nil {
			return ProofVerdict{}, &EndpointError{Endpoint: mt.obs.Endpoint, Method: mt.obs.Method, Err: err}
		}
		discs = append(discs, Disc{Endpoint: mt.p.Endpoint, Center: mt.p.EndpointLocation, RadiusKm: v.BoundKm})
		if !mt.claim {
			pv.Others = append(pv.Others, v)
			continue
		}
		pv.Endpoints = append(pv.Endpoints, v)
		if v.Decision != Accept && !slices.Contains(pv.Reasons, ReasonEndpointRejected) {
			pv.Reasons = append(pv.Reasons, ReasonEndpointRejected)
		}
	}

	seen := map[string]bool{}
	for _, v := range pv.Endpoints {
		seen[v.Endpoint] = true
	}
	for i := range f.Profiles {
		p := &f.Profiles[i]
		if p.Provider == claim.Provider && p.Region == claim.Region && p.Origin == o.Origin && p.Clock == o.Clock &&
			!seen[p.Endpoint] && !slices.Contains(pv.Missing, p.Endpoint) {
			pv.Missing = append(pv.Missing, p.Endpoint)
		}
	}
	if len(pv.Missing) > 0 && !o.AllowMissing {
		pv.Reasons = append(pv.Reasons, ReasonMissing)
	}

	for _, d := range o.DistancesKm {
		c := CombinedFAR{DistanceKm: d, FAR: 1, FARIndependent: 1}
		for _, v := range pv.Endpoints {
			r := farAt(v, d)
			c.FAR = math.Min(c.FAR, r)
			c.FARIndependent *= r
		}
		pv.FAR = append(pv.FAR, c)
	}
	pv.ResolutionKm = math.Inf(1)
	for _, v := range pv.Endpoints {
		pv.ResolutionKm = math.Min(pv.ResolutionKm, v.ResolutionKm)
	}

	pv.Feasible, err = FeasibleRegion(discs, regions)
	if err != nil {
		return ProofVerdict{}, err
	}
	if pv.Feasible.Empty {
		pv.Reasons = append(pv.Reasons, ReasonInfeasible)
	}
	for _, r := range regions {
		if r.Provider == claim.Provider && r.Name == claim.Region {
			in := !pv.Feasible.Empty && pv.Feasible.Contains(r.Location())
			pv.ClaimInside = &in
			if !in && !pv.Feasible.Empty {
				pv.Reasons = append(pv.Reasons, ReasonOutside)
			}
			break
		}
	}
	if len(pv.Reasons) > 0 {
		pv.Decision = Reject
	}
	pv.Limitations = proofLimitations(&pv)
	return pv, nil
}

// farAt returns a verdict's stated FAR at distance d (it was computed at
// every requested distance).
func farAt(v Verdict, d float64) float64 {
	for _, p := range v.FAR {
		if p.DistanceKm == d {
			return p.FAR
		}
	}
	return 1
}

func lookup(f *profile.File, ob Observation, o Options) (*profile.Profile, error) {
	var found []*profile.Profile
	for i := range f.Profiles {
		p := &f.Profiles[i]
		if p.Endpoint == ob.Endpoint && p.Method == ob.Method && p.Origin == o.Origin && p.Clock == o.Clock &&
			(o.Vantage == "" || p.Vantage.Name == o.Vantage) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no %s/%s profile of %s with %s", ErrUnknownEndpoint, o.Origin, o.Clock, ob.Endpoint, ob.Method)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %d profiles of %s with %s (set Options.Vantage)", ErrAmbiguous, len(found), ob.Endpoint, ob.Method)
}

func proofLimitations(pv *ProofVerdict) []string {
	var out []string
	metro := false
	for _, v := range pv.Endpoints {
		metro = metro || v.SameMetro
	}
	if metro || pv.ResolutionKm > MetroKm {
		out = append(out, fmt.Sprintf("a relay in the same metro (a few km, adding well under 0.5 ms) cannot be excluded: relays closer than %.0f km pass with a probability above %g; intra-region round trips (0.1-2 ms) are indistinguishable from such a relay",
			pv.ResolutionKm, pv.FARTarget))
	} else {
		out = append(out, fmt.Sprintf("a relay closer than %.1f km cannot be excluded at FAR %g", pv.ResolutionKm, pv.FARTarget))
	}
	out = append(out, "distance discs assume each endpoint's processing takes at least its profile's floor; the endpoint coordinates are the catalog's metro-level ones")
	var perEcho []string
	for _, v := range pv.Endpoints {
		if v.Unit == UnitEcho {
			perEcho = append(perEcho, v.Endpoint)
		}
	}
	if len(perEcho) > 0 {
		out = append(out, fmt.Sprintf("%v decided with the per-echo model (see their limitations): it treats echoes as independent draws, so the stated false-reject rate is understated when whole connections run slow", perEcho))
	}
	if pv.ClaimInside == nil {
		out = append(out, "the claimed region's coordinates were not given: the feasible region was not checked against it")
	}
	for _, v := range pv.Endpoints {
		if v.Origin == profile.OriginLab {
			out = append(out, "the profiles come from the lab: delays are emulated, not a cloud region's")
			break
		}
	}
	return out
}
