package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/latencyproof/poc/datasets"
)

// Domain is the DNS suffix of every lab hostname. ".test" is reserved
// (RFC 6761), so a lab name can never reach a real server.
const Domain = "lab.test"

// World describes a lab: regions with coordinates, the endpoints each
// region serves, and the vantage points probes run from.
type World struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// RouteFactor multiplies great-circle distances into fibre route
	// lengths; real routes run about 1.4× the great circle. Zero means 1.
	RouteFactor float64   `json:"route_factor,omitempty"`
	Regions     []Region  `json:"regions"`
	Endpoints   []Service `json:"endpoints"`
	Vantages    []Vantage `json:"vantages"`
	Source      string    `json:"source,omitempty"`
	Notes       []string  `json:"notes,omitempty"`
	regionIndex map[string]int
}

// Region is a lab region.
type Region struct {
	Name     string  `json:"name"`
	Provider string  `json:"provider,omitempty"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
}

// Service is one lab endpoint: <service>.<region>.lab.test.
type Service struct {
	Service string `json:"service"`
	Region  string `json:"region"`
	// Protocol is "h2" (HTTP/2 with PING echoes) or "http1" (HTTP/1.1
	// only, like an object store).
	Protocol string `json:"protocol"`
	// EchoesPerConn and MinSpacing form the endpoint's echo budget.
	EchoesPerConn int               `json:"echoes_per_conn,omitempty"`
	MinSpacing    datasets.Duration `json:"min_spacing,omitempty"`
}

// Hostname returns the service's lab hostname.
func (s Service) Hostname() string {
	return s.Service + "." + s.Region + "." + Domain
}

// Vantage is where a prover or researcher probes from. Its round trip to an
// endpoint is the fibre delay over the route between them, plus Base each
// way, plus jitter.
type Vantage struct {
	Name string `json:"name"`
	// Region places the vantage at a region's coordinates; otherwise Lat
	// and Lon do.
	Region string  `json:"region,omitempty"`
	Lat    float64 `json:"lat,omitempty"`
	Lon    float64 `json:"lon,omitempty"`
	// Base is added to the one-way delay of every route (the access
	// network, the data centre's own fabric).
	Base datasets.Duration `json:"base,omitempty"`
	// Jitter is drawn per chunk and direction, on top of the fixed delay.
	Jitter *Jitter `json:"jitter,omitempty"`
}

// Jitter is a one-way delay distribution added to the fixed delay.
type Jitter struct {
	// Dist is "uniform" (0..Max), "exponential" (Mean) or "lognormal"
	// (Mean, Stddev).
	Dist   string            `json:"dist"`
	Max    datasets.Duration `json:"max,omitempty"`
	Mean   datasets.Duration `json:"mean,omitempty"`
	Stddev datasets.Duration `json:"stddev,omitempty"`
}

// WorldVersion is the world-file schema this package reads.
const WorldVersion = 1

// MaxWorldBytes bounds a world file.
const MaxWorldBytes = 1 << 20

// ErrWorld is wrapped by every world validation error.
var ErrWorld = errors.New("invalid lab world")

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ReadWorld decodes and validates a world file.
func ReadWorld(r io.Reader) (*World, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxWorldBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorld, err)
	}
	if len(b) > MaxWorldBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrWorld, MaxWorldBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var w World
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorld, err)
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return &w, nil
}

// Validate checks the world and reports every problem found.
func (w *World) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if w.Version != WorldVersion {
		add("version %d, want %d", w.Version, WorldVersion)
	}
	if w.RouteFactor < 0 || w.RouteFactor > 10 {
		add("route_factor %v not in [0, 10]", w.RouteFactor)
	}
	w.regionIndex = map[string]int{}
	for i, r := range w.Regions {
		if !nameRE.MatchString(r.Name) {
			add("region %d: name %q must be a DNS label", i, r.Name)
		}
		if _, dup := w.regionIndex[r.Name]; dup {
			add("region %q defined twice", r.Name)
		}
		w.regionIndex[r.Name] = i
		if !validCoords(r.Lat, r.Lon) {
			add("region %q: coordinates %v,%v out of range", r.Name, r.Lat, r.Lon)
		}
	}
	hosts := map[string]bool{}
	for i, s := range w.Endpoints {
		if !nameRE.MatchString(s.Service) {
			add("endpoint %d: service %q must be a DNS label", i, s.Service)
		}
		if _, ok := w.regionIndex[s.Region]; !ok {
			add("endpoint %d: unknown region %q", i, s.Region)
		}
		if s.Protocol != "h2" && s.Protocol != "http1" {
			add("endpoint %s: protocol %q (want h2 or http1)", s.Hostname(), s.Protocol)
		}
		if hosts[s.Hostname()] {
			add("endpoint %s defined twice", s.Hostname())
		}
		hosts[s.Hostname()] = true
		if s.EchoesPerConn < 0 || s.MinSpacing < 0 {
			add("endpoint %s: negative echo budget", s.Hostname())
		}
	}
	if len(w.Endpoints) == 0 {
		add("no endpoints")
	}
	vants := map[string]bool{}
	for i, v := range w.Vantages {
		if !nameRE.MatchString(v.Name) {
			add("vantage %d: name %q must be a DNS label", i, v.Name)
		}
		if vants[v.Name] {
			add("vantage %q defined twice", v.Name)
		}
		vants[v.Name] = true
		if v.Region != "" {
			if _, ok := w.regionIndex[v.Region]; !ok {
				add("vantage %q: unknown region %q", v.Name, v.Region)
			}
		} else if !validCoords(v.Lat, v.Lon) {
			add("vantage %q: coordinates %v,%v out of range", v.Name, v.Lat, v.Lon)
		}
		if v.Base < 0 || time.Duration(v.Base) > time.Second {
			add("vantage %q: base %v not in [0, 1s]", v.Name, time.Duration(v.Base))
		}
		if err := v.Jitter.validate(); err != nil {
			add("vantage %q: %v", v.Name, err)
		}
	}
	if len(w.Vantages) == 0 {
		add("no vantages")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrWorld, errors.Join(errs...))
	}
	return nil
}

func (j *Jitter) validate() error {
	if j == nil {
		return nil
	}
	const max = time.Second
	bad := func(d datasets.Duration) bool { return d < 0 || time.Duration(d) > max }
	switch j.Dist {
	case "uniform":
		if j.Max <= 0 || bad(j.Max) {
			return fmt.Errorf("uniform jitter needs max in (0, %v]", max)
		}
	case "exponential":
		if j.Mean <= 0 || bad(j.Mean) {
			return fmt.Errorf("exponential jitter needs mean in (0, %v]", max)
		}
	case "lognormal":
		if j.Mean <= 0 || bad(j.Mean) || j.Stddev <= 0 || bad(j.Stddev) {
			return fmt.Errorf("lognormal jitter needs mean and stddev in (0, %v]", max)
		}
	default:
		return fmt.Errorf("jitter dist %q (want uniform, exponential or lognormal)", j.Dist)
	}
	return nil
}

func validCoords(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 && !math.IsNaN(lat) && !math.IsNaN(lon)
}

// region returns the named region (Validate must have run).
func (w *World) region(name string) Region {
	return w.Regions[w.regionIndex[name]]
}

// Coords returns where a vantage is.
func (w *World) Coords(v Vantage) (lat, lon float64) {
	if v.Region != "" {
		r := w.region(v.Region)
		return r.Lat, r.Lon
	}
	return v.Lat, v.Lon
}

// Vantage returns the named vantage.
func (w *World) Vantage(name string) (Vantage, bool) {
	for _, v := range w.Vantages {
		if v.Name == name {
			return v, true
		}
	}
	return Vantage{}, false
}

// RouteKm returns the fibre route length from a vantage to a region.
func (w *World) RouteKm(v Vantage, region string) float64 {
	lat, lon := w.Coords(v)
	r := w.region(region)
	f := w.RouteFactor
	if f == 0 {
		f = 1
	}
	return datasets.GreatCircleKm(lat, lon, r.Lat, r.Lon) * f
}
