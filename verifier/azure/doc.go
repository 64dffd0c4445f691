// Package azure verifies the evidence of an Azure TDX confidential VM: the
// paravisor's HCL report, the TD quote made from it, and optionally a vTPM
// quote and the vTPM attestation key's certificate.
//
// # The chain of trust
//
// An Azure confidential VM cannot write its own REPORTDATA: a paravisor
// owns the TD, and the guest reaches it only through a virtual TPM. The
// proof digest therefore travels a longer path, and this package walks it
// link by link, from the hardware down:
//
//  1. TD quote. Intel's DCAP chain signs the TD quote body (MRTD, RTMRs,
//     attributes, REPORTDATA). This package does NOT check that signature:
//     package verifier/dcap does. Every other link hangs from it, so a
//     Result is only worth anything once the caller has verified the same
//     quote bytes (Result.TDQuote) there; Result.NotChecked always says so.
//  2. REPORTDATA → runtime data. REPORTDATA[0:32] of the quote must be
//     SHA-256 of the HCL report's runtime data, byte for byte as the
//     paravisor wrote them (StepRuntimeData). The same must hold for the
//     TDREPORT inside the HCL report.
//  3. Same TD. The TDREPORT inside the HCL report and the quote's body must
//     agree on every field they share: MRTD, RTMRs, TD attributes, XFAM,
//     MRCONFIGID, MROWNER, MROWNERCONFIG, MRSEAM, the SEAM's signer,
//     attributes and TCB SVN, and REPORTDATA (StepTDMatch). A quote fetched
//     for another TD fails here even if someone made its REPORTDATA fit.
//  4. Runtime data → user-data. The runtime JSON carries, hex-encoded, the
//     64 bytes the guest wrote to vTPM NV index 0x01400002. They must equal
//     the proof digest the verifier recomputed (StepUserData). That is the
//     binding of the proof of cloud on Azure.
//  5. Runtime data → HCLAkPub → TPM quote. The runtime JSON also names the
//     vTPM's attestation key. A TPM2_Quote verifies under it
//     (RSASSA-PKCS1-v1_5 with SHA-256, the scheme of Azure's AK): magic
//     TPM_GENERATED_VALUE, type quote, extraData = the expected nonce, and
//     a PCR digest equal to SHA-256 of the PCR values given, in selection
//     order (VerifyTPMQuote). The PCRs then describe the guest's boot.
//  6. AK certificate → Microsoft. The vTPM's AK certificate (NV index
//     0x01C101D0) chains to Microsoft's "Azure Virtual TPM Root Certificate
//     Authority" and must certify HCLAkPub (VerifyAKCert). No Microsoft root
//     ships with this package: the caller configures the roots. This is a
//     second root of trust beside Intel's, which matters against stolen
//     attestation keys.
//
// # Shape
//
// Parsing lives in internal packages (hcl, tpmquote) and in ParseTDQuote;
// each check above is a function of its own with its own error; Verify runs
// them in order and stops at the first failure; Policy says which optional
// links must be present and which VM configuration and PCR values are
// acceptable, and reports every mismatch at once. Verify never reads a
// policy, and a Policy never re-verifies anything.
//
// Errors wrap one sentinel per check (ErrRuntimeDataHash, ErrTDMismatch,
// ErrUserData, ErrTPMQuoteSignature, ErrTPMNonce, ErrPCRDigest,
// ErrAKCert, ErrAKMismatch, …), matchable with errors.Is, and Verify wraps
// each in a *CheckError naming the check, for errors.As.
//
// # What this package does not do
//
// It does not verify the TD quote's signature or TCB status (verifier/dcap),
// judge MRTD or RTMR values (policy of the caller), verify SEV-SNP reports
// (an SNP HCL report is refused), or check that the TPM quote's
// qualifiedSigner is the AK's name: the runtime data gives the AK's modulus
// and exponent, not its full TPMT_PUBLIC, so the signature is what binds
// the quote to the AK.
package azure
