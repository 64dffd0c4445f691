package transcript

import (
	"fmt"
	"sort"
)

func (v *verifier) hasTimes() bool { return len(v.s.C2STimes) > 0 || len(v.s.S2CTimes) > 0 }

// validStamps checks that the stamps of one direction describe its stream:
// the first at offset 0, offsets strictly increasing and inside the stream,
// the counter never going back.
func validStamps(st []Stamp, streamLen int, d Direction) error {
	if len(st) == 0 {
		return errf(ErrTiming, "%s has no timestamps although the other direction has", d)
	}
	if st[0].Offset != 0 {
		return errf(ErrTiming, "%s stamp 0 is at offset %d, want 0", d, st[0].Offset)
	}
	for i := 1; i < len(st); i++ {
		if st[i].Offset <= st[i-1].Offset {
			return errf(ErrTiming, "%s stamp %d at offset %d does not follow stamp %d at offset %d", d, i, st[i].Offset, i-1, st[i-1].Offset)
		}
		if st[i].Cycles < st[i-1].Cycles {
			return errf(ErrTiming, "%s stamp %d: counter goes back from %d to %d", d, i, st[i-1].Cycles, st[i].Cycles)
		}
		if st[i].KernelNs < st[i-1].KernelNs {
			return errf(ErrTiming, "%s stamp %d: kernel time goes back from %d to %d ns", d, i, st[i-1].KernelNs, st[i].KernelNs)
		}
	}
	if last := st[len(st)-1]; last.Offset >= int64(streamLen) {
		return errf(ErrTiming, "%s stamp %d at offset %d is not inside the %d-byte stream", d, len(st)-1, last.Offset, streamLen)
	}
	return nil
}

// stampAt returns the stamp of the system call that moved byte off.
func stampAt(st []Stamp, off int64) Stamp {
	i := sort.Search(len(st), func(i int) bool { return st[i].Offset > off })
	return st[i-1]
}

// kernelTimes reports whether the stamps carry kernel times: all of them, or
// (false, nil) none of them; anything in between is an error.
func kernelTimes(st [2][]Stamp) (bool, error) {
	with, total := 0, 0
	for d := range st {
		for i, s := range st[d] {
			total++
			switch {
			case s.KernelNs > 0:
				with++
			case s.KernelNs < 0:
				return false, errf(ErrTiming, "%s stamp %d: negative kernel time %d", Direction(d), i, s.KernelNs)
			}
		}
	}
	if with != 0 && with != total {
		return false, errf(ErrTiming, "%d of %d stamps carry a kernel time: all or none must", with, total)
	}
	return with > 0, nil
}

// prepareTimes validates the stamps once and, if they are valid, gives each
// record its counter value: a c2s record the write that carried its first
// byte, an s2c record the read that delivered its last byte.
func (v *verifier) prepareTimes() {
	if v.cycles != nil || v.timErr != nil || !v.hasTimes() {
		return
	}
	st := [2][]Stamp{v.s.C2STimes, v.s.S2CTimes}
	for _, d := range []Direction{ClientToServer, ServerToClient} {
		if err := validStamps(st[d], len(v.streams[d]), d); err != nil {
			v.timErr = err
			return
		}
	}
	withKernel, err := kernelTimes(st)
	if err != nil {
		v.timErr = err
		return
	}
	cyc := make([]uint64, len(v.res.Records))
	var kern []int64
	if withKernel {
		kern = make([]int64, len(v.res.Records))
	}
	for i, r := range v.res.Records {
		off := r.Offset
		if r.Dir == ServerToClient {
			off += int64(r.Length) - 1
		}
		s := stampAt(st[r.Dir], off)
		cyc[i] = s.Cycles
		if kern != nil {
			kern[i] = s.KernelNs
		}
	}
	v.cycles, v.kernel = cyc, kern
}

// 10. timing

func (v *verifier) checkTiming() (string, error) {
	v.prepareTimes()
	if v.timErr != nil {
		return "", v.timErr
	}
	for i := range v.res.Records {
		v.res.Records[i].Cycles = v.cycles[i]
		if v.kernel != nil {
			v.res.Records[i].KernelNs = v.kernel[i]
		}
	}
	ch := v.idx[ClientToServer][0]
	sent, got := v.cycles[ch], v.cycles[v.sfRecord]
	if got <= sent {
		return "", errf(ErrTiming, "the server Finished record (%s) arrived at cycle %d, not after the ClientHello was written at cycle %d", v.where(v.sfRecord), got, sent)
	}
	v.res.HandshakeCycles = got - sent
	if v.kernel != nil {
		if v.kernel[v.sfRecord] <= v.kernel[ch] {
			return "", errf(ErrTiming, "by the kernel's clock the server Finished record (%s) arrived at %d ns, not after the ClientHello was written at %d ns", v.where(v.sfRecord), v.kernel[v.sfRecord], v.kernel[ch])
		}
		v.res.HandshakeKernelNs = v.kernel[v.sfRecord] - v.kernel[ch]
	}
	var lo, hi uint64
	for i := range v.res.Echoes {
		e := &v.res.Echoes[i]
		q, a := v.cycles[e.Request], v.cycles[e.Answer]
		if a <= q {
			return "", errf(ErrTiming, "echo %d: the answer (%s) arrived at cycle %d, not after the request (%s) was written at cycle %d", e.Index, v.where(e.Answer), a, v.where(e.Request), q)
		}
		e.RTTCycles = a - q
		if v.kernel != nil {
			kq, ka := v.kernel[e.Request], v.kernel[e.Answer]
			if ka <= kq {
				return "", errf(ErrTiming, "echo %d: by the kernel's clock the answer (%s) arrived at %d ns, not after the request was written at %d ns", e.Index, v.where(e.Answer), ka, kq)
			}
			e.RTTKernelNs = ka - kq
		}
		if i == 0 || e.RTTCycles < lo {
			lo = e.RTTCycles
		}
		hi = max(hi, e.RTTCycles)
	}
	d := fmt.Sprintf("%d c2s and %d s2c stamps consistent; handshake %d cycles", len(v.s.C2STimes), len(v.s.S2CTimes), v.res.HandshakeCycles)
	if v.kernel != nil {
		d += fmt.Sprintf(" (%d ns by the kernel's clock)", v.res.HandshakeKernelNs)
	}
	if len(v.res.Echoes) > 0 {
		d += fmt.Sprintf("; %d echo RTTs, %d to %d cycles", len(v.res.Echoes), lo, hi)
	}
	return d, nil
}
