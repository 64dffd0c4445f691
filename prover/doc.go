// Package prover produces proofs of cloud inside a trust domain: it runs the
// probes of a challenge (package tlsprobe), assembles the proof body
// (package evidence), and binds ReportData(body) to the TEE it runs on
// through an Attester:
//
//   - TDX: vanilla TDX (bare metal, GCP, any host with configfs-tsm): the
//     quote's REPORTDATA is the report data itself, through go-tdx-guest's
//     client (configfs-tsm, falling back to the TDX guest device).
//   - Azure TDX confidential VMs: the guest cannot set REPORTDATA; the report
//     data goes to the vTPM, the paravisor's HCL report carries it, and the
//     TD quote binds the HCL report (see package verifier/azure).
//   - Sim: a simulated TEE with a local DCAP hierarchy, for development and
//     tests; verifiers refuse it unless its root is trusted explicitly.
//
// The prover never imports the verifier: what both must agree on lives in
// package evidence and package transcript.
package prover
