package lab_test

import (
	"fmt"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
)

// A world built in code: a shared-certificate service in two regions, an
// edge, and attacker vantages at given distances from westeurope.
func Example_attackWorld() {
	jitter := &lab.Jitter{Dist: "lognormal", Mean: datasets.Duration(30 * time.Microsecond), Stddev: datasets.Duration(30 * time.Microsecond)}
	base := datasets.Duration(120 * time.Microsecond)
	w := &lab.World{
		Version:     lab.WorldVersion,
		Name:        "attack",
		RouteFactor: 1.4,
		Regions: []lab.Region{
			{Name: "westeurope", Lat: 52.3676, Lon: 4.9041},
			{Name: "northeurope", Lat: 53.3478, Lon: -6.2597},
		},
		Endpoints: []lab.Service{
			{Service: "store", Region: "westeurope", Protocol: "http1", SharedCert: true},
			{Service: "store", Region: "northeurope", Protocol: "http1", SharedCert: true},
			{Service: "front", Protocol: "h2", Termination: datasets.TerminationEdge},
		},
		Vantages: []lab.Vantage{{Name: "northeurope-vm", Region: "northeurope", Base: base, Jitter: jitter}},
	}
	for _, km := range []float64{1, 10, 50, 100, 500} {
		w.Vantages = append(w.Vantages, lab.Vantage{
			Name:   fmt.Sprintf("attacker-%gkm", km),
			Offset: &lab.Offset{From: "westeurope", Km: km, Bearing: 135},
			Base:   base, Jitter: jitter,
		})
	}
	if err := w.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range w.Vantages[1:] {
		lat, lon := w.Coords(v)
		km, site := w.EndpointKm(v, w.Endpoints[2])
		fmt.Printf("%s at %.4f,%.4f: %.0f km from westeurope; the edge's route is %.0f km to %s\n",
			v.Name, lat, lon, w.DistanceKm(v, "westeurope"), km, site)
	}
	fmt.Println(w.Endpoints[0].Hostname(), w.Endpoints[0].CertDNSNames())
	// Output:
	// attacker-1km at 52.3612,4.9145: 1 km from westeurope; the edge's route is 1 km to westeurope
	// attacker-10km at 52.3040,5.0081: 10 km from westeurope; the edge's route is 14 km to westeurope
	// attacker-50km at 52.0485,5.4211: 50 km from westeurope; the edge's route is 70 km to westeurope
	// attacker-100km at 51.7272,5.9308: 100 km from westeurope; the edge's route is 140 km to westeurope
	// attacker-500km at 49.0828,9.7595: 500 km from westeurope; the edge's route is 700 km to westeurope
	// westeurope.store.lab.test [*.store.lab.test]
}
