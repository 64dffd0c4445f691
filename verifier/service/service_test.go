package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/verifier"
	"github.com/latencyproof/poc/verifier/dcap"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lightConfig is a service that needs no lab: enough to issue challenges
// and to refuse what is not a proof.
func lightConfig(t testing.TB) Config {
	t.Helper()
	key, err := verifier.NewChallengeKey()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Policy: verifier.DefaultPolicy(),
		Options: verifier.Options{ChallengeKey: key, Nonces: verifier.NewMemoryNonces(), Collateral: dcap.Bundle{},
			Profiles: &profile.File{}, Catalog: &datasets.Catalog{}},
	}
}

func startLight(t testing.TB, mut func(*Config)) (*httptest.Server, *Server, *syncBuffer) {
	t.Helper()
	cfg := lightConfig(t)
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if mut != nil {
		mut(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return srv, svc, logs
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, url, contentType string, body io.Reader) answer {
	t.Helper()
	a, err := tryDo(method, url, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tryDo is do for goroutines other than the test's.
func tryDo(method, url, contentType string, body io.Reader) (answer, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// problemOf checks that an answer is a bare problem document of its status.
func problemOf(t testing.TB, a answer) Problem {
	t.Helper()
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Status != a.status || p.Error == "" || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d: not a problem document of that status: %v\n%s", a.status, err, a.body)
	}
	return p
}

func TestChallenges(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	srv, _, _ := startLight(t, func(c *Config) {
		c.Options.Now = func() time.Time { return now }
		c.Name = "acme verifier"
	})
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
		ttl    time.Duration
	}{
		{"no body", "", "", http.StatusOK, verifier.DefaultChallengeTTL},
		{"empty object", "{}", "application/json", http.StatusOK, verifier.DefaultChallengeTTL},
		{"empty ttl", `{"ttl": ""}`, "application/json", http.StatusOK, verifier.DefaultChallengeTTL},
		{"ttl", `{"ttl": "90s"}`, "application/json", http.StatusOK, 90 * time.Second},
		{"longest ttl", `{"ttl": "1h"}`, "application/json", http.StatusOK, time.Hour},
		{"ttl too long", `{"ttl": "2h"}`, "application/json", http.StatusBadRequest, 0},
		{"negative ttl", `{"ttl": "-1m"}`, "application/json", http.StatusBadRequest, 0},
		{"ttl not a duration", `{"ttl": 600}`, "application/json", http.StatusBadRequest, 0},
		{"unknown field", `{"ttl": "1m", "nonce": "00"}`, "application/json", http.StatusBadRequest, 0},
		{"two documents", `{} {}`, "application/json", http.StatusBadRequest, 0},
		{"too large", strings.Repeat(" ", MaxChallengeRequestBytes+1), "application/json", http.StatusRequestEntityTooLarge, 0},
		{"not JSON", `ttl=1m`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, "POST", srv.URL+PathChallenges, tt.ctype, strings.NewReader(tt.body))
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status != http.StatusOK {
				problemOf(t, a)
				return
			}
			var ch evidence.Challenge
			dec := json.NewDecoder(bytes.NewReader(a.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ch); err != nil {
				t.Fatal(err)
			}
			if ch.IssuedUnix != now.Unix() || time.Duration(ch.ExpiresUnix-ch.IssuedUnix)*time.Second != tt.ttl ||
				!strings.HasPrefix(ch.Verifier, "acme verifier (key ") || len(ch.Tag) == 0 {
				t.Fatalf("challenge %+v", ch)
			}
		})
	}
}

// A body that is not a proof is answered 400 with a Result that refuses it
// (refused-crypto) and is a problem document too; a request that is itself
// wrong is a bare problem document.
func TestVerificationRequestsRefused(t *testing.T) {
	srv, _, logs := startLight(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	tests := []struct {
		name   string
		method string
		query  string
		ctype  string
		body   string
		status int
		reason string // for a Result; "" for a bare problem
	}{
		{"not JSON", "POST", "", "application/json", "proof", http.StatusBadRequest, ReasonMalformedProof},
		{"empty", "POST", "", "", "", http.StatusBadRequest, ReasonMalformedProof},
		{"a challenge", "POST", "", "application/json", `{"nonce": "00"}`, http.StatusBadRequest, ReasonMalformedProof},
		{"version 2", "POST", "", "application/json", `{"version": 2}`, http.StatusBadRequest, ReasonUnsupportedVersion},
		{"missing fields", "POST", "", "application/json", `{"version": 1}`, http.StatusBadRequest, ReasonMalformedProof},
		{"too large", "POST", "", "application/json", `{"version": 1, "body": "` + strings.Repeat("A", 2<<10) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"not JSON media type", "POST", "", "text/plain", "{}", http.StatusUnsupportedMediaType, ""},
		{"app_binding not hex", "POST", "app_binding=xyz", "application/json", "{}", http.StatusBadRequest, ""},
		{"app_binding too long", "POST", "app_binding=" + strings.Repeat("00", 65), "application/json", "{}", http.StatusBadRequest, ""},
		{"app_binding twice", "POST", "app_binding=00&app_binding=00", "application/json", "{}", http.StatusBadRequest, ""},
		{"misspelt parameter", "POST", "app_bind=00", "application/json", "{}", http.StatusBadRequest, ""},
		{"claim without region", "POST", "claim=lab", "application/json", "{}", http.StatusBadRequest, ""},
		{"malformed query", "POST", "claim=%zz", "application/json", "{}", http.StatusBadRequest, ""},
		{"GET", "GET", "", "", "", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := srv.URL + PathVerifications
			if tt.query != "" {
				url += "?" + tt.query
			}
			a := do(t, tt.method, url, tt.ctype, strings.NewReader(tt.body))
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.reason == "" {
				problemOf(t, a)
				return
			}
			var r Response
			if err := json.Unmarshal(a.body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Result == nil || r.Outcome != verifier.RefusedCrypto || r.Accepted || r.Reason != tt.reason ||
				r.Status != http.StatusBadRequest || r.Error == "" || len(r.Checks) != 1 || r.Checks[0].Stage != verifier.StageProof {
				t.Fatalf("answer %s", a.body)
			}
		})
	}
	if a := do(t, "GET", srv.URL+"/v1/proofs", "", nil); a.status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", a.status)
	}
	if strings.Contains(logs.String(), "goroutine ") {
		t.Fatalf("stack trace in the log:\n%s", logs)
	}
}

// When every slot is taken and the queue is full, a request is refused at
// once with 503 and Retry-After; a slot is held while the body is read.
func TestVerificationSlotsBounded(t *testing.T) {
	srv, svc, _ := startLight(t, func(c *Config) { c.MaxConcurrent, c.MaxQueue, c.Timeout = 1, 1, 5*time.Second })
	// The first request holds the only slot: its body never ends.
	pr, pw := io.Pipe()
	defer pw.Close()
	go tryDo("POST", srv.URL+PathVerifications, "application/json", pr)
	waitFor(t, func() bool { return svc.m.inFlight.N.Load() == 1 })
	// The second waits for it.
	second := make(chan answer, 1)
	go func() {
		second <- do(t, "POST", srv.URL+PathVerifications, "application/json", strings.NewReader("{}"))
	}()
	waitFor(t, func() bool { return svc.m.waiting.N.Load() == 1 })
	// The third finds the queue full.
	a := do(t, "POST", srv.URL+PathVerifications, "application/json", strings.NewReader("{}"))
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("queue full: status %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	problemOf(t, a)
	// Once the slot is free, the waiting request runs.
	pw.CloseWithError(errors.New("client gone"))
	if a := <-second; a.status != http.StatusBadRequest {
		t.Fatalf("queued request: status %d: %s", a.status, a.body)
	}
	if got := svc.m.requests.Get(routeVerifications, "503"); got != 1 {
		t.Fatalf("503 counter %d", got)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
	}
}

var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? [-+0-9.eEInf]+$`)

func TestHealthAndMetrics(t *testing.T) {
	srv, _, _ := startLight(t, nil)
	if a := do(t, "GET", srv.URL+PathHealth, "", nil); a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`"ok"`)) {
		t.Fatalf("healthz: %d %s", a.status, a.body)
	}
	do(t, "POST", srv.URL+PathChallenges, "", nil)
	do(t, "POST", srv.URL+PathVerifications, "application/json", strings.NewReader("not a proof"))
	a := do(t, "GET", srv.URL+PathMetrics, "", nil)
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", a.status, a.header.Get("Content-Type"))
	}
	text := string(a.body)
	for _, want := range []string{
		"poc_verifier_challenges_issued_total 1",
		`poc_verifier_verifications_total{outcome="refused-crypto"} 1`,
		`poc_verifier_verifications_total{outcome="accepted"} 0`,
		`poc_verifier_requests_total{route="challenges",code="200"} 1`,
		`poc_verifier_requests_total{route="verifications",code="400"} 1`,
		"poc_verifier_verification_duration_seconds_count 1",
		"poc_verifier_verifications_in_flight 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sampleLine.MatchString(line) {
			t.Errorf("not an exposition line: %q", line)
		}
	}
}

// failingNonces is a nonce store whose disk is gone.
type failingNonces struct{}

func (failingNonces) Seen(evidence.Hash) (bool, error)   { return false, errors.New("disk gone") }
func (failingNonces) Use(evidence.Hash, time.Time) error { return errors.New("disk gone") }

func TestHealthReportsNonceStore(t *testing.T) {
	srv, _, _ := startLight(t, func(c *Config) { c.Options.Nonces = failingNonces{} })
	a := do(t, "GET", srv.URL+PathHealth, "", nil)
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with a failing store: %d", a.status)
	}
	if p := problemOf(t, a); strings.Contains(p.Error, "disk gone") {
		t.Fatalf("the store's error leaks: %q", p.Error)
	}
}

func TestNewRefusesConfig(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Config)
	}{
		{"no policy", func(c *Config) { c.Policy = nil }},
		{"invalid policy", func(c *Config) { c.Policy = &verifier.Policy{Version: 99} }},
		{"no key", func(c *Config) { c.Options.ChallengeKey = nil }},
		{"no nonce store", func(c *Config) { c.Options.Nonces = nil }},
		{"no profiles", func(c *Config) { c.Options.Profiles = nil }},
		{"no collateral", func(c *Config) { c.Options.Collateral = nil }},
		{"no catalog", func(c *Config) { c.Options.Catalog = nil }},
		{"TTL beyond the verifier's", func(c *Config) { c.MaxTTL = 48 * time.Hour }},
		{"default TTL beyond the max", func(c *Config) { c.MaxTTL, c.DefaultTTL = time.Minute, time.Hour }},
		{"negative slots", func(c *Config) { c.MaxConcurrent = -1 }},
		{"body limit beyond the format's", func(c *Config) { c.MaxBodyBytes = evidence.MaxProofBytes + 1 }},
		{"name too long", func(c *Config) { c.Name = strings.Repeat("n", 250) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := lightConfig(t)
			tt.mut(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	svc, err := New(lightConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if cap(svc.slots) != runtime.GOMAXPROCS(0) || svc.maxQueue != int64(DefaultQueuePerSlot*runtime.GOMAXPROCS(0)) {
		t.Fatalf("default slots %d, queue %d", cap(svc.slots), svc.maxQueue)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&verifier.StageError{Stage: verifier.StageChallenge, Outcome: verifier.RefusedPolicy, Err: verifier.ErrReplay}, ReasonReplay},
		{&verifier.StageError{Stage: verifier.StageChallenge, Outcome: verifier.RefusedPolicy, Err: fmt.Errorf("%w at noon", verifier.ErrChallengeExpired)}, ReasonChallengeExpired},
		{&verifier.StageError{Stage: verifier.StageLatency, Outcome: verifier.RefusedLatency, Err: errors.New("too slow")}, ReasonLatency},
		{&verifier.StageError{Stage: verifier.StageQuote, Outcome: verifier.CouldNotCheck, Err: dcap.ErrCouldNotCheck}, verifier.StageQuote},
		{fmt.Errorf("%w: version 2", evidence.ErrUnsupportedVersion), ReasonUnsupportedVersion},
		{errors.New("anything else"), verifier.StageProof},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
