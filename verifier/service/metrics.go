package service

import (
	"io"

	"github.com/latencyproof/poc/internal/promtext"
	"github.com/latencyproof/poc/verifier"
)

// Routes, the values of the requests counter's route label.
const (
	routeChallenges    = "challenges"
	routeVerifications = "verifications"
	routeHealth        = "healthz"
	routeMetrics       = "metrics"
	routeOther         = "other"
)

// metrics are the service's series.
type metrics struct {
	requests      *promtext.CounterVec
	verifications *promtext.CounterVec
	challenges    promtext.Counter
	inFlight      promtext.Gauge
	waiting       promtext.Gauge
	duration      *promtext.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		requests:      promtext.NewCounterVec("poc_verifier_requests_total", "HTTP requests by route and status code.", "route", "code"),
		verifications: promtext.NewCounterVec("poc_verifier_verifications_total", "Verifications by outcome (a body that is not a proof counts as refused-crypto).", "outcome"),
		challenges:    promtext.Counter{Name: "poc_verifier_challenges_issued_total", Help: "Challenges issued."},
		inFlight:      promtext.Gauge{Name: "poc_verifier_verifications_in_flight", Help: "Verifications holding a slot."},
		waiting:       promtext.Gauge{Name: "poc_verifier_verifications_waiting", Help: "Requests waiting for a verification slot."},
		duration: promtext.NewHistogram("poc_verifier_verification_duration_seconds", "Duration of verifications (decoding and verifying, not waiting).",
			0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
	}
	for _, o := range []verifier.Outcome{verifier.Accepted, verifier.RefusedCrypto, verifier.RefusedPolicy, verifier.RefusedLatency, verifier.CouldNotCheck} {
		m.verifications.With(string(o))
	}
	return m
}

func (m *metrics) write(w io.Writer) {
	m.requests.Write(w)
	m.verifications.Write(w)
	m.challenges.Write(w)
	m.inFlight.Write(w)
	m.waiting.Write(w)
	m.duration.Write(w)
}
