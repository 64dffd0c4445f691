package sockstamp

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestReadStamps(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	c, s := pair(t)
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	echo := func() (before, k, after int64) {
		t.Helper()
		before = time.Now().UnixNano()
		if _, err := s.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, k, err := r.Read(buf)
		after = time.Now().UnixNano()
		if err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("read %q, %v", buf[:n], err)
		}
		return before, k, after
	}
	// The first socket to ask for stamps switches on the kernel's global
	// receive stamping, which it may do a moment later, from a work item
	// (net_enable_timestamp): the segments before that carry no stamp, and
	// Read reports 0 for them. A CI run saw one.
	unstamped := 0
	for _, k, _ := echo(); k == 0; _, k, _ = echo() {
		if unstamped++; unstamped == 50 {
			t.Fatal("no kernel stamp on 50 segments")
		}
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		before, k, after := echo()
		// The same clock read before the write and after the read brackets
		// the kernel's stamp.
		if k < before || k > after {
			t.Fatalf("kernel stamp %d outside [%d, %d]", k, before, after)
		}
	}
	s.Close()
	if _, _, err := r.Read(make([]byte, 8)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after close: %v, want EOF", err)
	}
}

func TestReadHonoursDeadline(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	c, _ := pair(t)
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var ne net.Error
	if _, _, err := r.Read(make([]byte, 8)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestNewUnsupported(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := New(a); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	binary.NativeEndian.PutUint64(b[0:8], uint64(unix.CmsgLen(len(data))))
	binary.NativeEndian.PutUint32(b[8:12], uint32(level))
	binary.NativeEndian.PutUint32(b[12:16], uint32(typ))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestParse(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("control-message layout checked on 64-bit Linux")
	}
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts[0:8], 1_700_000_000)
	binary.NativeEndian.PutUint64(ts[8:16], 123)
	tests := []struct {
		name string
		oob  []byte
		want int64
	}{
		{"stamp", cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts), 1_700_000_000_000_000_123},
		{"empty", nil, 0},
		{"other type", cmsg(unix.SOL_SOCKET, unix.SCM_RIGHTS, ts), 0},
		{"short", cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts[:8]), 0},
		{"garbage", []byte{1, 2, 3}, 0},
		{"nsec out of range", cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, append(ts[:8:8], 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)), 0},
	}
	for _, tt := range tests {
		if got := parse(tt.oob); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts[0:8], 1_700_000_000)
	f.Add(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k := parse(b); k < 0 {
			t.Fatalf("negative stamp %d", k)
		}
	})
}
