package timing

func rdtscp() uint64
func rdtscFenced() uint64
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

var hasRDTSCP = func() bool {
	max, _, _, _ := cpuid(0x80000000, 0)
	if max < 0x80000001 {
		return false
	}
	_, _, _, edx := cpuid(0x80000001, 0)
	return edx&(1<<27) != 0
}()

// Now reads the time-stamp counter, fenced so that the reading stays between
// the instructions before and after the call.
func Now() uint64 {
	if hasRDTSCP {
		return rdtscp()
	}
	return rdtscFenced()
}

// CounterKind says how Now reads the counter on this machine.
func CounterKind() Kind {
	if hasRDTSCP {
		return KindRDTSCP
	}
	return KindRDTSC
}

func readCPUID() CPUIDLeaves {
	var l CPUIDLeaves
	l.MaxBasic, _, _, _ = cpuid(0, 0)
	if l.MaxBasic >= 0x15 {
		a, b, c, _ := cpuid(0x15, 0)
		l.L15 = [3]uint32{a, b, c}
	}
	if l.MaxBasic >= 0x16 {
		l.L16, _, _, _ = cpuid(0x16, 0)
	}
	_, _, ecx, _ := cpuid(1, 0)
	l.Hypervisor = ecx&(1<<31) != 0
	if l.Hypervisor {
		l.MaxHypervisor, _, _, _ = cpuid(0x40000000, 0)
		if l.MaxHypervisor >= 0x40000010 {
			l.L40000010, _, _, _ = cpuid(0x40000010, 0)
		}
	}
	return l
}

func architecturalFrequency() (Frequency, bool) {
	return FrequencyFromCPUID(readCPUID())
}
