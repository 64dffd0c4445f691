package maasim

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	pb "github.com/google/go-tdx-guest/proto/tdx"

	"github.com/google/go-tdx-guest/verify"
	"github.com/latencyproof/poc/internal/quoteabi"
)

// QuoteBody is the TD quote body fields a token reports (Intel TDX DCAP
// Quoting Library API, A.3.2 TD Quote Body), from a quote whose signature
// chain verified.
type QuoteBody struct {
	TEETCBSVN      []byte    // 16
	MRSeam         []byte    // 48
	MRSignerSeam   []byte    // 48
	SeamAttributes []byte    // 8
	TDAttributes   []byte    // 8, little-endian bit field
	XFAM           []byte    // 8
	MRTD           []byte    // 48
	MRConfigID     []byte    // 48
	MROwner        []byte    // 48
	MROwnerConfig  []byte    // 48
	RTMR           [4][]byte // 48 each
	ReportData     []byte    // 64
}

// QuoteVerifier checks a raw TD quote the way MAA would before issuing a
// token and returns its body. The service holds one; the project plugs in
// DCAPVerifier with the simulated TEE's root, tests may plug in fakes.
type QuoteVerifier interface {
	VerifyQuote(ctx context.Context, quote []byte) (*QuoteBody, error)
}

// ErrQuote means the quote did not verify (or could not be parsed).
var ErrQuote = errors.New("maasim: TD quote verification failed")

// DCAPVerifier verifies a v4 TD quote's signature chain offline with
// go-tdx-guest's verify.TdxQuote: the attestation key's signature over
// header and TD body, the QE report's binding of that key, the PCK
// signature over the QE report, and the PCK chain up to one of Roots at
// Now. It fetches no collateral and checks no revocation, so it cannot
// judge the TCB level (see Config.TCBStatus); it reaches no network.
type DCAPVerifier struct {
	// Roots are the trusted DCAP roots (the simulated TEE's root in the
	// project; Intel's SGX Root CA for real quotes). Required: the
	// verifier refuses to run with nil rather than let go-tdx-guest fall
	// back to its embedded Intel root.
	Roots *x509.CertPool
	// Now is the time at which certificates must be valid. Nil means
	// time.Now.
	Now func() time.Time
}

// offlineGetter refuses every fetch: the verification is offline by
// construction, whatever go-tdx-guest's options would otherwise do.
type offlineGetter struct{}

func (offlineGetter) Get(url string) (map[string][]string, []byte, error) {
	return nil, nil, fmt.Errorf("maasim: refusing to fetch %s (offline verification)", url)
}

// VerifyQuote implements QuoteVerifier.
func (v DCAPVerifier) VerifyQuote(ctx context.Context, quote []byte) (*QuoteBody, error) {
	if v.Roots == nil {
		return nil, fmt.Errorf("%w: no trusted roots configured", ErrQuote)
	}
	q, err := parseQuote(quote)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	// A fresh Options per call: go-tdx-guest mutates the one it gets.
	opts := &verify.Options{
		TrustedRoots: v.Roots,
		Getter:       offlineGetter{},
		Now:          &verify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now},
	}
	if err := verify.TdxQuoteContext(ctx, q, opts); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQuote, err)
	}
	return bodyOf(q), nil
}

// parseQuote parses a v4 TD quote (the only version go-tdx-guest parses
// at the pinned commit).
//
// go-tdx-guest's parser panics on some malformed quotes (found by
// FuzzAttest; the input is in testdata/fuzz/FuzzAttest); package quoteabi
// turns that into an error.
func parseQuote(quote []byte) (q *pb.QuoteV4, err error) {
	q, err = quoteabi.Parse(quote)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing quote: %w", ErrQuote, err)
	}
	if q.GetTdQuoteBody() == nil || len(q.GetTdQuoteBody().GetRtmrs()) != 4 {
		return nil, fmt.Errorf("%w: quote has no TD body", ErrQuote)
	}
	return q, nil
}

func bodyOf(q *pb.QuoteV4) *QuoteBody {
	b := q.GetTdQuoteBody()
	out := &QuoteBody{
		TEETCBSVN:      b.GetTeeTcbSvn(),
		MRSeam:         b.GetMrSeam(),
		MRSignerSeam:   b.GetMrSignerSeam(),
		SeamAttributes: b.GetSeamAttributes(),
		TDAttributes:   b.GetTdAttributes(),
		XFAM:           b.GetXfam(),
		MRTD:           b.GetMrTd(),
		MRConfigID:     b.GetMrConfigId(),
		MROwner:        b.GetMrOwner(),
		MROwnerConfig:  b.GetMrOwnerConfig(),
		ReportData:     b.GetReportData(),
	}
	copy(out.RTMR[:], b.GetRtmrs())
	return out
}
