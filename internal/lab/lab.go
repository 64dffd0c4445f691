// Package lab runs the loopback lab: TLS 1.3 endpoints that stand in for
// cloud endpoints, with certificates from a lab CA and hostnames such as
// api.westeurope.lab.test, and for every vantage a userspace delay relay per
// endpoint that adds the one-way delay of the emulated path (fibre delay over
// the route, a base, and jitter).
//
// The lab is the real code path with other addresses, roots and delays: a
// probe of a lab endpoint dials, handshakes, times and records exactly as it
// would in a cloud. The lab publishes a State (see state.go) that clients use
// to route each hostname for a given vantage and to trust the lab CA; the
// State embeds the lab's endpoint catalog, so it can be passed wherever a
// catalog is expected.
package lab

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/relay"
)

// Options are the plumbing of a lab.
type Options struct {
	// Host is the loopback address to listen on; default 127.0.0.1.
	Host string
	// Seed fixes the jitter draws; runs with the same seed and traffic
	// draw the same delays.
	Seed uint64
	// Now is the lab's clock for certificate validity; nil means time.Now.
	Now func() time.Time
	// ErrorLog receives server and relay errors; nil discards them.
	ErrorLog *log.Logger
}

// Lab is a running lab.
type Lab struct {
	World *World
	State *State

	sched     *relay.Scheduler
	endpoints []*endpoint
	relays    []*relay.Relay
	listeners []net.Listener
}

// DefaultWorld returns the built-in world (datasets/lab-world.json).
func DefaultWorld() (*World, error) {
	return ReadWorld(bytes.NewReader(datasets.LabWorld))
}

// Start runs a lab for the world: one TLS server per endpoint, one relay per
// (vantage, endpoint).
func Start(w *World, opts Options) (_ *Lab, err error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.New(io.Discard, "", 0)
	}
	// Close what was started if a later step fails; l stays set even when
	// the named result is nil.
	l := &Lab{World: w}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	authority, err := newCA(w.Name, opts.Now())
	if err != nil {
		return nil, err
	}
	st := &State{
		Version: StateVersion,
		World:   w.Name,
		Started: opts.Now().UTC(),
		PID:     os.Getpid(),
		CAPEM:   string(authority.pem),
		Catalog: datasets.Catalog{Version: datasets.CatalogVersion, Name: "lab:" + w.Name},
		Direct:  map[string]string{},
	}
	for _, svc := range w.Endpoints {
		cert, err := authority.issue(svc.Hostname())
		if err != nil {
			return nil, err
		}
		e, err := startEndpoint(svc, cert, opts.Host, opts.ErrorLog)
		if err != nil {
			return nil, err
		}
		l.endpoints = append(l.endpoints, e)
		_, port, _ := net.SplitHostPort(e.addr)
		st.Direct[svc.Hostname()] = e.addr
		st.Catalog.Endpoints = append(st.Catalog.Endpoints, catalogEntry(w, svc, port))
	}
	if l.sched, err = relay.NewScheduler(relay.SchedulerConfig{}); err != nil {
		return nil, err
	}
	for _, v := range w.Vantages {
		lat, lon := w.Coords(v)
		vs := VantageState{Name: v.Name, Lat: lat, Lon: lon, Routes: map[string]string{}, Delays: map[string]Delay{}}
		for _, e := range l.endpoints {
			km := w.RouteKm(v, e.svc.Region)
			oneWay := relay.FibreDelay(km, 1) + time.Duration(v.Base)
			seed := routeSeed(opts.Seed, v.Name, e.svc.Hostname())
			r, err := relay.New(relay.Config{
				Target: e.addr,
				Up:     sampler(oneWay, v.Jitter, seed),
				Down:   sampler(oneWay, v.Jitter, seed+1),
				OnError: func(err error) {
					opts.ErrorLog.Printf("relay %s → %s: %v", v.Name, e.svc.Hostname(), err)
				},
			}, l.sched)
			if err != nil {
				return nil, err
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
			if err != nil {
				return nil, fmt.Errorf("listening for relay %s → %s: %w", v.Name, e.svc.Hostname(), err)
			}
			l.relays = append(l.relays, r)
			l.listeners = append(l.listeners, ln)
			go func() { _ = r.Serve(ln) }()
			vs.Routes[e.svc.Hostname()] = ln.Addr().String()
			vs.Delays[e.svc.Hostname()] = Delay{RouteKm: km, OneWay: datasets.Duration(oneWay), Jitter: v.Jitter}
		}
		st.Vantages = append(st.Vantages, vs)
	}
	if err := st.Catalog.Validate(); err != nil {
		return nil, fmt.Errorf("lab catalog: %w", err)
	}
	l.State = st
	return l, nil
}

// catalogEntry describes a lab service as a catalog entry. The port is the
// server's own, so a client that resolves lab names itself (rather than
// through a vantage's routes) still reaches it. The lab CA issues each
// server a certificate naming its hostname alone, so the entry's region
// scope is that one name: a session with another region's server fails
// ScopeCheck like a foreign region's front end would.
func catalogEntry(w *World, svc Service, port string) datasets.Endpoint {
	r := w.region(svc.Region)
	method := "h2-ping"
	if svc.Protocol == "http1" {
		method = "http1"
	}
	p, _ := strconv.Atoi(port) // from net.Listen: always a number
	return datasets.Endpoint{
		Name:        svc.Hostname(),
		Provider:    "lab",
		Region:      svc.Region,
		Lat:         r.Lat,
		Lon:         r.Lon,
		Hostname:    svc.Hostname(),
		Port:        p,
		Termination: datasets.TerminationRegional,
		Echo: datasets.Echo{
			Method:        method,
			EchoesPerConn: svc.EchoesPerConn,
			MinSpacing:    svc.MinSpacing,
		},
		Scope:  &datasets.Scope{Names: []string{svc.Hostname()}},
		Source: "lab world " + w.Name,
	}
}

// sampler builds the one-way delay distribution of one direction of a route.
func sampler(fixed time.Duration, j *Jitter, seed uint64) relay.Sampler {
	if j == nil {
		return relay.Fixed(fixed)
	}
	switch j.Dist {
	case "uniform":
		return relay.Uniform(fixed, time.Duration(j.Max), seed)
	case "exponential":
		return relay.Exponential(fixed, time.Duration(j.Mean), seed)
	default: // "lognormal"; Validate admits nothing else
		return relay.LogNormal(fixed, time.Duration(j.Mean), time.Duration(j.Stddev), seed)
	}
}

// routeSeed gives every (vantage, endpoint) route its own jitter stream.
func routeSeed(seed uint64, vantage, host string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%s", seed, vantage, host)
	return h.Sum64()
}

// RelayStats returns the relay scheduler's lateness figures.
func (l *Lab) RelayStats() relay.Stats {
	if l.sched == nil {
		return relay.Stats{}
	}
	return l.sched.Stats()
}

// Close stops every relay and server.
func (l *Lab) Close() error {
	var errs []error
	for _, ln := range l.listeners {
		_ = ln.Close()
	}
	for _, r := range l.relays {
		if err := r.Close(); err != nil && !errors.Is(err, relay.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if l.sched != nil {
		if err := l.sched.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range l.endpoints {
		if err := e.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
