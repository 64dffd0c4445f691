package verdict

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/latencyproof/poc/calibration/profile"
)

// FuzzDecide: any profile that reads, any round trips and any split of
// them into connections give a verdict or an error, never a panic; an
// accepted verdict has its statistic at or below its threshold and a
// non-negative bound.
func FuzzDecide(f *testing.F) {
	doc, err := os.ReadFile("../profile/testdata/example.json")
	if err != nil {
		f.Fatal(err)
	}
	// The example with connection levels (version 2): K = 1 and K = 8,
	// described by the profile's own quantiles and models.
	pf, err := profile.Read(bytes.NewReader(doc))
	if err != nil {
		f.Fatal(err)
	}
	pf.Version = profile.Version
	p := &pf.Profiles[0]
	for _, k := range []int{1, 8} {
		p.ConnMins = append(p.ConnMins, profile.ConnMin{K: k, Connections: 1000, MinNs: p.MinNs, MaxNs: p.MaxNs,
			MeanNs: p.MeanNs, StddevNs: p.StddevNs, Quantiles: p.Quantiles, Models: p.Models})
	}
	var levels bytes.Buffer
	if err := profile.Write(&levels, pf); err != nil {
		f.Fatal(err)
	}
	rtts := func(xs ...float64) []byte {
		var b []byte
		for _, x := range xs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	f.Add(doc, rtts(240_000, 250_000), uint8(1), 0.001, uint8(0))
	f.Add(doc, rtts(1, 2, 3), uint8(2), 0.5, uint8(1))
	f.Add(doc, rtts(math.NaN()), uint8(0), 0.0, uint8(0))
	f.Add(levels.Bytes(), rtts(240_000, 250_000, 260_000, 245_000, 300_000), uint8(1), 0.001, uint8(2))
	f.Add(levels.Bytes(), rtts(240_000, 250_000, 260_000, 245_000, 300_000, 1e6, 251_000, 242_000, 270_000, 233_000), uint8(0), 0.01, uint8(9))
	f.Fuzz(func(t *testing.T, doc, raw []byte, order uint8, frr float64, split uint8) {
		pf, err := profile.Read(bytes.NewReader(doc))
		if err != nil {
			return
		}
		var xs []float64
		for i := 0; i+8 <= len(raw) && len(xs) < 256; i += 8 {
			xs = append(xs, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
		}
		// split > 0: connections of split echoes (the last one shorter).
		var conns []int
		for left := len(xs); split > 0 && left > 0; left -= int(split) {
			conns = append(conns, min(left, int(split)))
		}
		for i := range pf.Profiles {
			p := &pf.Profiles[i]
			v, err := DecideConns(p, xs, conns, Options{Origin: p.Origin, Clock: p.Clock, Order: int(order), FRR: frr})
			if err != nil {
				continue
			}
			if v.Decision == Accept && !(v.Statistic <= v.Threshold) {
				t.Fatalf("accepted %v above threshold %v", v.Statistic, v.Threshold)
			}
			if !(v.BoundKm >= 0) || !(v.ResolutionKm >= 0) {
				t.Fatalf("bound %v, resolution %v", v.BoundKm, v.ResolutionKm)
			}
		}
	})
}
