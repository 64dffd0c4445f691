//go:build !amd64 && !arm64

package timing

import "time"

var start = time.Now()

// Now returns nanoseconds of the monotonic clock since the process started:
// this platform has no cycle counter this package can read, and the frequency
// says so (SourceMonotonic).
func Now() uint64 { return uint64(time.Since(start)) }

// CounterKind says how Now reads the counter on this machine.
func CounterKind() Kind { return KindMonotonic }

func architecturalFrequency() (Frequency, bool) {
	return Frequency{Hz: 1e9, Source: SourceMonotonic}, true
}
