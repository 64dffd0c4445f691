package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Format is the value of a header's "format" field.
const Format = "poc-calibration-samples"

// Version is the format version this package reads and writes.
const Version = 1

// Limits of the format.
const (
	// MaxLineBytes bounds a sample line (newline included).
	MaxLineBytes = 64 << 10
	// MaxHeaderBytes bounds the header line, which lists the plan's
	// endpoints.
	MaxHeaderBytes = 1 << 20
	// MaxErrorBytes bounds a sample's Error; a Writer shortens longer ones.
	MaxErrorBytes = 1024
	// MaxRounds bounds a plan's rounds.
	MaxRounds = 1 << 20
	// MaxEchoes bounds a plan's echoes per probe (tlsprobe.MaxEchoes).
	MaxEchoes = 10000
	// MaxEndpoints bounds a plan's endpoints.
	MaxEndpoints = 10000
)

// Origins of a vantage.
const (
	OriginLab  = "lab"
	OriginReal = "real"
)

// Header is the first line of a dataset file. It describes the campaign
// once: who measured from where, against which catalog, and the plan that
// fixes which samples the file holds and in which order.
type Header struct {
	// Format is always Format; Version is Version.
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Campaign is the campaign's identifier, repeated in every sample.
	Campaign string `json:"campaign"`
	// Created is when the campaign began (UTC).
	Created time.Time `json:"created"`
	Vantage Vantage   `json:"vantage"`
	// CatalogName is the catalog's own name, for people.
	CatalogName string `json:"catalog_name,omitempty"`
	// CatalogDigest identifies the catalog the campaign probes:
	// "sha256:" and 64 hex digits. A campaign resumes only against the
	// same catalog.
	CatalogDigest string `json:"catalog_digest"`
	Plan          Plan   `json:"plan"`
}

// Vantage is where a campaign measures from. Every sample repeats it.
type Vantage struct {
	Name     string  `json:"name"`
	Provider string  `json:"provider,omitempty"`
	Region   string  `json:"region,omitempty"`
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	// Origin is OriginLab for the loopback lab, OriginReal otherwise.
	Origin string `json:"origin"`
}

// Plan fixes a campaign's work: Rounds rounds, in each of which every
// endpoint is probed once with Echoes echoes, in the order Order gives.
// A (round, endpoint) probe is the campaign's unit of work.
type Plan struct {
	Rounds int `json:"rounds"`
	Echoes int `json:"echoes"`
	// EchoesPerConn is the most echoes a probe puts on one connection
	// (an endpoint's catalog budget may allow fewer); 0, in files written
	// before it was recorded, means only the catalog's budget.
	EchoesPerConn int `json:"echoes_per_conn,omitempty"`
	// Seed fixes the endpoint order of every round.
	Seed uint64 `json:"seed"`
	// Endpoints are the catalog names probed, in catalog order.
	Endpoints []string `json:"endpoints"`
}

// Units returns the number of work units of the plan.
func (p Plan) Units() int { return p.Rounds * len(p.Endpoints) }

// orderLabel separates the order's hash inputs from any other use of
// SHA-256 over similar bytes.
const orderLabel = "poc/calibration/order/v1\x00"

// Order returns the endpoints of the given round in the order they are
// probed: sorted by SHA-256(orderLabel ‖ seed ‖ round ‖ name), seed and round
// as 8-byte big-endian integers. The order is a pure function of the seed, so
// it is recorded by the header and reproducible anywhere (docs/datasets.md
// shows it in Python), and it does not depend on Go's random number
// generators.
func (p Plan) Order(round int) []string {
	type keyed struct {
		key  [32]byte
		name string
	}
	ks := make([]keyed, len(p.Endpoints))
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], p.Seed)
	binary.BigEndian.PutUint64(buf[8:], uint64(round))
	for i, name := range p.Endpoints {
		h := sha256.New()
		h.Write([]byte(orderLabel))
		h.Write(buf[:])
		h.Write([]byte(name))
		h.Sum(ks[i].key[:0])
		ks[i].name = name
	}
	sort.Slice(ks, func(i, j int) bool {
		if c := bytes.Compare(ks[i].key[:], ks[j].key[:]); c != 0 {
			return c < 0
		}
		return ks[i].name < ks[j].name
	})
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.name
	}
	return out
}

var (
	campaignRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	digestRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ValidCampaignID reports whether id can name a campaign: 1 to 128 letters,
// digits and ._:- (starting with a letter or digit), so that it is safe in
// file names and shell commands.
func ValidCampaignID(id string) bool { return campaignRE.MatchString(id) }

// Validate checks the header's fields.
func (h *Header) Validate() error {
	if h.Format != Format {
		return fmt.Errorf("%w: format %q, want %q", ErrHeader, h.Format, Format)
	}
	if h.Version != Version {
		return fmt.Errorf("%w: version %d, this program reads version %d", ErrHeader, h.Version, Version)
	}
	if !ValidCampaignID(h.Campaign) {
		return fmt.Errorf("%w: campaign %q (want 1-128 of A-Z a-z 0-9 . _ : -)", ErrHeader, h.Campaign)
	}
	if h.Created.IsZero() {
		return fmt.Errorf("%w: no creation time", ErrHeader)
	}
	if err := h.Vantage.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrHeader, err)
	}
	if !digestRE.MatchString(h.CatalogDigest) {
		return fmt.Errorf("%w: catalog_digest %q (want sha256: and 64 lower-case hex digits)", ErrHeader, h.CatalogDigest)
	}
	if len(h.CatalogName) > 256 {
		return fmt.Errorf("%w: catalog_name longer than 256 bytes", ErrHeader)
	}
	return h.Plan.validate()
}

func (p Plan) validate() error {
	if p.Rounds < 1 || p.Rounds > MaxRounds {
		return fmt.Errorf("%w: plan rounds %d not in [1, %d]", ErrHeader, p.Rounds, MaxRounds)
	}
	if p.Echoes < 1 || p.Echoes > MaxEchoes {
		return fmt.Errorf("%w: plan echoes %d not in [1, %d]", ErrHeader, p.Echoes, MaxEchoes)
	}
	if p.EchoesPerConn < 0 || p.EchoesPerConn > MaxEchoes {
		return fmt.Errorf("%w: plan echoes_per_conn %d not in [0, %d]", ErrHeader, p.EchoesPerConn, MaxEchoes)
	}
	if len(p.Endpoints) == 0 || len(p.Endpoints) > MaxEndpoints {
		return fmt.Errorf("%w: plan has %d endpoints, want 1 to %d", ErrHeader, len(p.Endpoints), MaxEndpoints)
	}
	seen := make(map[string]bool, len(p.Endpoints))
	for _, e := range p.Endpoints {
		if !validName(e) {
			return fmt.Errorf("%w: plan endpoint name %q", ErrHeader, e)
		}
		if seen[e] {
			return fmt.Errorf("%w: plan lists endpoint %q twice", ErrHeader, e)
		}
		seen[e] = true
	}
	return nil
}

// Validate checks a vantage's fields.
func (v *Vantage) Validate() error {
	if !validName(v.Name) {
		return fmt.Errorf("vantage name %q", v.Name)
	}
	if len(v.Provider) > 256 || len(v.Region) > 256 || strings.ContainsAny(v.Provider+v.Region, "\x00\n") {
		return fmt.Errorf("vantage provider or region too long or not printable")
	}
	if !validCoords(v.Lat, v.Lon) {
		return fmt.Errorf("vantage coordinates %v,%v out of range", v.Lat, v.Lon)
	}
	if v.Origin != OriginLab && v.Origin != OriginReal {
		return fmt.Errorf("vantage origin %q (want %q or %q)", v.Origin, OriginLab, OriginReal)
	}
	return nil
}

// validName accepts a non-empty, printable name of at most 256 bytes.
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func validCoords(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// finite reports whether f is neither NaN nor infinite.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// CatalogDigest formats a SHA-256 digest as a header's catalog_digest.
func CatalogDigest(sum [32]byte) string { return "sha256:" + hex.EncodeToString(sum[:]) }
