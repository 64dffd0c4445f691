//go:build !unix

package service

import (
	"testing"
	"time"
)

func cpuTime(tb testing.TB) time.Duration {
	tb.Skip("no getrusage on this platform")
	return 0
}
