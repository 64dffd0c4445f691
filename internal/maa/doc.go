// Package maa is the prover's client for Microsoft Azure Attestation: it
// sends a TD quote and the runtime data bound into it to MAA's Attest Tdx
// Vm API and returns the signed token.
//
// The call, as Microsoft's REST reference (api-version 2025-06-01) gives
// it:
//
//	POST {endpoint}/attest/TdxVm?api-version=2025-06-01
//	Authorization: Bearer <Azure AD token for https://attest.azure.net/.default>
//	{"quote": "<base64url TD quote>",
//	 "runtimeData": {"data": "<base64url>", "dataType": "JSON"},
//	 "initTimeData": {...},            (optional)
//	 "nonce": "..."}                   (optional, echoed as the "nonce" claim)
//
//	200 {"token": "<JWT>"}
//
// MAA checks the quote (Intel DCAP) and that REPORTDATA[0:32] is the
// SHA-256 of the decoded runtime data; for dataType JSON it echoes the
// runtime data object as the token's x-ms-runtime claim. On Azure the
// runtime data is the HCL runtime JSON (whose "user-data" carries the
// proof digest); elsewhere the prover sends {"user-data": "<hex>"}.
//
// Nothing here verifies the token: the verifier does (verifier/maa). The
// client's job is to make the call faithfully and fail clearly: HTTPS only,
// no redirects (a redirect would resend the quote and bearer token
// elsewhere), bounded response size, MAA's error code and message kept in
// an *APIError, and the bearer token never in an error or log. The bearer
// token comes from a TokenSource; a local MAA-shaped service
// (internal/maasim) needs none.
package maa
