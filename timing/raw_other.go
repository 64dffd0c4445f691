//go:build !linux

package timing

import "time"

var rawStart = time.Now()

// rawNanos falls back to Go's monotonic clock where CLOCK_MONOTONIC_RAW is
// not available.
func rawNanos() int64 { return int64(time.Since(rawStart)) }
