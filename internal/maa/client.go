package maa

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// APIVersion is the MAA REST API version this client speaks.
const APIVersion = "2025-06-01"

// Defaults for zero-valued Client fields.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	// maxErrorText bounds the message kept from an error body.
	maxErrorText = 1024
)

// DataType says how MAA should treat runtime or init-time data.
type DataType string

// The two data types MAA knows.
const (
	// DataJSON: the data is a UTF-8 JSON object; MAA echoes it as claims
	// (x-ms-runtime for runtime data).
	DataJSON DataType = "JSON"
	// DataBinary: opaque bytes, bound by hash only.
	DataBinary DataType = "Binary"
)

// Request is one attestation request.
type Request struct {
	// Quote is the raw TD quote (the bytes from configfs-tsm, or from
	// Azure IMDS /acc/tdquote). Required.
	Quote []byte
	// RuntimeData is the data whose SHA-256 is REPORTDATA[0:32]. Optional
	// for MAA; the prover always sends it.
	RuntimeData []byte
	// RuntimeDataType defaults to DataJSON, in which case RuntimeData must
	// be a JSON object.
	RuntimeDataType DataType
	// InitTimeData is optional init-time data; InitTimeDataType defaults to
	// DataJSON when InitTimeData is set.
	InitTimeData     []byte
	InitTimeDataType DataType
	// Nonce, if set, is echoed into the token's "nonce" claim.
	Nonce string
}

// TokenSource supplies the Azure AD bearer token (audience
// https://attest.azure.net) sent with each call.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken string

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// Client calls MAA. The zero value is usable: no bearer token, a default
// HTTP client with the system roots.
type Client struct {
	// HTTPClient makes the requests. Nil means a client with the system
	// roots and DefaultTimeout. Redirects are never followed, whatever
	// this client would do.
	HTTPClient *http.Client
	// Auth supplies the bearer token. Nil sends no Authorization header
	// (enough for a local MAA-shaped service).
	Auth TokenSource
	// MaxResponseBytes bounds the response body. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Errors. An *APIError means MAA answered and refused; ErrTransport means
// no answer was had; ErrRequest means the request was not sent because it
// was unusable; ErrResponse means MAA's answer could not be understood.
var (
	ErrRequest   = errors.New("maa: invalid attestation request")
	ErrAuth      = errors.New("maa: obtaining the bearer token failed")
	ErrTransport = errors.New("maa: attestation call failed")
	ErrResponse  = errors.New("maa: unusable attestation response")
)

// APIError is MAA's refusal: a non-200 status with, where MAA gave them,
// its error code and message (from the body's {"error": {"code",
// "message"}} or the x-ms-error-code header).
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	// RequestID is x-ms-request-id, for Microsoft support.
	RequestID string
}

// Error gives the status, MAA's code and message, and the request id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "maa: attestation refused: HTTP %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return b.String()
}

// Temporary reports whether retrying later may help (429 and 5xx).
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Attest calls Attest Tdx Vm with a zero Client: no bearer token, system
// roots.
func Attest(ctx context.Context, endpoint string, req Request) (string, error) {
	var c Client
	return c.Attest(ctx, endpoint, req)
}

type dataJSON struct {
	Data     string   `json:"data"`
	DataType DataType `json:"dataType"`
}

type attestBody struct {
	Quote        string    `json:"quote"`
	RuntimeData  *dataJSON `json:"runtimeData,omitempty"`
	InitTimeData *dataJSON `json:"initTimeData,omitempty"`
	Nonce        string    `json:"nonce,omitempty"`
}

// Attest posts req to {endpoint}/attest/TdxVm?api-version=2025-06-01 and
// returns the token MAA issued (a compact JWS, not verified here).
// endpoint is the attestation provider's base URL, e.g.
// "https://sharedeus2.eus2.attest.azure.net"; it must be https.
func (c *Client) Attest(ctx context.Context, endpoint string, req Request) (string, error) {
	target, err := attestURL(endpoint)
	if err != nil {
		return "", err
	}
	body, err := encodeRequest(req)
	if err != nil {
		return "", err
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrRequest, err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "application/json")
	var bearer string
	if c.Auth != nil {
		tok, err := c.Auth.Token(ctx)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrAuth, err)
		}
		if tok == "" || strings.ContainsAny(tok, "\r\n") {
			return "", fmt.Errorf("%w: token source returned an empty or malformed token", ErrAuth)
		}
		httpReq.Header.Set("Authorization", "Bearer "+tok)
		bearer = tok
	}

	resp, err := c.httpClient().Do(httpReq)
	if err != nil {
		// url.Error carries method and URL, never headers: no token leaks.
		return "", fmt.Errorf("%w: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", fmt.Errorf("%w: reading response: %v", ErrTransport, err)
	}
	if int64(len(data)) > limit {
		return "", fmt.Errorf("%w: response larger than %d bytes", ErrResponse, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return "", parseError(resp.StatusCode, resp.Header, data, bearer)
	}
	return parseToken(data)
}

func (c *Client) httpClient() *http.Client {
	var hc http.Client
	if c.HTTPClient != nil {
		hc = *c.HTTPClient // shallow copy: the redirect rule is ours
	} else {
		hc.Timeout = DefaultTimeout
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("redirect refused")
	}
	return &hc
}

// attestURL builds the Attest Tdx Vm URL from an https base URL.
func attestURL(endpoint string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
	if err != nil {
		return "", fmt.Errorf("%w: endpoint: %v", ErrRequest, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: endpoint %q must be an https base URL", ErrRequest, endpoint)
	}
	u.Path += "/attest/TdxVm"
	u.RawPath = ""
	u.RawQuery = url.Values{"api-version": {APIVersion}}.Encode()
	return u.String(), nil
}

func encodeRequest(req Request) ([]byte, error) {
	if len(req.Quote) == 0 {
		return nil, fmt.Errorf("%w: no quote", ErrRequest)
	}
	body := attestBody{Quote: base64.RawURLEncoding.EncodeToString(req.Quote), Nonce: req.Nonce}
	var err error
	if body.RuntimeData, err = encodeData("runtime data", req.RuntimeData, req.RuntimeDataType); err != nil {
		return nil, err
	}
	if body.InitTimeData, err = encodeData("init-time data", req.InitTimeData, req.InitTimeDataType); err != nil {
		return nil, err
	}
	return json.Marshal(body)
}

func encodeData(what string, data []byte, typ DataType) (*dataJSON, error) {
	if data == nil {
		if typ != "" {
			return nil, fmt.Errorf("%w: %s type %q given without data", ErrRequest, what, typ)
		}
		return nil, nil
	}
	switch typ {
	case "", DataJSON:
		typ = DataJSON
		// MAA turns JSON data into claims: it must be one JSON object.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("%w: %s of type JSON is not a JSON object", ErrRequest, what)
		}
	case DataBinary:
	default:
		return nil, fmt.Errorf("%w: %s type %q is not JSON or Binary", ErrRequest, what, typ)
	}
	return &dataJSON{Data: base64.RawURLEncoding.EncodeToString(data), DataType: typ}, nil
}

// parseToken reads {"token": "<compact JWS>"}.
func parseToken(data []byte) (string, error) {
	var r struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return "", fmt.Errorf("%w: body is not JSON: %v", ErrResponse, err)
	}
	if r.Token == nil {
		return "", fmt.Errorf("%w: no token in the response", ErrResponse)
	}
	tok := *r.Token
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("%w: token is not a compact JWS", ErrResponse)
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			return "", fmt.Errorf("%w: token segment is not base64url", ErrResponse)
		}
	}
	return tok, nil
}

// parseError builds an *APIError from a non-200 response. A server that
// echoes the request must not make the bearer token land in an error
// message, so every string is redacted (after JSON decoding, which could
// otherwise reassemble an escaped token) before it is kept.
func parseError(status int, h http.Header, data []byte, bearer string) *APIError {
	keep := func(s string) string {
		if bearer != "" {
			s = strings.ReplaceAll(s, bearer, "[redacted]")
		}
		return clean(s)
	}
	e := &APIError{StatusCode: status, Code: keep(h.Get("x-ms-error-code")), RequestID: keep(h.Get("x-ms-request-id"))}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != nil {
		if body.Error.Code != "" {
			e.Code = keep(body.Error.Code)
		}
		e.Message = keep(body.Error.Message)
	} else if len(data) > 0 {
		e.Message = keep(string(data))
	}
	return e
}

// clean keeps error text printable and short: it lands in terminals and
// logs.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxErrorText {
		s = strings.ToValidUTF8(s[:maxErrorText], "") + "…"
	}
	return s
}
