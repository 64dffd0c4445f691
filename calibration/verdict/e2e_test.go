package verdict

import (
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
)

// labRTT draws a round trip of the lab's delay model between a vantage and
// an endpoint in the same region: 100 µs base each way, exponential jitter
// of mean 20 µs each way, and a server that answers in 26 µs plus an
// exponential 2 µs. It is not exactly a shifted gamma, as real data is not
// exactly any model.
func labRTT(r *rand.Rand) float64 {
	return 226_000 + distuv.Gamma{Alpha: 2, Beta: 1.0 / 20_000, Src: r}.Rand() + 2_000*r.ExpFloat64()
}

type labSource struct {
	r    *rand.Rand
	i, n int
}

func (s *labSource) Read() (dataset.Sample, error) {
	if s.i >= s.n {
		return dataset.Sample{}, io.EOF
	}
	s.i++
	return dataset.Sample{
		Campaign: "e2e", Seq: uint64(s.i), Vantage: "westeurope-vm", VantageLat: amsterdam.Lat, VantageLon: amsterdam.Lon,
		Origin: "lab", Endpoint: "api.westeurope.lab.test", Provider: "lab", Region: "westeurope", Method: "h2-ping",
		RTTNs: labRTT(s.r),
	}, nil
}

// TestEndToEnd fits a profile from lab-model samples, then decides on
// fresh honest and relayed draws of the same model: the stated FRR and FAR
// hold (the conservative basis may be stricter, never looser), although
// the model family is only an approximation of the data.
func TestEndToEnd(t *testing.T) {
	f, err := fit.Fit(&labSource{r: rand.New(rand.NewPCG(31, 31)), n: 200_000},
		fit.Options{Locate: func(_, _, _ string) (profile.Location, bool) { return amsterdam, true }})
	if err != nil {
		t.Fatal(err)
	}
	p := &f.Profiles[0]
	t.Logf("fitted %s shift %.0f alpha %.3f beta %.3g, objective %.3g, floor %.0f", p.Models[0].Family, p.Models[0].ShiftNs, p.Models[0].Alpha, p.Models[0].Beta, p.Models[0].GoF.Objective, p.FloorNs)
	const k, trials, frr = 32, 40_000, 0.01
	opts := Options{FRR: frr, Origin: profile.OriginLab}
	dc, err := newDecider(p, k, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(32, 32))
	rtts := make([]float64, k)
	rate := func(extra float64) float64 {
		n := 0
		for range trials {
			for i := range rtts {
				rtts[i] = labRTT(r) + extra
			}
			if dc.accepts(rtts) {
				n++
			}
		}
		return float64(n) / trials
	}
	sd := func(p float64) float64 { return math.Sqrt(p * (1 - p) / trials) }
	gotFRR := 1 - rate(0)
	if gotFRR > frr+zTol*sd(frr) {
		t.Errorf("honest rejection rate %v above the stated FRR %v", gotFRR, frr)
	}
	km := 0.5 * (dc.t - dc.process) / NsPerKm
	far := dc.far(km * NsPerKm)
	gotFAR := rate(km * NsPerKm)
	if gotFAR > far+zTol*sd(far)+1e-4 {
		t.Errorf("relay at %.2f km accepted at %v, stated FAR %v", km, gotFAR, far)
	}
	t.Logf("K=%d: threshold %.1f µs; honest rejection %.4f (stated %v); relay %.2f km accepted %.4f (stated %.4f)", k, dc.t/1e3, gotFRR, frr, km, gotFAR, far)
}
