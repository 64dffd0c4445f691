// Package dcap verifies Intel TDX quotes with Intel's DCAP collateral and
// computes Intel's TCB status for them, so that a verifier can tell what
// runs in a trust domain (MRTD, RTMRs), what it said (REPORTDATA), and
// whether the platform under it is patched.
//
// # Use
//
//	raw, err := dcap.DecodeQuoteFile(fileBytes)          // raw, hex or base64
//	res, err := dcap.Verify(ctx, raw, dcap.Options{
//		Collateral: &dcap.PCS{CacheDir: dir},          // or dcap.Bundle{Fixed: c}
//	})
//	if err != nil { … }                                // *StageError; ErrCouldNotCheck = retry
//	err = policy.Check(res)                            // every mismatch, joined
//
// Parsing (ParseQuote), verification (Verify) and validation
// (Policy.Check) are separate. Verify returns a Result only when every
// cryptographic and collateral check passed; the Result reports Intel's TCB
// status whatever it is, and the Policy decides whether that status and the
// measurements are acceptable. The zero Policy accepts only UpToDate,
// non-debug TDs.
//
// # The chain of trust, step by step
//
// The only key trusted a priori is the Intel SGX Root CA (embedded;
// Options.Roots replaces it, for instance with a simulated root in tests).
//
//  1. Parse. The quote must be a version 4 TDX quote (TEE type 0x81) with
//     an ECDSA P-256 attestation key, at most MaxQuoteSize bytes, with its
//     certification data holding a QE report and a PEM PCK certificate
//     chain. Trailing bytes are accepted only as zero padding.
//  2. PCK chain. The PCK leaf certificate ("Intel SGX PCK Certificate")
//     must be signed by the PCK Platform CA, which must be signed by a
//     trust anchor, all valid at the verification time. The quote must
//     name that anchor as its root. The leaf's SGX extension certifies the
//     platform: its FMSPC, PCE ID, and the SVNs of its TCB components.
//  3. QE report. The quoting enclave's report is signed by the PCK key, so
//     the QE ran on the certified platform; its REPORTDATA must be
//     SHA-256(attestation key ‖ QE authentication data), so the attestation
//     key is the QE's.
//  4. Quote signature. The attestation key signs the header and the TD
//     body: MRTD, RTMR0-3, REPORTDATA, TD_ATTRIBUTES, TEE_TCB_SVN, MRSEAM…
//     Steps 2-4 are go-tdx-guest's offline verification (verify.TdxQuote
//     without collateral, trust anchors always set).
//  5. Collateral. From a Source (a fixed Bundle, or Intel PCS with a
//     cache): the TDX TCB info for the leaf's FMSPC and the TD QE identity,
//     each signed over its exact JSON text by "Intel SGX TCB Signing"; the
//     PCK CRL signed by the PCK CA; the root CA CRL signed by the root.
//     Every issuer chain must end at the same anchor as the quote. Every
//     piece and certificate must be valid at the verification time, both
//     ways: issued after it is "not yet valid", past nextUpdate is
//     "expired". The TCB info must be TDX TCB info v3 for the leaf's
//     FMSPC and PCE ID; the QE identity must be TD_QE version 2.
//     Signature checks are cached in the Collateral per anchor set, so a
//     reused collateral (a Bundle, or the PCS source's memory cache) costs
//     no signature checks after the first quote; validity windows are
//     checked every time.
//  6. Revocation. The PCK CA must not be on the root CA CRL, the PCK leaf
//     not on the PCK CRL, and no collateral signer on the root CA CRL.
//  7. TCB status, as Intel's Quote Verification Library computes it (see
//     TCBEvaluation): the TDX module's signer and attributes must be those
//     the TCB info lists for its version; the QE report must match the QE
//     identity; the first TCB level not above the PCK certificate's SGX
//     SVNs, PCESVN and the quote's TEE_TCB_SVN gives the platform status;
//     for TDX modules of major version 1 or later, the module identity's
//     level adds the module's status; the QE identity level adds the QE's;
//     they combine into UpToDate, SWHardeningNeeded, ConfigurationNeeded,
//     ConfigurationAndSWHardeningNeeded, OutOfDate,
//     OutOfDateConfigurationNeeded or Revoked, with the advisory IDs of
//     the matched levels.
//  8. Policy (Policy.Check): accepted TCB statuses, debug TDs, SEPT_VE_DISABLE,
//     minimum TCB evaluation data number, allow-lists of measurements.
//
// Cryptographic checks stop at the first failure; Policy.Check reports
// every mismatch.
//
// # Errors
//
// Verify's errors are *StageError values naming the stage ("parse",
// "pck_chain", "quote_signature", "qe_report", "collateral", "revocation",
// "tcb") and wrapping a sentinel (ErrMalformedQuote, ErrUnsupportedVersion,
// ErrCollateralExpired, ErrFMSPCMismatch, ErrRevoked, ErrTCBLevelNotFound,
// …). ErrCouldNotCheck means the check could not be made (no collateral
// source, network outage, cancelled context): it is not a verdict on the
// quote.
//
// # Cost
//
// With warm collateral a verification costs about what go-tdx-guest's bare
// offline check of the same quote costs (1.1-1.2× in CPU time, see
// BenchmarkVerifyRatio): its seven ECDSA verifications dominate. Parsed CA
// certificates of PCK chains are cached by their DER bytes; the PCK leaf's
// SGX extension is read with cryptobyte rather than go-tdx-guest's
// reflection-based reader, which cost more than the rest of parsing.
//
// # Limits
//
// Only version 4 quotes: go-tdx-guest parses nothing else, and v5 (TD 1.5,
// MRSERVICETD, TD relaunch rules) is refused with ErrUnsupportedVersion.
// go-tdx-guest accepts only PCK chains through the Platform CA. SGX quotes
// are refused. The TCB level order is the collateral's (Intel publishes
// levels in descending order); it is not re-sorted.
package dcap
