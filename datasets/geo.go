package datasets

import (
	"math"
	"time"
)

// Physical constants for bounds and estimates.
const (
	// EarthRadiusKm is the Earth's mean radius (IUGG), for great circles.
	EarthRadiusKm = 6371.0088
	// LightKmPerSecond is the speed of light in vacuum, exactly.
	LightKmPerSecond = 299792.458
	// GlassIndex is the group index of standard single-mode fibre
	// (about 1.467 at 1550 nm): light in glass covers ~204 km per ms.
	GlassIndex = 1.467
)

// GreatCircleKm returns the haversine distance in km between two points
// given in degrees, on a sphere of EarthRadiusKm. The spherical model is off
// by at most ~0.5% against the ellipsoid, far below the km-scale error of
// metro coordinates.
func GreatCircleKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	p1, p2 := lat1*rad, lat2*rad
	dp, dl := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(min(1, h)))
}

// VacuumRTT is the least round trip over km of distance: light in vacuum,
// there and back. No network can beat it, which makes it the only bound a
// latency proof may rely on.
func VacuumRTT(km float64) time.Duration {
	return time.Duration(2 * km / LightKmPerSecond * float64(time.Second))
}

// GlassRTT is an estimate, never a bound: the round trip through glass
// fibre along a route routeFactor times the great circle (real routes run
// about 1.4×). Hollow-core fibre and microwave links are faster.
func GlassRTT(km, routeFactor float64) time.Duration {
	return time.Duration(2 * km * routeFactor * GlassIndex / LightKmPerSecond * float64(time.Second))
}
