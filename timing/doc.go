// Package timing reads the CPU's cycle counter and says at what frequency it
// runs and how that frequency is known.
//
// A proof of cloud measures round trips in counter cycles, not in wall-clock
// time, because inside an Intel TDX trust domain the time-stamp counter is
// under the TDX module's control: the host chooses the virtual TSC frequency
// once, when the TD is built, and can pause the TD (which only adds time) but
// cannot make the counter run faster. The frequency that turns cycles into
// nanoseconds is therefore part of the evidence, together with its Source:
//
//   - SourceCPUID15: CPUID leaf 0x15 (crystal clock × TSC/crystal ratio). In a
//     TD this leaf is virtualised by the TDX module and reports the frequency
//     the TD was built with; it is the only source a verifier may trust there.
//   - SourceCPUID16: CPUID leaf 0x16's base frequency, used when leaf 0x15
//     gives the ratio but not the crystal clock. An approximation.
//   - SourceHypervisor: the hypervisor's timing leaf 0x40000010 (KVM,
//     VMware). Said by the host, so untrusted.
//   - SourceCNTFRQ: the arm64 generic timer's CNTFRQ_EL0, set by firmware.
//   - SourceCalibrated: measured against CLOCK_MONOTONIC_RAW. Untrusted: the
//     kernel clock itself can be steered by whoever controls the platform.
//   - SourceMonotonic: no cycle counter on this platform; the "counter" is the
//     monotonic clock in nanoseconds and the frequency is 1 GHz by definition.
//
// On amd64 the counter is read with RDTSCP followed by LFENCE (or
// LFENCE;RDTSC;LFENCE where RDTSCP is missing), on arm64 with the virtual
// counter CNTVCT_EL0 between ISB barriers, elsewhere from the monotonic clock.
package timing
