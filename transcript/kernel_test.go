package transcript

import (
	"errors"
	"slices"
	"testing"
)

// withKernelTimes gives every stamp a kernel time derived from its cycles
// (10 ns per cycle, reads 5 ns earlier, as a kernel receive stamp precedes
// the read's return), so answers still follow their requests.
func withKernelTimes(s Session) Session {
	s.C2STimes = slices.Clone(s.C2STimes)
	s.S2CTimes = slices.Clone(s.S2CTimes)
	for i := range s.C2STimes {
		s.C2STimes[i].KernelNs = int64(s.C2STimes[i].Cycles) * 10
	}
	for i := range s.S2CTimes {
		s.S2CTimes[i].KernelNs = int64(s.S2CTimes[i].Cycles)*10 - 5
	}
	return s
}

func TestKernelTimes(t *testing.T) {
	rec := recordGoSession(t, sessionConfig{alpn: "h2", echoes: 4})
	s := withKernelTimes(rec.Session)
	res, err := Verify(s, rec.options())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Echoes) != 4 || res.HandshakeKernelNs <= 0 {
		t.Fatalf("%d echoes, handshake %d kernel ns", len(res.Echoes), res.HandshakeKernelNs)
	}
	for _, e := range res.Echoes {
		// Kernel times are 10 ns per cycle minus 5 ns on reads.
		if want := int64(e.RTTCycles)*10 - 5; e.RTTKernelNs != want {
			t.Errorf("echo %d: %d kernel ns, want %d", e.Index, e.RTTKernelNs, want)
		}
	}
	// Without kernel times, none are reported.
	res, err = Verify(rec.Session, rec.options())
	if err != nil || res.Echoes[0].RTTKernelNs != 0 || res.HandshakeKernelNs != 0 {
		t.Fatalf("err %v, kernel RTT %d", err, res.Echoes[0].RTTKernelNs)
	}

	bad := map[string]func(s *Session){
		"one stamp without": func(s *Session) { s.S2CTimes[1].KernelNs = 0 },
		"negative":          func(s *Session) { s.C2STimes[0].KernelNs = -1 },
		"going back":        func(s *Session) { s.S2CTimes[2].KernelNs = s.S2CTimes[1].KernelNs - 1 },
		"answer before request": func(s *Session) {
			for i := range s.S2CTimes {
				s.S2CTimes[i].KernelNs = 1 + int64(i)
			}
		},
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			s := withKernelTimes(rec.Session)
			f(&s)
			_, err := Verify(s, rec.options())
			var ce *CheckError
			if !errors.Is(err, ErrTiming) || !errors.As(err, &ce) || ce.Check != CheckTiming {
				t.Fatalf("err = %v, want the timing check to fail", err)
			}
		})
	}
}
