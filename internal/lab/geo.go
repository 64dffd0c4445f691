package lab

import (
	"math"

	"github.com/latencyproof/poc/datasets"
)

// Destination returns the point km great-circle kilometres from lat,lon
// along the initial bearing (degrees clockwise from north), on the sphere
// of datasets.EarthRadiusKm that datasets.GreatCircleKm measures on, so
// that GreatCircleKm of the two points is km again (to rounding, for km up
// to half the circumference). It places attack vantages at a given distance
// from a region; Offset uses it.
func Destination(lat, lon, bearing, km float64) (float64, float64) {
	const rad = math.Pi / 180
	d := km / datasets.EarthRadiusKm
	p1, l1, b := lat*rad, lon*rad, bearing*rad
	sp2 := math.Sin(p1)*math.Cos(d) + math.Cos(p1)*math.Sin(d)*math.Cos(b)
	p2 := math.Asin(max(-1, min(1, sp2)))
	l2 := l1 + math.Atan2(math.Sin(b)*math.Sin(d)*math.Cos(p1), math.Cos(d)-math.Sin(p1)*sp2)
	lon2 := math.Mod(l2/rad+540, 360) - 180 // normalise to [-180, 180)
	return p2 / rad, lon2
}
