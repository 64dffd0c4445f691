package transcript

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"encoding/binary"
	"hash"

	_ "crypto/sha256" // register SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // register SHA-384 for crypto.Hash.New

	"golang.org/x/crypto/chacha20poly1305"
)

// TLS 1.3 cipher suites this package checks (RFC 8446 §B.4). They are the
// three that Go's crypto/tls implements.
const (
	suiteAES128GCMSHA256        uint16 = 0x1301
	suiteAES256GCMSHA384        uint16 = 0x1302
	suiteCHACHA20POLY1305SHA256 uint16 = 0x1303
)

type suite struct {
	id     uint16
	name   string
	hash   crypto.Hash
	keyLen int
	aead   func(key []byte) (cipher.AEAD, error)
}

func aesGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var suites = []*suite{
	{suiteAES128GCMSHA256, "TLS_AES_128_GCM_SHA256", crypto.SHA256, 16, aesGCM},
	{suiteAES256GCMSHA384, "TLS_AES_256_GCM_SHA384", crypto.SHA384, 32, aesGCM},
	{suiteCHACHA20POLY1305SHA256, "TLS_CHACHA20_POLY1305_SHA256", crypto.SHA256, chacha20poly1305.KeySize, chacha20poly1305.New},
}

func suiteByID(id uint16) *suite {
	for _, s := range suites {
		if s.id == id {
			return s
		}
	}
	return nil
}

// expandLabel is HKDF-Expand-Label (RFC 8446 §7.1).
func expandLabel(h crypto.Hash, secret []byte, label string, context []byte, length int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full)+len(context))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	// Expand fails only for length > 255 × hash size; callers ask for at
	// most one hash size.
	out, _ := hkdf.Expand(h.New, secret, string(info), length)
	return out
}

// finishedMAC computes a Finished verify_data (RFC 8446 §4.4.4) from a
// handshake traffic secret and the transcript hash.
func finishedMAC(h crypto.Hash, trafficSecret, transcriptHash []byte) []byte {
	key := expandLabel(h, trafficSecret, "finished", nil, h.Size())
	m := hmac.New(h.New, key)
	m.Write(transcriptHash)
	return m.Sum(nil)
}

// nextSecret is the KeyUpdate step application_traffic_secret_N+1
// (RFC 8446 §7.2).
func nextSecret(h crypto.Hash, secret []byte) []byte {
	return expandLabel(h, secret, "traffic upd", nil, h.Size())
}

// recordKey decrypts the records of one direction under one traffic secret.
// Sequence numbers start at zero for every key (RFC 8446 §5.3).
type recordKey struct {
	aead cipher.AEAD
	iv   [12]byte
	seq  uint64
}

func newRecordKey(s *suite, secret []byte) (*recordKey, error) {
	key := expandLabel(s.hash, secret, "key", nil, s.keyLen)
	iv := expandLabel(s.hash, secret, "iv", nil, 12)
	a, err := s.aead(key)
	if err != nil {
		return nil, err
	}
	k := &recordKey{aead: a}
	copy(k.iv[:], iv)
	return k, nil
}

// open decrypts one TLSCiphertext record (header included) and returns the
// inner content and content type, with the zero padding removed. ok is false
// if the AEAD rejects the record; a record whose plaintext is all padding has
// type 0.
func (k *recordKey) open(record []byte) (content []byte, typ uint8, ok bool) {
	var nonce [12]byte
	copy(nonce[:], k.iv[:])
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], k.seq)
	for i := range seq {
		nonce[4+i] ^= seq[i]
	}
	k.seq++
	if len(record) < recordHeaderLen+k.aead.Overhead() {
		return nil, 0, false
	}
	pt, err := k.aead.Open(nil, nonce[:], record[recordHeaderLen:], record[:recordHeaderLen])
	if err != nil {
		return nil, 0, false
	}
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, true
	}
	return pt[:i], pt[i], true
}

// transcriptHash hashes handshake messages (headers included) in order.
func transcriptHash(h crypto.Hash, msgs ...[]byte) []byte {
	var d hash.Hash = h.New()
	for _, m := range msgs {
		d.Write(m)
	}
	return d.Sum(nil)
}
