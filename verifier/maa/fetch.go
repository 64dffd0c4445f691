package maa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Fetcher defaults.
const (
	DefaultFetchTimeout  = 10 * time.Second
	DefaultFetchMaxBytes = 256 << 10
	DefaultKeyTTL        = time.Hour
	// DefaultMinRefetch spaces refetches triggered by unknown kids, so a
	// stream of tokens with made-up kids cannot turn the verifier into a
	// load generator against the issuer.
	DefaultMinRefetch = 30 * time.Second
)

// FetcherOptions is the plumbing of a Fetcher. Zero values are the
// defaults.
type FetcherOptions struct {
	// Client makes the request. Nil means a client with the system roots.
	// Redirects are never followed, whatever the client says: the keys
	// must come from the pinned issuer's own /certs.
	Client *http.Client
	// Timeout bounds one fetch. Zero means DefaultFetchTimeout.
	Timeout time.Duration
	// MaxBytes bounds the response body. Zero means DefaultFetchMaxBytes.
	MaxBytes int64
	// TTL is how long a fetched key set is used before it is fetched
	// again. Zero means DefaultKeyTTL. A stale set is never used when the
	// refetch fails.
	TTL time.Duration
	// MinRefetch is the shortest interval between two network fetches
	// caused by an unknown kid. Zero means DefaultMinRefetch.
	MinRefetch time.Duration
	// CacheDir, when set, keeps the last fetched key set on disk (a 0600
	// file in a 0700 directory) so that a fresh process starts warm and
	// offline verification keeps working within the TTL.
	CacheDir string
	// Now is the clock for TTLs. Nil means time.Now.
	Now func() time.Time
}

// Fetcher is the online KeySource: it fetches the JWKS at
// {issuer}/certs, where issuer is fixed when the Fetcher is made, and
// never any other URL (not the token's jku, not a redirect target). Keys
// are cached in memory and optionally on disk for the TTL; a kid that is
// not in a fresh set triggers at most one refetch (spaced by MinRefetch),
// after which the kid is reported with ErrUnknownKey. A Fetcher is safe
// for concurrent use.
type Fetcher struct {
	issuer  string
	certs   string
	client  *http.Client
	opts    FetcherOptions
	mu      sync.Mutex
	set     *KeySet
	fetched time.Time // when set was fetched (possibly by an earlier process)
	lastNet time.Time // last network attempt by this Fetcher
}

// NewFetcher makes a Fetcher for issuer, which must be an https URL with
// a host and no path, query, fragment or user info (the form of MAA
// issuers, e.g. "https://sharedeus2.eus2.attest.azure.net").
func NewFetcher(issuer string, o FetcherOptions) (*Fetcher, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer %q: %v", ErrConfig, issuer, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Path != "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: issuer %q must be https://host[:port] with nothing after", ErrConfig, issuer)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultFetchTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultFetchMaxBytes
	}
	if o.TTL <= 0 {
		o.TTL = DefaultKeyTTL
	}
	if o.MinRefetch <= 0 {
		o.MinRefetch = DefaultMinRefetch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var c http.Client
	if o.Client != nil {
		c = *o.Client // a shallow copy, so the redirect rule below stays ours
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("redirect refused: keys come only from the issuer's /certs")
	}
	return &Fetcher{issuer: issuer, certs: issuer + "/certs", client: &c, opts: o}, nil
}

// Issuer is the issuer this Fetcher is pinned to.
func (f *Fetcher) Issuer() string { return f.issuer }

// Keys implements KeySource.
func (f *Fetcher) Keys(ctx context.Context, issuer, kid string) ([]PublicKey, error) {
	if issuer != f.issuer {
		return nil, fmt.Errorf("%w: fetcher pinned to %q asked for keys of %q", ErrConfig, f.issuer, issuer)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.opts.Now()
	if f.set == nil {
		f.loadDisk()
	}
	refetched := false
	if f.set == nil || now.Sub(f.fetched) >= f.opts.TTL || now.Before(f.fetched.Add(-f.opts.TTL)) {
		if err := f.refresh(ctx, now, true); err != nil {
			return nil, err
		}
		refetched = true
	}
	keys, err := f.set.Keys(ctx, issuer, kid)
	if err == nil || !errors.Is(err, ErrUnknownKey) || refetched {
		return keys, err
	}
	// Unknown kid in a fresh set: the issuer may have rotated keys.
	if !f.lastNet.IsZero() && now.Sub(f.lastNet) < f.opts.MinRefetch {
		return nil, err
	}
	// A failed refetch here keeps the fresh set: a token with a made-up
	// kid must not knock out the keys every other token needs.
	if rerr := f.refresh(ctx, now, false); rerr != nil {
		return nil, rerr
	}
	return f.set.Keys(ctx, issuer, kid)
}

// refresh fetches the key set. On failure, when drop is set (the cached set
// is stale or absent), the cached set is dropped so a stale set is never
// used. Called with f.mu held.
func (f *Fetcher) refresh(ctx context.Context, now time.Time, drop bool) error {
	f.lastNet = now
	data, err := f.fetch(ctx)
	if err == nil {
		var set *KeySet
		if set, err = ParseKeySet(data); err == nil {
			f.set, f.fetched = set, now
			f.saveDisk(data, now)
			return nil
		}
	}
	if drop {
		f.set = nil
	}
	if errors.Is(err, ErrKeyFetch) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrKeyFetch, err)
}

func (f *Fetcher) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.certs, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrKeyFetch, f.certs, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: status %s", ErrKeyFetch, f.certs, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: reading body: %v", ErrKeyFetch, f.certs, err)
	}
	if int64(len(data)) > f.opts.MaxBytes {
		return nil, fmt.Errorf("%w: GET %s: body larger than %d bytes", ErrKeyFetch, f.certs, f.opts.MaxBytes)
	}
	return data, nil
}

// diskEntry is the on-disk cache format.
type diskEntry struct {
	Issuer    string          `json:"issuer"`
	FetchedAt time.Time       `json:"fetched_at"`
	JWKS      json.RawMessage `json:"jwks"`
}

func (f *Fetcher) cachePath() string {
	sum := sha256.Sum256([]byte(f.issuer))
	return filepath.Join(f.opts.CacheDir, "maa-jwks-"+hex.EncodeToString(sum[:12])+".json")
}

// loadDisk fills the memory cache from disk when a cache file for this
// issuer exists; any problem just means a cache miss.
func (f *Fetcher) loadDisk() {
	if f.opts.CacheDir == "" {
		return
	}
	data, err := os.ReadFile(f.cachePath())
	if err != nil || int64(len(data)) > 2*f.opts.MaxBytes+1024 {
		return
	}
	var e diskEntry
	if json.Unmarshal(data, &e) != nil || e.Issuer != f.issuer {
		return
	}
	set, err := ParseKeySet(e.JWKS)
	if err != nil {
		return
	}
	f.set, f.fetched = set, e.FetchedAt
}

// saveDisk writes the cache file atomically; failures are ignored (the
// cache is an optimisation, never a source of truth).
func (f *Fetcher) saveDisk(jwks []byte, now time.Time) {
	if f.opts.CacheDir == "" || !json.Valid(jwks) {
		return
	}
	data, err := json.Marshal(diskEntry{Issuer: f.issuer, FetchedAt: now, JWKS: jwks})
	if err != nil {
		return
	}
	if os.MkdirAll(f.opts.CacheDir, 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(f.opts.CacheDir, ".maa-jwks-*")
	if err != nil {
		return
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Chmod(name, 0o600) != nil || os.Rename(name, f.cachePath()) != nil {
		os.Remove(name)
	}
}
