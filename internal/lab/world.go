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

// Service is one lab endpoint. Its hostname is <service>.<region>.lab.test,
// but for a shared-certificate service (<region>.<service>.lab.test, the
// shape of <account>.blob.core.windows.net) and an edge without a region
// (<service>.lab.test).
type Service struct {
	Service string `json:"service"`
	// Region is where the endpoint's TLS ends. Required except on an edge,
	// where it only names the host and the catalog entry (a regional-
	// looking name that an anycast front end answers).
	Region string `json:"region"`
	// Protocol is "h2" (HTTP/2 with PING echoes) or "http1" (HTTP/1.1
	// only, like an object store).
	Protocol string `json:"protocol"`
	// EchoesPerConn and MinSpacing form the endpoint's echo budget.
	EchoesPerConn int               `json:"echoes_per_conn,omitempty"`
	MinSpacing    datasets.Duration `json:"min_spacing,omitempty"`
	// Termination is "regional" (the default) or "edge": an anycast front
	// end, catalogued as edge so that the verifier refuses it. An edge's
	// delay from a vantage is the delay to the nearest of its Sites.
	Termination datasets.Termination `json:"termination,omitempty"`
	// Sites (edge only) are the regions where the edge has front ends;
	// empty means every region of the world.
	Sites []string `json:"sites,omitempty"`
	// SharedCert gives every region's server of this service one
	// certificate and key, for *.<service>.lab.test, as Azure Storage does
	// with *.blob.core.windows.net. Each such server answers GET
	// /region-token (RegionTokenPath) with a body only its region has, and
	// the catalog entry binds the region by that request, which is also
	// the echo request. HTTP/1.1 only: h2 echoes carry no HTTP exchange
	// for the binding.
	SharedCert bool `json:"shared_cert,omitempty"`
	// CertNames, if set, are the DNS names of the server's certificate
	// instead of its hostname: another domain's certificate, valid chain
	// and wrong name (attack staging). Each must be under lab.test, the
	// lab CA's only permitted domain.
	CertNames []string `json:"cert_names,omitempty"`
	// Unlisted keeps the endpoint out of the lab's catalog: the lab serves
	// and routes it, but it is no provider's endpoint (an attacker's own
	// server, typically with CertNames).
	Unlisted bool `json:"unlisted,omitempty"`
}

// RegionTokenPath is the path at which every shared-certificate server
// answers its region's token: the lab's region-binding request.
const RegionTokenPath = "/region-token"

// GlobalRegion is the catalog region of an edge endpoint without a region.
const GlobalRegion = "global"

// Edge reports whether the endpoint is an edge front end.
func (s Service) Edge() bool { return s.Termination == datasets.TerminationEdge }

// Hostname returns the service's lab hostname.
func (s Service) Hostname() string {
	switch {
	case s.SharedCert:
		return s.Region + "." + s.Service + "." + Domain
	case s.Region == "": // an edge without a region
		return s.Service + "." + Domain
	}
	return s.Service + "." + s.Region + "." + Domain
}

// CertDNSNames returns the DNS names of the certificate the service's server
// presents: its CertNames, the shared wildcard, or its hostname alone.
func (s Service) CertDNSNames() []string {
	switch {
	case len(s.CertNames) > 0:
		return append([]string(nil), s.CertNames...)
	case s.SharedCert:
		return []string{s.sharedName()}
	}
	return []string{s.Hostname()}
}

// sharedName is the wildcard of a shared-certificate service.
func (s Service) sharedName() string { return "*." + s.Service + "." + Domain }

// Vantage is where a prover or researcher probes from. Its round trip to an
// endpoint is the fibre delay over the route between them, plus Base each
// way, plus jitter.
type Vantage struct {
	Name string `json:"name"`
	// Region places the vantage at a region's coordinates; Offset places
	// it at a distance and bearing from a region; otherwise Lat and Lon
	// do.
	Region string  `json:"region,omitempty"`
	Offset *Offset `json:"offset,omitempty"`
	Lat    float64 `json:"lat,omitempty"`
	Lon    float64 `json:"lon,omitempty"`
	// Base is added to the one-way delay of every route (the access
	// network, the data centre's own fabric).
	Base datasets.Duration `json:"base,omitempty"`
	// Jitter is drawn per chunk and direction, on top of the fixed delay.
	Jitter *Jitter `json:"jitter,omitempty"`
}

// Offset places a vantage Km great-circle kilometres from region From,
// along the initial Bearing in degrees clockwise from north: the attack
// scenarios' "a VM 50 km from westeurope".
type Offset struct {
	From    string  `json:"from"`
	Km      float64 `json:"km"`
	Bearing float64 `json:"bearing"`
}

// MaxOffsetKm bounds Offset.Km: half the Earth's circumference.
const MaxOffsetKm = 20000

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
	errs = append(errs, w.validateEndpoints()...)
	vants := map[string]bool{}
	for i, v := range w.Vantages {
		if !nameRE.MatchString(v.Name) {
			add("vantage %d: name %q must be a DNS label", i, v.Name)
		}
		if vants[v.Name] {
			add("vantage %q defined twice", v.Name)
		}
		vants[v.Name] = true
		switch o := v.Offset; {
		case o != nil && v.Region != "":
			add("vantage %q: region and offset both place it", v.Name)
		case o != nil && (v.Lat != 0 || v.Lon != 0):
			add("vantage %q: offset and coordinates both place it", v.Name)
		case o != nil:
			if _, ok := w.regionIndex[o.From]; !ok {
				add("vantage %q: offset from unknown region %q", v.Name, o.From)
			}
			if !(o.Km >= 0 && o.Km <= MaxOffsetKm) {
				add("vantage %q: offset km %v not in [0, %d]", v.Name, o.Km, MaxOffsetKm)
			}
			if !(o.Bearing >= 0 && o.Bearing < 360) {
				add("vantage %q: offset bearing %v not in [0, 360)", v.Name, o.Bearing)
			}
		case v.Region != "":
			if _, ok := w.regionIndex[v.Region]; !ok {
				add("vantage %q: unknown region %q", v.Name, v.Region)
			}
		case !validCoords(v.Lat, v.Lon):
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

// MaxCertNames bounds Service.CertNames.
const MaxCertNames = 16

// validateEndpoints checks the endpoints (regionIndex must be built) and
// returns every problem found.
func (w *World) validateEndpoints() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	hosts := map[string]bool{}
	shared := map[string]bool{} // service → shared_cert, as first seen
	regionless := false
	for i, s := range w.Endpoints {
		if !nameRE.MatchString(s.Service) {
			add("endpoint %d: service %q must be a DNS label", i, s.Service)
		}
		h := s.Hostname()
		switch s.Termination {
		case "", datasets.TerminationRegional:
			if _, ok := w.regionIndex[s.Region]; !ok {
				add("endpoint %d: unknown region %q", i, s.Region)
			}
			if len(s.Sites) > 0 {
				add("endpoint %s: sites are for edge endpoints", h)
			}
		case datasets.TerminationEdge:
			if _, ok := w.regionIndex[s.Region]; s.Region != "" && !ok {
				add("endpoint %d: unknown region %q", i, s.Region)
			}
			regionless = regionless || s.Region == ""
			seen := map[string]bool{}
			for _, site := range s.Sites {
				if _, ok := w.regionIndex[site]; !ok {
					add("endpoint %s: unknown site %q", h, site)
				}
				if seen[site] {
					add("endpoint %s: site %q listed twice", h, site)
				}
				seen[site] = true
			}
			if len(w.Regions) == 0 {
				add("endpoint %s: an edge needs a site, and the world has no regions", h)
			}
			if s.SharedCert {
				add("endpoint %s: an edge has no region scope, so no shared certificate with a region binding", h)
			}
		default:
			add("endpoint %s: termination %q (want regional or edge)", h, s.Termination)
		}
		if s.Protocol != "h2" && s.Protocol != "http1" {
			add("endpoint %s: protocol %q (want h2 or http1)", h, s.Protocol)
		}
		if s.SharedCert && s.Protocol != "http1" {
			add("endpoint %s: a shared certificate needs the region-binding request as its echo, which only http1 endpoints carry (protocol %q)", h, s.Protocol)
		}
		if s.SharedCert && len(s.CertNames) > 0 {
			add("endpoint %s: shared_cert and cert_names both choose the certificate", h)
		}
		if was, ok := shared[s.Service]; ok && was != s.SharedCert {
			add("endpoint %s: service %q has a shared certificate in some regions and not in others", h, s.Service)
		}
		shared[s.Service] = s.SharedCert
		if len(s.CertNames) > MaxCertNames {
			add("endpoint %s: %d cert_names, at most %d", h, len(s.CertNames), MaxCertNames)
		}
		names := map[string]bool{}
		for _, n := range s.CertNames {
			if err := checkCertName(n); err != nil {
				add("endpoint %s: cert name %q: %v", h, n, err)
			}
			if names[n] {
				add("endpoint %s: cert name %q listed twice", h, n)
			}
			names[n] = true
		}
		if hosts[h] {
			add("endpoint %s defined twice", h)
		}
		hosts[h] = true
		if s.EchoesPerConn < 0 || s.MinSpacing < 0 {
			add("endpoint %s: negative echo budget", h)
		}
	}
	// A shared wildcard must cover its own service's hosts alone:
	// *.store.lab.test would also be valid for api.store.lab.test, an
	// endpoint of a region named "store".
	for _, s := range w.Endpoints {
		if s.SharedCert {
			continue
		}
		if _, parent, ok := strings.Cut(s.Hostname(), "."); ok {
			if svc, ok := strings.CutSuffix(parent, "."+Domain); ok && shared[svc] {
				add("endpoint %s: the shared certificate *.%s is valid for it too", s.Hostname(), parent)
			}
		}
	}
	if _, clash := w.regionIndex[GlobalRegion]; clash && regionless {
		add("region %q is reserved for the catalog entries of edge endpoints without a region", GlobalRegion)
	}
	if len(w.Endpoints) == 0 {
		add("no endpoints")
	}
	return errs
}

// checkCertName checks a certificate DNS name: lower-case labels, a
// wildcard only as the whole leftmost label, under the lab's domain (the
// lab CA may sign nothing else).
func checkCertName(n string) error {
	base := strings.TrimPrefix(n, "*.")
	if !strings.HasSuffix(base, "."+Domain) {
		return fmt.Errorf("not under %s, the lab CA's only permitted domain", Domain)
	}
	labels := strings.Split(strings.TrimSuffix(base, "."+Domain), ".")
	for _, l := range labels {
		if !nameRE.MatchString(l) {
			return fmt.Errorf("label %q is not a lower-case DNS label", l)
		}
	}
	if len(n) > 253 {
		return errors.New("longer than 253 bytes")
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
	switch {
	case v.Offset != nil:
		r := w.region(v.Offset.From)
		return Destination(r.Lat, r.Lon, v.Offset.Bearing, v.Offset.Km)
	case v.Region != "":
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

// DistanceKm returns the great-circle distance from a vantage to a region.
func (w *World) DistanceKm(v Vantage, region string) float64 {
	lat, lon := w.Coords(v)
	r := w.region(region)
	return datasets.GreatCircleKm(lat, lon, r.Lat, r.Lon)
}

// RouteKm returns the fibre route length from a vantage to a region.
func (w *World) RouteKm(v Vantage, region string) float64 {
	f := w.RouteFactor
	if f == 0 {
		f = 1
	}
	return w.DistanceKm(v, region) * f
}

// EndpointKm returns the fibre route length from a vantage to an endpoint
// and the region whose front end the route reaches: the endpoint's region,
// or for an edge the nearest of its sites (every region when it lists
// none), which is what anycast routing does.
func (w *World) EndpointKm(v Vantage, s Service) (km float64, site string) {
	if !s.Edge() {
		return w.RouteKm(v, s.Region), s.Region
	}
	sites := s.Sites
	if len(sites) == 0 {
		for _, r := range w.Regions {
			sites = append(sites, r.Name)
		}
	}
	km = math.Inf(1)
	for _, r := range sites {
		if d := w.RouteKm(v, r); d < km {
			km, site = d, r
		}
	}
	return km, site
}
