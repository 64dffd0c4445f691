package evidence

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
)

// reportDataLabel separates the report-data hash from every other use of
// SHA-512 over the same bytes.
const reportDataLabel = "poc/v1 report data\x00"

// ReportDataSize is the size of TDX REPORTDATA.
const ReportDataSize = 64

// ReportData returns the 64 bytes that bind a proof body to a TEE:
// SHA-512("poc/v1 report data" ‖ 0x00 ‖ Encode(b)). It refuses a body that
// does not validate, so no attestation can ever bind an unencodable body.
func ReportData(b *Body) ([ReportDataSize]byte, error) {
	enc, err := Encode(b)
	if err != nil {
		return [ReportDataSize]byte{}, err
	}
	h := sha512.New()
	h.Write([]byte(reportDataLabel))
	h.Write(enc)
	var out [ReportDataSize]byte
	h.Sum(out[:0])
	return out, nil
}

// Encode returns the canonical encoding of a body (docs/proof-format.md):
// fields in a fixed order, integers big-endian, byte strings and UTF-8
// strings prefixed by a 32-bit length, lists by a 32-bit count. Two bodies
// encode the same if and only if every field is equal (nil and empty byte
// strings and lists are equal).
func Encode(b *Body) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	e := &encoder{}
	e.u16(Version)
	c := &b.Challenge
	e.fixed(c.Nonce[:])
	e.str(c.Verifier)
	e.i64(c.IssuedUnix)
	e.i64(c.ExpiresUnix)
	e.bytes(c.Tag)
	e.str(b.TEE)
	e.bytes(b.AppBinding)
	e.str(b.Counter.Kind)
	e.u64(b.Counter.Hz)
	e.str(b.Counter.Source)
	e.i64(b.CreatedUnixNano)
	e.u32(uint32(len(b.Probes)))
	for i := range b.Probes {
		p := &b.Probes[i]
		e.str(p.Endpoint)
		e.str(p.Hostname)
		e.u16(p.Port)
		e.str(p.Method)
		e.fixed(p.Nonce[:])
		e.u32(uint32(len(p.Conns)))
		for j := range p.Conns {
			cn := &p.Conns[j]
			e.u32(cn.Index)
			e.u32(cn.EchoBase)
			e.str(cn.ALPN)
			e.str(cn.Address)
			e.fixed(cn.C2SHash[:])
			e.fixed(cn.S2CHash[:])
			e.fixed(cn.KeyLogHash[:])
			e.stamps(cn.C2S)
			e.stamps(cn.S2C)
			e.u64(cn.HandshakeCycles)
			e.u32(uint32(len(cn.EchoCycles)))
			for _, v := range cn.EchoCycles {
				e.u64(v)
			}
		}
	}
	return e.b, nil
}

type encoder struct{ b []byte }

func (e *encoder) u16(v uint16)   { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)    { e.u64(uint64(v)) }
func (e *encoder) fixed(b []byte) { e.b = append(e.b, b...) }
func (e *encoder) bytes(b []byte) { e.u32(uint32(len(b))); e.b = append(e.b, b...) }
func (e *encoder) str(s string)   { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *encoder) stamps(s []Stamp) {
	e.u32(uint32(len(s)))
	for _, st := range s {
		e.u64(st.Offset)
		e.u64(st.Cycles)
		e.i64(st.KernelNs)
	}
}

// ErrBody is wrapped by every body validation error.
var ErrBody = errors.New("invalid proof body")

func bodyErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBody, fmt.Sprintf(format, a...))
}
