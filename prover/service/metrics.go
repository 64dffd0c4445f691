package service

import (
	"io"

	"github.com/latencyproof/poc/internal/promtext"
)

// Results of POST /v1/proofs, the values of the requests counter's label.
const (
	resultProved      = "proved"
	resultInvalid     = "invalid"
	resultTooLarge    = "too-large"
	resultExpired     = "unanswerable"
	resultBusy        = "busy"
	resultRateLimited = "rate-limited"
	resultFailed      = "failed"
	resultTimeout     = "timeout"
)

// metrics are the service's series.
type metrics struct {
	requests   *promtext.CounterVec
	proofs     promtext.Counter
	inProgress promtext.Gauge
	duration   *promtext.Histogram
}

func newMetrics() *metrics {
	return (&metrics{
		requests:   promtext.NewCounterVec("poc_prover_requests_total", "Requests to POST /v1/proofs by result.", "result"),
		proofs:     promtext.Counter{Name: "poc_prover_proofs_total", Help: "Proofs made and sent."},
		inProgress: promtext.Gauge{Name: "poc_prover_campaign_in_progress", Help: "1 while a measurement campaign runs."},
		duration: promtext.NewHistogram("poc_prover_campaign_duration_seconds", "Duration of measurement campaigns, successful or not.",
			0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
	}).declare()
}

func (m *metrics) declare() *metrics {
	for _, r := range []string{resultProved, resultInvalid, resultTooLarge, resultExpired, resultBusy, resultRateLimited, resultFailed, resultTimeout} {
		m.requests.With(r)
	}
	return m
}

func (m *metrics) write(w io.Writer) {
	m.requests.Write(w)
	m.proofs.Write(w)
	m.inProgress.Write(w)
	m.duration.Write(w)
}
