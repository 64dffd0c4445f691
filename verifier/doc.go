// Package verifier will check proofs of cloud: the challenge, the TDX quote
// (Intel DCAP), the cloud's own attestation (MAA, the Azure vTPM chain), the
// binding of the proof into the quote, the TLS transcripts (package
// transcript, which already re-checks a session offline), and the latencies
// against calibrated datacenter profiles.
//
// Not yet implemented beyond the transcript checks.
package verifier
