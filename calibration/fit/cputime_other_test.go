//go:build !unix

package fit

import (
	"testing"
	"time"
)

func cpuTime(t testing.TB) time.Duration {
	t.Skip("no getrusage on this platform")
	return 0
}
