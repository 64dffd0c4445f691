//go:build unix

package verdict

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time: benchmarks report
// it beside wall time, which on a loaded machine measures the load.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
