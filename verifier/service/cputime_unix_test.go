//go:build unix

package service

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time. The benchmark reports
// it beside the wall time, which on a busy machine measures the load.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
