package calibration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
)

// Defaults of a campaign.
const (
	DefaultRounds = 100
	DefaultEchoes = 16
)

// Errors of Run; dataset errors (dataset.ErrExists, dataset.ErrLocked, a
// *dataset.PosError for a damaged file) come through as they are.
var (
	// ErrCampaign: the campaign's description is unusable (no catalog, an
	// unknown endpoint or vantage, a template catalog, bad numbers).
	ErrCampaign = errors.New("invalid campaign")
	// ErrMismatch: the dataset to resume was begun for another campaign
	// (vantage, catalog entries, rounds, echoes or seed differ).
	ErrMismatch = errors.New("dataset belongs to another campaign")
)

// ProbeFunc runs one probe; tlsprobe.Probe is the default.
type ProbeFunc func(ctx context.Context, cfg tlsprobe.Config) (*tlsprobe.Result, error)

// Clock is the campaign's wall clock: when samples were taken, and the
// waits of echo budgets and backoff.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or returns ctx's error when ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SystemClock returns the real clock.
func SystemClock() Clock { return systemClock{} }

// Backoff says how an endpoint that keeps failing is left alone. Zero fields
// take DefaultBackoff's.
type Backoff struct {
	// After is the number of consecutive failures after which the
	// endpoint backs off.
	After int
	// Base is the first wait; each further failure doubles it, up to Max.
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff: one failure is retried in the next round; from the second
// in a row the endpoint waits 30 s, then 1 min, 2 min, … up to 30 min.
var DefaultBackoff = Backoff{After: 2, Base: 30 * time.Second, Max: 30 * time.Minute}

// wait returns how long an endpoint with the given consecutive failures
// waits after its last failure.
func (b Backoff) wait(failures int) time.Duration {
	if failures < b.After {
		return 0
	}
	d := b.Base
	for i := b.After; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Campaign describes a calibration campaign. The zero value of every
// plumbing field is the real thing: system roots, net.Dialer, tlsprobe.Probe,
// the system clock, crypto/rand.
type Campaign struct {
	// ID names the campaign; empty means one is made up from the vantage
	// and the time. When resuming, the file's ID is used (and a non-empty
	// ID must equal it).
	ID string
	// Catalog lists the endpoints. With Lab it may be nil: the lab's
	// catalog is used.
	Catalog *datasets.Catalog
	// Lab, when set, runs the campaign in the loopback lab: every probe goes
	// through the vantage's relay, the lab CA is the only root, and the
	// samples' Origin is "lab".
	Lab *lab.State
	// Endpoints restricts the campaign to these catalog names; empty means
	// every entry, except edge entries (unless IncludeEdge) and template
	// entries still holding placeholders (never probed: named explicitly,
	// they are an error).
	Endpoints   []string
	IncludeEdge bool

	// Vantage is where the campaign runs. Name is required. In the lab,
	// the coordinates come from the lab's vantage, Provider defaults to
	// "lab" and Region to the lab region at the vantage's coordinates.
	// Origin is set by Run ("lab" with Lab, else "real").
	Vantage dataset.Vantage

	// Rounds and Echoes (K) shape the plan; 0 means DefaultRounds and
	// DefaultEchoes for a new campaign and "as recorded" when resuming.
	Rounds int
	Echoes int
	// EchoesPerConn is the most echoes a probe puts on one connection (an
	// endpoint's catalog budget may cap it lower); 0 means
	// tlsprobe.DefaultEchoesPerConn for a new campaign and "as recorded"
	// when resuming. Calibrate with the connection size proofs will use:
	// the profile's connection levels describe connections of that size.
	EchoesPerConn int
	// Seed fixes the endpoint order of every round; 0 means a random seed
	// (recorded in the header) for a new campaign and "as recorded" when
	// resuming.
	Seed uint64

	// Out is the dataset file.
	Out string
	// Resume continues the campaign in Out if the file exists (and starts
	// it if not). Without Resume an existing Out is an error
	// (dataset.ErrExists).
	Resume bool

	// Roots verifies the endpoints' chains; nil means the system roots
	// (the lab CA with Lab).
	Roots *x509.CertPool
	// Dial opens TCP connections; nil means a net.Dialer (the vantage's
	// routes with Lab).
	Dial tlsprobe.DialFunc
	// Probe runs one probe; nil means tlsprobe.Probe.
	Probe ProbeFunc
	// Clock is the wall clock; nil means SystemClock().
	Clock Clock
	// Rand supplies the probes' nonces; nil means crypto/rand.
	Rand io.Reader
	// Timeout bounds each connection; 0 means tlsprobe.DefaultTimeout.
	Timeout time.Duration
	// Backoff paces endpoints that keep failing; zero fields take
	// DefaultBackoff's.
	Backoff Backoff
	// Progress is told about each unit; nil reports nothing.
	Progress Progress
}

// Status is a campaign's progress, as a Progress sees it.
type Status struct {
	Campaign string
	Out      string
	// Units is the plan's number of units (Rounds rounds of all its
	// endpoints); Done how many are complete, Resumed how many were
	// complete when this run began.
	Rounds               int
	Units, Done, Resumed int
	// Samples is the number of samples on file.
	Samples uint64
	// Failures and Skipped count this run's failed probes and the units it
	// skipped while an endpoint backed off.
	Failures, Skipped int
	// Measured counts this run's measured echoes.
	Measured int
	// Round and Endpoint are those of the last unit; LastError its error
	// when it failed.
	Round     int
	Endpoint  string
	LastError string
	// Resume tells what resuming found (nil for a new campaign).
	Resume *dataset.State
	// LeftOutEdge and LeftOutUnfilled name the catalog entries the
	// campaign does not probe: edge entries, and template entries still
	// holding placeholders.
	LeftOutEdge, LeftOutUnfilled []string
}

// Progress receives a campaign's progress. Begin comes once before the first
// unit, Unit after each unit is on disk, End once at the end, whatever the
// outcome.
type Progress interface {
	Begin(Status)
	Unit(Status)
	End(Status)
}

// Run runs (or resumes) a campaign until its plan is complete, ctx ends, or
// the dataset cannot be written. Failed probes do not stop it: they are
// samples. It returns nil once every unit of the plan is on disk; an error
// wrapping ErrCampaign or ErrMismatch for a campaign it cannot run;
// dataset.ErrExists, dataset.ErrLocked or a *dataset.PosError (a file
// damaged beyond a crash's leftovers) for the dataset; and, when ctx ends,
// an error wrapping ctx's: the units done are on disk, and running the
// campaign again with Resume goes on from there.
func Run(ctx context.Context, c Campaign) error {
	r, err := prepare(&c)
	if err != nil {
		return err
	}
	if err := r.open(); err != nil {
		return err
	}
	defer r.w.Close()
	return r.run(ctx)
}

// target is one endpoint of the campaign with the budget of its server.
type target struct {
	ep      datasets.Endpoint
	server  string // hostname:port
	cfg     tlsprobe.Config
	spacing time.Duration
}

// endpointState is what the runner remembers of an endpoint.
type endpointState struct {
	failures    int
	lastFailure time.Time
	lastError   string
}

type runner struct {
	c       *Campaign
	targets map[string]*target
	names   []string // in catalog order
	digest  string
	catName string
	leftOut leftOut

	w       *dataset.Writer
	h       dataset.Header
	resumed *dataset.State

	state    map[string]*endpointState
	lastEcho map[string]time.Time // per server: end of its last probe
	status   Status
}

// prepare checks the campaign and fills its defaults.
func prepare(c *Campaign) (*runner, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrCampaign, fmt.Sprintf(format, a...))
	}
	if c.Out == "" {
		return nil, bad("no output file")
	}
	if c.Rounds < 0 || c.Rounds > dataset.MaxRounds {
		return nil, bad("rounds %d not in [1, %d]", c.Rounds, dataset.MaxRounds)
	}
	if c.Echoes < 0 || c.Echoes > dataset.MaxEchoes {
		return nil, bad("echoes %d not in [1, %d]", c.Echoes, dataset.MaxEchoes)
	}
	if c.EchoesPerConn < 0 || c.EchoesPerConn > dataset.MaxEchoes {
		return nil, bad("echoes per connection %d not in [1, %d]", c.EchoesPerConn, dataset.MaxEchoes)
	}
	if c.ID != "" && !dataset.ValidCampaignID(c.ID) {
		return nil, bad("campaign id %q (want 1-128 of A-Z a-z 0-9 . _ : -)", c.ID)
	}
	if c.Timeout < 0 {
		return nil, bad("negative timeout")
	}
	cat := c.Catalog
	if cat == nil && c.Lab != nil {
		cat = &c.Lab.Catalog
	}
	if cat == nil {
		return nil, bad("no catalog")
	}
	if err := cat.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCampaign, err)
	}
	if c.Probe == nil {
		c.Probe = tlsprobe.Probe
	}
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	b := &c.Backoff
	if b.After <= 0 {
		b.After = DefaultBackoff.After
	}
	if b.Base <= 0 {
		b.Base = DefaultBackoff.Base
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	b.Max = max(b.Max, b.Base)

	eps, left, err := selectEndpoints(cat, c.Endpoints, c.IncludeEdge)
	if err != nil {
		return nil, err
	}
	if err := setVantage(c, cat, eps); err != nil {
		return nil, err
	}
	r := &runner{c: c, targets: map[string]*target{}, catName: cat.Name, leftOut: left,
		state: map[string]*endpointState{}, lastEcho: map[string]time.Time{}}
	// The strictest budget of the entries that share a server holds for
	// all of them.
	spacing, perConn := map[string]time.Duration{}, map[string]int{}
	for _, e := range eps {
		s := e.Address()
		spacing[s] = max(spacing[s], time.Duration(e.Echo.MinSpacing))
		if n := e.Echo.EchoesPerConn; n > 0 && (perConn[s] == 0 || n < perConn[s]) {
			perConn[s] = n
		}
	}
	for _, e := range eps {
		method, err := tlsprobe.ParseMethod(e.Echo.Method)
		if err != nil {
			return nil, fmt.Errorf("%w: endpoint %s: %w", ErrCampaign, e.Name, err)
		}
		t := &target{ep: e, server: e.Address(), spacing: spacing[e.Address()]}
		t.cfg = tlsprobe.Config{
			Endpoint: e.Address(),
			Method:   method,
			Budget:   tlsprobe.Budget{EchoesPerConn: perConn[t.server], MinSpacing: t.spacing},
			Roots:    c.Roots,
			Dial:     c.Dial,
			Timeout:  c.Timeout,
			Now:      c.Clock.Now,
		}
		if h := e.Echo.HTTP1; h != nil {
			t.cfg.HTTP1 = tlsprobe.HTTP1Request{Method: h.Method, Path: h.Path, Header: h.Header.Clone()}
		}
		r.targets[e.Name] = t
		r.names = append(r.names, e.Name)
		r.state[e.Name] = &endpointState{}
	}
	if r.digest, err = entriesDigest(eps); err != nil {
		return nil, err
	}
	return r, nil
}

// leftOut names the entries a campaign does not probe.
type leftOut struct{ edge, unfilled []string }

// selectEndpoints picks the campaign's entries, in catalog order.
func selectEndpoints(cat *datasets.Catalog, only []string, includeEdge bool) ([]datasets.Endpoint, leftOut, error) {
	var left leftOut
	want := map[string]bool{}
	for _, n := range only {
		if _, ok := cat.Lookup(n); !ok {
			return nil, left, fmt.Errorf("%w: endpoint %q is not in the catalog", ErrCampaign, n)
		}
		want[n] = true
	}
	var eps []datasets.Endpoint
	for _, e := range cat.Endpoints {
		named := want[e.Name] || want[e.Hostname] || want[e.Address()]
		if len(want) > 0 && !named {
			continue
		}
		if ph := e.Placeholders(); len(ph) > 0 {
			if named {
				return nil, left, fmt.Errorf("%w: endpoint %s holds placeholders (%s): fill the catalog template first", ErrCampaign, e.Name, strings.Join(ph, ", "))
			}
			left.unfilled = append(left.unfilled, e.Name)
			continue
		}
		if e.Termination == datasets.TerminationEdge && !includeEdge && !named {
			// An edge entry proves nothing about a region; probing it
			// spends a front end's echo budget for no profile.
			left.edge = append(left.edge, e.Name)
			continue
		}
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, left, fmt.Errorf("%w: no endpoint to probe (%d edge entries, %d holding placeholders)", ErrCampaign, len(left.edge), len(left.unfilled))
	}
	if len(eps) > dataset.MaxEndpoints {
		return nil, left, fmt.Errorf("%w: %d endpoints, at most %d", ErrCampaign, len(eps), dataset.MaxEndpoints)
	}
	return eps, left, nil
}

// setVantage completes the vantage, the dialer and the roots for the lab or
// the real world.
func setVantage(c *Campaign, cat *datasets.Catalog, eps []datasets.Endpoint) error {
	v := &c.Vantage
	if c.Lab == nil {
		v.Origin = dataset.OriginReal
		if err := v.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrCampaign, err)
		}
		return nil
	}
	vs, err := c.Lab.Vantage(v.Name)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCampaign, err)
	}
	v.Origin = dataset.OriginLab
	v.Lat, v.Lon = vs.Lat, vs.Lon
	if v.Provider == "" {
		v.Provider = "lab"
	}
	if v.Region == "" {
		v.Region = regionAt(cat, vs.Lat, vs.Lon)
	}
	if c.Dial == nil {
		c.Dial = vs.Dialer()
	}
	if c.Roots == nil {
		if c.Roots, err = c.Lab.Roots(); err != nil {
			return fmt.Errorf("%w: %w", ErrCampaign, err)
		}
	}
	for _, e := range eps {
		if _, ok := vs.Routes[e.Hostname]; !ok {
			return fmt.Errorf("%w: lab vantage %s has no route to %s", ErrCampaign, vs.Name, e.Hostname)
		}
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrCampaign, err)
	}
	return nil
}

// regionAt returns the one region whose catalog entries sit exactly at the
// given coordinates (where a lab world puts a vantage "in" a region), or "".
func regionAt(cat *datasets.Catalog, lat, lon float64) string {
	found := ""
	for _, e := range cat.Endpoints {
		if e.Lat == lat && e.Lon == lon {
			if found != "" && found != e.Region {
				return ""
			}
			found = e.Region
		}
	}
	return found
}

// RegionCoords returns the coordinates that a catalog gives a provider's
// region (those of its first entry there), for a vantage in that region.
func RegionCoords(cat *datasets.Catalog, provider, region string) (lat, lon float64, ok bool) {
	for _, e := range cat.Endpoints {
		if e.Provider == provider && e.Region == region && e.Termination != datasets.TerminationEdge {
			return e.Lat, e.Lon, true
		}
	}
	return 0, 0, false
}

// entriesDigest is the header's catalog_digest: SHA-256 over the JSON
// encoding of what a probe and its samples take from each entry the plan
// probes (name, provider, region, coordinates, hostname, port, termination,
// echo method and budget), in catalog order. Entries the campaign does not
// probe, and an entry's descriptive fields, may change without breaking a
// resume; a change to what is probed breaks it.
func entriesDigest(eps []datasets.Endpoint) (string, error) {
	type probed struct {
		Name        string               `json:"name"`
		Provider    string               `json:"provider"`
		Region      string               `json:"region"`
		Lat         float64              `json:"lat"`
		Lon         float64              `json:"lon"`
		Hostname    string               `json:"hostname"`
		Port        int                  `json:"port"`
		Termination datasets.Termination `json:"termination"`
		Echo        datasets.Echo        `json:"echo"`
	}
	ps := make([]probed, len(eps))
	for i, e := range eps {
		ps[i] = probed{e.Name, e.Provider, e.Region, e.Lat, e.Lon, e.Hostname, e.Port, e.Termination, e.Echo}
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return "", fmt.Errorf("%w: encoding the catalog entries: %v", ErrCampaign, err)
	}
	return dataset.CatalogDigest(sha256.Sum256(b)), nil
}

// open creates the dataset, or resumes it and checks it is this campaign's.
func (r *runner) open() error {
	c := r.c
	_, statErr := os.Lstat(c.Out)
	exists := statErr == nil
	if exists && !c.Resume {
		return &dataset.PosError{File: c.Out, Row: -1, Err: dataset.ErrExists}
	}
	if exists {
		w, st, err := dataset.OpenAppend(c.Out)
		if err != nil {
			return err
		}
		if err := r.matches(st.Header); err != nil {
			w.Close()
			return err
		}
		r.w, r.h, r.resumed = w, st.Header, st
		if err := r.rebuild(); err != nil {
			w.Close()
			return err
		}
		return nil
	}
	now := c.Clock.Now().UTC()
	id := c.ID
	if id == "" {
		var b [3]byte
		if _, err := io.ReadFull(c.Rand, b[:]); err != nil {
			return fmt.Errorf("drawing a campaign id: %w", err)
		}
		id = fmt.Sprintf("%s-%s-%s", sanitize(c.Vantage.Name), now.Format("20060102T150405Z"), hex.EncodeToString(b[:]))
	}
	seed := c.Seed
	for seed == 0 {
		var b [8]byte
		if _, err := io.ReadFull(c.Rand, b[:]); err != nil {
			return fmt.Errorf("drawing a seed: %w", err)
		}
		// 53 bits: exact in every JSON tool, JavaScript's included.
		seed = binary.BigEndian.Uint64(b[:]) >> 11
	}
	h := dataset.Header{
		Format: dataset.Format, Version: dataset.Version, Campaign: id, Created: now,
		Vantage: c.Vantage, CatalogName: r.catName, CatalogDigest: r.digest,
		Plan: dataset.Plan{Rounds: orDefault(c.Rounds, DefaultRounds), Echoes: orDefault(c.Echoes, DefaultEchoes),
			EchoesPerConn: tlsprobe.ConnSize(c.EchoesPerConn, 0), Seed: seed, Endpoints: r.names},
	}
	w, err := dataset.Create(c.Out, h)
	if err != nil {
		return err
	}
	r.w, r.h = w, h
	return nil
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// sanitize keeps the characters a campaign id allows.
func sanitize(s string) string {
	out := []rune{}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 || len(out) > 64 {
		return "campaign"
	}
	return strings.TrimLeft(string(out), "._-")
}

// matches checks that a dataset's header describes this campaign.
func (r *runner) matches(h dataset.Header) error {
	c := r.c
	var diffs []string
	if c.ID != "" && c.ID != h.Campaign {
		diffs = append(diffs, fmt.Sprintf("campaign %q, not %q", h.Campaign, c.ID))
	}
	if h.Vantage != c.Vantage {
		diffs = append(diffs, fmt.Sprintf("vantage %+v, not %+v", h.Vantage, c.Vantage))
	}
	if !slices.Equal(h.Plan.Endpoints, r.names) {
		diffs = append(diffs, fmt.Sprintf("endpoints %v, not %v", h.Plan.Endpoints, r.names))
	} else if h.CatalogDigest != r.digest {
		d := "the catalog entries it probes changed (address, method or budget)"
		if c.Lab != nil {
			d += ": a restarted lab listens on new ports, so its campaigns begin anew"
		}
		diffs = append(diffs, d)
	}
	if c.Rounds != 0 && c.Rounds != h.Plan.Rounds {
		diffs = append(diffs, fmt.Sprintf("%d rounds, not %d", h.Plan.Rounds, c.Rounds))
	}
	if c.Echoes != 0 && c.Echoes != h.Plan.Echoes {
		diffs = append(diffs, fmt.Sprintf("%d echoes, not %d", h.Plan.Echoes, c.Echoes))
	}
	if c.EchoesPerConn != 0 && c.EchoesPerConn != h.Plan.EchoesPerConn {
		diffs = append(diffs, fmt.Sprintf("%d echoes per connection, not %d", h.Plan.EchoesPerConn, c.EchoesPerConn))
	}
	if c.Seed != 0 && c.Seed != h.Plan.Seed {
		diffs = append(diffs, fmt.Sprintf("seed %d, not %d", h.Plan.Seed, c.Seed))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %s has %s", ErrMismatch, c.Out, strings.Join(diffs, "; "))
	}
	return nil
}

// rebuild recovers the endpoints' failure counts from a resumed file.
func (r *runner) rebuild() error {
	rd, err := dataset.Open(r.c.Out)
	if err != nil {
		return err
	}
	defer rd.Close()
	var last struct {
		round int
		ep    string
	}
	last.round = -1
	for {
		s, err := rd.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if s.Round == last.round && s.Endpoint == last.ep {
			continue // a later echo of the same unit
		}
		last.round, last.ep = s.Round, s.Endpoint
		st := r.state[s.Endpoint]
		switch {
		case s.Error == "":
			st.failures = 0
		case s.ErrorKind != dataset.ErrorKindBackoff:
			st.failures++
			st.lastFailure, st.lastError = s.Time, s.Error
		}
	}
}
