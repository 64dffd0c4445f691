package timing

// CPUIDLeaves are the raw register values of the x86 leaves that can give the
// TSC frequency, kept apart from reading them so that the decoding can be
// tested, and run by verifiers, on any architecture.
type CPUIDLeaves struct {
	MaxBasic      uint32
	L15           [3]uint32 // EAX (denominator), EBX (numerator), ECX (crystal Hz)
	L16           uint32    // EAX: base frequency in MHz
	Hypervisor    bool      // CPUID.1:ECX bit 31
	MaxHypervisor uint32
	L40000010     uint32 // EAX: TSC frequency in kHz
}

// FrequencyFromCPUID decodes the TSC frequency from CPUID leaves, preferring
// leaf 0x15, then 0x16 where 0x15 gives the ratio without the crystal clock,
// then the hypervisor's timing leaf. It is pure so that every branch can be
// tested with recorded register values; it exists on every architecture.
func FrequencyFromCPUID(l CPUIDLeaves) (Frequency, bool) {
	den, num, crystal := l.L15[0], l.L15[1], l.L15[2]
	if den != 0 && num != 0 {
		if crystal != 0 {
			return Frequency{Hz: uint64(crystal) * uint64(num) / uint64(den), Source: SourceCPUID15}, true
		}
		if l.L16 != 0 {
			return Frequency{Hz: uint64(l.L16) * 1_000_000, Source: SourceCPUID16}, true
		}
	}
	if l.Hypervisor && l.L40000010 != 0 {
		return Frequency{Hz: uint64(l.L40000010) * 1000, Source: SourceHypervisor}, true
	}
	return Frequency{}, false
}
