package service

import (
	"errors"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/verifier"
)

// Reason codes: what errors.Is tells a Go caller of verifier.Verify, told
// to a client over HTTP. They never change meaning.
const (
	ReasonReplay               = "replay"
	ReasonForeignChallenge     = "foreign-challenge"
	ReasonChallengeExpired     = "challenge-expired"
	ReasonChallengeNotYetValid = "challenge-not-yet-valid"
	ReasonAppBinding           = "app-binding"
	ReasonBinding              = "binding"
	ReasonTEE                  = "tee"
	ReasonCounter              = "counter"
	ReasonScope                = "scope"
	ReasonVerifierOptions      = "verifier-options"
	ReasonUnsupportedVersion   = "unsupported-version"
	ReasonMalformedProof       = "malformed-proof"
	ReasonSessions             = "sessions"
	ReasonTranscript           = "transcript"
	ReasonLatency              = "latency"
)

var reasons = []struct {
	err  error
	code string
}{
	{verifier.ErrReplay, ReasonReplay},
	{verifier.ErrForeignChallenge, ReasonForeignChallenge},
	{verifier.ErrChallengeExpired, ReasonChallengeExpired},
	{verifier.ErrChallengeNotYetValid, ReasonChallengeNotYetValid},
	{verifier.ErrAppBinding, ReasonAppBinding},
	{verifier.ErrBinding, ReasonBinding},
	{verifier.ErrTEE, ReasonTEE},
	{verifier.ErrCounter, ReasonCounter},
	{verifier.ErrScope, ReasonScope},
	{verifier.ErrOptions, ReasonVerifierOptions},
	{evidence.ErrUnsupportedVersion, ReasonUnsupportedVersion},
	{evidence.ErrFormat, ReasonMalformedProof},
	{evidence.ErrSessions, ReasonSessions},
	{verifier.ErrTranscript, ReasonTranscript},
}

// Reason returns the stable code of a verification's error: one of the
// Reason constants when a finer one applies, else the stage that refused
// (verifier.StageQuote, StageMAA, …), "latency" for a latency verdict; ""
// for no error.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	var se *verifier.StageError
	if errors.As(err, &se) {
		if se.Outcome == verifier.RefusedLatency {
			return ReasonLatency
		}
		return se.Stage
	}
	return verifier.StageProof
}
