package timing

import (
	"time"

	"golang.org/x/sys/unix"
)

// rawNanos reads CLOCK_MONOTONIC_RAW, which NTP does not slew.
func rawNanos() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_RAW, &ts); err != nil {
		return time.Now().UnixNano()
	}
	return ts.Nano()
}
