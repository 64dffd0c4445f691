// Package simtee is a simulated TEE: a local Intel DCAP hierarchy that
// signs TDX quotes in Intel's real format, so that the whole proof-of-cloud
// pipeline — prover, verifier, CLI, lab — runs and is tested on machines
// without TDX hardware.
//
// # What is simulated
//
// A real TDX quote is trusted because of a chain that ends in Intel:
//
//  1. the TD's report (measurements, TEE_TCB_SVN, REPORTDATA) and the quote
//     header are signed by the quoting enclave's attestation key;
//  2. the quoting enclave's own report (QE report) binds that key: its
//     report data is SHA-256(attestation key ‖ QE authentication data);
//  3. the QE report is signed by the platform's PCK key, whose certificate
//     ("Intel SGX PCK Certificate") carries the platform's FMSPC, PCEID and
//     TCB SVNs in the SGX extension (OID 1.2.840.113741.1.13.1);
//  4. the PCK certificate is issued by "Intel SGX PCK Platform CA", issued
//     by "Intel SGX Root CA";
//  5. collateral from Intel PCS says what the platform's TCB is worth: a TCB
//     info (per FMSPC) and a QE identity, signed by "Intel SGX TCB Signing"
//     (issued by the root), and CRLs of the root and the platform CA.
//
// This package makes every one of those pieces itself. Init generates five
// P-256 keys and the four certificates with exactly the subject common
// names, extensions and profile Intel uses (go-tdx-guest checks the names,
// X.509 v3, ECDSA P-256 with SHA-256, issuer = parent subject, and exactly
// six extensions on the PCK certificate); it issues a TDX TCB info
// (version 3) and a TD_QE identity (version 2) in the JSON of Intel PCS v4,
// signed over their exact bytes as Intel signs them, and both CRLs. Quote
// then signs quotes as Intel's quoting enclave does, serialised with
// go-tdx-guest's abi package. Nothing is faked downstream: go-tdx-guest's
// real verify.TdxQuote checks a simulated quote exactly as it checks one
// from hardware, and so should any DCAP verifier.
//
// # Why a verifier must refuse it by default
//
// The simulated "Intel SGX Root CA" is a fresh self-signed key on the
// machine that ran Init. Whoever holds root.key (or simply runs Init) can
// sign any quote, with any measurements and any REPORTDATA: a simulated
// quote proves nothing about hardware, location or code. The names in the
// certificates are Intel's only because verifiers look for them; the
// organisation reads "poc simulated TEE (NOT Intel)", and sim.json says the
// same in words. So the one and only difference between a simulated quote
// and a genuine one is the root, and the only thing that keeps the
// simulator out of production is that verifiers trust Intel's root and
// nothing else unless told otherwise. A verifier accepts simulated quotes
// only when the simulated root is given to it explicitly (Sim.RootPool, or
// root.pem through a dangerous, clearly named option); the tests here show
// that go-tdx-guest refuses them under Intel's real root. With go-tdx-guest
// never leave verify.Options.TrustedRoots nil: it then trusts Intel's
// embedded root and prints a warning to stdout.
//
// # The directory Init writes
//
//	sim.json          manifest (see Manifest): version, FMSPC, PCEID, SVNs, QE values,
//	                  validity windows, TCB status, revocation, file names
//	root.pem          the simulated root certificate: what a verifier must be told to trust
//	platform-ca.pem   "Intel SGX PCK Platform CA"
//	pck.pem           "Intel SGX PCK Certificate" with the SGX extension
//	pck-chain.pem     PCK ‖ platform CA ‖ root, as embedded in quotes
//	tcb-signing.pem   "Intel SGX TCB Signing"
//	*.key             PKCS #8 PEM private keys (root, platform CA, PCK, TCB signing,
//	                  attestation), mode 0600
//	collateral.json   the collateral in dcap-qvl's QuoteCollateralV3 JSON form
//	                  (issuer chains PEM, CRLs hex DER, tcb_info and qe_identity as
//	                  the exact signed strings, signatures hex r‖s), the form the
//	                  project's verifier reads Intel collateral in
//	tcb-info.json     the TCB info as Intel PCS returns it: {"tcbInfo":…,"signature":…}
//	qe-identity.json  the QE identity as PCS returns it: {"enclaveIdentity":…,"signature":…}
//	pck-crl.der       PCK CRL (issuer: platform CA)
//	root-crl.der      root CA CRL (issuer: root)
//
// collateral.json is what Load reads and checks; the PCS-format files are
// the same bytes for tools that want Intel's response format. The directory
// is created with mode 0700. Init never writes into a non-empty directory
// unless told to overwrite, and even then only over an earlier simulated
// TEE; every file is replaced atomically and sim.json is written last. The
// package never logs or prints anything, secrets included.
//
// # The simulated platform
//
// FMSPC is DefaultFMSPC (00906ED50000, an SGX-only platform's, so never a
// real TDX platform's) unless InitOptions.FMSPC says otherwise; PCEID, PPID, platform instance ID and QE ID are random. The 16
// SGX TCB component SVNs (also the CPUSVN) are 02 02 02 02 03 01 00 05 00…,
// PCESVN 11, TEE_TCB_SVN 05 01 02 00… (TDX module SVN 5, module major
// version 1, so the TDX_01 module identity applies). The QE is ISVPRODID 2
// (the TD QE's), ISVSVN 4, with MRSIGNER and MRENCLAVE that are SHA-256 of
// fixed labels, not Intel's. The collateral is issued around these values:
// by default the platform's level is UpToDate (with an older OutOfDate
// level below it); InitOptions.TCBOutOfDate puts a newer UpToDate level
// above it so that the default quote is OutOfDate, and
// InitOptions.RevokePCK lists the PCK certificate in the PCK CRL — both
// for negative tests elsewhere.
//
// # Collateral over the network path
//
// Sim.Getter replays the collateral as Intel PCS v4 serves it (bodies,
// percent-encoded issuer-chain headers) at Intel's URLs, so go-tdx-guest's
// own collateral path (GetCollateral, CheckRevocations) runs offline
// against simulated quotes. The CRL distribution points in the
// certificates are Intel's URLs too; fetched from the real network they
// would return Intel's CRLs, which do not verify under the simulated root,
// so a verifier that goes online fails closed.
package simtee
