package timing

func cntvct() uint64
func cntfrq() uint64

// Now reads the arm64 virtual counter CNTVCT_EL0 between barriers.
func Now() uint64 { return cntvct() }

// CounterKind says how Now reads the counter on this machine.
func CounterKind() Kind { return KindCNTVCT }

func architecturalFrequency() (Frequency, bool) {
	hz := cntfrq()
	if hz == 0 {
		return Frequency{}, false
	}
	return Frequency{Hz: hz, Source: SourceCNTFRQ}, true
}
