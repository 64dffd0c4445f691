package verdict

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/latencyproof/poc/calibration/profile"
)

// FuzzDecide: any profile that reads and any round trips give a verdict or
// an error, never a panic; an accepted verdict has its statistic at or
// below its threshold and a non-negative bound.
func FuzzDecide(f *testing.F) {
	doc, err := os.ReadFile("../profile/testdata/example.json")
	if err != nil {
		f.Fatal(err)
	}
	rtts := func(xs ...float64) []byte {
		var b []byte
		for _, x := range xs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	f.Add(doc, rtts(240_000, 250_000), uint8(1), 0.001)
	f.Add(doc, rtts(1, 2, 3), uint8(2), 0.5)
	f.Add(doc, rtts(math.NaN()), uint8(0), 0.0)
	f.Fuzz(func(t *testing.T, doc, raw []byte, order uint8, frr float64) {
		pf, err := profile.Read(bytes.NewReader(doc))
		if err != nil {
			return
		}
		var xs []float64
		for i := 0; i+8 <= len(raw) && len(xs) < 256; i += 8 {
			xs = append(xs, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
		}
		for i := range pf.Profiles {
			p := &pf.Profiles[i]
			v, err := Decide(p, xs, Options{Origin: p.Origin, Clock: p.Clock, Order: int(order), FRR: frr})
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
