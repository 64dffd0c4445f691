package pqguard

import (
	"errors"
	"fmt"
)

// Thrift compact protocol type codes (the low nibble of a field header).
const (
	tStop   = 0
	tTrue   = 1
	tFalse  = 2
	tByte   = 3
	tI16    = 4
	tI32    = 5
	tI64    = 6
	tDouble = 7
	tBinary = 8
	tList   = 9
	tSet    = 10
	tMap    = 11
	tStruct = 12
)

// What a decoder allocates per value, at most, charged against the budget.
// structCost is above the size of every struct of parquet-go's format
// package (the largest, ColumnChunk, is 560 bytes in v0.32.0; a test checks).
const (
	structCost = 640
	binaryCost = 24
	listCost   = 24
	mapCost    = 48
	primCost   = 8
	maxDepth   = 32
)

// errTruncated is returned when the struct runs past the end of the bytes
// given; a caller that read a window of a longer input may retry with more.
var errTruncated = errors.New("truncated")

// scanner checks one Thrift compact-protocol struct without allocating:
// every length and element count is checked against the bytes left before
// a decoder could trust it, nesting is bounded, and what a decoder would
// allocate is charged against a budget. parquet-go's Thrift decoder
// allocates whatever a length or count claims (up to 2^31) before reading,
// so no untrusted Thrift reaches it unchecked.
type scanner struct {
	b      []byte
	off    int
	budget int64
	depth  int
}

// scanStruct checks the struct at the start of b and returns its length.
func scanStruct(b []byte, budget int64) (int, error) {
	s := scanner{b: b, budget: budget}
	if err := s.value(tStruct); err != nil {
		return 0, err
	}
	return s.off, nil
}

func (s *scanner) charge(n int64) error {
	s.budget -= n
	if s.budget < 0 {
		return fmt.Errorf("%w: decoding would allocate too much", ErrLimit)
	}
	return nil
}

func (s *scanner) left() int { return len(s.b) - s.off }

func (s *scanner) byte() (byte, error) {
	if s.off >= len(s.b) {
		return 0, errTruncated
	}
	c := s.b[s.off]
	s.off++
	return c, nil
}

func (s *scanner) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		c, err := s.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i == 9 && c > 1 {
				break
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint overflows 64 bits at byte %d", ErrMalformed, s.off)
}

// count reads a length or an element count and checks it against the
// bytes left, each element taking at least one byte.
func (s *scanner) count(what string) (int, error) {
	n, err := s.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(s.left()) {
		if n <= 1<<31 {
			// Possibly a window cut short: the caller may retry with more.
			return 0, fmt.Errorf("%w: %s of %d with %d bytes left", errTruncated, what, n, s.left())
		}
		return 0, fmt.Errorf("%w: %s of %d", ErrMalformed, what, n)
	}
	return int(n), nil
}

func (s *scanner) skip(n int) error {
	if n > s.left() {
		return errTruncated
	}
	s.off += n
	return nil
}

func (s *scanner) value(t byte) error {
	switch t {
	case tTrue, tFalse:
		// A bool field carries its value in its type; in a list it is one
		// byte, which the list's loop skips.
		return s.charge(primCost)
	case tByte:
		if err := s.skip(1); err != nil {
			return err
		}
		return s.charge(primCost)
	case tI16, tI32, tI64:
		if _, err := s.uvarint(); err != nil {
			return err
		}
		return s.charge(primCost)
	case tDouble:
		if err := s.skip(8); err != nil {
			return err
		}
		return s.charge(primCost)
	case tBinary:
		n, err := s.count("binary field")
		if err != nil {
			return err
		}
		if err := s.charge(binaryCost + int64(n)); err != nil {
			return err
		}
		return s.skip(n)
	case tList, tSet:
		return s.nested(s.list)
	case tMap:
		return s.nested(s.mapping)
	case tStruct:
		return s.nested(s.fields)
	}
	return fmt.Errorf("%w: unknown Thrift type %d at byte %d", ErrMalformed, t, s.off)
}

func (s *scanner) nested(f func() error) error {
	s.depth++
	if s.depth > maxDepth {
		return fmt.Errorf("%w: Thrift nesting deeper than %d", ErrMalformed, maxDepth)
	}
	err := f()
	s.depth--
	return err
}

func (s *scanner) fields() error {
	if err := s.charge(structCost); err != nil {
		return err
	}
	for {
		h, err := s.byte()
		if err != nil {
			return err
		}
		if h == tStop {
			return nil
		}
		if h>>4 == 0 {
			// The field id follows as a zigzag varint.
			id, err := s.uvarint()
			if err != nil {
				return err
			}
			if id > 0xffff {
				return fmt.Errorf("%w: field id %d out of range", ErrMalformed, id)
			}
		}
		if err := s.value(h & 0x0f); err != nil {
			return err
		}
	}
}

func (s *scanner) list() error {
	h, err := s.byte()
	if err != nil {
		return err
	}
	n := int(h >> 4)
	if n == 0x0f {
		if n, err = s.count("list"); err != nil {
			return err
		}
	}
	if err := s.charge(listCost); err != nil {
		return err
	}
	et := h & 0x0f
	for i := 0; i < n; i++ {
		if et == tTrue || et == tFalse {
			if err := s.skip(1); err != nil {
				return err
			}
		}
		if err := s.value(et); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanner) mapping() error {
	n, err := s.count("map")
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	kv, err := s.byte()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		for _, t := range []byte{kv >> 4, kv & 0x0f} {
			if t == tTrue || t == tFalse {
				if err := s.skip(1); err != nil {
					return err
				}
			}
			if err := s.value(t); err != nil {
				return err
			}
		}
		if err := s.charge(mapCost); err != nil {
			return err
		}
	}
	return nil
}
