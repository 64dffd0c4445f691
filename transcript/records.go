package transcript

import (
	"encoding/binary"
	"fmt"
)

// TLS content types (RFC 8446 §5.1).
const (
	typeChangeCipherSpec uint8 = 20
	typeAlert            uint8 = 21
	typeHandshake        uint8 = 22
	typeApplicationData  uint8 = 23
)

const (
	recordHeaderLen = 5
	// maxPlaintext is the largest TLSPlaintext / TLSInnerPlaintext content.
	maxPlaintext = 1 << 14
	// maxCiphertext is the largest TLSCiphertext fragment (RFC 8446 §5.2).
	maxCiphertext = maxPlaintext + 256
)

// String returns "c2s" or "s2c".
func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "c2s"
	case ServerToClient:
		return "s2c"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

func contentTypeName(t uint8) string {
	switch t {
	case typeChangeCipherSpec:
		return "change_cipher_spec"
	case typeAlert:
		return "alert"
	case typeHandshake:
		return "handshake"
	case typeApplicationData:
		return "application_data"
	}
	return fmt.Sprintf("content type %d", t)
}

// splitRecords cuts one direction's byte stream into TLS records. It checks
// only what the record layer itself promises: a known content type, a legacy
// version of 0x0301 or 0x0303, a non-empty fragment no longer than a TLS 1.3
// ciphertext may be, and a ChangeCipherSpec of exactly the byte 0x01. A stream
// that ends inside a record is truncated.
func splitRecords(stream []byte, dir Direction) ([]Record, error) {
	var recs []Record
	off := 0
	for off < len(stream) {
		rest := len(stream) - off
		if rest < recordHeaderLen {
			return recs, errf(ErrTruncated, "%s: %d bytes at offset %d are a partial record header", dir, rest, off)
		}
		h := stream[off : off+recordHeaderLen]
		typ := h[0]
		vers := binary.BigEndian.Uint16(h[1:3])
		n := int(binary.BigEndian.Uint16(h[3:5]))
		idx := len(recs)
		switch typ {
		case typeChangeCipherSpec, typeAlert, typeHandshake, typeApplicationData:
		default:
			return recs, errf(ErrRecordFraming, "%s record %d at offset %d: content type %d is not one of 20, 21, 22, 23", dir, idx, off, typ)
		}
		if vers != 0x0301 && vers != 0x0303 {
			return recs, errf(ErrRecordFraming, "%s record %d at offset %d: legacy version %#04x, want 0x0301 or 0x0303", dir, idx, off, vers)
		}
		if n == 0 {
			return recs, errf(ErrRecordFraming, "%s record %d at offset %d: empty %s record", dir, idx, off, contentTypeName(typ))
		}
		if n > maxCiphertext {
			return recs, errf(ErrRecordFraming, "%s record %d at offset %d: length %d exceeds 2^14+256", dir, idx, off, n)
		}
		if rest-recordHeaderLen < n {
			return recs, errf(ErrTruncated, "%s record %d at offset %d: header says %d bytes, stream has %d", dir, idx, off, n, rest-recordHeaderLen)
		}
		if typ == typeChangeCipherSpec && (n != 1 || stream[off+recordHeaderLen] != 1) {
			return recs, errf(ErrRecordFraming, "%s record %d at offset %d: change_cipher_spec must be the single byte 0x01 (got %d bytes, first %#02x)", dir, idx, off, n, stream[off+recordHeaderLen])
		}
		inner := uint8(0)
		if typ != typeApplicationData {
			inner = typ
		}
		recs = append(recs, Record{Dir: dir, Offset: int64(off), Length: recordHeaderLen + n, Type: typ, Inner: inner})
		off += recordHeaderLen + n
	}
	return recs, nil
}
