package verdict

import (
	"fmt"
	"math"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
)

// ToleranceKm is the slack of every membership test in the geometry: a
// point this far outside a disc still counts as inside. It absorbs
// floating-point error (well under a metre on the Earth) and nothing more.
const ToleranceKm = 1e-3

// Disc is a distance constraint: the prover lies within RadiusKm (along
// the Earth's surface) of Center. On the sphere it is a spherical cap.
type Disc struct {
	Endpoint string           `json:"endpoint"`
	Center   profile.Location `json:"center"`
	RadiusKm float64          `json:"radius_km"`
}

// Region is a candidate place: a cloud region's name and coordinates.
type Region struct {
	Provider string  `json:"provider"`
	Name     string  `json:"name"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
}

// Location returns the region's coordinates.
func (r Region) Location() profile.Location { return profile.Location{Lat: r.Lat, Lon: r.Lon} }

// Feasible is the feasible region: the intersection of the discs.
type Feasible struct {
	Discs []Disc `json:"discs"`
	// Empty reports that the discs have no common point.
	Empty bool `json:"empty"`
	// Vertices are the corners of the intersection's boundary: points
	// where two circles cross and that lie in every disc. With the discs
	// they describe the region exactly; none when one disc lies inside all
	// the others (the region is that disc) or there are no discs.
	Vertices []profile.Location `json:"vertices,omitempty"`
	// Witness is a point of the region (nil when empty).
	Witness *profile.Location `json:"witness,omitempty"`
	// Candidates are the given regions whose coordinates lie inside.
	Candidates []Region `json:"candidates"`
}

// Contains reports whether l lies in every disc (within ToleranceKm).
func (f *Feasible) Contains(l profile.Location) bool {
	return inAll(f.Discs, l)
}

// FeasibleRegion intersects the discs and lists the regions inside.
//
// Exactness: the intersection I of closed caps is empty or not by a finite
// test. If I is neither empty nor the whole sphere, its boundary is made of
// circle arcs; a boundary component is either a whole circle of one disc
// or has corners where two circles cross. So I is non-empty if and only if
// one of these candidate points lies in every disc: a point of each
// circle, each disc's centre (for a disc inside all others, whose circle is
// then in I too), and the crossing points of every pair of circles. The
// test costs O(m³) distance evaluations for m discs. Discs of radius at
// least half the Earth's circumference constrain nothing and are dropped.
func FeasibleRegion(discs []Disc, regions []Region) (Feasible, error) {
	f := Feasible{Discs: discs, Candidates: []Region{}}
	for i, d := range discs {
		if !profile.ValidLocation(d.Center) || !(d.RadiusKm >= 0) || math.IsInf(d.RadiusKm, 0) {
			return Feasible{}, fmt.Errorf("%w: disc %d (%s): centre %v,%v radius %v km", ErrGeometry, i, d.Endpoint, d.Center.Lat, d.Center.Lon, d.RadiusKm)
		}
	}
	for i, r := range regions {
		if !profile.ValidLocation(r.Location()) {
			return Feasible{}, fmt.Errorf("%w: region %d (%s): coordinates %v,%v", ErrGeometry, i, r.Name, r.Lat, r.Lon)
		}
	}
	var active []Disc
	for _, d := range discs {
		if d.RadiusKm < math.Pi*EarthRadiusKm {
			active = append(active, d)
		}
	}
	var cands []profile.Location
	for _, d := range active {
		cands = append(cands, d.Center, destination(d.Center, d.RadiusKm))
	}
	var crossings []profile.Location
	for i := range active {
		for j := i + 1; j < len(active); j++ {
			crossings = append(crossings, crossCircles(active[i], active[j])...)
		}
	}
	for _, c := range crossings {
		if inAll(active, c) && !near(f.Vertices, c) {
			f.Vertices = append(f.Vertices, c)
		}
	}
	switch {
	case len(active) == 0:
		f.Witness = &profile.Location{}
	case len(f.Vertices) > 0:
		w := f.Vertices[0]
		f.Witness = &w
	default:
		for _, c := range cands {
			if inAll(active, c) {
				w := c
				f.Witness = &w
				break
			}
		}
	}
	f.Empty = f.Witness == nil
	if !f.Empty {
		for _, r := range regions {
			if inAll(active, r.Location()) {
				f.Candidates = append(f.Candidates, r)
			}
		}
	}
	return f, nil
}

func inAll(discs []Disc, l profile.Location) bool {
	for _, d := range discs {
		if greatCircleKm(d.Center, l) > d.RadiusKm+ToleranceKm {
			return false
		}
	}
	return true
}

func near(ls []profile.Location, l profile.Location) bool {
	for _, x := range ls {
		if greatCircleKm(x, l) <= ToleranceKm {
			return true
		}
	}
	return false
}

// greatCircleKm is the haversine distance (datasets.GreatCircleKm).
func greatCircleKm(a, b profile.Location) float64 {
	return datasets.GreatCircleKm(a.Lat, a.Lon, b.Lat, b.Lon)
}

// GreatCircleKm returns the haversine distance between two points.
func GreatCircleKm(a, b profile.Location) float64 { return greatCircleKm(a, b) }

type vec [3]float64

func toVec(l profile.Location) vec {
	const rad = math.Pi / 180
	la, lo := l.Lat*rad, l.Lon*rad
	return vec{math.Cos(la) * math.Cos(lo), math.Cos(la) * math.Sin(lo), math.Sin(la)}
}

func toLoc(v vec) profile.Location {
	const deg = 180 / math.Pi
	n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	return profile.Location{
		Lat: math.Asin(math.Max(-1, math.Min(1, v[2]/n))) * deg,
		Lon: math.Atan2(v[1], v[0]) * deg,
	}
}

func dot(a, b vec) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross(a, b vec) vec {
	return vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// destination returns the point km due north of l along the great circle
// (over the pole when it goes past it): one point of the disc's circle.
func destination(l profile.Location, km float64) profile.Location {
	const rad = math.Pi / 180
	theta := km / EarthRadiusKm
	la, lo := l.Lat*rad, l.Lon*rad
	// Bearing 0: along the meridian.
	lat2 := math.Asin(math.Sin(la)*math.Cos(theta) + math.Cos(la)*math.Sin(theta))
	lon2 := lo + math.Atan2(0, math.Cos(theta)-math.Sin(la)*math.Sin(lat2))
	return profile.Location{Lat: lat2 / rad, Lon: math.Remainder(lon2/rad, 360)}
}

// crossCircles returns the points where the boundary circles of two caps
// cross: x with x·c1 = cos θ1, x·c2 = cos θ2, |x| = 1, solved as
// x = a·c1 + b·c2 + t·(c1 × c2).
func crossCircles(d1, d2 Disc) []profile.Location {
	c1, c2 := toVec(d1.Center), toVec(d2.Center)
	k1, k2 := math.Cos(d1.RadiusKm/EarthRadiusKm), math.Cos(d2.RadiusKm/EarthRadiusKm)
	g := dot(c1, c2)
	n := cross(c1, c2)
	nn := dot(n, n) // = 1 − g²
	if nn < 1e-24 {
		return nil // same or antipodal centres: concentric circles
	}
	a := (k1 - g*k2) / nn
	b := (k2 - g*k1) / nn
	t2 := (1 - (a*a + b*b + 2*a*b*g)) / nn
	if t2 < -1e-12 {
		return nil // the circles do not meet
	}
	t := math.Sqrt(math.Max(0, t2))
	var out []profile.Location
	for _, s := range []float64{t, -t} {
		out = append(out, toLoc(vec{a*c1[0] + b*c2[0] + s*n[0], a*c1[1] + b*c2[1] + s*n[1], a*c1[2] + b*c2[2] + s*n[2]}))
		if t == 0 {
			break
		}
	}
	return out
}
