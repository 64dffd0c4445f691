// Package hcl parses the attestation report of an Azure confidential VM's
// paravisor (the "HCL report", Host Compatibility Layer), the bridge between
// a TDX (or SEV-SNP) hardware report and the VM's virtual TPM.
//
// # Why it exists
//
// On an Azure TDX confidential VM the guest does not own the TD: a
// paravisor (OpenHCL) runs beside it, and only the paravisor can ask the TDX
// module for a TD report. The guest therefore cannot put its own 64 bytes
// into REPORTDATA. Instead:
//
//  1. the guest writes 64 bytes to vTPM NV index 0x01400002;
//  2. the paravisor builds a JSON document, the runtime data (also called
//     runtime claims or variable data), holding the vTPM's attestation key
//     (HCLAkPub), its endorsement key (HCLEkPub), the VM configuration and
//     those 64 bytes as hex `user-data`;
//  3. it asks the TDX module for a TDREPORT whose REPORTDATA[0:32] is
//     SHA-256 of exactly those JSON bytes, and publishes TDREPORT and JSON
//     together, framed as below, at vTPM NV index 0x01400001;
//  4. the guest sends the TDREPORT to the host's quoting enclave (Azure IMDS,
//     package imds) and gets back a TD quote signed under Intel's DCAP
//     chain.
//
// A verifier then walks the chain the other way: TD quote (Intel signature)
// → REPORTDATA[0:32] → SHA-256 of the runtime data → user-data = the proof
// digest, and HCLAkPub → a vTPM quote over the PCRs. This package only
// parses; the walk is package verifier/azure.
//
// # Layout
//
// All integers are little-endian.
//
//	0x000  header (32 bytes): "HCLA", version, report_size, request_type,
//	       status, 3 reserved words
//	0x020  hardware report (1184 bytes): for TDX the 1024-byte TDREPORT
//	       (REPORTMACSTRUCT, TEE_TCB_INFO, TDINFO) then zeros; for SNP
//	       the 1184-byte attestation report
//	0x4C0  request data header (20 bytes): data_size, version, report_type
//	       (2 = SNP, 4 = TDX), report_data_hash_type (1 = SHA-256),
//	       variable_data_size
//	0x4D4  request data version 2 only: a 4-byte capability bitmap
//	0x4D4  (or 0x4D8) variable data: the runtime JSON, variable_data_size bytes
//
// report_size counts header, hardware report and request data; the NV index
// is larger and the rest is padding, ignored here. The header and request
// data are not measured: nothing in them is trusted beyond locating the
// runtime data, whose hash the hardware report carries.
//
// # Trust
//
// Parse checks structure only: bounds, magic, known report and hash types,
// well-formed JSON with RSA JWKs and hex user-data. It trusts nothing: the
// TDREPORT's MAC can only be checked by the CPU that made it, so its fields
// mean something only once a verifier has matched them against a TD quote
// whose signature it checked.
package hcl
