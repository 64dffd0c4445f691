package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/datasets"
	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/prover"
)

// secretKeyLog stands for the TLS secrets a proof discloses: they belong in
// the proof and nowhere else.
const secretKeyLog = "CLIENT_TRAFFIC_SECRET_0 00112233 deadbeefcafe"

// fakeProof is the smallest proof that encodes: what a campaign would
// return for ch.
func fakeProof(ch evidence.Challenge) *evidence.Proof {
	return &evidence.Proof{
		Version: evidence.Version,
		Body: evidence.Body{
			Challenge: ch, TEE: evidence.TEESim,
			Counter: evidence.Counter{Kind: "monotonic", Hz: 1_000_000_000, Source: "monotonic"},
			Probes: []evidence.Probe{{Endpoint: "api", Hostname: "api.example.test", Port: 443, Method: evidence.MethodH2Ping,
				Conns: []evidence.Conn{{Index: 0}}}},
		},
		Sessions:    []evidence.Session{{KeyLog: []byte(secretKeyLog)}},
		Attestation: evidence.Attestation{TEE: evidence.TEESim, Quote: []byte{4, 0}},
	}
}

func challenge(now time.Time, ttl time.Duration) evidence.Challenge {
	ch := evidence.Challenge{Verifier: "test verifier (key 0011)", IssuedUnix: now.Unix(), ExpiresUnix: now.Add(ttl).Unix(), Tag: []byte("tag")}
	ch.Nonce[0], ch.Nonce[31] = 1, 2
	return ch
}

func challengeJSON(t testing.TB, ch evidence.Challenge) []byte {
	t.Helper()
	b, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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

type fixture struct {
	srv  *httptest.Server
	svc  *Server
	logs *syncBuffer
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if cfg.Prove == nil {
		cfg.Prove = func(_ context.Context, ch evidence.Challenge) (*evidence.Proof, error) { return fakeProof(ch), nil }
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, svc: svc, logs: logs}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t testing.TB, method, path, contentType string, body []byte) answer {
	t.Helper()
	a, err := f.tryDo(method, path, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tryDo is do for goroutines other than the test's.
func (f *fixture) tryDo(method, path, contentType string, body []byte) (answer, error) {
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func (f *fixture) post(t testing.TB, body []byte) answer {
	t.Helper()
	return f.do(t, http.MethodPost, PathProofs, "application/json", body)
}

// problemOf checks that an answer is a problem document of its status.
func problemOf(t testing.TB, a answer) Problem {
	t.Helper()
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Status != a.status || p.Error == "" {
		t.Fatalf("status %d: not a problem document of that status: %v\n%s", a.status, err, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("problem content type %q", ct)
	}
	return p
}

func TestProofServed(t *testing.T) {
	now := time.Now()
	ch := challenge(now, 5*time.Minute)
	var deadline time.Time
	f := start(t, Config{Prove: func(ctx context.Context, got evidence.Challenge) (*evidence.Proof, error) {
		deadline, _ = ctx.Deadline()
		return fakeProof(got), nil
	}})
	a := f.post(t, challengeJSON(t, ch))
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q: %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	p, err := evidence.Decode(bytes.NewReader(a.body))
	if err != nil {
		t.Fatalf("the answer is not a proof document: %v", err)
	}
	if p.Body.Challenge.Nonce != ch.Nonce || !bytes.Equal(p.Body.Challenge.Tag, ch.Tag) {
		t.Fatalf("the proof answers another challenge: %+v", p.Body.Challenge)
	}
	// The campaign never outlives the challenge.
	if deadline.IsZero() || deadline.After(time.Unix(ch.ExpiresUnix, 0).Add(time.Second)) {
		t.Fatalf("campaign deadline %v, challenge expires %v", deadline, time.Unix(ch.ExpiresUnix, 0))
	}
	if strings.Contains(f.logs.String(), secretKeyLog) || !strings.Contains(f.logs.String(), "result=proved") {
		t.Fatalf("log:\n%s", f.logs)
	}
}

// Every request refused before a campaign: the right status, a problem
// document, no campaign run and no token spent.
func TestRequestsRefused(t *testing.T) {
	now := time.Now()
	good := challengeJSON(t, challenge(now, time.Minute))
	withField := func(key, raw string) []byte {
		var m map[string]json.RawMessage
		json.Unmarshal(good, &m)
		if raw == "" {
			delete(m, key)
		} else {
			m[key] = json.RawMessage(raw)
		}
		b, _ := json.Marshal(m)
		return b
	}
	zeroNonce := challenge(now, time.Minute)
	zeroNonce.Nonce = evidence.Hash{}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		status      int
	}{
		{"not JSON", "POST", PathProofs, "application/json", []byte("nonce=1"), http.StatusBadRequest},
		{"a list", "POST", PathProofs, "application/json", []byte("[]"), http.StatusBadRequest},
		{"unknown field", "POST", PathProofs, "application/json", withField("extra", "1"), http.StatusBadRequest},
		{"missing field", "POST", PathProofs, "application/json", withField("tag", ""), http.StatusBadRequest},
		{"repeated field", "POST", PathProofs, "application/json", append(good[:len(good)-1:len(good)-1], []byte(`,"tag":"dGFn"}`)...), http.StatusBadRequest},
		{"wrong type", "POST", PathProofs, "application/json", withField("issued_unix", `"yesterday"`), http.StatusBadRequest},
		{"short nonce", "POST", PathProofs, "application/json", withField("nonce", `"0011"`), http.StatusBadRequest},
		{"data after the document", "POST", PathProofs, "application/json", append(append([]byte{}, good...), []byte(" {}")...), http.StatusBadRequest},
		{"too large", "POST", PathProofs, "application/json", bytes.Repeat([]byte(" "), MaxChallengeBytes+1), http.StatusRequestEntityTooLarge},
		{"not JSON media type", "POST", PathProofs, "text/plain", good, http.StatusUnsupportedMediaType},
		{"expired", "POST", PathProofs, "application/json", challengeJSON(t, challenge(now.Add(-time.Hour), time.Minute)), http.StatusUnprocessableEntity},
		{"zero nonce", "POST", PathProofs, "application/json", challengeJSON(t, zeroNonce), http.StatusUnprocessableEntity},
		{"GET", "GET", PathProofs, "", nil, http.StatusMethodNotAllowed},
		{"unknown path", "GET", "/v1/nothing", "", nil, http.StatusNotFound},
		{"POST health", "POST", PathHealth, "", nil, http.StatusMethodNotAllowed},
	}
	campaigns := 0
	f := start(t, Config{Burst: 1, RatePerMinute: 1, Prove: func(_ context.Context, ch evidence.Challenge) (*evidence.Proof, error) {
		campaigns++
		return fakeProof(ch), nil
	}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.do(t, tt.method, tt.path, tt.contentType, tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			problemOf(t, a)
			if tt.status == http.StatusMethodNotAllowed && a.header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
	if campaigns != 0 {
		t.Fatalf("%d campaigns ran for refused requests", campaigns)
	}
	// The one token of the bucket is still there.
	if a := f.post(t, good); a.status != http.StatusOK {
		t.Fatalf("after the refusals: status %d: %s", a.status, a.body)
	}
}

func TestDecodeChallengeErrors(t *testing.T) {
	for _, in := range []string{``, `null`, `{`, `{"nonce": 1}`, `{} {}`} {
		if _, err := DecodeChallenge([]byte(in)); !errors.Is(err, ErrChallenge) {
			t.Errorf("%q: err = %v, want ErrChallenge", in, err)
		}
	}
	now := time.Now()
	backwards := challenge(now, time.Minute)
	backwards.ExpiresUnix = backwards.IssuedUnix
	noTag := challenge(now, time.Minute)
	noTag.Tag = nil
	for _, ch := range []evidence.Challenge{backwards, noTag, challenge(now.Add(-2*time.Minute), time.Minute)} {
		if err := Answerable(&ch, now); !errors.Is(err, ErrUnanswerable) {
			t.Errorf("%+v: err = %v, want ErrUnanswerable", ch, err)
		}
	}
}

// A second request during a campaign is refused at once with 503 and a
// Retry-After; it neither waits nor disturbs the running campaign.
func TestOneCampaignAtATime(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	f := start(t, Config{Burst: 5, Prove: func(_ context.Context, ch evidence.Challenge) (*evidence.Proof, error) {
		started <- struct{}{}
		<-release
		return fakeProof(ch), nil
	}})
	body := challengeJSON(t, challenge(time.Now(), time.Minute))
	first := make(chan answer, 1)
	go func() {
		a, _ := f.tryDo(http.MethodPost, PathProofs, "application/json", body)
		first <- a
	}()
	<-started
	a := f.post(t, body)
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("concurrent request: status %d, want 503: %s", a.status, a.body)
	}
	problemOf(t, a)
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
	}
	close(release)
	if a := <-first; a.status != http.StatusOK {
		t.Fatalf("first request: status %d", a.status)
	}
	// Once the campaign is over, the next one runs.
	go func() { <-started }()
	if a := f.post(t, body); a.status != http.StatusOK {
		t.Fatalf("after the campaign: status %d: %s", a.status, a.body)
	}
	if got := f.svc.m.requests.Get(resultBusy); got != 1 {
		t.Fatalf("busy counter %d", got)
	}
}

// The token bucket: a burst, then one campaign per refill period, with a
// Retry-After that says when the next token comes.
func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_900_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	f := start(t, Config{RatePerMinute: 1, Burst: 2, Now: now})
	body := challengeJSON(t, challenge(now(), time.Hour))
	steps := []struct {
		advance    time.Duration
		status     int
		retryAfter string
	}{
		{0, http.StatusOK, ""},
		{0, http.StatusOK, ""},
		{0, http.StatusTooManyRequests, "60"},
		{30 * time.Second, http.StatusTooManyRequests, "30"},
		{30 * time.Second, http.StatusOK, ""},
		{0, http.StatusTooManyRequests, "60"},
		{10 * time.Minute, http.StatusOK, ""}, // refilled to the burst, no more
		{0, http.StatusOK, ""},
		{0, http.StatusTooManyRequests, "60"},
	}
	for i, st := range steps {
		advance(st.advance)
		a := f.post(t, body)
		if a.status != st.status || a.header.Get("Retry-After") != st.retryAfter {
			t.Fatalf("step %d: status %d Retry-After %q, want %d %q", i, a.status, a.header.Get("Retry-After"), st.status, st.retryAfter)
		}
		if a.status != http.StatusOK {
			problemOf(t, a)
		}
	}
}

// A failed campaign is answered with a fixed message by kind; its details
// (addresses, devices) go to the log only.
func TestCampaignFailures(t *testing.T) {
	detail := "dial tcp 10.1.2.3:443: connection refused"
	tests := []struct {
		name    string
		prove   ProveFunc
		timeout time.Duration
		status  int
	}{
		{"probe", func(context.Context, evidence.Challenge) (*evidence.Proof, error) {
			return nil, fmt.Errorf("%w: api: %s", prover.ErrProbe, detail)
		}, 0, http.StatusBadGateway},
		{"no TEE", func(context.Context, evidence.Challenge) (*evidence.Proof, error) {
			return nil, fmt.Errorf("%w: %s", prover.ErrNoTEE, detail)
		}, 0, http.StatusServiceUnavailable},
		{"attestation", func(context.Context, evidence.Challenge) (*evidence.Proof, error) {
			return nil, fmt.Errorf("%w: %s", prover.ErrAttestation, detail)
		}, 0, http.StatusBadGateway},
		{"options", func(context.Context, evidence.Challenge) (*evidence.Proof, error) {
			return nil, fmt.Errorf("%w: %s", prover.ErrOptions, detail)
		}, 0, http.StatusInternalServerError},
		{"timeout", func(ctx context.Context, _ evidence.Challenge) (*evidence.Proof, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("%w: %s: %w", prover.ErrProbe, detail, ctx.Err())
		}, 20 * time.Millisecond, http.StatusGatewayTimeout},
		{"unencodable proof", func(_ context.Context, ch evidence.Challenge) (*evidence.Proof, error) {
			p := fakeProof(ch)
			p.Body.Probes = nil
			return p, nil
		}, 0, http.StatusInternalServerError},
		{"panic", func(context.Context, evidence.Challenge) (*evidence.Proof, error) {
			var m map[string]int
			m[detail]++
			return nil, nil
		}, 0, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, Config{Prove: tt.prove, ProofTimeout: tt.timeout})
			a := f.post(t, challengeJSON(t, challenge(time.Now(), time.Minute)))
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			problemOf(t, a)
			if bytes.Contains(a.body, []byte("10.1.2.3")) {
				t.Fatalf("the answer carries the error's details: %s", a.body)
			}
			if strings.Contains(f.logs.String(), "goroutine ") {
				t.Fatalf("stack trace in the log:\n%s", f.logs)
			}
			// The service is free again.
			if len(f.svc.running) != 0 {
				t.Fatal("the campaign slot was not released")
			}
		})
	}
}

// /healthz and /metrics; every metrics line is a comment or a sample.
func TestHealthAndMetrics(t *testing.T) {
	f := start(t, Config{})
	if a := f.do(t, "GET", PathHealth, "", nil); a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`"ok"`)) {
		t.Fatalf("healthz: %d %s", a.status, a.body)
	}
	f.post(t, challengeJSON(t, challenge(time.Now(), time.Minute)))
	f.post(t, []byte("{"))
	a := f.do(t, "GET", PathMetrics, "", nil)
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", a.status, a.header.Get("Content-Type"))
	}
	text := string(a.body)
	for _, want := range []string{
		`poc_prover_requests_total{result="proved"} 1`,
		`poc_prover_requests_total{result="invalid"} 1`,
		`poc_prover_requests_total{result="busy"} 0`,
		"poc_prover_proofs_total 1",
		"poc_prover_campaign_in_progress 0",
		`poc_prover_campaign_duration_seconds_bucket{le="+Inf"} 1`,
		"poc_prover_campaign_duration_seconds_count 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	checkExposition(t, text)
}

var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? [-+0-9.eEInf]+$`)

// checkExposition checks the text format's line grammar: HELP and TYPE
// comments, and samples.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
		case sampleLine.MatchString(line):
		default:
			t.Errorf("not an exposition line: %q", line)
		}
	}
}

func TestNewRefusesConfig(t *testing.T) {
	eps := []datasets.Endpoint{{Name: "api"}}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no attester", Config{Options: prover.Options{Endpoints: eps}}},
		{"no endpoints", Config{Options: prover.Options{Attester: &prover.Sim{}}}},
		{"long binding", Config{Options: prover.Options{Endpoints: eps, Attester: &prover.Sim{}, AppBinding: make([]byte, 65)}}},
		{"negative rate", Config{Options: prover.Options{Endpoints: eps, Attester: &prover.Sim{}}, RatePerMinute: -1}},
		{"negative burst", Config{Options: prover.Options{Endpoints: eps, Attester: &prover.Sim{}}, Burst: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(Config{Options: prover.Options{Endpoints: eps, Attester: &prover.Sim{}}}); err != nil {
		t.Fatalf("a sound configuration: %v", err)
	}
}
