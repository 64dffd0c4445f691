// Package quoteabi parses TDX quotes with go-tdx-guest's abi package without
// letting a malformed quote crash the process.
//
// go-tdx-guest's abi.QuoteToProto slices by a length field it does not bound
// (the QE authentication data length), so some malformed quotes make it
// panic; quotes arrive from the network, so every parse in this project goes
// through Parse, which turns that panic into an error.
package quoteabi

import (
	"errors"
	"fmt"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// ErrMalformed: the bytes are not a parseable TDX v4 quote.
var ErrMalformed = errors.New("malformed TDX quote")

// MaxQuoteBytes bounds the input; real quotes are about 5 KB.
const MaxQuoteBytes = 64 << 10

// Parse parses a TDX v4 quote.
func Parse(b []byte) (q *pb.QuoteV4, err error) {
	if len(b) > MaxQuoteBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxQuoteBytes)
	}
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, fmt.Errorf("%w: the parser failed on it (%v)", ErrMalformed, r)
		}
	}()
	v, err := abi.QuoteToProto(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	v4, ok := v.(*pb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, not a TDX v4 quote", ErrMalformed, v)
	}
	return v4, nil
}
