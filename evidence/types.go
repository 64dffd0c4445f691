package evidence

import (
	"encoding/hex"
	"fmt"
)

// Version is the proof format this package reads and writes.
const Version = 1

// Hash is a SHA-256 value, written in JSON as 64 lower-case hex digits.
type Hash [32]byte

// MarshalText writes the hash as hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h[:])), nil }

// UnmarshalText reads exactly 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("want 64 hex digits, got %d characters", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// String returns the hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Proof is a proof of cloud: a body, the transcripts it commits to, and the
// attestation that binds the body to a TEE.
type Proof struct {
	Version     int         `json:"version"`
	Body        Body        `json:"body"`
	Sessions    []Session   `json:"sessions"`
	Attestation Attestation `json:"attestation"`
}

// Body is everything the TEE vouches for. ReportData(Body) is what the
// attestation binds.
type Body struct {
	Challenge Challenge `json:"challenge"`
	// TEE is the attestation source: "tdx", "azure-tdx" or "sim".
	TEE string `json:"tee"`
	// AppBinding is optional application data bound into the proof, at
	// most 64 bytes (e.g. SHA-256 of the workload's public key: a proof
	// bound to another key is refused, which defeats proxying).
	AppBinding []byte  `json:"app_binding"`
	Counter    Counter `json:"counter"`
	// CreatedUnixNano is the prover's wall clock when it assembled the
	// body; informative only (the challenge gives the trusted times).
	CreatedUnixNano int64   `json:"created_unix_nano"`
	Probes          []Probe `json:"probes"`
}

// Challenge is the verifier's challenge as the prover received it.
type Challenge struct {
	Nonce    Hash   `json:"nonce"`
	Verifier string `json:"verifier"`
	// IssuedUnix and ExpiresUnix are seconds since the Unix epoch.
	IssuedUnix  int64 `json:"issued_unix"`
	ExpiresUnix int64 `json:"expires_unix"`
	// Tag authenticates the challenge to the verifier that issued it
	// (opaque to the prover).
	Tag []byte `json:"tag"`
}

// Counter is the cycle counter the probes read and its frequency.
type Counter struct {
	// Kind names how the counter was read (timing.Kind).
	Kind string `json:"kind"`
	Hz   uint64 `json:"hz"`
	// Source says how Hz was obtained (timing.Source).
	Source string `json:"source"`
}

// Probe is the measurement of one endpoint.
type Probe struct {
	// Endpoint is the catalog name of the endpoint.
	Endpoint string `json:"endpoint"`
	Hostname string `json:"hostname"`
	Port     uint16 `json:"port"`
	// Method is "h2-ping" or "http1".
	Method string `json:"method"`
	// Nonce is ProbeNonce(challenge nonce, index of this probe).
	Nonce Hash   `json:"nonce"`
	Conns []Conn `json:"conns"`
}

// Conn is one TLS connection of a probe.
type Conn struct {
	Index    uint32 `json:"index"`
	EchoBase uint32 `json:"echo_base"`
	ALPN     string `json:"alpn"`
	// Address is the IP address and port the prover connected to.
	Address    string  `json:"address"`
	C2SHash    Hash    `json:"c2s_sha256"`
	S2CHash    Hash    `json:"s2c_sha256"`
	KeyLogHash Hash    `json:"keylog_sha256"`
	C2S        []Stamp `json:"c2s_stamps"`
	S2C        []Stamp `json:"s2c_stamps"`
	// HandshakeCycles and EchoCycles are the round trips the prover
	// claims; the verifier recomputes them from the stamps.
	HandshakeCycles uint64   `json:"handshake_cycles"`
	EchoCycles      []uint64 `json:"echo_cycles"`
}

// Stamp is a cycle timestamp of one system call on a connection (see
// transcript.Stamp): the offset in its direction's stream, the counter, and
// the kernel's time of the same call in Unix nanoseconds (0 when absent).
type Stamp struct {
	Offset   uint64 `json:"offset"`
	Cycles   uint64 `json:"cycles"`
	KernelNs int64  `json:"kernel_ns"`
}

// Session holds the transcript of one connection: Probe and Conn index
// Body.Probes[Probe].Conns[Conn].
type Session struct {
	Probe  uint32 `json:"probe"`
	Conn   uint32 `json:"conn"`
	C2S    []byte `json:"c2s"`
	S2C    []byte `json:"s2c"`
	KeyLog []byte `json:"keylog"`
}

// Attestation binds ReportData(Body) to a TEE.
type Attestation struct {
	// TEE repeats Body.TEE.
	TEE string `json:"tee"`
	// Quote is the TD quote (TDX v4), raw bytes.
	Quote []byte `json:"quote"`
	// Azure is the Azure confidential VM's own evidence.
	Azure *Azure `json:"azure,omitempty"`
	// MAAToken is a Microsoft Azure Attestation JWT, when obtained.
	MAAToken string `json:"maa_token,omitempty"`
}

// Azure is the evidence of an Azure TDX confidential VM: the HCL report
// whose runtime data carries ReportData(Body) as user-data and hashes to the
// quote's REPORTDATA[0:32], and optionally a vTPM quote by the AK whose
// public key the runtime data names.
type Azure struct {
	HCLReport []byte    `json:"hcl_report"`
	TPMQuote  *TPMQuote `json:"tpm_quote,omitempty"`
	// AKCert is the vTPM AK certificate (NV index 0x01C101D0), DER.
	AKCert []byte `json:"ak_cert,omitempty"`
}

// TPMQuote is a TPM2_Quote by the vTPM's AK.
type TPMQuote struct {
	// Attest is the TPMS_ATTEST structure as signed.
	Attest    []byte `json:"attest"`
	Signature []byte `json:"signature"`
	// PCRs are the SHA-256 values of the quoted PCRs, in selection order.
	PCRs    [][]byte `json:"pcrs"`
	Indices []uint32 `json:"pcr_indices"`
	// Nonce is the extraData the quote carries: the first 32 bytes of
	// ReportData(Body).
	Nonce []byte `json:"nonce"`
}
