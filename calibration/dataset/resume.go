package dataset

import (
	"fmt"
	"io"
	"os"
)

// State is what Resume found in a dataset: its header, how far its plan
// got, and what (if anything) was cut from its end.
type State struct {
	Header Header
	// NextSeq is the Seq of the next sample to write, and the number of
	// samples on file.
	NextSeq uint64
	// Units is how many work units are complete: the plan's first Units
	// units, in plan order.
	Units int
	// Cut is the number of bytes removed from the end of the file: a torn
	// last line and the lines of an incomplete last unit. CutLines counts
	// the complete lines among them and Torn says whether a torn line was.
	Cut      int64
	CutLines int
	Torn     bool
}

// Done reports whether every unit of the plan is complete.
func (s *State) Done() bool { return s.Units >= s.Header.Plan.Units() }

// Resume prepares a dataset whose writer may have crashed to be continued.
// It reads the whole file with the Reader's checks and finds the end of the
// last complete unit. What follows it can only be a crash's leftovers — the
// complete, valid lines of the unit that was being written, then perhaps a
// line with no final newline — and is cut off (and the cut fsynced).
// Anything else wrong (a bad line before the end, a gap in Seq, a sample out
// of plan order, an overlong line) is returned as an error naming the file
// and line, and the file is left untouched.
//
// Resume takes the file's lock while it works: it fails with ErrLocked if a
// campaign is writing the file.
func Resume(path string) (*State, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return nil, fileError(path, err)
	}
	st, _, err := repair(f, path)
	return st, err
}

// scanned is the outcome of one pass over a dataset.
type scanned struct {
	chk      *checker
	size     int64 // bytes read
	goodEnd  int64 // offset just after the last complete unit
	tailLine int64 // first line after goodEnd
	tailOK   int   // complete, valid lines after goodEnd
	torn     bool
}

// scan reads a whole dataset, allowing the leftovers of a crash at its end.
func scan(r io.Reader, name string) (*scanned, error) {
	sc := newScanner(r)
	h, err := readHeader(sc, name)
	if err != nil {
		return nil, err
	}
	s := &scanned{chk: newChecker(h), goodEnd: sc.off, tailLine: sc.line + 1}
	for {
		b, _, torn, err := sc.next()
		if err == io.EOF {
			s.size = sc.off
			return s, nil
		}
		if err != nil {
			return nil, lineError(name, sc.line, err)
		}
		if torn {
			// Whatever the last bytes hold, they were never committed:
			// Commit's fsync follows the whole write, newline included.
			s.torn = true
			s.size = sc.off
			return s, nil
		}
		smp, err := decodeLine(b)
		if err == nil {
			err = s.chk.check(&smp)
		}
		if err != nil {
			return nil, lineError(name, sc.line, err)
		}
		if s.chk.midUnit() {
			s.tailOK++
		} else {
			s.goodEnd, s.tailLine, s.tailOK = sc.off, sc.line+1, 0
		}
	}
}

// repair scans f, cuts a crash's leftovers, and returns the state and a
// checker positioned at the new end. The caller holds the lock.
func repair(f *os.File, name string) (*State, *checker, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	s, err := scan(f, name)
	if err != nil {
		return nil, nil, err
	}
	st := &State{Header: *s.chk.h, Cut: s.size - s.goodEnd, CutLines: s.tailOK, Torn: s.torn}
	chk := s.chk
	if st.Cut > 0 {
		if err := f.Truncate(s.goodEnd); err != nil {
			return nil, nil, fileError(name, fmt.Errorf("cutting the unfinished tail from line %d: %w", s.tailLine, err))
		}
		if err := f.Sync(); err != nil {
			return nil, nil, fileError(name, err)
		}
		// Read the shortened file again rather than unwind the
		// checker: the state after the cut is then exactly what a
		// Reader sees.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		s2, err := scan(f, name)
		if err != nil {
			return nil, nil, err
		}
		if s2.torn || s2.chk.midUnit() {
			return nil, nil, fileError(name, fmt.Errorf("%w: the file still ends mid-unit after the cut", ErrIncomplete))
		}
		chk = s2.chk
	}
	st.NextSeq = chk.next
	st.Units = chk.completeUnits()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return nil, nil, err
	}
	return st, chk, nil
}
