package datasets

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Azure inter-region latency dataset: Microsoft's published P50 round
// trips between Azure regions (as transcribed by a third party) and the
// regions' approximate metro coordinates. See azure/ and PROVENANCE.md.

//go:embed azure/region_coordinates.json
var azureRegionsJSON []byte

//go:embed azure/inter_region_rtt_p50_ms.csv
var azureRTTCSV []byte

// Size limits of the dataset's files.
const (
	MaxAzureRegionsBytes = 1 << 20
	MaxAzureRTTBytes     = 1 << 20
	// maxAzureRegions bounds both files' region counts.
	maxAzureRegions = 1000
	// maxAzureRTT bounds one P50: a round trip of a second is no
	// inter-region median but a transcription error.
	maxAzureRTT = 1000 * time.Millisecond
)

// ErrAzureDataset is wrapped by every error reading the Azure dataset.
var ErrAzureDataset = errors.New("invalid Azure latency dataset")

// AzureDatasetError is an error reading one of the dataset's files, with
// the position where reading stopped. It wraps ErrAzureDataset.
type AzureDatasetError struct {
	// File is "regions" (the coordinates JSON) or "RTT matrix" (the CSV).
	File string
	// Line and Column are 1-based (columns count bytes); both are 0 when
	// the error has no position (size limit, I/O).
	Line, Column int
	// Err says what is wrong.
	Err error
}

// Error names the file, the position and what is wrong.
func (e *AzureDatasetError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%v: %s: %v", ErrAzureDataset, e.File, e.Err)
	}
	return fmt.Sprintf("%v: %s at line %d, column %d: %v", ErrAzureDataset, e.File, e.Line, e.Column, e.Err)
}

// Unwrap returns ErrAzureDataset and the cause.
func (e *AzureDatasetError) Unwrap() []error { return []error{ErrAzureDataset, e.Err} }

// AzureRegion is one Azure region of the dataset.
type AzureRegion struct {
	// Name is the ARM name ("westeurope").
	Name string `json:"name"`
	// DisplayName is the portal name ("West Europe"), which the RTT
	// matrix uses.
	DisplayName string `json:"display_name"`
	// Lat and Lon are approximate metro coordinates, with km-scale error
	// (and larger for a few regions: see PROVENANCE.md).
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// AzureLatency is the P50 round-trip matrix between Azure regions, with the
// regions' coordinates. The matrix is direction-specific (the P50 from A to
// B may differ from B to A by a millisecond or two), has unmeasured cells,
// and its rows and columns need not name the same regions.
type AzureLatency struct {
	// Regions are every region with coordinates, sorted by name (more
	// than the matrix names).
	Regions []AzureRegion
	// Sources and Destinations are the ARM names of the matrix's rows and
	// columns, in file order.
	Sources      []string
	Destinations []string

	p50    []time.Duration // row-major; 0: not measured
	src    map[string]int
	dst    map[string]int
	region map[string]int
}

// AzurePair is one measured, directed pair of the matrix.
type AzurePair struct {
	From, To string
	P50      time.Duration
	// Km is the great-circle distance between the regions' coordinates.
	Km float64
}

// Vacuum is the pair's round trip at the speed of light in vacuum.
func (p AzurePair) Vacuum() time.Duration { return VacuumRTT(p.Km) }

// LoadAzureLatency parses the embedded dataset (azure/ in this package).
func LoadAzureLatency() (*AzureLatency, error) {
	regions, err := ReadAzureRegions(bytes.NewReader(azureRegionsJSON))
	if err != nil {
		return nil, err
	}
	return ReadAzureRTT(bytes.NewReader(azureRTTCSV), regions)
}

// Region returns a region by ARM name.
func (a *AzureLatency) Region(name string) (AzureRegion, bool) {
	i, ok := a.region[name]
	if !ok {
		return AzureRegion{}, false
	}
	return a.Regions[i], true
}

// P50 returns the median round trip from one region to another (ARM
// names), and false where the matrix has no value.
func (a *AzureLatency) P50(from, to string) (time.Duration, bool) {
	i, ok1 := a.src[from]
	j, ok2 := a.dst[to]
	if !ok1 || !ok2 {
		return 0, false
	}
	d := a.p50[i*len(a.Destinations)+j]
	return d, d > 0
}

// Pairs returns every measured pair, by source then destination in file
// order.
func (a *AzureLatency) Pairs() []AzurePair {
	var out []AzurePair
	for i, from := range a.Sources {
		f := a.Regions[a.region[from]]
		for j, to := range a.Destinations {
			d := a.p50[i*len(a.Destinations)+j]
			if d == 0 {
				continue
			}
			t := a.Regions[a.region[to]]
			out = append(out, AzurePair{From: from, To: to, P50: d, Km: GreatCircleKm(f.Lat, f.Lon, t.Lat, t.Lon)})
		}
	}
	return out
}

// VacuumViolations returns the pairs whose P50 is shorter than light in
// vacuum needs between the regions' coordinates: each is an error in the
// data or in the coordinates, since no network beats light.
func (a *AzureLatency) VacuumViolations() []AzurePair {
	var out []AzurePair
	for _, p := range a.Pairs() {
		if p.P50 < p.Vacuum() {
			out = append(out, p)
		}
	}
	return out
}

var azureNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,62}$`)

// isMillis says whether a cell is 1-4 digits with an optional fraction of
// 1-3 digits (no sign, exponent or spaces).
func isMillis(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(d string, max int) bool {
		if d == "" || len(d) > max {
			return false
		}
		for i := 0; i < len(d); i++ {
			if d[i] < '0' || d[i] > '9' {
				return false
			}
		}
		return true
	}
	return digits(whole, 4) && (!dot || digits(frac, 3))
}

// ReadAzureRegions reads the coordinates file: one JSON object mapping each
// ARM region name to {"lat", "lon", "displayName"}, all three required and
// nothing else. Names and display names must be unique. Errors name the
// line and column.
func ReadAzureRegions(r io.Reader) ([]AzureRegion, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxAzureRegionsBytes+1))
	if err != nil {
		return nil, &AzureDatasetError{File: "regions", Err: err}
	}
	if len(b) > MaxAzureRegionsBytes {
		return nil, &AzureDatasetError{File: "regions", Err: fmt.Errorf("larger than %d bytes", MaxAzureRegionsBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var at int64
	fail := func(format string, a ...any) ([]AzureRegion, error) {
		line, col := lineCol(b, at)
		return nil, &AzureDatasetError{File: "regions", Line: line, Column: col, Err: fmt.Errorf(format, a...)}
	}
	next := func() (json.Token, error) {
		// Point at the token itself, past the separators before it.
		for at = dec.InputOffset(); at < int64(len(b)) && strings.IndexByte(" \t\r\n,:", b[at]) >= 0; at++ {
		}
		t, err := dec.Token()
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				at = se.Offset
			}
		}
		return t, err
	}
	if t, err := next(); err != nil || t != json.Delim('{') {
		return fail("want a JSON object of regions (%v)", err)
	}
	var out []AzureRegion
	names, displays := map[string]bool{}, map[string]bool{}
	for dec.More() {
		t, err := next()
		if err != nil {
			return fail("%v", err)
		}
		name, _ := t.(string)
		if !azureNameRE.MatchString(name) {
			return fail("region name %q (want a-z then a-z, 0-9)", name)
		}
		if names[name] {
			return fail("region %q twice", name)
		}
		names[name] = true
		if len(names) > maxAzureRegions {
			return fail("more than %d regions", maxAzureRegions)
		}
		reg := AzureRegion{Name: name}
		if t, err := next(); err != nil || t != json.Delim('{') {
			return fail("region %q: want an object (%v)", name, err)
		}
		got := map[string]bool{}
		for dec.More() {
			t, err := next()
			if err != nil {
				return fail("%v", err)
			}
			key, _ := t.(string)
			if got[key] {
				return fail("region %q: field %q twice", name, key)
			}
			got[key] = true
			v, err := next()
			if err != nil {
				return fail("%v", err)
			}
			switch key {
			case "lat", "lon":
				n, ok := v.(json.Number)
				if !ok {
					return fail("region %q: %s is not a number", name, key)
				}
				f, err := strconv.ParseFloat(string(n), 64)
				lim := 90.0
				if key == "lon" {
					lim = 180
				}
				if err != nil || math.IsNaN(f) || f < -lim || f > lim {
					return fail("region %q: %s %s out of range", name, key, n)
				}
				if key == "lat" {
					reg.Lat = f
				} else {
					reg.Lon = f
				}
			case "displayName":
				s, ok := v.(string)
				if !ok || s == "" || len(s) > 100 || s != strings.TrimSpace(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == ',' || r == '"' }) {
					return fail("region %q: displayName %v (want 1-100 printable characters, no commas or quotes, no outer spaces)", name, v)
				}
				reg.DisplayName = s
			default:
				return fail("region %q: unknown field %q", name, key)
			}
		}
		if _, err := next(); err != nil {
			return fail("%v", err)
		}
		for _, k := range []string{"lat", "lon", "displayName"} {
			if !got[k] {
				return fail("region %q: no %s", name, k)
			}
		}
		if displays[reg.DisplayName] {
			return fail("region %q: display name %q twice", name, reg.DisplayName)
		}
		displays[reg.DisplayName] = true
		out = append(out, reg)
	}
	if _, err := next(); err != nil {
		return fail("%v", err)
	}
	if _, err := next(); err != io.EOF {
		return fail("trailing data after the regions object")
	}
	if len(out) == 0 {
		return fail("no regions")
	}
	slices.SortFunc(out, func(x, y AzureRegion) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// ReadAzureRTT reads the P50 matrix: CSV (RFC 4180, no byte-order mark), a
// header row "Source,<destination display names>", then one row per source
// region "<display name>,<P50 ms or empty>,…". Every display name must be
// one of regions; rows and columns are each unique; a cell is empty (not
// measured) or a positive decimal of milliseconds, at most 1000 with at most
// three decimals; the diagonal is empty. Errors name the line and column.
func ReadAzureRTT(r io.Reader, regions []AzureRegion) (*AzureLatency, error) {
	const file = "RTT matrix"
	b, err := io.ReadAll(io.LimitReader(r, MaxAzureRTTBytes+1))
	if err != nil {
		return nil, &AzureDatasetError{File: file, Err: err}
	}
	if len(b) > MaxAzureRTTBytes {
		return nil, &AzureDatasetError{File: file, Err: fmt.Errorf("larger than %d bytes", MaxAzureRTTBytes)}
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		return nil, &AzureDatasetError{File: file, Line: 1, Column: 1, Err: errors.New("byte-order mark")}
	}
	a := &AzureLatency{
		Regions: slices.Clone(regions),
		src:     map[string]int{},
		dst:     map[string]int{},
		region:  map[string]int{},
	}
	slices.SortFunc(a.Regions, func(x, y AzureRegion) int { return strings.Compare(x.Name, y.Name) })
	byDisplay := map[string]string{}
	for i, reg := range a.Regions {
		if _, dup := a.region[reg.Name]; dup {
			return nil, &AzureDatasetError{File: "regions", Err: fmt.Errorf("region %q given twice", reg.Name)}
		}
		if _, dup := byDisplay[reg.DisplayName]; dup {
			return nil, &AzureDatasetError{File: "regions", Err: fmt.Errorf("display name %q given twice", reg.DisplayName)}
		}
		a.region[reg.Name] = i
		byDisplay[reg.DisplayName] = reg.Name
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.ReuseRecord = false
	fail := func(field int, format string, args ...any) (*AzureLatency, error) {
		line, col := cr.FieldPos(field)
		return nil, &AzureDatasetError{File: file, Line: line, Column: col, Err: fmt.Errorf(format, args...)}
	}
	wrap := func(err error) (*AzureLatency, error) {
		e := &AzureDatasetError{File: file, Err: err}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			e.Line, e.Column, e.Err = pe.Line, pe.Column, pe.Err
		}
		return nil, e
	}
	header, err := cr.Read()
	if err != nil {
		return wrap(err)
	}
	if header[0] != "Source" {
		return fail(0, "first header cell %q, want \"Source\"", header[0])
	}
	if len(header) < 2 || len(header)-1 > maxAzureRegions {
		return fail(0, "%d destination columns", len(header)-1)
	}
	for j, d := range header[1:] {
		name, ok := byDisplay[d]
		if !ok {
			return fail(j+1, "destination %q is not a known region's display name", d)
		}
		if _, dup := a.dst[name]; dup {
			return fail(j+1, "destination %q twice", d)
		}
		a.dst[name] = j
		a.Destinations = append(a.Destinations, name)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return wrap(err)
		}
		name, ok := byDisplay[rec[0]]
		if !ok {
			return fail(0, "source %q is not a known region's display name", rec[0])
		}
		if _, dup := a.src[name]; dup {
			return fail(0, "source %q twice", rec[0])
		}
		if len(a.Sources) == maxAzureRegions {
			return fail(0, "more than %d source rows", maxAzureRegions)
		}
		a.src[name] = len(a.Sources)
		a.Sources = append(a.Sources, name)
		for j, cell := range rec[1:] {
			if cell == "" {
				a.p50 = append(a.p50, 0)
				continue
			}
			if a.Destinations[j] == name {
				return fail(j+1, "%s → itself holds %q: the matrix is inter-region, its diagonal is empty", rec[0], cell)
			}
			if !isMillis(cell) {
				return fail(j+1, "cell %q (want empty or milliseconds such as 83 or 83.5)", cell)
			}
			ms, _ := strconv.ParseFloat(cell, 64) // the pattern admits only numbers
			d := time.Duration(math.Round(ms*1000)) * time.Microsecond
			if d <= 0 || d > maxAzureRTT {
				return fail(j+1, "P50 %s ms out of range (0, %v]", cell, maxAzureRTT)
			}
			a.p50 = append(a.p50, d)
		}
	}
	if len(a.Sources) == 0 {
		return nil, &AzureDatasetError{File: file, Err: errors.New("no source rows")}
	}
	return a, nil
}
