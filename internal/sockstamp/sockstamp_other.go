//go:build !linux

package sockstamp

import "syscall"

func newReader(syscall.RawConn) (*Reader, error) { return nil, ErrUnsupported }

// Read is never reached: New fails on this platform.
func (r *Reader) Read(p []byte) (int, int64, error) { return 0, 0, ErrUnsupported }
