package maasim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// The REST surface.
const (
	// APIVersion is the only api-version the service accepts.
	APIVersion = "2025-06-01"
	// AttestPath is Attest Tdx Vm's path.
	AttestPath = "/attest/TdxVm"
	// CertsPath serves the JWKS.
	CertsPath = "/certs"
	// OpenIDPath serves the OpenID discovery document.
	OpenIDPath = "/.well-known/openid-configuration"
)

// Defaults for zero-valued Config fields.
const (
	// DefaultTCBStatus is reported as attester_tcb_status (see
	// Config.TCBStatus).
	DefaultTCBStatus = "UpToDate"
	// DefaultLifetime is MAA's token lifetime.
	DefaultLifetime = 8 * time.Hour
	// DefaultMaxRequestBytes bounds a request body (a quote is ~5 KB, the
	// HCL runtime JSON ~1.2 KB, both base64url-encoded).
	DefaultMaxRequestBytes = 1 << 20
	// maxNonce bounds the nonce echoed into tokens.
	maxNonce = 1024
)

// SimulatedClaim is a claim real MAA never issues, set to true in every
// token of this service so that a display cannot mistake one for Azure's.
const SimulatedClaim = "x-poc-simulated"

// Config is the service's configuration.
type Config struct {
	// Key signs tokens. Required.
	Key *Key
	// Quotes verifies posted quotes. Required (DCAPVerifier with an
	// explicit root pool in the project).
	Quotes QuoteVerifier
	// TCBStatus is reported as attester_tcb_status. The service fetches
	// no Intel collateral, so it cannot compute the TCB level as MAA
	// does: it reports this configured value for every quote. Empty means
	// DefaultTCBStatus ("UpToDate").
	TCBStatus string
	// Lifetime is exp - iat. Zero means DefaultLifetime (8 h, like MAA).
	Lifetime time.Duration
	// Now is the clock for iat/nbf/exp. Nil means time.Now.
	Now func() time.Time
	// MaxRequestBytes bounds a request body. Zero means
	// DefaultMaxRequestBytes.
	MaxRequestBytes int64

	// Addr is where Start listens; it must be a loopback address. Empty
	// means "127.0.0.1:0" (any free port).
	Addr string
	// TLSCertificate, when set, is served instead of a fresh self-signed
	// certificate (e.g. one issued by the lab CA); TLSRoots must then
	// hold the root clients should trust.
	TLSCertificate *tls.Certificate
	TLSRoots       *x509.CertPool
}

func (c Config) withDefaults() (Config, error) {
	if c.Key == nil {
		return c, errors.New("maasim: no signing key")
	}
	if c.Quotes == nil {
		return c, errors.New("maasim: no quote verifier")
	}
	if c.TCBStatus == "" {
		c.TCBStatus = DefaultTCBStatus
	}
	if c.Lifetime <= 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	return c, nil
}

// handler serves MAA's REST shape for one issuer.
type handler struct {
	cfg    Config
	issuer string
}

// NewHandler returns the service's HTTP handler, issuing tokens whose iss
// is issuer (the base URL clients reach it at, e.g.
// "https://127.0.0.1:8443"). Start wraps it in a loopback HTTPS server;
// NewHandler lets it be mounted elsewhere (httptest).
func NewHandler(cfg Config, issuer string) (http.Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if issuer == "" || strings.HasSuffix(issuer, "/") {
		return nil, fmt.Errorf("maasim: issuer %q must be a base URL without trailing slash", issuer)
	}
	h := &handler{cfg: cfg, issuer: issuer}
	mux := http.NewServeMux()
	mux.HandleFunc(AttestPath, h.attest)
	mux.HandleFunc(CertsPath, h.certs)
	mux.HandleFunc(OpenIDPath, h.openid)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "no such operation")
	})
	return mux, nil
}

// apiError is MAA's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"encoding response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("x-ms-error-code", code)
	writeJSON(w, status, e)
}

func (h *handler) certs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(h.cfg.Key.JWKS())
}

func (h *handler) openid(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                h.issuer,
		"jwks_uri":                              h.issuer + CertsPath,
		"response_types_supported":              []string{"token", "none"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claims_supported":                      claimsSupported,
	})
}

var claimsSupported = []string{
	"iss", "iat", "nbf", "exp", "jti", "nonce", "eat_profile", "dbgstat", "intuse",
	"attester_tcb_status", "tdx_mrtd", "tdx_rtmr0", "tdx_rtmr1", "tdx_rtmr2", "tdx_rtmr3",
	"tdx_report_data", "tdx_td_attributes", "tdx_td_attributes_debug", "x-ms-attestation-type",
	"x-ms-runtime", "x-ms-ver", SimulatedClaim,
}

// attestRequest is Attest Tdx Vm's body.
type attestRequest struct {
	Quote        string    `json:"quote"`
	RuntimeData  *dataItem `json:"runtimeData"`
	InitTimeData *dataItem `json:"initTimeData"`
	Nonce        *string   `json:"nonce"`
}

type dataItem struct {
	Data     string `json:"data"`
	DataType string `json:"dataType"`
}

// requestError is a 4xx answer.
type requestError struct {
	status        int
	code, message string
}

func (e *requestError) Error() string { return e.code + ": " + e.message }

func badRequest(code, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

func (h *handler) attest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
		return
	}
	token, err := h.issue(w, r)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			writeError(w, re.status, re.code, re.message)
			return
		}
		writeError(w, http.StatusInternalServerError, "InternalError", "issuing the token failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}

// issue does what MAA does for Attest Tdx Vm: check the request, verify
// the quote, check the runtime data binding, then sign a token.
func (h *handler) issue(w http.ResponseWriter, r *http.Request) (string, error) {
	p, err := h.prepare(w, r)
	if err != nil {
		return "", err
	}
	return h.sign(h.claims(p.body, p.runtime, p.nonce))
}

// prepared is a request that passed every check.
type prepared struct {
	body    *QuoteBody
	runtime map[string]any
	nonce   *string
}

// prepare runs every check of an attest request.
func (h *handler) prepare(w http.ResponseWriter, r *http.Request) (*prepared, error) {
	if v := r.URL.Query()["api-version"]; len(v) != 1 || v[0] != APIVersion {
		return nil, badRequest("UnsupportedApiVersion", "api-version must be %s", APIVersion)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &requestError{status: http.StatusUnsupportedMediaType, code: "UnsupportedMediaType", message: "the body must be application/json"}
	}
	req, err := decodeRequest(http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes))
	if err != nil {
		return nil, err
	}
	quote, err := decodeB64URL(req.Quote)
	if err != nil || len(quote) == 0 {
		return nil, badRequest("InvalidParameter", "quote is not base64url")
	}
	body, err := h.cfg.Quotes.VerifyQuote(r.Context(), quote)
	if err != nil {
		return nil, badRequest("InvalidQuote", "quote verification failed: %v", err)
	}
	if len(body.ReportData) != 64 {
		return nil, badRequest("InvalidQuote", "report data is %d bytes", len(body.ReportData))
	}
	var runtime map[string]any
	if req.RuntimeData != nil {
		data, err := decodeB64URL(req.RuntimeData.Data)
		if err != nil {
			return nil, badRequest("InvalidParameter", "runtimeData.data is not base64url")
		}
		// The binding MAA checks: REPORTDATA[0:32] = SHA-256(data).
		sum := sha256.Sum256(data)
		if subtle.ConstantTimeCompare(sum[:], body.ReportData[:32]) != 1 {
			return nil, badRequest("InvalidParameter", "SHA-256 of runtimeData.data does not match the quote's report data")
		}
		switch {
		case strings.EqualFold(req.RuntimeData.DataType, "JSON"):
			if runtime, err = decodeJSONObject(data); err != nil {
				return nil, badRequest("InvalidParameter", "runtimeData of type JSON is not a JSON object")
			}
		case strings.EqualFold(req.RuntimeData.DataType, "Binary"):
			// Bound by hash only; nothing to echo as claims.
		default:
			return nil, badRequest("InvalidParameter", "runtimeData.dataType must be JSON or Binary")
		}
	}
	if req.Nonce != nil && len(*req.Nonce) > maxNonce {
		return nil, badRequest("InvalidParameter", "nonce longer than %d bytes", maxNonce)
	}
	return &prepared{body: body, runtime: runtime, nonce: req.Nonce}, nil
}

func decodeRequest(r io.Reader) (*attestRequest, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req attestRequest
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &requestError{status: http.StatusRequestEntityTooLarge, code: "RequestTooLarge", message: "request body too large"}
		}
		return nil, badRequest("InvalidRequest", "body is not an Attest Tdx Vm request: %v", err)
	}
	if dec.More() {
		return nil, badRequest("InvalidRequest", "trailing data after the request")
	}
	if req.InitTimeData != nil {
		// MAA checks init-time data against the TD's configuration; the
		// simulator cannot, so it refuses rather than pretend.
		return nil, badRequest("NotSupported", "initTimeData is not supported by the simulator")
	}
	if req.Quote == "" {
		return nil, badRequest("InvalidParameter", "quote is required")
	}
	return &req, nil
}

// decodeB64URL accepts base64url with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodeJSONObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are echoed exactly as sent
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil || dec.More() {
		return nil, errors.New("not a single JSON object")
	}
	return m, nil
}

// TD attribute bits (TDATTRIBUTES, little-endian): DEBUG 0,
// SEPT_VE_DISABLE 28, PKS 30, KL 31, PERFMON 63.
const (
	attrDebug         = 0
	attrSeptVEDisable = 28
	attrPKS           = 30
	attrKL            = 31
	attrPerfmon       = 63
)

// claims builds the token body per Microsoft's TDX EAT profile.
func (h *handler) claims(b *QuoteBody, runtime map[string]any, nonce *string) map[string]any {
	now := h.cfg.Now().Unix()
	var attrs uint64
	if len(b.TDAttributes) == 8 {
		attrs = binary.LittleEndian.Uint64(b.TDAttributes)
	}
	bit := func(n uint) bool { return attrs&(1<<n) != 0 }
	dbg := "disabled"
	if bit(attrDebug) {
		dbg = "enabled"
	}
	jti := make([]byte, 32)
	rand.Read(jti) // crypto/rand.Read never fails
	c := map[string]any{
		"iss":                               h.issuer,
		"iat":                               now,
		"nbf":                               now,
		"exp":                               now + int64(h.cfg.Lifetime/time.Second),
		"jti":                               hex.EncodeToString(jti),
		"x-ms-ver":                          "1.0",
		"x-ms-attestation-type":             "tdxvm",
		"eat_profile":                       "https://aka.ms/maa-eat-profile-tdxvm",
		"intuse":                            "generic",
		"dbgstat":                           dbg,
		"attester_tcb_status":               h.cfg.TCBStatus,
		"tdx_mrtd":                          hex.EncodeToString(b.MRTD),
		"tdx_rtmr0":                         hex.EncodeToString(b.RTMR[0]),
		"tdx_rtmr1":                         hex.EncodeToString(b.RTMR[1]),
		"tdx_rtmr2":                         hex.EncodeToString(b.RTMR[2]),
		"tdx_rtmr3":                         hex.EncodeToString(b.RTMR[3]),
		"tdx_report_data":                   hex.EncodeToString(b.ReportData),
		"tdx_mrseam":                        hex.EncodeToString(b.MRSeam),
		"tdx_mrsignerseam":                  hex.EncodeToString(b.MRSignerSeam),
		"tdx_mrconfigid":                    hex.EncodeToString(b.MRConfigID),
		"tdx_mrowner":                       hex.EncodeToString(b.MROwner),
		"tdx_mrownerconfig":                 hex.EncodeToString(b.MROwnerConfig),
		"tdx_seam_attributes":               hex.EncodeToString(b.SeamAttributes),
		"tdx_td_attributes":                 hex.EncodeToString(b.TDAttributes),
		"tdx_xfam":                          hex.EncodeToString(b.XFAM),
		"tdx_tee_tcb_svn":                   hex.EncodeToString(b.TEETCBSVN),
		"tdx_td_attributes_debug":           bit(attrDebug),
		"tdx_td_attributes_septve_disable":  bit(attrSeptVEDisable),
		"tdx_td_attributes_protection_keys": bit(attrPKS),
		"tdx_td_attributes_key_locker":      bit(attrKL),
		"tdx_td_attributes_perfmon":         bit(attrPerfmon),
		SimulatedClaim:                      true,
	}
	if len(b.TEETCBSVN) > 0 {
		// As in Microsoft's TDX token example, where tdx_seamsvn equals
		// the first byte of tdx_tee_tcb_svn (the module's minor SVN).
		c["tdx_seamsvn"] = int(b.TEETCBSVN[0])
	}
	if runtime != nil {
		c["x-ms-runtime"] = runtime
	}
	if nonce != nil {
		c["nonce"] = *nonce
	}
	return c
}

// sign makes an RS256 compact JWS with MAA's header shape.
func (h *handler) sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		JKU string `json:"jku"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"RS256", h.issuer + CertsPath, h.cfg.Key.ID(), "JWT"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, h.cfg.Key.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
