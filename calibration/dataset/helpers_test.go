package dataset

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testHeader() Header {
	return Header{
		Format: Format, Version: Version, Campaign: "test-1", Created: t0,
		Vantage:       Vantage{Name: "v1", Provider: "lab", Region: "r1", Lat: 50, Lon: 5, Origin: OriginLab},
		CatalogName:   "lab:small",
		CatalogDigest: "sha256:" + fmt.Sprintf("%064x", 7),
		Plan:          Plan{Rounds: 3, Echoes: 4, Seed: 42, Endpoints: []string{"api.r1.lab.test", "blob.r1.lab.test", "api.r2.lab.test"}},
	}
}

// unitSamples makes the samples of plan unit u: measured echoes, or one
// error sample for every fifth unit.
func unitSamples(h Header, u int) []Sample {
	n := len(h.Plan.Endpoints)
	round := u / n
	ep := h.Plan.Order(round)[u%n]
	base := Sample{
		Round: round, Vantage: h.Vantage.Name, VantageProvider: h.Vantage.Provider, VantageRegion: h.Vantage.Region,
		VantageLat: h.Vantage.Lat, VantageLon: h.Vantage.Lon, Origin: h.Vantage.Origin,
		Endpoint: ep, Provider: "lab", Region: "r1", Hostname: ep, Port: 443, Method: MethodH2Ping,
		Time: t0.Add(time.Duration(u) * time.Second),
	}
	if u%5 == 4 {
		base.Error, base.ErrorKind, base.Method = "dial tcp: connection refused", ErrorKindDial, MethodAuto
		return []Sample{base}
	}
	out := make([]Sample, h.Plan.Echoes)
	for i := range out {
		s := base
		s.Address = "127.0.0.1:9999"
		s.Conn, s.Echo = i/2, i
		s.RTTCycles = uint64(1000 + 10*u + i)
		s.RTTNs = float64(s.RTTCycles) / 2.5
		s.FrequencyHz, s.FrequencySource = 2_500_000_000, "cpuid-0x15"
		s.HandshakeNs = 1234.5
		if i%2 == 1 {
			s.RTTKernelNs = int64(s.RTTNs) - 10
		}
		s.Time = base.Time.Add(time.Duration(i) * time.Millisecond)
		out[i] = s
	}
	return out
}

// writeUnits writes plan units [from, to) and commits them (once: an fsync
// per unit makes tests slow on a busy disk).
func writeUnits(t testing.TB, w *Writer, from, to int) {
	t.Helper()
	for u := from; u < to; u++ {
		for _, s := range unitSamples(w.Header(), u) {
			if err := w.Write(&s); err != nil {
				t.Fatalf("unit %d: %v", u, err)
			}
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// makeDataset writes a dataset with the first units of the test plan.
func makeDataset(t testing.TB, units int) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "samples.jsonl")
	w, err := Create(path, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	writeUnits(t, w, 0, units)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// lines splits a file into its lines, newline kept.
func lines(b []byte) [][]byte {
	return bytes.SplitAfter(b, []byte("\n"))
}
