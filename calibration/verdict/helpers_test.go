package verdict

import (
	"math"

	"github.com/latencyproof/poc/calibration/profile"
)

// City coordinates (approximate city centres), for geometry tests.
var (
	amsterdam = profile.Location{Lat: 52.3676, Lon: 4.9041}
	dublin    = profile.Location{Lat: 53.3478, Lon: -6.2597}
	paris     = profile.Location{Lat: 48.8566, Lon: 2.3522}
	frankfurt = profile.Location{Lat: 50.1109, Lon: 8.6821}
	london    = profile.Location{Lat: 51.5074, Lon: -0.1278}
	sydney    = profile.Location{Lat: -33.8688, Lon: 151.2093}
)

// Models standing for honest round trips, roughly the shapes seen in the
// lab and in cloud regions: a floor plus a right-skewed tail.
var (
	// lognormal: floor 100 µs, median 130 µs.
	lognormal = profile.Model{Family: profile.FamilyLogNormal, ShiftNs: 100_000, Mu: math.Log(30_000), Sigma: 0.5}
	// gamma: floor 200 µs plus the sum of two exponential 20 µs jitters
	// (the lab's delay model), mean 240 µs.
	gamma = profile.Model{Family: profile.FamilyGamma, ShiftNs: 200_000, Alpha: 2, Beta: 1.0 / 20_000}
)

// modelProfile returns a valid profile whose empirical description is the
// model's exact quantiles, as if fitted from n samples of the model, with
// vantage and endpoint at loc.
func modelProfile(m profile.Model, n uint64, loc profile.Location) *profile.Profile {
	p := &profile.Profile{
		Provider: "lab", Region: "westeurope", Endpoint: "api.westeurope.lab.test", Method: "h2-ping",
		Clock: profile.ClockCounter, Origin: profile.OriginReal,
		Vantage:          profile.Vantage{Name: "westeurope-vm", Lat: loc.Lat, Lon: loc.Lon},
		EndpointLocation: loc,
		Count:            n,
		MinNs:            m.Quantile(1 / float64(n+1)),
		MaxNs:            m.Quantile(1 - 1/float64(n+1)),
		MeanNs:           m.Mean(),
		StddevNs:         1,
		SketchRelErr:     0,
		Models:           []profile.Model{m},
		Outliers:         profile.Outliers{HardCapNs: 1e10},
	}
	for _, prob := range profile.Grid {
		if float64(n)*math.Min(prob, 1-prob) >= 1 {
			p.Quantiles = append(p.Quantiles, profile.Quantile{P: prob, Ns: m.Quantile(prob)})
		}
	}
	p.Models[0].GoF.Method = "exact"
	p.FloorNs = math.Min(m.ShiftNs, 0.95*p.MinNs)
	p.FloorRule = "min(shift, 0.95 min)"
	return p
}
