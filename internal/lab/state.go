package lab

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/latencyproof/poc/datasets"
)

// State is what a running lab publishes for its clients: the lab world's
// endpoint catalog, the lab CA, and for each vantage the loopback address
// that reaches each endpoint through that vantage's delay relay. A State file
// can be used wherever a catalog is expected.
type State struct {
	Version int       `json:"version"`
	World   string    `json:"world"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
	// CAPEM is the lab CA certificate, the only root lab clients trust.
	CAPEM   string           `json:"ca_pem"`
	Catalog datasets.Catalog `json:"catalog"`
	// Direct maps each hostname to its server's own address, with no relay
	// (for diagnostics and benchmarks).
	Direct   map[string]string `json:"direct"`
	Vantages []VantageState    `json:"vantages"`
}

// VantageState is one vantage's routing.
type VantageState struct {
	Name string  `json:"name"`
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
	// Routes maps hostname to the relay address for this vantage.
	Routes map[string]string `json:"routes"`
	// Delays describes each route: fibre route length and the configured
	// one-way delay (fixed part; jitter comes on top).
	Delays map[string]Delay `json:"delays"`
}

// Delay describes one relay's emulated path.
type Delay struct {
	RouteKm float64 `json:"route_km"`
	// Site is the region whose server the route reaches: the endpoint's
	// region, or for an edge the nearest of its sites.
	Site   string            `json:"site,omitempty"`
	OneWay datasets.Duration `json:"one_way"`
	Jitter *Jitter           `json:"jitter,omitempty"`
}

// StateVersion is the state-file schema this package reads and writes.
const StateVersion = 1

// MaxStateBytes bounds a state file.
const MaxStateBytes = 8 << 20

// Errors of state use.
var (
	ErrState          = errors.New("invalid lab state")
	ErrUnknownVantage = errors.New("unknown lab vantage")
	ErrUnknownHost    = errors.New("host not in the lab")
)

// WriteFile writes the state atomically (a temporary file renamed into
// place), so a client never reads half a state.
func (s *State) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadState decodes and checks a state file.
func ReadState(r io.Reader) (*State, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxStateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if len(b) > MaxStateBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrState, MaxStateBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrState, s.Version, StateVersion)
	}
	if _, err := s.Roots(); err != nil {
		return nil, err
	}
	if err := s.Catalog.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return &s, nil
}

// ReadStateFile reads a state file from disk.
func ReadStateFile(path string) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadState(f)
}

// Roots returns a pool holding only the lab CA.
func (s *State) Roots() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(s.CAPEM)) {
		return nil, fmt.Errorf("%w: no CA certificate in ca_pem", ErrState)
	}
	return pool, nil
}

// Vantage returns the named vantage's routing.
func (s *State) Vantage(name string) (*VantageState, error) {
	for i := range s.Vantages {
		if s.Vantages[i].Name == name {
			return &s.Vantages[i], nil
		}
	}
	names := make([]string, len(s.Vantages))
	for i, v := range s.Vantages {
		names[i] = v.Name
	}
	return nil, fmt.Errorf("%w %q (the lab has: %s)", ErrUnknownVantage, name, strings.Join(names, ", "))
}

// Route returns the relay address that reaches host from the named vantage:
// where a dial of host from there goes, with that route's delays.
func (s *State) Route(vantage, host string) (string, error) {
	v, err := s.Vantage(vantage)
	if err != nil {
		return "", err
	}
	to, ok := v.Routes[host]
	if !ok {
		return "", fmt.Errorf("%w: %q from vantage %s", ErrUnknownHost, host, v.Name)
	}
	return to, nil
}

// Dialer returns a dial function that sends each lab hostname to the
// vantage's relay for it, and refuses every other address: a lab probe never
// leaves loopback.
func (v *VantageState) Dialer() func(ctx context.Context, network, address string) (net.Conn, error) {
	return v.DialerWith(nil)
}

// DialerWith is Dialer with attacker routing: a dial of host X where
// overrides[X] = Y goes through the vantage's relay for Y, so it lands on
// Y's server with the delays of the route to Y, while the TLS client above
// still sends X as its server name. That is what a prover who chooses the
// IP address can do: connect westeurope.store.lab.test to its own region's
// northeurope.store.lab.test front end, or send a name that no lab server
// has (another domain's certificate name) to the server that presents it.
// X need not be a lab hostname; Y must be one, or the dial fails with
// ErrUnknownHost. Names without an override route as Dialer routes them.
// The map is copied: later changes to it do not reroute.
func (v *VantageState) DialerWith(overrides map[string]string) func(ctx context.Context, network, address string) (net.Conn, error) {
	via := make(map[string]string, len(overrides))
	for x, y := range overrides {
		via[x] = y
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		target := host
		if y, ok := via[host]; ok {
			target = y
		}
		to, ok := v.Routes[target]
		if !ok {
			if target != host {
				return nil, fmt.Errorf("%w: %q (the route for %q) from vantage %s", ErrUnknownHost, target, host, v.Name)
			}
			return nil, fmt.Errorf("%w: %q from vantage %s", ErrUnknownHost, host, v.Name)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, to)
	}
}
