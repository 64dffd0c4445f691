package maa

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a JWKS at /certs that the test can swap, counting
// requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int32
	other  atomic.Int32 // requests to any other path
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/certs" || r.Method != http.MethodGet {
			s.other.Add(1)
			http.Redirect(w, r, "/certs", http.StatusFound)
			return
		}
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, status
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// serverToken is a valid token whose issuer is the test server.
func serverToken(t *testing.T, iss, kid string) []byte {
	k := getKeys(t)
	c := tdxClaims()
	c["iss"] = iss
	key := k.rsa
	if kid == k.rsa2KID {
		key = k.rsa2
	}
	return sign(t, "RS256", key, map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT", "jku": "https://evil.example/certs"}, c)
}

func TestFetcher(t *testing.T) {
	k := getKeys(t)
	only1, err := jwksOf(map[string]crypto.PublicKey{k.rsaKID: &k.rsa.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, only1)
	clk := &clock{t: testNow}
	f, err := NewFetcher(srv.URL, FetcherOptions{Client: srv.Client(), Now: clk.now, MinRefetch: time.Minute, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pol := Policy{Issuer: srv.URL}
	verify := func(kid string) error {
		_, err := Verify(context.Background(), serverToken(t, srv.URL, kid), Options{Keys: f, At: clk.now()}, pol)
		return err
	}

	// First use fetches; the second is served from memory.
	if err := verify(k.rsaKID); err != nil {
		t.Fatal(err)
	}
	if err := verify(k.rsaKID); err != nil || srv.hits.Load() != 1 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// An unknown kid right after a fetch does not refetch (MinRefetch)...
	if err := verify(k.rsa2KID); !errors.Is(err, ErrUnknownKey) || srv.hits.Load() != 1 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// ...later it refetches once...
	clk.add(2 * time.Minute)
	if err := verify(k.rsa2KID); !errors.Is(err, ErrUnknownKey) || srv.hits.Load() != 2 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// ...and not again within MinRefetch.
	if err := verify(k.rsa2KID); !errors.Is(err, ErrUnknownKey) || srv.hits.Load() != 2 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// Key rotation: the issuer publishes the new key; after MinRefetch
	// the unknown kid triggers a refetch that finds it.
	srv.set(k.jwks, http.StatusOK)
	clk.add(2 * time.Minute)
	if err := verify(k.rsa2KID); err != nil || srv.hits.Load() != 3 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// The issuer fails: an unknown kid cannot be checked, but the fresh
	// set keeps serving the known ones.
	srv.set([]byte("oops"), http.StatusInternalServerError)
	clk.add(2 * time.Minute)
	if err := verify("dW5rbm93bg=="); !errors.Is(err, ErrKeyFetch) || srv.hits.Load() != 4 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	if err := verify(k.rsaKID); err != nil || srv.hits.Load() != 4 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// The TTL expires: refetch. When that fails the stale set is not used.
	clk.add(2 * time.Hour)
	err = verify(k.rsaKID)
	if !errors.Is(err, ErrKeyFetch) || !Indeterminate(err) || srv.hits.Load() != 5 {
		t.Fatalf("%v, %d fetches", err, srv.hits.Load())
	}
	// The token's jku was never followed, nor any other URL fetched.
	if srv.other.Load() != 0 {
		t.Errorf("%d requests off /certs", srv.other.Load())
	}
}

func TestFetcherFailures(t *testing.T) {
	k := getKeys(t)
	cases := []struct {
		name   string
		body   []byte
		status int
		opts   FetcherOptions
	}{
		{"server error", []byte(`{"error":"x"}`), http.StatusServiceUnavailable, FetcherOptions{}},
		{"not JSON", []byte(`<html>`), http.StatusOK, FetcherOptions{}},
		{"too large", k.jwks, http.StatusOK, FetcherOptions{MaxBytes: 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, tc.body)
			srv.set(tc.body, tc.status)
			o := tc.opts
			o.Client = srv.Client()
			f, err := NewFetcher(srv.URL, o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(context.Background(), serverToken(t, srv.URL, k.rsaKID), Options{Keys: f, At: testNow}, Policy{Issuer: srv.URL})
			if !errors.Is(err, ErrKeyFetch) {
				t.Fatalf("%v", err)
			}
		})
	}
}

// A redirect from /certs is refused, even with a client that would follow
// it.
func TestFetcherRefusesRedirect(t *testing.T) {
	k := getKeys(t)
	target := newJWKSServer(t, k.jwks)
	redir := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/certs", http.StatusFound)
	}))
	defer redir.Close()
	client := redir.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(target.Certificate())
	f, err := NewFetcher(redir.URL, FetcherOptions{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(context.Background(), serverToken(t, redir.URL, k.rsaKID), Options{Keys: f, At: testNow}, Policy{Issuer: redir.URL})
	if !errors.Is(err, ErrKeyFetch) || target.hits.Load() != 0 {
		t.Fatalf("%v, target hit %d times", err, target.hits.Load())
	}
}

func TestFetcherDiskCache(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, k.jwks)
	dir := t.TempDir() + "/cache"
	clk := &clock{t: testNow}
	opts := FetcherOptions{Client: srv.Client(), CacheDir: dir, Now: clk.now}
	f1, err := NewFetcher(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok := serverToken(t, srv.URL, k.rsaKID)
	if _, err := Verify(context.Background(), tok, Options{Keys: f1, At: testNow}, Policy{Issuer: srv.URL}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("%v %v", entries, err)
	}
	info, err := entries[0].Info()
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode %v %v", info.Mode(), err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v %v", di.Mode(), err)
	}

	// A new process, the issuer unreachable: the disk cache serves.
	srv.set(nil, http.StatusServiceUnavailable)
	f2, err := NewFetcher(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), tok, Options{Keys: f2, At: testNow}, Policy{Issuer: srv.URL}); err != nil {
		t.Fatalf("from disk: %v", err)
	}
	if srv.hits.Load() != 1 {
		t.Errorf("%d fetches", srv.hits.Load())
	}
	// Past the TTL the disk copy is stale and not used.
	clk.add(DefaultKeyTTL + time.Second)
	f3, err := NewFetcher(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), tok, Options{Keys: f3, At: testNow}, Policy{Issuer: srv.URL}); !errors.Is(err, ErrKeyFetch) {
		t.Fatalf("stale disk cache: %v", err)
	}
	// A cache file for another issuer is ignored.
	f4, err := NewFetcher("https://127.0.0.1:1", FetcherOptions{CacheDir: dir, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f4.Keys(context.Background(), "https://127.0.0.1:1", k.rsaKID); !errors.Is(err, ErrKeyFetch) {
		t.Fatalf("other issuer: %v", err)
	}
}

func TestNewFetcherIssuer(t *testing.T) {
	for _, iss := range []string{
		"http://sharedeus2.eus2.attest.azure.net",
		"https://sharedeus2.eus2.attest.azure.net/",
		"https://sharedeus2.eus2.attest.azure.net/certs",
		"https://sharedeus2.eus2.attest.azure.net?x=1",
		"https://u:p@sharedeus2.eus2.attest.azure.net",
		"https://",
		"sharedeus2.eus2.attest.azure.net",
		"",
	} {
		if _, err := NewFetcher(iss, FetcherOptions{}); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v", iss, err)
		}
	}
	f, err := NewFetcher("https://sharedeus2.eus2.attest.azure.net", FetcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Pinned: it will not fetch for another issuer.
	if _, err := f.Keys(context.Background(), "https://evil.example", "k"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("%v", err)
	}
}

// Concurrent verifications share one fetch.
func TestFetcherConcurrent(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, k.jwks)
	f, err := NewFetcher(srv.URL, FetcherOptions{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	tok := serverToken(t, srv.URL, k.rsaKID)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Verify(context.Background(), tok, Options{Keys: f, At: testNow}, Policy{Issuer: srv.URL})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if srv.hits.Load() != 1 {
		t.Errorf("%d fetches", srv.hits.Load())
	}
}
