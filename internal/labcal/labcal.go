// Package labcal calibrates the loopback lab the way a researcher
// calibrates a region: a campaign (calibration.Run) from a vantage over a
// region's regional endpoints, then a fit (calibration/fit) of every
// campaign's dataset into one profile file. The demo and the end-to-end
// tests use it, so that what they decide with is what the real commands
// would have produced.
package labcal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/latencyproof/poc/calibration"
	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/fit"
	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
)

// Run is one campaign: from Vantage over Region's regional endpoints.
type Run struct {
	Vantage, Region string
	// Rounds, if not zero, overrides Options.Rounds for this campaign.
	Rounds int
}

// Options shape the campaigns.
type Options struct {
	// Rounds and Echoes per probe; zero means calibration's defaults.
	// Each endpoint needs profile.MinConnections probes for a probe level
	// of the proofs' shape.
	Rounds, Echoes int
	// Seed fixes the campaigns' endpoint orders (0: 1).
	Seed uint64
	// Dir keeps the datasets; empty means a temporary directory removed
	// when the fit is done.
	Dir string
	// Notes go into the profiles' provenance.
	Notes string
	// Log, if set, is told about each campaign.
	Log func(format string, a ...any)
}

// ErrNothing: no run had a vantage and regional endpoints to calibrate.
var ErrNothing = errors.New("labcal: nothing to calibrate")

// Calibrate runs one campaign per run (skipping a run whose vantage or
// regional endpoints the lab lacks) and fits the datasets into profiles.
func Calibrate(ctx context.Context, st *lab.State, runs []Run, o Options) (*profile.File, error) {
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "poc-labcal-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	var files []string
	for _, r := range runs {
		var eps []string
		for _, ep := range st.Catalog.Endpoints {
			if ep.Region == r.Region && ep.Termination == datasets.TerminationRegional {
				eps = append(eps, ep.Name)
			}
		}
		if _, err := st.Vantage(r.Vantage); err != nil || len(eps) == 0 {
			continue
		}
		out := filepath.Join(dir, "campaign-"+r.Vantage+".jsonl")
		rounds := o.Rounds
		if r.Rounds != 0 {
			rounds = r.Rounds
		}
		if o.Log != nil {
			o.Log("calibration: %s, %d rounds × %d echoes × %d endpoints", r.Vantage, rounds, o.Echoes, len(eps))
		}
		if err := calibration.Run(ctx, calibration.Campaign{
			ID: "lab-" + r.Vantage, Lab: st, Endpoints: eps,
			Vantage: dataset.Vantage{Name: r.Vantage}, Rounds: rounds, Echoes: o.Echoes, Seed: seed, Out: out,
		}); err != nil {
			return nil, fmt.Errorf("campaign from %s: %w", r.Vantage, err)
		}
		files = append(files, out)
	}
	if len(files) == 0 {
		return nil, ErrNothing
	}
	f, err := fit.NewFitter(fit.Options{Locate: func(_, _, endpoint string) (profile.Location, bool) {
		ep, ok := st.Catalog.Lookup(endpoint)
		return profile.Location{Lat: ep.Lat, Lon: ep.Lon}, ok
	}, Provenance: profile.Provenance{Notes: o.Notes}})
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		if err := add(f, path); err != nil {
			return nil, err
		}
	}
	return f.File()
}

// add streams one dataset into the fitter.
func add(f *fit.Fitter, path string) error {
	r, err := dataset.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		s, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := f.Add(s); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}
