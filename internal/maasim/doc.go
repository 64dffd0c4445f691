// Package maasim is a local service with Microsoft Azure Attestation's REST
// shape, so that demos and tests run the prover's real MAA client
// (internal/maa) and the real token verifier (verifier/maa) without Azure.
//
// It serves, over HTTPS on loopback only:
//
//	POST /attest/TdxVm?api-version=2025-06-01   Attest Tdx Vm
//	GET  /certs                                 the signing key as a JWKS
//	GET  /.well-known/openid-configuration      issuer and jwks_uri
//
// For an attest request it does what MAA does, in order: decode the body
// ({"quote", "runtimeData": {"data", "dataType"}, "nonce"}, base64url),
// verify the quote through its QuoteVerifier, check that REPORTDATA[0:32]
// is the SHA-256 of the decoded runtime data, and sign an RS256 JWT whose
// claims follow Microsoft's TDX EAT profile: iss (the service's own base
// URL), iat/nbf/exp (8 hours, like MAA), jti, x-ms-ver, eat_profile,
// x-ms-attestation-type "tdxvm", the tdx_* quote body fields and TD
// attribute bits, dbgstat, intuse, x-ms-runtime (the runtime JSON object,
// numbers as sent), nonce when given, and x-poc-simulated: true, a claim
// real MAA never issues. Refusals are MAA-shaped: a 4xx status, the
// x-ms-error-code header and {"error": {"code", "message"}}.
//
// What it cannot do as MAA does, and how it says so:
//
//   - TCB status: it fetches no Intel collateral, so attester_tcb_status is
//     a configured value (Config.TCBStatus, default "UpToDate"), the same
//     for every quote.
//   - Quote verification is DCAPVerifier: go-tdx-guest's verify.TdxQuote
//     offline (signature chain up to an explicitly given root pool, never
//     nil, so go-tdx-guest never falls back to its embedded Intel root).
//     In the project the pool holds the simulated TEE's root; any
//     QuoteVerifier can be plugged in.
//   - initTimeData is refused (MAA binds it to the TD's configuration; the
//     simulator cannot), and there is no attestation policy, so no
//     x-ms-policy-hash.
//   - x-ms-compliance-status is never claimed.
//
// Its signing key (Key: RSA 2048, a MAA-shaped base64 kid, a self-signed
// x5c certificate so /certs has MAA's form) is made by GenerateKey and kept
// with SaveKey/LoadKey (PKCS #8 PEM, mode 0600), so `poc sim init` can
// create it beside the rest of the simulated TEE. Its TLS certificate is
// self-signed per start (or given, e.g. by a lab CA); RootCAs,
// CertificatePEM and Client let clients trust it. A verifier trusts the
// simulator only by explicit choice: by pinning its loopback issuer.
package maasim
