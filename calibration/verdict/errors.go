package verdict

import (
	"errors"
	"fmt"
)

// Errors; test them with errors.Is. They mean "could not decide", never
// "the claim is false": a rejection is a Verdict with Decision Reject.
var (
	// ErrProfile: the profile is missing or invalid (the error also wraps
	// the profile package's error, e.g. profile.ErrTooFewSamples).
	ErrProfile = errors.New("unusable profile")
	// ErrNoModel: the basis needs a fitted model and the profile has none.
	ErrNoModel = errors.New("profile has no fitted model")
	// ErrNoEchoes: no round trips were given (K = 0).
	ErrNoEchoes = errors.New("no echoes")
	// ErrConns: the echoes per connection do not add up to the round
	// trips, or a connection has none.
	ErrConns = errors.New("connection sizes do not match the round trips")
	// ErrRTT: a round trip is NaN, infinite, zero or negative.
	ErrRTT = errors.New("invalid round trip")
	// ErrOptions: an option is out of range.
	ErrOptions = errors.New("invalid verdict options")
	// ErrOrigin: the profile's origin or clock is not the one asked for.
	ErrOrigin = errors.New("profile origin or clock mismatch")
	// ErrUnknownEndpoint: no profile describes an observed endpoint.
	ErrUnknownEndpoint = errors.New("unknown endpoint")
	// ErrAmbiguous: several profiles (vantages) describe an observed
	// endpoint and Options.Vantage does not choose one.
	ErrAmbiguous = errors.New("ambiguous profile")
	// ErrNoClaimEndpoint: no observation is of an endpoint in the claimed
	// region.
	ErrNoClaimEndpoint = errors.New("no endpoint of the claimed region observed")
	// ErrGeometry: a disc or region has invalid coordinates or radius.
	ErrGeometry = errors.New("invalid geometry")
)

// EndpointError is a problem with one observation; it names the endpoint.
type EndpointError struct {
	Endpoint, Method string
	Err              error
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("endpoint %s (%s): %v", e.Endpoint, e.Method, e.Err)
}

func (e *EndpointError) Unwrap() error { return e.Err }
