// Package imds gets a TD quote for a TDREPORT from the Azure Instance
// Metadata Service of a TDX confidential VM.
//
// An Azure TDX guest has no quoting enclave of its own: it sends the
// TDREPORT found in its HCL report (package hcl) to the host's quote
// generation service behind the IMDS,
//
//	POST http://169.254.169.254/acc/tdquote
//	Content-Type: application/json
//	{"report": "<base64url(TDREPORT)>"}
//
// and receives {"quote": "<base64url(TD quote)>"}, a TDX v4 quote signed
// under Intel's DCAP chain. This shape is what Microsoft's own guest tools
// (azure-cvm-tooling's az-tdx-vtpm, MIT) and Intel Trust Authority's
// Azure adapter send and read; the request carries base64url without
// padding, and the response is read with or without padding.
//
// The IMDS is link-local and must be reached directly: the default HTTP
// client ignores proxy settings and never follows redirects. Requests carry
// "Metadata: true", the header Microsoft's IMDS documentation requires of
// requests to the service (the public clients of this endpoint omit it, so
// it is sent for conformance, not because the endpoint is known to check).
package imds

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
)

const (
	// DefaultBaseURL is the IMDS address on every Azure VM.
	DefaultBaseURL = "http://169.254.169.254"
	// QuotePath is the TD quote endpoint.
	QuotePath = "/acc/tdquote"
	// TDReportSize is the size of the TDREPORT the endpoint takes.
	TDReportSize = 1024
	// MaxQuoteSize bounds the quote returned (Azure's are about 5 KiB).
	MaxQuoteSize = 64 << 10
	// DefaultTimeout bounds a request made with the default HTTP client.
	DefaultTimeout = 30 * time.Second

	// maxResponse bounds the response body read: the quote in base64 and
	// some JSON.
	maxResponse = MaxQuoteSize*4/3 + 4096
	// maxErrorBody is how much of an error response is kept.
	maxErrorBody = 256
)

// Errors, matchable with errors.Is.
var (
	// ErrReport: the TDREPORT given is not 1024 bytes.
	ErrReport = errors.New("TDREPORT has the wrong size")
	// ErrStatus: the IMDS answered with a status other than 200 (the
	// error is a *StatusError).
	ErrStatus = errors.New("IMDS refused the request")
	// ErrResponse: the IMDS answered 200 with a body that is not
	// {"quote": base64url} of an acceptable size.
	ErrResponse = errors.New("IMDS response malformed")
)

// StatusError is a non-200 answer of the IMDS. It unwraps to ErrStatus.
type StatusError struct {
	Code int
	// Body is the start of the response body, printable characters only.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%v: HTTP %d", ErrStatus, e.Code)
	}
	return fmt.Sprintf("%v: HTTP %d: %s", ErrStatus, e.Code, e.Body)
}

// Unwrap returns ErrStatus.
func (e *StatusError) Unwrap() error { return ErrStatus }

// Quoter turns a TDREPORT into a TD quote. *Client implements it; tests
// and the lab substitute their own.
type Quoter interface {
	TDQuote(ctx context.Context, tdReport []byte) ([]byte, error)
}

// Client talks to the IMDS. The zero value is ready to use on an Azure VM.
type Client struct {
	// BaseURL is the IMDS root; empty means DefaultBaseURL.
	BaseURL string
	// HTTPClient sends the request; nil means NewHTTPClient().
	HTTPClient *http.Client
}

// NewHTTPClient returns the client used when Client.HTTPClient is nil:
// no proxy (the IMDS is link-local), no redirects, DefaultTimeout.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return &http.Client{
		Transport: t,
		Timeout:   DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var defaultHTTPClient = NewHTTPClient()

type quoteRequest struct {
	Report string `json:"report"`
}

type quoteResponse struct {
	Quote *string `json:"quote"`
}

// TDQuote asks the IMDS for a TD quote of tdReport, the 1024-byte
// TDREPORT of the VM's HCL report. It checks the answer's form only; the
// quote is the verifier's to check.
func (c *Client) TDQuote(ctx context.Context, tdReport []byte) ([]byte, error) {
	if len(tdReport) != TDReportSize {
		return nil, fmt.Errorf("getting TD quote: %w: %d bytes, want %d", ErrReport, len(tdReport), TDReportSize)
	}
	body, err := json.Marshal(quoteRequest{Report: base64.RawURLEncoding.EncodeToString(tdReport)})
	if err != nil {
		return nil, fmt.Errorf("getting TD quote: encoding request: %w", err)
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+QuotePath, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("getting TD quote: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Metadata", "true")
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("getting TD quote: %w", err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, fmt.Errorf("getting TD quote: %w", &StatusError{Code: resp.StatusCode, Body: printable(b)})
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("getting TD quote: reading response: %w", err)
	}
	if len(raw) > maxResponse {
		return nil, fmt.Errorf("getting TD quote: %w: body exceeds %d bytes", ErrResponse, maxResponse)
	}
	quote, err := decodeResponse(raw)
	if err != nil {
		return nil, fmt.Errorf("getting TD quote: %w", err)
	}
	return quote, nil
}

func decodeResponse(raw []byte) ([]byte, error) {
	var r quoteResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrResponse, err)
	}
	if r.Quote == nil || *r.Quote == "" {
		return nil, fmt.Errorf("%w: no quote", ErrResponse)
	}
	// base64url; Microsoft's tools send it unpadded, tolerate padding.
	quote, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(*r.Quote, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: quote is not base64url: %w", ErrResponse, err)
	}
	if len(quote) > MaxQuoteSize {
		return nil, fmt.Errorf("%w: quote of %d bytes, limit %d", ErrResponse, len(quote), MaxQuoteSize)
	}
	return quote, nil
}

// printable keeps an error body fit for a log line.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, string(b))
	return strings.TrimSpace(s)
}
