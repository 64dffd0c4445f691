package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/httpjson"
	"github.com/latencyproof/poc/prover"
)

// ProveFunc answers a challenge with a proof.
type ProveFunc func(ctx context.Context, ch evidence.Challenge) (*evidence.Proof, error)

// Defaults and limits.
const (
	// DefaultRatePerMinute is the sustained rate of campaigns unless
	// configured: two proofs of 16 echoes per endpoint a minute stay well
	// within the PING budgets of real front ends.
	DefaultRatePerMinute = 2
	// DefaultBurst is how many campaigns may run back to back unless
	// configured.
	DefaultBurst = 1
	// DefaultProofTimeout bounds a campaign unless configured.
	DefaultProofTimeout = 2 * time.Minute
	// MaxChallengeBytes bounds the request body: a challenge is a few
	// hundred bytes.
	MaxChallengeBytes = 16 << 10
)

// ErrConfig: the service cannot run with this configuration.
var ErrConfig = errors.New("prover service: invalid configuration")

// Config configures the prover service. The zero value of each limit is its
// safe default; none can be switched off.
type Config struct {
	// Options say how every proof is made (endpoints, attester, binding,
	// routes); the service checks them when it starts.
	Options prover.Options
	// Prove replaces prover.Prove with Options (tests inject a fake
	// campaign here); nil means prover.Prove.
	Prove ProveFunc
	// RatePerMinute is the sustained number of campaigns a minute; zero
	// means DefaultRatePerMinute.
	RatePerMinute float64
	// Burst is how many campaigns may start back to back after a quiet
	// spell; zero means DefaultBurst.
	Burst int
	// ProofTimeout bounds one campaign (the challenge's expiry bounds it
	// too); zero means DefaultProofTimeout.
	ProofTimeout time.Duration
	// Logger gets one record per request; nil discards.
	Logger *slog.Logger
	// Now is the wall clock (challenge expiry, rate limit); nil means
	// time.Now.
	Now func() time.Time
}

// Server is the prover service, an http.Handler.
type Server struct {
	prove   ProveFunc
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	m       *metrics

	// running holds a token while a campaign runs: one at a time.
	running chan struct{}

	mu       sync.Mutex
	bucket   bucket
	started  time.Time     // of the running campaign
	estimate time.Duration // of a campaign's duration, for Retry-After
}

// New checks the configuration and returns the service.
func New(cfg Config) (*Server, error) {
	s := &Server{prove: cfg.Prove, timeout: cfg.ProofTimeout, log: cfg.Logger, now: cfg.Now, m: newMetrics(), running: make(chan struct{}, 1)}
	if s.prove == nil {
		o := cfg.Options
		switch {
		case o.Attester == nil:
			return nil, fmt.Errorf("%w: no attester", ErrConfig)
		case len(o.Endpoints) == 0 || len(o.Endpoints) > evidence.MaxProbes:
			return nil, fmt.Errorf("%w: %d endpoints (want 1 to %d)", ErrConfig, len(o.Endpoints), evidence.MaxProbes)
		case len(o.AppBinding) > evidence.MaxAppBindingLen:
			return nil, fmt.Errorf("%w: app binding of %d bytes (limit %d)", ErrConfig, len(o.AppBinding), evidence.MaxAppBindingLen)
		case o.Echoes < 0:
			return nil, fmt.Errorf("%w: %d echoes", ErrConfig, o.Echoes)
		}
		s.prove = func(ctx context.Context, ch evidence.Challenge) (*evidence.Proof, error) {
			return prover.Prove(ctx, ch, o)
		}
	}
	rate, burst := cfg.RatePerMinute, cfg.Burst
	if rate == 0 {
		rate = DefaultRatePerMinute
	}
	if burst == 0 {
		burst = DefaultBurst
	}
	if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) || burst < 0 || cfg.ProofTimeout < 0 {
		return nil, fmt.Errorf("%w: rate %v a minute, burst %d, proof timeout %v: none may be negative", ErrConfig, rate, burst, cfg.ProofTimeout)
	}
	s.bucket = bucket{perSecond: rate / 60, burst: float64(burst)}
	if s.timeout == 0 {
		s.timeout = DefaultProofTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Paths of the service.
const (
	PathProofs  = "/v1/proofs"
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	defer func() {
		// A handler bug must not put a stack trace in the log or a
		// half-written answer on the wire.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("internal error", "path", r.URL.Path, "panic", fmt.Sprint(v))
			problem(w, http.StatusInternalServerError, "internal error")
		}
	}()
	switch r.URL.Path {
	case PathProofs:
		if !allow(w, r, http.MethodPost) {
			return
		}
		s.proofs(w, r)
	case PathHealth:
		if allow(w, r, http.MethodGet, http.MethodHead) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	case PathMetrics:
		if allow(w, r, http.MethodGet, http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			s.m.write(w)
		}
	default:
		problem(w, http.StatusNotFound, "no such resource")
	}
}

// Problem is the body of every answer that is not a success.
type Problem = httpjson.Problem

func (s *Server) proofs(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status, result := s.answer(w, r)
	s.m.requests.Inc(result)
	s.log.Info("request", "method", r.Method, "route", "proofs", "remote", r.RemoteAddr,
		"status", status, "result", result, "duration", time.Since(start).Round(time.Microsecond))
}

// answer handles POST /v1/proofs and returns its status and result.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) (int, string) {
	if !jsonBody(r) {
		problem(w, http.StatusUnsupportedMediaType, "the challenge must be sent as application/json")
		return http.StatusUnsupportedMediaType, resultInvalid
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxChallengeBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a challenge is at most %d bytes", MaxChallengeBytes))
			return http.StatusRequestEntityTooLarge, resultTooLarge
		}
		problem(w, http.StatusBadRequest, "could not read the request body")
		return http.StatusBadRequest, resultInvalid
	}
	ch, err := DecodeChallenge(body)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return http.StatusBadRequest, resultInvalid
	}
	now := s.now()
	if err := Answerable(&ch, now); err != nil {
		problem(w, http.StatusUnprocessableEntity, err.Error())
		return http.StatusUnprocessableEntity, resultExpired
	}
	select {
	case s.running <- struct{}{}:
	default:
		w.Header().Set("Retry-After", seconds(s.busyFor(now)))
		problem(w, http.StatusServiceUnavailable, "a measurement campaign is running; retry later")
		return http.StatusServiceUnavailable, resultBusy
	}
	defer func() { <-s.running }()
	s.mu.Lock()
	ok, wait := s.bucket.take(now)
	if ok {
		s.started = now
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("Retry-After", seconds(wait))
		problem(w, http.StatusTooManyRequests, "the proof rate limit is reached; retry later")
		return http.StatusTooManyRequests, resultRateLimited
	}
	return s.campaign(w, r, ch, now)
}

// campaign runs one proof and sends it.
func (s *Server) campaign(w http.ResponseWriter, r *http.Request, ch evidence.Challenge, now time.Time) (int, string) {
	timeout := min(s.timeout, time.Unix(ch.ExpiresUnix, 0).Sub(now))
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	s.m.inProgress.N.Store(1)
	defer s.m.inProgress.N.Store(0)
	t0 := time.Now()
	p, err := s.prove(ctx, ch)
	d := time.Since(t0)
	s.m.duration.Observe(d.Seconds())
	s.mu.Lock()
	if s.estimate == 0 {
		s.estimate = d
	} else {
		s.estimate = (3*s.estimate + d) / 4
	}
	s.mu.Unlock()
	var buf bytes.Buffer
	if err == nil {
		err = p.Encode(&buf)
	}
	if err != nil {
		status, msg, result := classify(ctx, err)
		// The error names endpoints, addresses and devices: useful to the
		// operator, so it is logged; the client gets the fixed message.
		s.log.Warn("campaign failed", "status", status, "err", err, "duration", d.Round(time.Millisecond))
		problem(w, status, msg)
		return status, result
	}
	s.m.proofs.N.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
	return http.StatusOK, resultProved
}

// classify maps a campaign's failure to a status, a message for the client
// and a result for the metrics.
func classify(ctx context.Context, err error) (int, string, string) {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "the campaign did not finish in time (the proof timeout or the challenge's expiry)", resultTimeout
	case ctx.Err() != nil:
		return http.StatusServiceUnavailable, "the campaign was cancelled", resultFailed
	case errors.Is(err, prover.ErrOptions):
		return http.StatusInternalServerError, "the prover service is misconfigured", resultFailed
	case errors.Is(err, prover.ErrProbe):
		return http.StatusBadGateway, "probing an endpoint failed", resultFailed
	case errors.Is(err, prover.ErrNoTEE):
		return http.StatusServiceUnavailable, "the TEE is not available", resultFailed
	case errors.Is(err, prover.ErrAttestation):
		return http.StatusBadGateway, "the TEE's attestation did not bind the proof", resultFailed
	}
	return http.StatusInternalServerError, "proving failed", resultFailed
}

// busyFor estimates how long the running campaign has left; at least a
// second.
func (s *Server) busyFor(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	est := s.estimate
	if est == 0 {
		est = 5 * time.Second
	}
	return max(est-now.Sub(s.started), time.Second)
}

// seconds writes a Retry-After value: whole seconds, rounded up, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

// Errors of the challenge checks.
var (
	// ErrChallenge: the body is not a challenge document.
	ErrChallenge = errors.New("not a challenge document")
	// ErrUnanswerable: the challenge is a document, but no proof answering
	// it could be accepted.
	ErrUnanswerable = errors.New("challenge cannot be answered")
)

// challengeFields are the fields of a challenge document, all required.
var challengeFields = []string{"nonce", "verifier", "issued_unix", "expires_unix", "tag"}

// DecodeChallenge reads a challenge document strictly: one JSON object
// with exactly the fields of evidence.Challenge, each once and of its
// type, and nothing after it.
func DecodeChallenge(b []byte) (evidence.Challenge, error) {
	var ch evidence.Challenge
	if len(b) > MaxChallengeBytes {
		return ch, fmt.Errorf("%w: larger than %d bytes", ErrChallenge, MaxChallengeBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ch, fmt.Errorf("%w: want a JSON object", ErrChallenge)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ch, fmt.Errorf("%w: %w", ErrChallenge, err)
		}
		key, _ := tok.(string)
		switch {
		case !slices.Contains(challengeFields, key):
			return ch, fmt.Errorf("%w: unknown field %q", ErrChallenge, key)
		case seen[key]:
			return ch, fmt.Errorf("%w: field %q appears twice", ErrChallenge, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ch, fmt.Errorf("%w: field %q: %w", ErrChallenge, key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return ch, fmt.Errorf("%w: %w", ErrChallenge, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ch, fmt.Errorf("%w: data after the challenge document", ErrChallenge)
	}
	for _, f := range challengeFields {
		if !seen[f] {
			return ch, fmt.Errorf("%w: missing field %q", ErrChallenge, f)
		}
	}
	strict := json.NewDecoder(bytes.NewReader(b))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&ch); err != nil {
		return evidence.Challenge{}, fmt.Errorf("%w: %w", ErrChallenge, err)
	}
	return ch, nil
}

// Answerable checks what the prover can check of a challenge: its limits,
// and that it is live at now. It cannot check the tag: only the verifier
// holds the key.
func Answerable(ch *evidence.Challenge, now time.Time) error {
	switch {
	case ch.Nonce == evidence.Hash{}:
		return fmt.Errorf("%w: the nonce is all zeros", ErrUnanswerable)
	case ch.Verifier == "" || len(ch.Verifier) > evidence.MaxStringLen || !utf8.ValidString(ch.Verifier):
		return fmt.Errorf("%w: the verifier name must be 1 to %d bytes of UTF-8", ErrUnanswerable, evidence.MaxStringLen)
	case len(ch.Tag) == 0 || len(ch.Tag) > evidence.MaxTagLen:
		return fmt.Errorf("%w: the tag must be 1 to %d bytes", ErrUnanswerable, evidence.MaxTagLen)
	case ch.ExpiresUnix <= ch.IssuedUnix:
		return fmt.Errorf("%w: it expires before it is issued", ErrUnanswerable)
	case !now.Before(time.Unix(ch.ExpiresUnix, 0)):
		return fmt.Errorf("%w: it expired at %s (the prover's clock says %s)", ErrUnanswerable,
			time.Unix(ch.ExpiresUnix, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// bucket is a token bucket: burst tokens at most, refilled at perSecond.
type bucket struct {
	perSecond, burst float64
	tokens           float64
	last             time.Time
}

// take removes a token if there is one, or says how long until there is.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	switch {
	case b.last.IsZero():
		b.tokens, b.last = b.burst, now
	case now.After(b.last):
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if b.perSecond <= 0 {
		return false, time.Hour
	}
	return false, time.Duration((1 - b.tokens) / b.perSecond * float64(time.Second))
}

// The services' shared HTTP plumbing.
var (
	allow     = httpjson.Allow
	problem   = httpjson.WriteProblem
	writeJSON = httpjson.Write
	jsonBody  = httpjson.IsJSON
)
