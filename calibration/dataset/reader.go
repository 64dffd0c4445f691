package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// scanner splits a dataset into lines, keeping their byte offsets.
type scanner struct {
	br   *bufio.Reader
	long []byte // a line longer than br's buffer, assembled
	off  int64  // offset of the next line
	line int64  // number of the last line returned (1-based)
}

// scanBuffer is the read buffer; longer lines (a header listing many
// endpoints) are assembled up to the line's limit.
const scanBuffer = 64 << 10

func newScanner(r io.Reader) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, scanBuffer)}
}

// next returns the next line without its newline, where it starts, and
// whether it is torn (the file's last bytes, with no final newline). It
// returns io.EOF when nothing is left. A line may hold at most MaxHeaderBytes
// for the header and MaxLineBytes after it (newline included). The slice is
// valid until the next call.
func (s *scanner) next() (b []byte, start int64, torn bool, err error) {
	limit := MaxLineBytes
	if s.line == 0 {
		limit = MaxHeaderBytes
	}
	start = s.off
	b, err = s.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.long = append(s.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) && len(s.long) <= limit {
			b, err = s.br.ReadSlice('\n')
			s.long = append(s.long, b...)
		}
		b = s.long
	}
	if len(b) > limit {
		s.line++
		return nil, start, false, fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, limit)
	}
	switch {
	case err == nil:
		s.off += int64(len(b))
		s.line++
		return b[:len(b)-1], start, false, nil
	case err == io.EOF && len(b) > 0:
		s.off += int64(len(b))
		s.line++
		return b, start, true, nil
	}
	return nil, start, false, err
}

// readHeader reads and checks the first line.
func readHeader(sc *scanner, name string) (*Header, error) {
	b, _, torn, err := sc.next()
	switch {
	case err == io.EOF:
		return nil, lineError(name, 1, fmt.Errorf("%w: empty file", ErrHeader))
	case err != nil:
		return nil, lineError(name, 1, fmt.Errorf("%w: %w", ErrHeader, err))
	case torn:
		return nil, lineError(name, 1, fmt.Errorf("%w: the header line has no final newline", ErrHeader))
	}
	var h Header
	if err := decodeStrict(b, &h); err != nil {
		return nil, lineError(name, 1, fmt.Errorf("%w: %w", ErrHeader, err))
	}
	if err := h.Validate(); err != nil {
		return nil, lineError(name, 1, err)
	}
	return &h, nil
}

// decodeLine decodes one sample line.
func decodeLine(b []byte) (Sample, error) {
	var s Sample
	err := decodeStrict(b, &s)
	return s, err
}

// Reader reads a dataset one sample at a time, in bounded memory, checking
// every line: strict JSON (no unknown, repeated or null fields), valid
// values, Seq without gaps or repeats, samples in plan order, complete
// units. The first problem stops it with a *PosError naming the file and
// line.
type Reader struct {
	name string
	sc   *scanner
	h    *Header
	chk  *checker
	// unitLine is the line of the current unit's first sample.
	unitLine int64
	closer   io.Closer
	err      error
}

// NewReader reads the header from r; name is used in errors.
func NewReader(r io.Reader, name string) (*Reader, error) {
	sc := newScanner(r)
	h, err := readHeader(sc, name)
	if err != nil {
		return nil, err
	}
	return &Reader{name: name, sc: sc, h: h, chk: newChecker(h)}, nil
}

// Open opens a dataset file for reading.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// Header returns the file's header.
func (r *Reader) Header() Header { return *r.h }

// Line returns the number of the last line read (the header is line 1).
func (r *Reader) Line() int64 { return r.sc.line }

// Read returns the next sample, or io.EOF after the last one. A torn last
// line (ErrTorn) or an incomplete last unit (ErrIncomplete) is reported
// instead of io.EOF: the file needs Resume first.
func (r *Reader) Read() (Sample, error) {
	if r.err != nil {
		return Sample{}, r.err
	}
	s, err := r.read()
	if err != nil {
		r.err = err
	}
	return s, err
}

func (r *Reader) read() (Sample, error) {
	b, _, torn, err := r.sc.next()
	if err == io.EOF {
		if err := r.chk.finish(); err != nil {
			return Sample{}, lineError(r.name, r.unitLine, err)
		}
		return Sample{}, io.EOF
	}
	if err != nil {
		return Sample{}, lineError(r.name, r.sc.line, err)
	}
	if torn {
		return Sample{}, lineError(r.name, r.sc.line, fmt.Errorf("%w: no final newline: a write was cut short (resume the campaign to cut it off)", ErrTorn))
	}
	s, err := decodeLine(b)
	if err != nil {
		return s, lineError(r.name, r.sc.line, err)
	}
	if err := r.chk.check(&s); err != nil {
		return s, lineError(r.name, r.sc.line, err)
	}
	if r.chk.inUnit == 1 {
		r.unitLine = r.sc.line
	}
	return s, nil
}

// Close closes the file Open opened.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// ReadFile reads a whole dataset into memory.
func ReadFile(path string) (*Header, []Sample, error) {
	r, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	h := r.Header()
	var out []Sample
	for {
		s, err := r.Read()
		if err == io.EOF {
			return &h, out, nil
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
}

// encodeLine writes a sample as one line, as a Writer does.
func encodeLine(buf *bytes.Buffer, v any) error {
	enc := newEncoder(buf)
	return enc.Encode(v)
}
