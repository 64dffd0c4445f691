package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Kinds of failure a sample's ErrorKind names.
const (
	// ErrorKindConfig: the probe's configuration was refused (a catalog
	// entry the probe cannot use).
	ErrorKindConfig = "config"
	// ErrorKindDial: no TCP connection (refused, unreachable, DNS).
	ErrorKindDial = "dial"
	// ErrorKindNoTLS13: the endpoint does not speak TLS 1.3.
	ErrorKindNoTLS13 = "no-tls13"
	// ErrorKindHandshake: the TLS handshake failed (certificate, name,
	// alert).
	ErrorKindHandshake = "handshake"
	// ErrorKindALPN: the server chose a protocol the echo method cannot use.
	ErrorKindALPN = "alpn"
	// ErrorKindEcho: an echo failed (protocol error, unexpected answer).
	ErrorKindEcho = "echo"
	// ErrorKindBudget: the endpoint's echo budget did not allow K echoes.
	ErrorKindBudget = "budget"
	// ErrorKindSelfCheck: the probe's own evidence did not verify.
	ErrorKindSelfCheck = "self-check"
	// ErrorKindTimeout: a connection ran out of time.
	ErrorKindTimeout = "timeout"
	// ErrorKindResult: the probe returned a result that cannot become
	// samples (wrong echo count, a zero frequency).
	ErrorKindResult = "result"
	// ErrorKindOther: any other failure.
	ErrorKindOther = "other"
	// ErrorKindBackoff: not an attempt: the endpoint failed repeatedly and
	// the campaign skipped it in this round to back off.
	ErrorKindBackoff = "backoff"
)

var errorKinds = map[string]bool{
	ErrorKindConfig: true, ErrorKindDial: true, ErrorKindNoTLS13: true, ErrorKindHandshake: true,
	ErrorKindALPN: true, ErrorKindEcho: true, ErrorKindBudget: true, ErrorKindSelfCheck: true,
	ErrorKindTimeout: true, ErrorKindResult: true, ErrorKindOther: true, ErrorKindBackoff: true,
}

// Echo methods of a sample. An error sample may also carry "auto", the
// catalog's method, when no connection told which method applied.
const (
	MethodH2Ping = "h2-ping"
	MethodHTTP1  = "http1"
	MethodAuto   = "auto"
)

// Times outside [minTime, maxTime) cannot be meant, and maxTime keeps every
// time representable as int64 nanoseconds since 1970 (Parquet's
// TIMESTAMP(NANOS)).
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate checks one sample's fields on their own: required fields, ranges,
// finite and non-negative round trips, and the split between measured
// samples (round trip, cycles and frequency set; no error) and error samples
// (error and kind set; no round trip). Where the sample sits in a file is
// checked by readers and writers.
func (s *Sample) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrValue, fmt.Sprintf(format, a...))
	}
	switch {
	case !ValidCampaignID(s.Campaign):
		return bad("campaign %q", s.Campaign)
	case s.Round < 0 || s.Round >= MaxRounds:
		return bad("round %d", s.Round)
	case !validName(s.Vantage):
		return bad("vantage %q", s.Vantage)
	case s.Origin != OriginLab && s.Origin != OriginReal:
		return bad("origin %q", s.Origin)
	case !validCoords(s.VantageLat, s.VantageLon):
		return bad("vantage coordinates %v,%v", s.VantageLat, s.VantageLon)
	case !validName(s.Endpoint), !validName(s.Provider), !validName(s.Region), !validName(s.Hostname):
		return bad("endpoint, provider, region and hostname are required and printable")
	case s.Port < 1 || s.Port > 65535:
		return bad("port %d", s.Port)
	case len(s.Address) > 256 || len(s.FrequencySource) > 64 || len(s.VantageProvider) > 256 || len(s.VantageRegion) > 256:
		return bad("a text field is too long")
	case s.Conn < 0 || s.Conn >= MaxEchoes || s.Echo < 0 || s.Echo >= MaxEchoes:
		return bad("conn %d, echo %d", s.Conn, s.Echo)
	case !finite(s.RTTNs) || s.RTTNs < 0:
		return bad("rtt_ns %v", s.RTTNs)
	case !finite(s.HandshakeNs) || s.HandshakeNs < 0:
		return bad("handshake_ns %v", s.HandshakeNs)
	case s.RTTKernelNs < 0:
		return bad("rtt_kernel_ns %d", s.RTTKernelNs)
	case s.Time.Before(minTime) || !s.Time.Before(maxTime):
		return bad("time %v not in [1970, 2262)", s.Time)
	case len(s.Error) > MaxErrorBytes:
		return bad("error longer than %d bytes", MaxErrorBytes)
	}
	if s.Error == "" {
		switch {
		case s.ErrorKind != "":
			return bad("error_kind %q without an error", s.ErrorKind)
		case s.Method != MethodH2Ping && s.Method != MethodHTTP1:
			return bad("method %q (want h2-ping or http1)", s.Method)
		case s.RTTNs <= 0 || s.RTTCycles == 0:
			return bad("a measured echo needs rtt_ns and rtt_cycles above zero")
		case s.FrequencyHz == 0 || s.FrequencySource == "":
			return bad("a measured echo needs frequency_hz and frequency_source")
		}
		return nil
	}
	switch {
	case !errorKinds[s.ErrorKind]:
		return bad("error_kind %q", s.ErrorKind)
	case s.Method != MethodH2Ping && s.Method != MethodHTTP1 && s.Method != MethodAuto:
		return bad("method %q", s.Method)
	case s.RTTNs != 0 || s.RTTCycles != 0 || s.RTTKernelNs != 0 || s.HandshakeNs != 0:
		return bad("an error sample carries no round trips")
	case s.Echo != 0 || s.Conn != 0:
		return bad("an error sample has conn and echo 0")
	}
	return nil
}

// endpointMeta is what every sample of one endpoint must repeat.
type endpointMeta struct {
	provider, region, hostname string
	port                       int
}

// checker holds a file's position in its plan and checks each sample
// against it: campaign, vantage, Seq, unit order, echo order. Memory is
// bounded by the plan's endpoint count.
type checker struct {
	h     *Header
	n     int // endpoints per round
	total int // units in the plan

	next     uint64 // expected Seq
	unit     int    // plan index of the last sample's unit; -1 before any
	inUnit   int    // samples of that unit so far
	done     bool   // that unit is complete
	lastConn int

	orderRound int
	order      []string
	inPlan     map[string]bool
	meta       map[string]endpointMeta
}

func newChecker(h *Header) *checker {
	c := &checker{h: h, n: len(h.Plan.Endpoints), total: h.Plan.Units(), unit: -1, orderRound: -1,
		inPlan: make(map[string]bool, len(h.Plan.Endpoints)), meta: map[string]endpointMeta{}}
	for _, e := range h.Plan.Endpoints {
		c.inPlan[e] = true
	}
	return c
}

// unitAt returns the round and endpoint of the plan's unit u.
func (c *checker) unitAt(u int) (int, string) {
	round := u / c.n
	if round != c.orderRound {
		c.order, c.orderRound = c.h.Plan.Order(round), round
	}
	return round, c.order[u%c.n]
}

// completeUnits returns how many units of the plan the samples so far
// complete.
func (c *checker) completeUnits() int {
	if c.unit < 0 {
		return 0
	}
	if c.done {
		return c.unit + 1
	}
	return c.unit
}

// midUnit reports whether the last sample left its unit incomplete.
func (c *checker) midUnit() bool { return c.unit >= 0 && !c.done }

// check accepts the next sample or says why not, changing no state when it
// refuses.
func (c *checker) check(s *Sample) error {
	h := c.h
	if s.Campaign != h.Campaign {
		return fmt.Errorf("%w: campaign %q, the header's is %q", ErrSeq, s.Campaign, h.Campaign)
	}
	if s.Seq != c.next {
		return fmt.Errorf("%w: seq %d, want %d", ErrSeq, s.Seq, c.next)
	}
	v := h.Vantage
	if s.Vantage != v.Name || s.VantageProvider != v.Provider || s.VantageRegion != v.Region ||
		s.VantageLat != v.Lat || s.VantageLon != v.Lon || s.Origin != v.Origin {
		return fmt.Errorf("%w: vantage fields differ from the header's vantage %q", ErrSeq, v.Name)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if !c.inPlan[s.Endpoint] {
		return fmt.Errorf("%w: endpoint %q is not in the plan", ErrOrder, s.Endpoint)
	}
	m := endpointMeta{s.Provider, s.Region, s.Hostname, s.Port}
	if old, ok := c.meta[s.Endpoint]; ok && old != m {
		return fmt.Errorf("%w: endpoint %q: provider, region, hostname or port differ from its earlier samples", ErrValue, s.Endpoint)
	}
	K := h.Plan.Echoes
	if c.midUnit() {
		round, ep := c.unitAt(c.unit)
		switch {
		case s.Round != round || s.Endpoint != ep:
			return fmt.Errorf("%w: round %d endpoint %q stops after %d of %d echoes", ErrIncomplete, round, ep, c.inUnit, K)
		case s.Error != "":
			return fmt.Errorf("%w: an error sample after %d echoes of round %d endpoint %q", ErrOrder, c.inUnit, round, ep)
		case s.Echo != c.inUnit:
			return fmt.Errorf("%w: echo %d, want %d", ErrOrder, s.Echo, c.inUnit)
		case s.Conn != c.lastConn && s.Conn != c.lastConn+1:
			return fmt.Errorf("%w: conn %d after conn %d", ErrOrder, s.Conn, c.lastConn)
		}
		c.inUnit++
		c.done = c.inUnit == K
	} else {
		u := c.unit + 1
		if u >= c.total {
			return fmt.Errorf("%w: the plan's %d units (%d rounds × %d endpoints) are all done", ErrOrder, c.total, h.Plan.Rounds, c.n)
		}
		round, ep := c.unitAt(u)
		if s.Round != round || s.Endpoint != ep {
			return fmt.Errorf("%w: round %d endpoint %q, the plan has round %d endpoint %q next", ErrOrder, s.Round, s.Endpoint, round, ep)
		}
		if s.Error == "" && (s.Echo != 0 || s.Conn != 0) {
			return fmt.Errorf("%w: a probe starts with conn 0 echo 0, got conn %d echo %d", ErrOrder, s.Conn, s.Echo)
		}
		c.unit, c.inUnit = u, 1
		c.done = s.Error != "" || K == 1
	}
	c.lastConn = s.Conn
	c.meta[s.Endpoint] = m
	c.next++
	return nil
}

// finish reports an incomplete last unit.
func (c *checker) finish() error {
	if c.midUnit() {
		round, ep := c.unitAt(c.unit)
		return fmt.Errorf("%w: round %d endpoint %q stops after %d of %d echoes (resume the campaign to roll it back)",
			ErrIncomplete, round, ep, c.inUnit, c.h.Plan.Echoes)
	}
	return nil
}

// decodeStrict decodes one JSON object into v (a pointer to a struct),
// refusing what encoding/json lets pass: unknown fields, fields spelled in
// another case, repeated fields, nulls, trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t := reflect.TypeOf(v).Elem()
	if tok, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	} else if tok != json.Delim('{') {
		return fmt.Errorf("%w: not a JSON object", ErrSyntax)
	}
	if err := walkObject(dec, t, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrSyntax)
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		if strings.Contains(err.Error(), "unknown field") {
			return fmt.Errorf("%w: %v", ErrField, err)
		}
		return fmt.Errorf("%w: %v", ErrValue, err)
	}
	return nil
}

// maxDepth bounds nesting; the format's objects are two levels deep.
const maxDepth = 8

// walkObject checks the keys of the object whose '{' was just read, for
// struct type t (nil: any keys).
func walkObject(dec *json.Decoder, t reflect.Type, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested too deep", ErrSyntax)
	}
	fields := fieldsOf(t)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		key, _ := tok.(string)
		var ft reflect.Type
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				return fmt.Errorf("%w: unknown field %q", ErrField, key)
			}
			if seen[key] {
				return fmt.Errorf("%w: field %q given twice", ErrField, key)
			}
			seen[key] = true
		}
		if err := walkValue(dec, ft, key, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}

func walkValue(dec *json.Decoder, t reflect.Type, key string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	switch tok {
	case nil:
		return fmt.Errorf("%w: field %q is null", ErrValue, key)
	case json.Delim('{'):
		return walkObject(dec, t, depth+1)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem, key, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return fmt.Errorf("%w: %v", ErrSyntax, err)
		}
	}
	return nil
}

var (
	fieldCache sync.Map // reflect.Type → map[string]reflect.Type
	timeType   = reflect.TypeOf(time.Time{})
)

// fieldsOf returns the JSON field names of a struct type, or nil for any
// other type (and for time.Time, which is a string in JSON).
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct || t == timeType {
		return nil
	}
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}
