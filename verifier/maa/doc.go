// Package maa verifies Microsoft Azure Attestation (MAA) tokens: the
// second root of trust a proof of cloud can carry on Azure.
//
// # What a verified token proves
//
// MAA's Attest Tdx Vm API takes a TD quote and runtime data, checks the
// quote against Intel's DCAP collateral, checks that REPORTDATA[0:32] is the
// SHA-256 of the runtime data, and returns a JWT signed by the attestation
// provider's key. A token that passes Verify therefore says: the provider
// named by the pinned issuer saw a genuine TD quote, within the token's
// validity, whose measurements are the tdx_* claims, whose TCB level it
// judged attester_tcb_status, and whose runtime data is x-ms-runtime. When
// Options.UserData is given, it also says that the runtime data's
// "user-data" is the proof digest, so the token vouches for this proof and
// no other. Verify does not appraise the measurements or the TCB status; it
// reports them (Result.TDX, Result.TCBStatus) for the caller's policy.
//
// # The checks, in order
//
// Parse (ParseToken, ParseClaims): the token must be at most
// Options.MaxTokenBytes, a compact JWS (three unpadded base64url segments),
// with a header and payload that are single JSON objects in valid UTF-8 and
// without duplicate member names at any depth (two JSON readers must never
// disagree about what a signed token says). Claims the checks read must
// have the types the MAA profile gives them; hex measurements their exact
// lengths.
//
// Header: crit and b64 are refused (no extension is understood), typ must
// be absent or JWT, and alg must be RS256, PS256 or ES256 (Policy may
// narrow the list). This happens before any key is looked up, so "none",
// HS256 (including the classic HS256-with-the-RSA-public-key-as-secret
// confusion) and every other algorithm are refused without a key ever being
// touched.
//
// Key: the KeySource gives the trusted keys whose kid equals the header's
// kid exactly (MAA kids are opaque strings, not thumbprints), for the
// policy's pinned issuer. The header's jku, x5u, x5c and jwk are never
// used. A KeySet is a fixed JWKS (JWKSFile, offline); a Fetcher fetches
// {issuer}/certs over HTTPS, caches it (memory, optionally disk) for a
// TTL, refetches at most once, spaced, for an unknown kid, and never
// fetches any other URL. Keys must be RSA of at least 2048 bits or ECDSA
// P-256, and of the type the alg needs. No key with that kid means
// ErrUnknownKey: the token could not be checked, which is not the same as
// a bad token (see Indeterminate).
//
// Signature: jwx's jws.Verify with the key and the allowed alg. The payload
// jwx verified must be byte-for-byte the one parsed.
//
// Policy: iss equal to Policy.Issuer; exp and iat present; exp, nbf and
// iat within Policy.MaxClockSkew of Options.At; iat not older than
// Policy.MaxAge when set; x-ms-attestation-type in Policy.AttestationTypes
// (default ["tdxvm"]); user-data and nonce equal to the expected values
// when given. Every policy mismatch is reported at once in a PolicyError.
//
// # Where user-data is
//
// The runtime data given to Attest Tdx Vm with dataType JSON is echoed as
// the x-ms-runtime claim. On an Azure TDX CVM that data is the HCL runtime
// JSON (read from vTPM NV index 0x01400001: {"keys": [HCLAkPub, HCLEkPub],
// "vm-configuration": {...}, "user-data": "<128 hex>"}, the user-data being
// the 64 bytes the guest wrote to NV index 0x01400002); the poc prover
// elsewhere sends {"user-data": "<128 hex>"}. Either way the path checked
// for a tdxvm token is x-ms-runtime.user-data. Azure CVM guest-attestation
// tokens (azurevm) carry the same HCL JSON one level down, at
// x-ms-isolation-tee.x-ms-runtime.user-data (a real token in testdata has
// it, 64 zero bytes). Result.UserData.Path names the path used. The nonce
// given to the attest call is the top-level "nonce" claim.
package maa
