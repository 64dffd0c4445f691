package evidence

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// ProbeNonce returns the nonce of the index-th probe of a proof:
// HMAC-SHA256(challenge nonce, "poc/v1 probe" ‖ uint32be(index)). Every
// value a probe derives (ClientHello randoms, PING payloads, HTTP/1.1
// tokens; see package transcript) comes from it, so each endpoint's
// transcripts are tied to this challenge and to their place in the proof.
func ProbeNonce(challenge Hash, index uint32) Hash {
	m := hmac.New(sha256.New, challenge[:])
	m.Write([]byte("poc/v1 probe"))
	var idx [4]byte
	binary.BigEndian.PutUint32(idx[:], index)
	m.Write(idx[:])
	var out Hash
	m.Sum(out[:0])
	return out
}
