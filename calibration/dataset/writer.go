package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Writer appends samples to a dataset. Samples are buffered until Commit,
// which writes them with one write and fsyncs: a campaign commits each unit
// of work as it completes. The Writer holds the file's lock until Close.
type Writer struct {
	f    *os.File
	name string
	h    *Header
	chk  *checker
	buf  bytes.Buffer
	// committed is how many samples are on disk.
	committed uint64
	err       error
}

func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// Create starts a dataset at path with the given header. It refuses to
// replace an existing file (ErrExists). The header is written to a
// temporary sibling, fsynced, and linked into place, so a crash leaves either
// no file or a file with a whole header.
func Create(path string, h Header) (w *Writer, err error) {
	h.Created = h.Created.UTC()
	if err := h.Validate(); err != nil {
		return nil, fileError(path, err)
	}
	var line bytes.Buffer
	if err := encodeLine(&line, &h); err != nil {
		return nil, fileError(path, err)
	}
	if line.Len() > MaxHeaderBytes {
		return nil, fileError(path, fmt.Errorf("%w: header of %d bytes, the limit is %d", ErrHeader, line.Len(), MaxHeaderBytes))
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fileError(path, ErrExists)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer func() {
		// The temporary name goes in every case; on success the file
		// lives on under path.
		_ = os.Remove(tmp)
		if err != nil {
			f.Close()
		}
	}()
	if err := lockFile(f); err != nil {
		return nil, fileError(path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return nil, err
	}
	if _, err := f.Write(line.Bytes()); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	// A hard link never replaces an existing file; where the file system
	// has no links, a rename after the check above does (racing only with
	// another process creating the same file at the same moment).
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fileError(path, ErrExists)
		}
		if _, err := os.Lstat(path); err == nil {
			return nil, fileError(path, ErrExists)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return &Writer{f: f, name: path, h: &h, chk: newChecker(&h)}, nil
}

// OpenAppend opens an existing dataset to continue it: it locks the file,
// repairs its tail as Resume does, and returns a Writer positioned after the
// last complete unit together with what Resume found.
func OpenAppend(path string) (*Writer, *State, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, fileError(path, err)
	}
	st, chk, err := repair(f, path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	w := &Writer{f: f, name: path, h: chk.h, chk: chk, committed: chk.next}
	return w, st, nil
}

// Header returns the dataset's header.
func (w *Writer) Header() Header { return *w.h }

// NextSeq returns the Seq the next sample will get.
func (w *Writer) NextSeq() uint64 { return w.chk.next }

// Units returns how many units of the plan the written samples complete.
func (w *Writer) Units() int { return w.chk.completeUnits() }

// Write checks a sample and buffers it for the next Commit. It sets the
// sample's Campaign and Seq, puts Time in UTC and shortens an Error longer
// than MaxErrorBytes. A sample that does not fit the plan's order or fails
// Validate is refused and nothing changes.
func (w *Writer) Write(s *Sample) error {
	if w.err != nil {
		return w.err
	}
	s.Campaign = w.h.Campaign
	s.Seq = w.chk.next
	s.Time = s.Time.UTC()
	s.Error = shorten(s.Error, MaxErrorBytes)
	if err := w.chk.check(s); err != nil {
		return fileError(w.name, err)
	}
	if err := encodeLine(&w.buf, s); err != nil {
		// Validate has ruled out what encoding/json refuses (NaN, Inf);
		// should it fail anyway, the checker has counted a sample the
		// file will never hold, so the writer cannot go on.
		w.err = fmt.Errorf("%w: encoding sample %d: %v", ErrClosed, s.Seq, err)
		return w.err
	}
	return nil
}

// Commit writes the buffered samples with one write and fsyncs the file.
// The buffered samples must end at a unit boundary (ErrIncomplete
// otherwise, and nothing is written). After a failed write or fsync the
// Writer is unusable; the file's tail is then repaired by Resume.
func (w *Writer) Commit() error {
	if w.err != nil {
		return w.err
	}
	if w.chk.midUnit() {
		return fileError(w.name, fmt.Errorf("%w: commit in the middle of a unit", ErrIncomplete))
	}
	if w.buf.Len() == 0 {
		return nil
	}
	if _, err := w.f.Write(w.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("%w: %w", ErrClosed, err)
		return fileError(w.name, err)
	}
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("%w: %w", ErrClosed, err)
		return fileError(w.name, err)
	}
	w.buf.Reset()
	w.committed = w.chk.next
	return nil
}

// Close commits what is buffered, if it ends at a unit boundary, and
// releases the file. Samples of an unfinished unit are dropped and reported
// with ErrIncomplete.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	var err error
	if w.err == nil {
		if w.chk.midUnit() {
			err = fileError(w.name, fmt.Errorf("%w: closed with %d samples of an unfinished unit not written", ErrIncomplete, w.chk.next-w.committed))
		} else {
			err = w.Commit()
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	w.err = ErrClosed
	return err
}

// shorten cuts s to at most n bytes at a character boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// syncDir fsyncs a directory so that a new entry in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
