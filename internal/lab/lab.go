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
//
// # Staging attacks
//
// The prover chooses the IP address of every connection, so the lab can
// also stage what the verifier must refuse (docs/lab.md walks through each):
//
//   - Shared certificates. A world endpoint with "shared_cert" is served in
//     each region as <region>.<service>.lab.test, and every region's server
//     presents the same certificate and key, *.<service>.lab.test, as Azure
//     Storage does with *.blob.core.windows.net. The certificate cannot
//     place a session, so each server answers GET /region-token with a body
//     only its region has ("lab region token <region> <secret>", the secret
//     drawn anew per lab), and the catalog entry carries a region binding
//     (that request, status 200, the body's SHA-256) whose request is also
//     the echo request: every echo of an honest probe binds its session.
//   - Edges. A world endpoint with "termination": "edge" is catalogued as
//     edge, without scope, so the verifier refuses it. Its one server
//     stands for an anycast front end: the route from each vantage gets
//     the delay to the nearest of its sites (every region unless "sites"
//     says otherwise), which is what anycast does.
//   - Attacker routing. VantageState.DialerWith sends a dial of one host
//     through the vantage's relay for another: a prover in northeurope
//     connects westeurope.store.lab.test to northeurope's front end, gets
//     a certificate valid for the name and a fast echo, and the wrong
//     region's token, which ScopeCheck refuses. Vantages may sit anywhere:
//     at coordinates, or at an "offset" (km and bearing from a region; see
//     Destination) for the attacker's VM 1, 10, 50, 100 or 500 km away.
//   - Another domain's certificate. A world endpoint with "cert_names"
//     presents a certificate for those names instead of its hostname (a
//     valid chain, the wrong domain), and "unlisted" keeps such an
//     attacker's server out of the catalog. The production probe checks
//     names and fails the handshake, as it must, and this package adds no
//     switch to skip that check: an attacker's session is obtained by
//     probing the name the certificate does carry, routed with
//     DialerWith, and then claiming it for another endpoint, which the
//     transcript checker (server name) and ScopeCheck refuse.
//
// datasets/demo-world.json (DemoWorld) is a world with all of these.
package lab

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
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

// DemoWorld returns the attack demonstration world
// (datasets/demo-world.json): three regions, an h2 endpoint and a
// shared-certificate HTTP/1.1 endpoint in each, an edge, an attacker's
// unlisted server with another domain's certificate, a vantage per region
// and attacker vantages 1 to 500 km from westeurope.
func DemoWorld() (*World, error) {
	return ReadWorld(bytes.NewReader(datasets.DemoWorld))
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
	secret, err := labSecret()
	if err != nil {
		return nil, err
	}
	// A shared-certificate service's one certificate, by service name;
	// Validate refuses a service shared in some regions only.
	shared := map[string]tls.Certificate{}
	for _, svc := range w.Endpoints {
		cert, ok := shared[svc.Service]
		if !ok {
			if cert, err = authority.issue(svc.CertDNSNames()...); err != nil {
				return nil, err
			}
			if svc.SharedCert {
				shared[svc.Service] = cert
			}
		}
		var token []byte
		if svc.SharedCert {
			token = regionToken(svc.Region, secret)
		}
		e, err := startEndpoint(svc, cert, token, opts.Host, opts.ErrorLog)
		if err != nil {
			return nil, err
		}
		l.endpoints = append(l.endpoints, e)
		_, port, _ := net.SplitHostPort(e.addr)
		st.Direct[svc.Hostname()] = e.addr
		if !svc.Unlisted {
			st.Catalog.Endpoints = append(st.Catalog.Endpoints, catalogEntry(w, svc, port, token))
		}
	}
	if l.sched, err = relay.NewScheduler(relay.SchedulerConfig{}); err != nil {
		return nil, err
	}
	for _, v := range w.Vantages {
		lat, lon := w.Coords(v)
		vs := VantageState{Name: v.Name, Lat: lat, Lon: lon, Routes: map[string]string{}, Delays: map[string]Delay{}}
		for _, e := range l.endpoints {
			km, site := w.EndpointKm(v, e.svc)
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
			vs.Delays[e.svc.Hostname()] = Delay{RouteKm: km, Site: site, OneWay: datasets.Duration(oneWay), Jitter: v.Jitter}
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
// through a vantage's routes) still reaches it.
//
// The lab CA issues each server a certificate naming its hostname alone, so
// the entry's region scope is that one name: a session with another
// region's server fails ScopeCheck like a foreign region's front end would.
// A server with CertNames keeps that scope (the catalog says what the
// region's certificate is; the server presents another). A shared-
// certificate service is scoped by its region binding instead, GET
// RegionTokenPath answered 200 with the SHA-256 of this region's token, and
// that request is its echo request, so every echo binds its session. An
// edge is catalogued as edge, without scope, to be refused.
func catalogEntry(w *World, svc Service, port string, token []byte) datasets.Endpoint {
	method := "h2-ping"
	if svc.Protocol == "http1" {
		method = "http1"
	}
	p, _ := strconv.Atoi(port) // from net.Listen: always a number
	e := datasets.Endpoint{
		Name:        svc.Hostname(),
		Provider:    "lab",
		Region:      svc.Region,
		Hostname:    svc.Hostname(),
		Port:        p,
		Termination: datasets.TerminationRegional,
		Echo: datasets.Echo{
			Method:        method,
			EchoesPerConn: svc.EchoesPerConn,
			MinSpacing:    svc.MinSpacing,
		},
		Source: "lab world " + w.Name,
	}
	if svc.Region != "" {
		r := w.region(svc.Region)
		e.Lat, e.Lon = r.Lat, r.Lon
	}
	switch {
	case svc.Edge():
		e.Termination = datasets.TerminationEdge
		sites := "every region of the world"
		if len(svc.Sites) > 0 {
			sites = strings.Join(svc.Sites, ", ")
		}
		if e.Region == "" {
			e.Region = GlobalRegion
			e.Notes = append(e.Notes, "Its coordinates (0, 0) mean nothing.")
		}
		e.Notes = append([]string{"Lab edge: an anycast-like front end with sites in " + sites + "; from every vantage its route is the one to the nearest site. In the catalog only so the verifier can name it when it refuses it."}, e.Notes...)
	case svc.SharedCert:
		sum := sha256.Sum256(token)
		e.Echo.HTTP1 = &datasets.HTTP1Request{Method: http.MethodGet, Path: RegionTokenPath}
		e.Scope = &datasets.Scope{Binding: &datasets.RegionBinding{
			Request:    datasets.HTTP1Request{Method: http.MethodGet, Path: RegionTokenPath},
			Status:     http.StatusOK,
			BodySHA256: hex.EncodeToString(sum[:]),
		}}
		e.Notes = []string{"Lab shared certificate: every region's server of " + svc.Service + " presents " + svc.sharedName() + " with one key, so only the region binding places a session; the echo request is the binding request, so every echo binds its session. The token is random per lab run."}
	default:
		e.Scope = &datasets.Scope{Names: []string{svc.Hostname()}}
		if len(svc.CertNames) > 0 {
			e.Notes = []string{"Lab attack staging: the server presents a certificate for " + strings.Join(svc.CertNames, ", ") + " instead of its hostname."}
		}
	}
	return e
}

// labSecret is the random part of every region token of one lab run, so
// that no token can be known before the lab starts.
func labSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("drawing the lab's region-token secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// regionToken is the body a region's shared-certificate servers answer at
// RegionTokenPath: what only that region holds.
func regionToken(region, secret string) []byte {
	return []byte("lab region token " + region + " " + secret + "\n")
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
