// Package service runs the verifier as an HTTP service: it issues
// challenges and verifies the proofs that answer them (package verifier),
// remembering answered challenges in a store that outlives restarts.
//
// # Endpoints
//
//   - POST /v1/challenges: the body is empty or {"ttl": "10m"} (a Go
//     duration, at most Config.MaxTTL); the answer is a challenge
//     (evidence.Challenge as JSON) authenticated with the verifier's key.
//     Issuing keeps no state: the challenge's tag lets the verifier
//     recognise it later.
//   - POST /v1/verifications: the body is a proof document
//     (docs/proof-format.md), exactly as the prover wrote it. Optional query
//     parameters: app_binding=HEX (the application binding the proof must
//     carry) and claim=PROVIDER/REGION (the region claimed). The answer is a
//     Response: the verifier.Result, plus a stable reason code for a
//     refusal.
//   - GET /healthz: {"status": "ok"} when the nonce store answers, 503
//     otherwise.
//   - GET /metrics: the Prometheus text exposition format (version 0.0.4).
//
// # Verdicts and status codes
//
// The verdict is in the body, never in the status: a verification that ran
// is answered 200 whatever its outcome (accepted, refused-crypto,
// refused-policy, refused-latency, could-not-check). The status says
// something about the request only:
//
//   - 400 with a Response whose outcome is refused-crypto and whose only
//     check is a failed "proof" stage: the body is not a proof document
//     (malformed, a field missing or unknown, an unsupported version). The
//     same answer carries "error" and "status", so it is also a problem
//     document; clients that read the outcome of every 200 or 400 answer
//     need no special case.
//   - 400 with a bare problem document (no outcome): the request itself is
//     wrong (an unknown or repeated query parameter, app_binding not hex,
//     a binding or claim that contradicts the service's own).
//   - 413: the body exceeds Config.MaxBodyBytes; 415: not JSON.
//   - 503 with Retry-After: every verification slot stayed busy for the
//     request's timeout, or too many requests already wait for one.
//
// Errors are problem documents, {"error": "…", "status": N}. A Result's
// checks explain a refusal in words; none of them carries the challenge key
// or anything derived from it but its public ID.
//
// # Replays
//
// The service requires a NonceStore (verifier.OpenNonceFile, a bbolt
// file): a proof whose challenge was answered before is refused
// (refused-policy, reason "replay"), also after a restart. Verify records a
// challenge, atomically, as soon as the attestation is known to bind the
// proof's body to it — before the transcripts and the latency are judged —
// so a TD gets one attempt per challenge, however that attempt ends; a
// proof refused earlier (another verifier's or an expired challenge, a bad
// quote, another application's binding) is not the TD's and uses nothing
// up. Of two presentations of one proof racing each other, exactly one
// gets past that point.
//
// # Concurrency
//
// Verifications run concurrently, at most Config.MaxConcurrent at once
// (default GOMAXPROCS: verification is CPU-bound). A request waits for a
// slot before its body is read, so memory is bounded by the slots times the
// body limit; at most Config.MaxQueue wait, and none longer than
// Config.Timeout. Once it holds a slot, Config.Timeout bounds again reading
// its body and verifying it.
package service
