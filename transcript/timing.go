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
	}
	if last := st[len(st)-1]; last.Offset >= int64(streamLen) {
		return errf(ErrTiming, "%s stamp %d at offset %d is not inside the %d-byte stream", d, len(st)-1, last.Offset, streamLen)
	}
	return nil
}

// stampAt returns the counter of the system call that moved byte off.
func stampAt(st []Stamp, off int64) uint64 {
	i := sort.Search(len(st), func(i int) bool { return st[i].Offset > off })
	return st[i-1].Cycles
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
	cyc := make([]uint64, len(v.res.Records))
	for i, r := range v.res.Records {
		off := r.Offset
		if r.Dir == ServerToClient {
			off += int64(r.Length) - 1
		}
		cyc[i] = stampAt(st[r.Dir], off)
	}
	v.cycles = cyc
}

// 10. timing

func (v *verifier) checkTiming() (string, error) {
	v.prepareTimes()
	if v.timErr != nil {
		return "", v.timErr
	}
	for i := range v.res.Records {
		v.res.Records[i].Cycles = v.cycles[i]
	}
	ch := v.idx[ClientToServer][0]
	sent, got := v.cycles[ch], v.cycles[v.sfRecord]
	if got <= sent {
		return "", errf(ErrTiming, "the server Finished record (%s) arrived at cycle %d, not after the ClientHello was written at cycle %d", v.where(v.sfRecord), got, sent)
	}
	v.res.HandshakeCycles = got - sent
	var lo, hi uint64
	for i := range v.res.Echoes {
		e := &v.res.Echoes[i]
		q, a := v.cycles[e.Request], v.cycles[e.Answer]
		if a <= q {
			return "", errf(ErrTiming, "echo %d: the answer (%s) arrived at cycle %d, not after the request (%s) was written at cycle %d", e.Index, v.where(e.Answer), a, v.where(e.Request), q)
		}
		e.RTTCycles = a - q
		if i == 0 || e.RTTCycles < lo {
			lo = e.RTTCycles
		}
		hi = max(hi, e.RTTCycles)
	}
	d := fmt.Sprintf("%d c2s and %d s2c stamps consistent; handshake %d cycles", len(v.s.C2STimes), len(v.s.S2CTimes), v.res.HandshakeCycles)
	if len(v.res.Echoes) > 0 {
		d += fmt.Sprintf("; %d echo RTTs, %d to %d cycles", len(v.res.Echoes), lo, hi)
	}
	return d, nil
}
