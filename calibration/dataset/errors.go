package dataset

import (
	"errors"
	"fmt"
)

// Errors of reading and writing datasets. They come wrapped in a *PosError
// that names the file and the line or row; match them with errors.Is.
var (
	// ErrHeader: the first line is missing or is not a valid header.
	ErrHeader = errors.New("bad dataset header")
	// ErrSyntax: a line is not one JSON object, or is longer than
	// MaxLineBytes.
	ErrSyntax = errors.New("malformed line")
	// ErrField: a line has a field this format does not define (or one
	// spelled in another case, or twice).
	ErrField = errors.New("unknown or repeated field")
	// ErrValue: a field's value is out of range (a NaN or negative round
	// trip, a bad port, an error sample with a round trip, ...).
	ErrValue = errors.New("invalid value")
	// ErrSeq: a sample's sequence number is not the previous one plus one,
	// or its campaign or vantage is not the header's.
	ErrSeq = errors.New("sequence broken")
	// ErrOrder: a sample is not the one the campaign's plan has next: a
	// work unit out of order, repeated or beyond the plan, an echo index
	// out of order.
	ErrOrder = errors.New("sample out of plan order")
	// ErrIncomplete: a work unit stops before its last echo. Only the last
	// unit of a file can be incomplete, after a crash; Resume rolls it back.
	ErrIncomplete = errors.New("incomplete work unit")
	// ErrTorn: the file ends in a partial line (no final newline), as a
	// crash in the middle of a write leaves it; Resume cuts it off.
	ErrTorn = errors.New("torn last line")
	// ErrExists: Create was asked to start a dataset where a file exists.
	ErrExists = errors.New("dataset file already exists")
	// ErrLocked: another process holds the dataset open for writing.
	ErrLocked = errors.New("dataset is being written by another process")
	// ErrParquet: a Parquet file is corrupt or is not a poc samples file.
	ErrParquet = errors.New("bad Parquet samples file")
	// ErrClosed: the Writer was closed, or failed and may no longer be used.
	ErrClosed = errors.New("dataset writer closed")
)

// PosError locates an error in a dataset file: a JSON Lines line (counted
// from 1, the header being line 1) or a Parquet row (counted from 0, like
// DataFrame indexes).
type PosError struct {
	File string
	// Line is the 1-based line of a JSON Lines file; 0 when not applicable.
	Line int64
	// Row is the 0-based row of a Parquet file; -1 when not applicable.
	Row int64
	Err error
}

func (e *PosError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	case e.Row >= 0:
		return fmt.Sprintf("%s: row %d: %v", e.File, e.Row, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *PosError) Unwrap() error { return e.Err }

func lineError(file string, line int64, err error) error {
	return &PosError{File: file, Line: line, Row: -1, Err: err}
}

func rowError(file string, row int64, err error) error {
	return &PosError{File: file, Row: row, Err: err}
}

func fileError(file string, err error) error {
	return &PosError{File: file, Row: -1, Err: err}
}
