// Package prover will produce proofs of cloud inside a trust domain: run the
// probes of a challenge (package tlsprobe), assemble the proof, and bind its
// digest into a TDX quote (vanilla TDX, an Azure TDX confidential VM through
// its vTPM, or a simulated TEE for development).
//
// Not yet implemented: the measurement it builds on (timing, tlsprobe,
// transcript) is; attestation is the next stage of the project.
package prover
