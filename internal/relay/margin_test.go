package relay

import (
	"testing"
	"time"
)

func TestMarginEstimator(t *testing.T) {
	us := int64(time.Microsecond)
	e := newMarginEstimator(50*us, 1000*us)
	if e.margin != marginInitial {
		t.Fatalf("initial margin %d, want %d", e.margin, marginInitial)
	}
	now := int64(time.Hour)
	for i := range marginRing {
		over := 100 * us
		if i == 10 || i == 40 {
			over = 5000 * us // outliers: the margin must not chase them
		}
		now += int64(time.Millisecond)
		e.learn(now, over)
	}
	if want := 100*us + marginGuard; e.margin != want {
		t.Errorf("margin %v, want %v", time.Duration(e.margin), time.Duration(want))
	}

	// Overshoots beyond MaxSpin clamp.
	for range marginRing {
		now += int64(time.Millisecond)
		e.learn(now, 3000*us)
	}
	if e.margin != 1000*us {
		t.Errorf("margin %v, want the 1ms cap", time.Duration(e.margin))
	}

	// A margin so large that the scheduler stops sleeping must not last:
	// once the samples are old, refresh falls back to the initial margin.
	if e.refresh(now + int64(10*time.Millisecond)) {
		t.Errorf("refresh within 50 ms changed the margin")
	}
	if !e.refresh(now+marginWindow+1) || e.margin != marginInitial {
		t.Errorf("after the window: margin %v, want %v", time.Duration(e.margin), time.Duration(marginInitial))
	}
}
