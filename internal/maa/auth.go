package maa

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Managed identity defaults.
const (
	// DefaultIMDSTokenEndpoint is the Azure Instance Metadata Service's
	// managed identity token endpoint (link-local, plain HTTP by design).
	DefaultIMDSTokenEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token"
	// Resource is MAA's Azure AD resource; the v2 scope
	// "https://attest.azure.net/.default" names the same audience.
	Resource = "https://attest.azure.net"
	// imdsAPIVersion is the IMDS identity API version used.
	imdsAPIVersion = "2018-02-01"
	// refreshMargin renews a cached token this long before it expires.
	refreshMargin = 5 * time.Minute
	maxIMDSBody   = 64 << 10
)

// ManagedIdentity is a TokenSource that asks the VM's managed identity,
// through IMDS, for tokens whose audience is MAA, and caches each until
// shortly before it expires. Safe for concurrent use; the zero value uses
// the system-assigned identity.
type ManagedIdentity struct {
	// Client makes the IMDS request. Nil means a client that never uses
	// a proxy (IMDS must be reached directly) with a 10 s timeout.
	Client *http.Client
	// Endpoint overrides DefaultIMDSTokenEndpoint (for tests).
	Endpoint string
	// ClientID selects a user-assigned identity; empty means the
	// system-assigned one.
	ClientID string
	// Now is the clock for expiry. Nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Token returns a cached token or fetches a new one. Errors never contain
// the token.
func (m *ManagedIdentity) Token(ctx context.Context) (string, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.token != "" && now().Add(refreshMargin).Before(m.expires) {
		return m.token, nil
	}
	tok, exp, err := m.fetch(ctx)
	if err != nil {
		return "", err
	}
	m.token, m.expires = tok, exp
	return tok, nil
}

func (m *ManagedIdentity) fetch(ctx context.Context) (string, time.Time, error) {
	endpoint := m.Endpoint
	if endpoint == "" {
		endpoint = DefaultIMDSTokenEndpoint
	}
	q := url.Values{"api-version": {imdsAPIVersion}, "resource": {Resource}}
	if m.ClientID != "" {
		q.Set("client_id", m.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("managed identity: %w", err)
	}
	req.Header.Set("Metadata", "true")
	client := m.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("managed identity: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIMDSBody))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("managed identity: reading response: %w", err)
	}
	var body struct {
		AccessToken string          `json:"access_token"`
		ExpiresOn   json.RawMessage `json:"expires_on"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	jerr := json.Unmarshal(data, &body)
	if resp.StatusCode != http.StatusOK {
		if jerr == nil && body.Error != "" {
			return "", time.Time{}, fmt.Errorf("managed identity: HTTP %d %s: %s", resp.StatusCode, clean(body.Error), clean(body.Description))
		}
		return "", time.Time{}, fmt.Errorf("managed identity: HTTP %d", resp.StatusCode)
	}
	if jerr != nil || body.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("managed identity: response carries no access token")
	}
	exp, err := expiresOn(body.ExpiresOn)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("managed identity: %w", err)
	}
	return body.AccessToken, exp, nil
}

// expiresOn reads IMDS's expires_on: epoch seconds, as a string or a
// number.
func expiresOn(raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("expires_on %.40q is not epoch seconds", s)
	}
	return time.Unix(sec, 0), nil
}
