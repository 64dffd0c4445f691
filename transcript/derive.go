package transcript

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Labels that separate the values derived from one probe nonce. They are part
// of protocol v1: changing one changes every derived value, so they are
// constants, never configuration.
const (
	labelClientRandom = "poc/v1 client random"
	labelPing         = "poc/v1 h2 ping"
	labelHTTP1        = "poc/v1 http1 echo"
)

// EchoHeader is the HTTP/1.1 request header that carries the nonce-derived
// token of an http1 echo.
const EchoHeader = "Poc-Echo"

func derive(nonce [32]byte, label string, index uint32) [sha256.Size]byte {
	m := hmac.New(sha256.New, nonce[:])
	m.Write([]byte(label))
	var idx [4]byte
	binary.BigEndian.PutUint32(idx[:], index)
	m.Write(idx[:])
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// ClientRandom returns the ClientHello random of the conn-th connection of a
// probe: HMAC-SHA256(nonce, "poc/v1 client random" ‖ uint32be(conn)). Because
// the server's CertificateVerify signs a transcript that contains this value,
// the signature itself proves the handshake happened after the nonce existed.
func ClientRandom(nonce [32]byte, conn uint32) [32]byte {
	return derive(nonce, labelClientRandom, conn)
}

// PingPayload returns the 8-byte HTTP/2 PING payload of the echo-th echo of a
// probe (counted across all its connections): the first 8 bytes of
// HMAC-SHA256(nonce, "poc/v1 h2 ping" ‖ uint32be(echo)).
func PingPayload(nonce [32]byte, echo uint32) [8]byte {
	d := derive(nonce, labelPing, echo)
	var p [8]byte
	copy(p[:], d[:8])
	return p
}

// HTTP1Token returns the value of the EchoHeader of the echo-th http1 echo of
// a probe: the lower-case hex of the first 16 bytes of
// HMAC-SHA256(nonce, "poc/v1 http1 echo" ‖ uint32be(echo)).
func HTTP1Token(nonce [32]byte, echo uint32) string {
	d := derive(nonce, labelHTTP1, echo)
	return hex.EncodeToString(d[:16])
}
