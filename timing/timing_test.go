package timing

import (
	"testing"
	"time"
)

func TestFrequencyFromCPUID(t *testing.T) {
	tests := []struct {
		name   string
		leaves CPUIDLeaves
		want   Frequency
		ok     bool
	}{
		{"tdx 0x15 complete", CPUIDLeaves{MaxBasic: 0x23, L15: [3]uint32{2, 176, 25_000_000}}, Frequency{2_200_000_000, SourceCPUID15}, true},
		{"0x15 without crystal uses 0x16", CPUIDLeaves{MaxBasic: 0x16, L15: [3]uint32{2, 200, 0}, L16: 2100}, Frequency{2_100_000_000, SourceCPUID16}, true},
		{"0x15 without crystal nor 0x16", CPUIDLeaves{MaxBasic: 0x15, L15: [3]uint32{2, 200, 0}}, Frequency{}, false},
		{"hypervisor leaf", CPUIDLeaves{MaxBasic: 0x10, Hypervisor: true, MaxHypervisor: 0x40000010, L40000010: 2_445_406}, Frequency{2_445_406_000, SourceHypervisor}, true},
		{"hypervisor leaf ignored on bare metal", CPUIDLeaves{MaxBasic: 0x10, L40000010: 2_445_406}, Frequency{}, false},
		{"nothing", CPUIDLeaves{MaxBasic: 0x0d}, Frequency{}, false},
		{"zero denominator is not a ratio", CPUIDLeaves{L15: [3]uint32{0, 176, 25_000_000}}, Frequency{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FrequencyFromCPUID(tt.leaves)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("FrequencyFromCPUID = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSourceTrust(t *testing.T) {
	for _, s := range []Source{SourceCPUID16, SourceHypervisor, SourceCNTFRQ, SourceCalibrated, SourceMonotonic} {
		if s.Trusted() {
			t.Errorf("%s must not be trusted", s)
		}
		if !s.Known() {
			t.Errorf("%s must be known", s)
		}
	}
	if !SourceCPUID15.Trusted() {
		t.Error("cpuid-0x15 must be trusted")
	}
	if Source("made-up").Known() {
		t.Error("an unknown source must not be known")
	}
}

func TestConversions(t *testing.T) {
	f := Frequency{Hz: 2_000_000_000, Source: SourceCPUID15}
	if got := f.Nanoseconds(2000); got != 1000 {
		t.Errorf("Nanoseconds(2000) = %v, want 1000", got)
	}
	if got := f.Duration(2_000_000_000); got != time.Second {
		t.Errorf("Duration = %v, want 1s", got)
	}
	if got := f.Cycles(time.Microsecond); got != 2000 {
		t.Errorf("Cycles(1µs) = %d, want 2000", got)
	}
	if got := (Frequency{}).Nanoseconds(5); got != 0 {
		t.Errorf("zero frequency must convert to 0, got %v", got)
	}
	if got := f.Duration(^uint64(0)); got <= 0 {
		t.Errorf("Duration must saturate, got %v", got)
	}
}

// The counter must be monotonic on one goroutine and advance at roughly the
// frequency reported: a sanity bound (×/÷ 2), not a timed assertion.
func TestCounterAdvances(t *testing.T) {
	f, err := SystemFrequency()
	if err != nil {
		t.Fatal(err)
	}
	if f.Hz < 1e6 || f.Hz > 20e9 || !f.Source.Known() {
		t.Fatalf("implausible frequency %v", f)
	}
	prev := Now()
	for i := 0; i < 10000; i++ {
		n := Now()
		if n < prev {
			t.Fatalf("counter went backwards: %d after %d", n, prev)
		}
		prev = n
	}
	c0, t0 := Now(), time.Now()
	time.Sleep(20 * time.Millisecond)
	c1, t1 := Now(), time.Now()
	ratio := f.Nanoseconds(c1-c0) / float64(t1.Sub(t0).Nanoseconds())
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("counter runs at %.2f× the frequency reported (%v)", ratio, f)
	}
	t.Logf("kind %s, frequency %v", CounterKind(), f)
}

func TestCalibrate(t *testing.T) {
	f, err := Calibrate(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != SourceCalibrated && f.Source != SourceMonotonic {
		t.Fatalf("source %s, want calibrated", f.Source)
	}
	if f.Hz < 1e6 {
		t.Fatalf("implausible calibrated frequency %v", f)
	}
}

func BenchmarkNow(b *testing.B) {
	b.Run("counter", func(b *testing.B) {
		var s uint64
		for i := 0; i < b.N; i++ {
			s += Now()
		}
		_ = s
	})
	b.Run("time.Now", func(b *testing.B) {
		var s int64
		for i := 0; i < b.N; i++ {
			s += time.Now().UnixNano()
		}
		_ = s
	})
}
