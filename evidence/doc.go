// Package evidence is the proof-of-cloud format, version 1: the Go types of a
// proof, their strict JSON form, the canonical binary encoding of the proof
// body, and the one function that turns a body into the 64 bytes of TDX
// REPORTDATA (ReportData). Prover and verifier both use this package and
// nothing else to agree on what was bound into the quote.
//
// A Proof has three parts:
//
//   - Body: what the TEE vouches for — the verifier's challenge, the TEE
//     kind, an optional application binding (e.g. the hash of the
//     workload's public key), the cycle counter and its frequency with the
//     frequency's source, and for every probe its endpoint, method and
//     connections: the SHA-256 of each transcript's bytes and key log, every
//     cycle (and kernel) timestamp, and the claimed handshake and echo
//     round trips in cycles.
//   - Sessions: the transcripts themselves (bytes each way and key logs),
//     bound to the body through their hashes.
//   - Attestation: the TD quote whose REPORTDATA is ReportData(Body) (on
//     vanilla TDX and the simulated TEE), or on Azure the TD quote, the HCL
//     report whose runtime data carries ReportData(Body) as user-data, the
//     vTPM quote, and an MAA token.
//
// The encoding is specified in docs/proof-format.md, with test vectors in
// testdata/vectors.json computed by an independent implementation of that
// document.
package evidence
