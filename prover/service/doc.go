// Package service runs the prover as an HTTP service inside the trust
// domain: a verifier posts a challenge, the service runs one measurement
// campaign (package prover) and answers with the proof.
//
// # Endpoints
//
//   - POST /v1/proofs: the body is a challenge (evidence.Challenge as JSON,
//     exactly what a verifier issues); the answer is the proof document
//     (docs/proof-format.md) with status 200.
//   - GET /healthz: {"status": "ok"}.
//   - GET /metrics: counters and a histogram in the Prometheus text
//     exposition format (version 0.0.4).
//
// Every other answer is a problem document, {"error": "…", "status": N},
// with a short, fixed message: the details go to the log, never to the
// client, and neither carries a secret (the prover has none but the TLS
// secrets it discloses inside proofs, which are never logged).
//
// # Why one campaign at a time
//
// A proof is a timing measurement: two campaigns at once would share the
// CPU, the network interface and the Go runtime, and each would slow the
// other's echoes — a false reject, or worse, a profile that no longer fits.
// So the service runs at most one campaign; a request that arrives during
// one is answered 503 with a Retry-After estimated from past campaigns. It
// never queues: the verifier decides whether to retry.
//
// # Why a rate limit
//
// Each campaign opens TLS sessions to the cloud provider's endpoints and
// sends them PINGs, which front ends budget (about 60 a minute per server;
// Google front ends and gRPC servers send GOAWAY on excess). A token bucket
// (Config.RatePerMinute, Config.Burst) bounds how many campaigns the
// service runs; a request over the limit is answered 429 with Retry-After.
// Requests refused before a campaign starts (malformed, expired, busy) cost
// no token.
//
// # Checks on the challenge
//
// The body is bounded (MaxChallengeBytes) and decoded strictly: exactly the
// five fields of a challenge, each once, each of its type, nothing after
// the document. The prover cannot check the challenge's tag (only its
// verifier holds the key), but it refuses, with 422, a challenge that could
// never yield an acceptable proof: one already expired by the prover's
// clock, with an all-zero nonce, without a tag, or whose expiry precedes its
// issue. A campaign never outlives the challenge: its deadline is the
// earlier of the challenge's expiry and Config.ProofTimeout; a client that
// goes away cancels it (its token stays spent: the probes were sent).
package service
