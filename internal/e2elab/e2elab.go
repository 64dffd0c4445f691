// Package e2elab is the end-to-end tests' world: a running loopback lab of
// one claimed region with an HTTP/2 and an HTTP/1.1-only endpoint, a
// vantage inside it and relays 50 km and 300 km away, a simulated TEE
// hierarchy with its collateral, and lab profiles calibrated from the
// region's vantage by a real campaign and fit (internal/labcal). The
// verifier's and the verifier service's end-to-end tests share it; each
// adds its own challenge key and policy.
package e2elab

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/internal/labcal"
	"github.com/latencyproof/poc/internal/simtee"
	"github.com/latencyproof/poc/prover"
	"github.com/latencyproof/poc/verifier/dcap"
)

// World is one claimed region (westeurope) with an HTTP/2 and an
// HTTP/1.1-only endpoint, another region, a vantage in the claimed region,
// and attackers' vantages 50 km and 300 km away.
const World = `{
  "version": 1, "name": "e2e", "route_factor": 2.0,
  "regions": [{"name": "westeurope", "provider": "lab", "lat": 52.3676, "lon": 4.9041},
              {"name": "francecentral", "provider": "lab", "lat": 46.3772, "lon": 2.373}],
  "endpoints": [{"service": "api", "region": "westeurope", "protocol": "h2"},
                {"service": "blob", "region": "westeurope", "protocol": "http1"},
                {"service": "api", "region": "francecentral", "protocol": "h2"}],
  "vantages": [
    {"name": "westeurope-vm", "region": "westeurope", "base": "100us", "jitter": {"dist": "exponential", "mean": "15us"}},
    {"name": "relay-50km", "lat": 52.8176, "lon": 4.9041, "base": "100us", "jitter": {"dist": "exponential", "mean": "15us"}},
    {"name": "relay-300km", "lat": 55.0676, "lon": 4.9041, "base": "100us", "jitter": {"dist": "exponential", "mean": "15us"}}
  ]
}`

// Region is the claimed region, Vantage the honest prover's vantage in it,
// and Echoes the K of the proofs and of the calibration's probes.
const (
	Region  = "westeurope"
	Vantage = "westeurope-vm"
	Echoes  = 16
)

// Options shape an Env.
type Options struct {
	// Rounds are the calibration probes per endpoint; at least
	// profile.MinConnections for a probe level (default 100).
	Rounds int
}

// Env is a running world. Close stops it.
type Env struct {
	Lab        *lab.Lab
	Sim        *simtee.Sim
	Collateral dcap.Source
	Profiles   *profile.File
	// Dir is a scratch directory removed by Close.
	Dir string
}

// Start starts the world: the lab (jitter seed 7), the simulated TEE
// (valid from an hour ago), and a calibration campaign of o.Rounds probes
// of Echoes echoes per endpoint of Region, on connections of
// tlsprobe.DefaultEchoesPerConn as proofs carry them, fitted into lab
// profiles. On error it stops what it started.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	if o.Rounds == 0 {
		o.Rounds = profile.MinConnections
	}
	e := &Env{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	w, err := lab.ReadWorld(strings.NewReader(World))
	if err != nil {
		return nil, err
	}
	if e.Lab, err = lab.Start(w, lab.Options{Seed: 7}); err != nil {
		return nil, err
	}
	if e.Dir, err = os.MkdirTemp("", "poc-e2elab-"); err != nil {
		return nil, err
	}
	if e.Sim, err = simtee.Init(filepath.Join(e.Dir, "sim"), simtee.InitOptions{Now: time.Now().Add(-time.Hour)}); err != nil {
		return nil, err
	}
	col, err := dcap.ParseCollateral(e.Sim.CollateralJSON())
	if err != nil {
		return nil, err
	}
	e.Collateral = dcap.Bundle{Fixed: col}
	runs := []labcal.Run{{Vantage: Vantage, Region: Region}}
	if e.Profiles, err = labcal.Calibrate(ctx, e.Lab.State, runs, labcal.Options{Rounds: o.Rounds, Echoes: Echoes}); err != nil {
		return nil, fmt.Errorf("calibrating: %w", err)
	}
	return e, nil
}

// Close stops the lab and removes the scratch directory.
func (e *Env) Close() {
	if e.Lab != nil {
		e.Lab.Close()
	}
	if e.Dir != "" {
		os.RemoveAll(e.Dir)
	}
}

// EndpointRoots are the lab CA's roots, which the endpoints' certificates
// chain to.
func (e *Env) EndpointRoots() (*x509.CertPool, error) { return e.Lab.State.Roots() }

// ProverOptions are an honest prover's options at vantage: Echoes echoes
// to every endpoint of Region, attested by the simulated TEE.
func (e *Env) ProverOptions(vantage string) (prover.Options, error) {
	roots, err := e.EndpointRoots()
	if err != nil {
		return prover.Options{}, err
	}
	v, err := e.Lab.State.Vantage(vantage)
	if err != nil {
		return prover.Options{}, err
	}
	var eps []datasets.Endpoint
	for _, ep := range e.Lab.State.Catalog.Endpoints {
		if ep.Region == Region {
			eps = append(eps, ep)
		}
	}
	return prover.Options{Endpoints: eps, Echoes: Echoes, Attester: &prover.Sim{TEEHierarchy: e.Sim}, Roots: roots, Dial: v.Dialer()}, nil
}

var shared struct {
	once sync.Once
	env  *Env
	err  error
}

// Shared returns the test binary's one Env, started at the first call with
// that call's options, and skips the test under -short. Call CloseShared
// from TestMain after the tests have run.
func Shared(t testing.TB, o Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts a lab and calibrates it")
	}
	shared.once.Do(func() { shared.env, shared.err = Start(context.Background(), o) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.env
}

// CloseShared stops the Env Shared started, if any.
func CloseShared() {
	if shared.env != nil {
		shared.env.Close()
	}
}
