package timing

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// Source says how a counter frequency was obtained.
type Source string

// Frequency sources, from most to least trustworthy inside a TD.
const (
	SourceCPUID15    Source = "cpuid-0x15"
	SourceCPUID16    Source = "cpuid-0x16"
	SourceHypervisor Source = "hypervisor-cpuid"
	SourceCNTFRQ     Source = "cntfrq"
	SourceCalibrated Source = "calibrated"
	SourceMonotonic  Source = "monotonic"
)

// Trusted reports whether a TEE verifier may rely on a frequency from this
// source without further evidence. Only CPUID leaf 0x15 qualifies, and only
// because the TDX module controls it inside a TD; outside a TD the caller must
// treat every source as untrusted.
func (s Source) Trusted() bool { return s == SourceCPUID15 }

// Known reports whether s is one of the sources this package defines.
func (s Source) Known() bool {
	switch s {
	case SourceCPUID15, SourceCPUID16, SourceHypervisor, SourceCNTFRQ, SourceCalibrated, SourceMonotonic:
		return true
	}
	return false
}

// Frequency is a counter frequency and how it was obtained.
type Frequency struct {
	Hz     uint64 `json:"hz"`
	Source Source `json:"source"`
}

// String formats the frequency in MHz with its source.
func (f Frequency) String() string {
	return fmt.Sprintf("%.3f MHz (%s)", float64(f.Hz)/1e6, f.Source)
}

// Nanoseconds converts a cycle count to nanoseconds at this frequency. It
// returns 0 for a zero frequency rather than dividing by zero.
func (f Frequency) Nanoseconds(cycles uint64) float64 {
	if f.Hz == 0 {
		return 0
	}
	return float64(cycles) * 1e9 / float64(f.Hz)
}

// Duration converts a cycle count to a duration, saturating at the largest
// representable duration.
func (f Frequency) Duration(cycles uint64) time.Duration {
	ns := f.Nanoseconds(cycles)
	if ns >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns)
}

// Cycles converts a duration to cycles at this frequency.
func (f Frequency) Cycles(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(float64(d) * float64(f.Hz) / 1e9)
}

// Clock is a cycle counter with its frequency. Code that times things takes a
// Clock so that tests can substitute a deterministic one.
type Clock interface {
	// Now reads the counter.
	Now() uint64
	// Frequency returns the counter's frequency and its source.
	Frequency() Frequency
}

// Kind names the instruction or clock a counter reading comes from.
type Kind string

// Counter kinds.
const (
	KindRDTSCP    Kind = "rdtscp"
	KindRDTSC     Kind = "lfence-rdtsc"
	KindCNTVCT    Kind = "cntvct"
	KindMonotonic Kind = "monotonic"
)

// ErrNoFrequency is returned when no source gives the counter frequency.
var ErrNoFrequency = errors.New("timing: counter frequency unknown")

type system struct{}

// System returns the Clock of this machine: its hardware counter, and its
// frequency from the best source available (determined once, on first use).
func System() Clock { return system{} }

func (system) Now() uint64 { return Now() }

func (system) Frequency() Frequency {
	f, _ := SystemFrequency()
	return f
}

var (
	freqOnce sync.Once
	freq     Frequency
	freqErr  error
)

// SystemFrequency returns the counter frequency from the most trustworthy
// source this machine offers, calibrating against the kernel's raw monotonic
// clock only when no architectural source gives it. The result is computed
// once per process.
func SystemFrequency() (Frequency, error) {
	freqOnce.Do(func() {
		if f, ok := architecturalFrequency(); ok {
			freq = f
			return
		}
		freq, freqErr = Calibrate(DefaultCalibration)
	})
	return freq, freqErr
}

// DefaultCalibration is the total time Calibrate spends when the system has
// no architectural frequency source.
const DefaultCalibration = 200 * time.Millisecond

// Calibrate measures the counter's frequency against the kernel's raw
// monotonic clock over about total, as the median of several rounds, and
// labels the result SourceCalibrated (or SourceMonotonic where the counter is
// the monotonic clock itself).
func Calibrate(total time.Duration) (Frequency, error) {
	if CounterKind() == KindMonotonic {
		return Frequency{Hz: 1e9, Source: SourceMonotonic}, nil
	}
	const rounds = 5
	per := total / rounds
	if per < time.Millisecond {
		per = time.Millisecond
	}
	est := make([]float64, 0, rounds)
	for i := 0; i < rounds; i++ {
		c0, t0 := Now(), rawNanos()
		deadline := t0 + per.Nanoseconds()
		for rawNanos() < deadline {
			time.Sleep(per / 10)
		}
		c1, t1 := Now(), rawNanos()
		if t1 <= t0 || c1 <= c0 {
			continue
		}
		est = append(est, float64(c1-c0)*1e9/float64(t1-t0))
	}
	if len(est) == 0 {
		return Frequency{}, fmt.Errorf("%w: calibration against CLOCK_MONOTONIC_RAW saw no progress", ErrNoFrequency)
	}
	sort.Float64s(est)
	hz := est[len(est)/2]
	// Round to the nearest kHz: finer digits are noise, and a stable value
	// reads better in proofs.
	return Frequency{Hz: uint64(math.Round(hz/1e3)) * 1e3, Source: SourceCalibrated}, nil
}
