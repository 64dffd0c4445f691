package fit

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/profile"
)

// CSV errors; test them with errors.Is.
var (
	// ErrCSV is wrapped by every error of the CSV reader.
	ErrCSV = errors.New("invalid CSV samples")
	// ErrBadRTT: an rtt_ns cell is not a positive, finite number.
	ErrBadRTT = errors.New("bad round trip")
)

// CSV columns. Required: endpoint, method, rtt_ns. Optional: the rest; a
// missing column or an empty cell takes its value from CSVOptions.
var csvColumns = map[string]bool{
	"endpoint": true, "method": true, "rtt_ns": true,
	"provider": false, "region": false, "time": false, "origin": false,
	"vantage": false, "vantage_lat": false, "vantage_lon": false, "error": false,
}

// CSVError locates a problem in a CSV file.
type CSVError struct {
	File   string
	Line   int    // 1-based; the header is line 1
	Column string // empty when the problem is the whole line
	Err    error
}

func (e *CSVError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Column, e.Err)
}

func (e *CSVError) Unwrap() error { return e.Err }

// CSVOptions give a CSV import what its columns do not.
type CSVOptions struct {
	// Name names the input in errors and becomes each sample's Campaign.
	Name string
	// Provider, Region and Origin apply where the column is absent or the
	// cell empty. Every row must end up with an origin ("lab" or "real").
	Provider, Region string
	Origin           profile.Origin
	// Vantage applies where the vantage, vantage_lat or vantage_lon
	// columns are absent or empty; without it those columns are required.
	Vantage *profile.Vantage
}

// CSVReader streams samples from a CSV file with a header line, for
// importing round trips measured by other tools. Columns: endpoint, method
// ("h2-ping" or "http1"), rtt_ns (required); provider, region, time
// (RFC 3339), origin, vantage, vantage_lat, vantage_lon, error (optional;
// a non-empty error makes the row a failed attempt whose rtt_ns may be
// empty). Unknown columns are refused, so that a misspelt one (say
// "rtt_us") cannot be silently ignored. Memory is one row.
type CSVReader struct {
	r    *csv.Reader
	opts CSVOptions
	col  map[string]int
	line int
	seq  uint64
}

// NewCSVReader reads and checks the header.
func NewCSVReader(r io.Reader, opts CSVOptions) (*CSVReader, error) {
	if opts.Name == "" {
		opts.Name = "csv"
	}
	c := &CSVReader{r: csv.NewReader(r), opts: opts, col: map[string]int{}}
	c.r.ReuseRecord = true
	fail := func(err error) error {
		return fmt.Errorf("%w: %w", ErrCSV, &CSVError{File: opts.Name, Line: 1, Err: err})
	}
	head, err := c.r.Read()
	if err != nil {
		return nil, fail(fmt.Errorf("reading header: %w", err))
	}
	c.line = 1
	for i, h := range head {
		h = strings.TrimSpace(strings.ToLower(strings.TrimPrefix(h, "\ufeff")))
		if _, ok := csvColumns[h]; !ok {
			return nil, fail(fmt.Errorf("unknown column %q", h))
		}
		if _, dup := c.col[h]; dup {
			return nil, fail(fmt.Errorf("column %q twice", h))
		}
		c.col[h] = i
	}
	for name, required := range csvColumns {
		if _, ok := c.col[name]; required && !ok {
			return nil, fail(fmt.Errorf("required column %q missing", name))
		}
	}
	if opts.Vantage == nil {
		for _, name := range []string{"vantage", "vantage_lat", "vantage_lon"} {
			if _, ok := c.col[name]; !ok {
				return nil, fail(fmt.Errorf("column %q missing and no default vantage given", name))
			}
		}
	}
	if opts.Origin != "" && opts.Origin != profile.OriginLab && opts.Origin != profile.OriginReal {
		return nil, fail(fmt.Errorf("default origin %q (want lab or real)", opts.Origin))
	}
	return c, nil
}

// Read returns the next row as a sample, or io.EOF after the last. Errors
// are *CSVError values naming the file, line and column, wrapping ErrCSV
// (and ErrBadRTT for a round trip that is not a positive, finite number).
func (c *CSVReader) Read() (dataset.Sample, error) {
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return dataset.Sample{}, io.EOF
	}
	c.line++
	if err != nil {
		line := c.line
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = pe.Line
		}
		return dataset.Sample{}, fmt.Errorf("%w: %w", ErrCSV, &CSVError{File: c.opts.Name, Line: line, Err: err})
	}
	line, _ := c.r.FieldPos(0)
	c.line = line
	fail := func(col string, err error) (dataset.Sample, error) {
		return dataset.Sample{}, fmt.Errorf("%w: %w", ErrCSV, &CSVError{File: c.opts.Name, Line: line, Column: col, Err: err})
	}
	cell := func(name, def string) string {
		if i, ok := c.col[name]; ok {
			if v := strings.TrimSpace(rec[i]); v != "" {
				return v
			}
		}
		return def
	}
	s := dataset.Sample{
		Campaign: c.opts.Name,
		Seq:      c.seq,
		Endpoint: cell("endpoint", ""),
		Method:   cell("method", ""),
		Provider: cell("provider", c.opts.Provider),
		Region:   cell("region", c.opts.Region),
		Origin:   cell("origin", string(c.opts.Origin)),
		Error:    cell("error", ""),
	}
	c.seq++
	if s.Endpoint == "" {
		return fail("endpoint", errors.New("empty"))
	}
	if s.Method != dataset.MethodH2Ping && s.Method != dataset.MethodHTTP1 {
		return fail("method", fmt.Errorf("%q (want h2-ping or http1)", s.Method))
	}
	if s.Origin != string(profile.OriginLab) && s.Origin != string(profile.OriginReal) {
		return fail("origin", fmt.Errorf("%q (want lab or real; set the column or CSVOptions.Origin)", s.Origin))
	}
	if v := c.opts.Vantage; v != nil {
		s.Vantage, s.VantageLat, s.VantageLon = v.Name, v.Lat, v.Lon
		s.VantageProvider, s.VantageRegion = v.Provider, v.Region
	}
	s.Vantage = cell("vantage", s.Vantage)
	if s.Vantage == "" {
		return fail("vantage", errors.New("empty"))
	}
	for _, f := range []struct {
		name string
		dst  *float64
		lim  float64
	}{{"vantage_lat", &s.VantageLat, 90}, {"vantage_lon", &s.VantageLon, 180}} {
		v := cell(f.name, "")
		if v == "" {
			if c.opts.Vantage == nil {
				return fail(f.name, errors.New("empty and no default vantage given"))
			}
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.Abs(x) > f.lim {
			return fail(f.name, fmt.Errorf("%q (want degrees within ±%v)", v, f.lim))
		}
		*f.dst = x
	}
	if v := cell("time", ""); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fail("time", fmt.Errorf("%q (want RFC 3339): %w", v, err))
		}
		s.Time = t.UTC()
	}
	rtt := cell("rtt_ns", "")
	if s.Error != "" && (rtt == "" || rtt == "0") {
		return s, nil
	}
	x, err := strconv.ParseFloat(rtt, 64)
	switch {
	case err != nil:
		return fail("rtt_ns", fmt.Errorf("%w: %q is not a number", ErrBadRTT, rtt))
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fail("rtt_ns", fmt.Errorf("%w: %q is not finite", ErrBadRTT, rtt))
	case x <= 0:
		return fail("rtt_ns", fmt.Errorf("%w: %v is not positive", ErrBadRTT, x))
	case s.Error != "":
		return fail("rtt_ns", errors.New("a failed attempt (error set) carries no round trip"))
	}
	s.RTTNs = x
	return s, nil
}
