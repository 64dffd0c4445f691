package sockstamp

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func newReader(rc syscall.RawConn) (*Reader, error) {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("%w: setsockopt SO_TIMESTAMPNS: %v", ErrUnsupported, serr)
	}
	return &Reader{rc: rc, oob: make([]byte, unix.CmsgSpace(16))}, nil
}

// Read reads like net.Conn.Read (blocking through Go's poller, honouring the
// connection's deadlines; io.EOF at the end of the stream) and returns the
// kernel's receive time of the last segment read, in Unix nanoseconds, or 0
// when the kernel attached none. It attaches none to segments that arrived
// before stamping was on: the first socket on a machine to ask for stamps
// switches the kernel's global receive stamping on, and the kernel may do
// that a moment later, from a work item.
func (r *Reader) Read(p []byte) (n int, kernelNs int64, err error) {
	var oobn int
	var rerr error
	cerr := r.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, r.oob, 0)
			if rerr != unix.EINTR {
				break
			}
		}
		return rerr != unix.EAGAIN
	})
	switch {
	case cerr != nil:
		return 0, 0, cerr
	case rerr != nil:
		return 0, 0, rerr
	case n == 0 && len(p) > 0:
		return 0, 0, io.EOF
	}
	return n, parse(r.oob[:oobn]), nil
}

// parse returns the SCM_TIMESTAMPNS stamp in a control buffer, or 0. It
// reads the 64-bit struct timespec; on 32-bit platforms it finds none, and
// the probe then simply records no kernel times.
func parse(oob []byte) int64 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			// Past year 2262 the nanoseconds overflow int64: no real clock.
			if sec <= 0 || sec >= math.MaxInt64/int64(time.Second) || nsec < 0 || nsec >= 1e9 {
				return 0
			}
			return sec*1e9 + nsec
		}
	}
	return 0
}
