package service

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latencyproof/poc/calibration/verdict"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/httpjson"
	"github.com/latencyproof/poc/verifier"
)

// Defaults and limits.
const (
	// DefaultName is the verifier's name in its challenges unless
	// configured.
	DefaultName = "poc verifier"
	// DefaultMaxTTL bounds the lifetime a client may ask of a challenge
	// unless configured: a proof measures the present.
	DefaultMaxTTL = time.Hour
	// DefaultTimeout bounds the wait for a verification slot, and then
	// reading the body and verifying, unless configured.
	DefaultTimeout = time.Minute
	// DefaultQueuePerSlot is how many requests may wait per verification
	// slot unless configured.
	DefaultQueuePerSlot = 16
	// MaxChallengeRequestBytes bounds the body of POST /v1/challenges.
	MaxChallengeRequestBytes = 4 << 10
)

// Paths of the service.
const (
	PathChallenges    = "/v1/challenges"
	PathVerifications = "/v1/verifications"
	PathHealth        = "/healthz"
	PathMetrics       = "/metrics"
)

// ErrConfig: the service cannot run with this configuration.
var ErrConfig = errors.New("verifier service: invalid configuration")

// Config configures the verifier service. The zero value of each limit is
// its safe default; none can be switched off.
type Config struct {
	// Name is the verifier's name in its challenges (followed by its key
	// ID); empty means DefaultName.
	Name string
	// Policy is what the verifier accepts. Required.
	Policy *verifier.Policy
	// Options are the verifier's plumbing. ChallengeKey, Nonces (which
	// must outlive restarts to refuse replays across them: use
	// verifier.OpenNonceFile), Collateral, Profiles and Catalog are
	// required. AppBinding and Claim, when set, hold for every request: a
	// request may repeat them but not contradict them. Now is also the
	// clock challenges are issued by.
	Options verifier.Options
	// DefaultTTL is the lifetime of a challenge unless the request asks;
	// zero means verifier.DefaultChallengeTTL.
	DefaultTTL time.Duration
	// MaxTTL bounds the lifetime a request may ask; zero means
	// DefaultMaxTTL. At most verifier.MaxChallengeTTL.
	MaxTTL time.Duration
	// MaxConcurrent bounds the verifications that run at once; zero
	// means GOMAXPROCS.
	MaxConcurrent int
	// MaxQueue bounds the requests waiting for a slot; zero means
	// DefaultQueuePerSlot per slot.
	MaxQueue int
	// Timeout bounds the wait for a verification slot, and then again
	// reading the body and verifying; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds a proof; zero means evidence.MaxProofBytes, the
	// most it may be.
	MaxBodyBytes int64
	// Logger gets one record per request; nil discards. Nothing secret is
	// logged: not the key, not the proofs' TLS secrets.
	Logger *slog.Logger
}

// Server is the verifier service, an http.Handler. It does not own the
// nonce store: close it after the server has stopped.
type Server struct {
	cfg      Config
	name     string
	now      func() time.Time
	log      *slog.Logger
	slots    chan struct{}
	maxQueue int64
	m        *metrics
	waiting  atomic.Int64
}

// New checks the configuration and returns the service.
func New(cfg Config) (*Server, error) {
	o := cfg.Options
	switch {
	case cfg.Policy == nil:
		return nil, fmt.Errorf("%w: no policy", ErrConfig)
	case o.ChallengeKey == nil:
		return nil, fmt.Errorf("%w: no challenge key", ErrConfig)
	case o.Nonces == nil:
		return nil, fmt.Errorf("%w: no nonce store: a service must refuse replayed proofs", ErrConfig)
	case o.Collateral == nil || o.Profiles == nil || o.Catalog == nil:
		return nil, fmt.Errorf("%w: the collateral, profiles and catalog are required", ErrConfig)
	case cfg.DefaultTTL < 0 || cfg.MaxTTL < 0 || cfg.MaxConcurrent < 0 || cfg.MaxQueue < 0 || cfg.Timeout < 0 || cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("%w: no limit may be negative", ErrConfig)
	case cfg.MaxTTL > verifier.MaxChallengeTTL:
		return nil, fmt.Errorf("%w: max TTL %v exceeds %v", ErrConfig, cfg.MaxTTL, verifier.MaxChallengeTTL)
	case cfg.MaxBodyBytes > evidence.MaxProofBytes:
		return nil, fmt.Errorf("%w: body limit %d exceeds the proof format's %d", ErrConfig, cfg.MaxBodyBytes, evidence.MaxProofBytes)
	case len(o.AppBinding) > evidence.MaxAppBindingLen:
		return nil, fmt.Errorf("%w: app binding of %d bytes (limit %d)", ErrConfig, len(o.AppBinding), evidence.MaxAppBindingLen)
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = min(verifier.DefaultChallengeTTL, cfg.MaxTTL)
	}
	if cfg.DefaultTTL > cfg.MaxTTL {
		return nil, fmt.Errorf("%w: default TTL %v exceeds the max TTL %v", ErrConfig, cfg.DefaultTTL, cfg.MaxTTL)
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = DefaultQueuePerSlot * cfg.MaxConcurrent
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = evidence.MaxProofBytes
	}
	s := &Server{cfg: cfg, name: cfg.Name, now: o.Now, log: cfg.Logger,
		slots: make(chan struct{}, cfg.MaxConcurrent), maxQueue: int64(cfg.MaxQueue), m: newMetrics()}
	if s.name == "" {
		s.name = DefaultName
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if _, err := o.ChallengeKey.Issue(s.name, s.now(), cfg.DefaultTTL); err != nil {
		return nil, fmt.Errorf("%w: issuing a challenge: %w", ErrConfig, err)
	}
	return s, nil
}

// Problem is the body of every answer that is not a success.
type Problem = httpjson.Problem

// Response is the answer to POST /v1/verifications: the verifier's Result,
// a stable reason code when it is not accepted, and, for a body that is
// not a proof document (status 400), the fields of a problem document.
type Response struct {
	*verifier.Result
	// Reason is a stable code for a refusal (see Reason); empty when
	// accepted.
	Reason string `json:"reason,omitempty"`
	// Error and Status are set for a 400 only.
	Error  string `json:"error,omitempty"`
	Status int    `json:"status,omitempty"`
}

// TTLRequest is the optional body of POST /v1/challenges.
type TTLRequest struct {
	// TTL is the challenge's lifetime as a Go duration ("10m"); empty
	// means the service's default.
	TTL string `json:"ttl,omitempty"`
}

// recorder remembers the status written, for the log and the metrics.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	h := rec.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	route := routeOther
	attrs := []any{}
	defer func() {
		// A handler bug must not put a stack trace in the log or a
		// half-written answer on the wire.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("internal error", "path", r.URL.Path, "panic", fmt.Sprint(v))
			if rec.status == 0 {
				problem(rec, http.StatusInternalServerError, "internal error")
			}
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.m.requests.Inc(route, strconv.Itoa(rec.status))
		if route != routeMetrics && route != routeHealth {
			s.log.Info("request", append([]any{"method", r.Method, "route", route, "remote", r.RemoteAddr,
				"status", rec.status, "duration", time.Since(start).Round(time.Microsecond)}, attrs...)...)
		}
	}()
	switch r.URL.Path {
	case PathChallenges:
		route = routeChallenges
		if allow(rec, r, http.MethodPost) {
			s.challenge(rec, r)
		}
	case PathVerifications:
		route = routeVerifications
		if allow(rec, r, http.MethodPost) {
			attrs = s.verification(rec, r)
		}
	case PathHealth:
		route = routeHealth
		if allow(rec, r, http.MethodGet, http.MethodHead) {
			if _, err := s.cfg.Options.Nonces.Seen(evidence.Hash{}); err != nil {
				s.log.Error("nonce store", "err", err)
				problem(rec, http.StatusServiceUnavailable, "the nonce store does not answer")
				return
			}
			writeJSON(rec, http.StatusOK, map[string]string{"status": "ok"})
		}
	case PathMetrics:
		route = routeMetrics
		if allow(rec, r, http.MethodGet, http.MethodHead) {
			rec.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			rec.WriteHeader(http.StatusOK)
			s.m.write(rec)
		}
	default:
		problem(rec, http.StatusNotFound, "no such resource")
	}
}

// readBody reads a bounded body, answering 413 or 400 itself when it
// cannot.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds %d bytes", limit))
		} else {
			problem(w, http.StatusBadRequest, "could not read the request body")
		}
		return nil, false
	}
	return b, true
}

// challenge handles POST /v1/challenges.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(r) {
		problem(w, http.StatusUnsupportedMediaType, "the body must be application/json")
		return
	}
	body, ok := readBody(w, r, MaxChallengeRequestBytes)
	if !ok {
		return
	}
	ttl, err := s.ttl(body)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	ch, err := s.cfg.Options.ChallengeKey.Issue(s.name, s.now(), ttl)
	if err != nil {
		s.log.Error("issuing a challenge", "err", err)
		problem(w, http.StatusInternalServerError, "could not issue a challenge")
		return
	}
	s.m.challenges.N.Add(1)
	writeJSON(w, http.StatusOK, ch)
}

// ttl reads the optional TTLRequest strictly.
func (s *Server) ttl(body []byte) (time.Duration, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return s.cfg.DefaultTTL, nil
	}
	var req TTLRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, fmt.Errorf("the body is not a challenge request: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, errors.New("the body is not a challenge request: data after the document")
	}
	if req.TTL == "" {
		return s.cfg.DefaultTTL, nil
	}
	d, err := time.ParseDuration(req.TTL)
	if err != nil || d <= 0 || d > s.cfg.MaxTTL {
		return 0, fmt.Errorf("ttl %q: want a duration in (0, %v], such as \"10m\"", req.TTL, s.cfg.MaxTTL)
	}
	return d, nil
}

// options applies a request's query parameters to the service's options.
func (s *Server) options(r *http.Request) (verifier.Options, error) {
	o := s.cfg.Options
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return o, fmt.Errorf("malformed query: %w", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return o, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
		switch k {
		case "app_binding":
			b, err := hex.DecodeString(v[0])
			if err != nil || len(b) == 0 || len(b) > evidence.MaxAppBindingLen {
				return o, fmt.Errorf("app_binding: want 1 to %d bytes of hex", evidence.MaxAppBindingLen)
			}
			if o.AppBinding != nil && !bytes.Equal(o.AppBinding, b) {
				return o, errors.New("app_binding contradicts the binding this service requires")
			}
			o.AppBinding = b
		case "claim":
			prov, reg, ok := strings.Cut(v[0], "/")
			if !ok || prov == "" || reg == "" || strings.Contains(reg, "/") {
				return o, errors.New("claim: want PROVIDER/REGION")
			}
			c := &verdict.Claim{Provider: prov, Region: reg}
			if o.Claim != nil && *o.Claim != *c {
				return o, errors.New("claim contradicts the region this service checks")
			}
			o.Claim = c
		default:
			// An unknown parameter may be a misspelt requirement
			// (app_bind=…): ignoring it would skip a check.
			return o, fmt.Errorf("unknown query parameter %q (want app_binding or claim)", k)
		}
	}
	return o, nil
}

// acquire waits for a verification slot, unless too many wait already or
// ctx ends first.
func (s *Server) acquire(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.waiting.Add(1) > s.maxQueue {
		s.waiting.Add(-1)
		return false
	}
	s.m.waiting.N.Add(1)
	defer func() { s.waiting.Add(-1); s.m.waiting.N.Add(-1) }()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// verification handles POST /v1/verifications and returns attributes for
// the request's log record.
func (s *Server) verification(w http.ResponseWriter, r *http.Request) []any {
	if !jsonBody(r) {
		problem(w, http.StatusUnsupportedMediaType, "the proof must be sent as application/json")
		return nil
	}
	opts, err := s.options(r)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return nil
	}
	qctx, qcancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	acquired := s.acquire(qctx)
	qcancel()
	if !acquired {
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "every verification slot is busy; retry later")
		return nil
	}
	defer func() { <-s.slots }()
	s.m.inFlight.N.Add(1)
	defer s.m.inFlight.N.Add(-1)
	// A fresh budget for reading and verifying: the server's read
	// deadline, if any, counts from the request's start, and the time
	// spent waiting for a slot must not eat into reading the body.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.Timeout))
	body, ok := readBody(w, r, s.cfg.MaxBodyBytes)
	if !ok {
		return nil
	}
	t0 := time.Now()
	p, err := evidence.Decode(bytes.NewReader(body))
	if err != nil {
		s.m.duration.Observe(time.Since(t0).Seconds())
		s.m.verifications.Inc(string(verifier.RefusedCrypto))
		reason := Reason(err)
		writeJSON(w, http.StatusBadRequest, Response{Result: malformed(err), Reason: reason,
			Error: "the body is not a proof document: " + err.Error(), Status: http.StatusBadRequest})
		return []any{"outcome", verifier.RefusedCrypto, "reason", reason}
	}
	res, verr := verifier.Verify(ctx, p, s.cfg.Policy, opts)
	s.m.duration.Observe(time.Since(t0).Seconds())
	s.m.verifications.Inc(string(res.Outcome))
	reason := Reason(verr)
	writeJSON(w, http.StatusOK, Response{Result: res, Reason: reason})
	return []any{"nonce", p.Body.Challenge.Nonce.String()[:16], "outcome", res.Outcome, "reason", reason,
		"verify", time.Since(t0).Round(time.Microsecond)}
}

// malformed is the Result of a body that is not a proof document.
func malformed(err error) *verifier.Result {
	return &verifier.Result{
		Outcome:    verifier.RefusedCrypto,
		Summary:    fmt.Sprintf("Refused: the body is not a valid proof document: %v.", err),
		Checks:     []verifier.Check{{Stage: verifier.StageProof, OK: false, Detail: err.Error()}},
		Limits:     []string{},
		SecondRoot: []string{},
	}
}

// The services' shared HTTP plumbing.
var (
	allow     = httpjson.Allow
	problem   = httpjson.WriteProblem
	writeJSON = httpjson.Write
	jsonBody  = httpjson.IsJSON
)
