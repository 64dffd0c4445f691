package promtext

import (
	"bytes"
	"testing"
)

func TestExposition(t *testing.T) {
	cv := NewCounterVec("poc_requests_total", "Requests.", "route", "code").With("a", "200")
	cv.Inc("b", "503")
	cv.Inc("b", "503")
	cv.Inc(`q"uo\te`, "200")
	c := &Counter{Name: "poc_proofs_total", Help: "Proofs."}
	c.N.Add(3)
	g := &Gauge{Name: "poc_busy", Help: "Busy."}
	g.N.Store(1)
	h := NewHistogram("poc_seconds", "Durations.", 0.5, 1)
	for _, v := range []float64{0.2, 0.7, 3} {
		h.Observe(v)
	}
	var b bytes.Buffer
	cv.Write(&b)
	c.Write(&b)
	g.Write(&b)
	h.Write(&b)
	want := `# HELP poc_requests_total Requests.
# TYPE poc_requests_total counter
poc_requests_total{route="a",code="200"} 0
poc_requests_total{route="b",code="503"} 2
poc_requests_total{route="q\"uo\\te",code="200"} 1
# HELP poc_proofs_total Proofs.
# TYPE poc_proofs_total counter
poc_proofs_total 3
# HELP poc_busy Busy.
# TYPE poc_busy gauge
poc_busy 1
# HELP poc_seconds Durations.
# TYPE poc_seconds histogram
poc_seconds_bucket{le="0.5"} 1
poc_seconds_bucket{le="1"} 2
poc_seconds_bucket{le="+Inf"} 3
poc_seconds_sum 3.9
poc_seconds_count 3
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	if cv.Get("b", "503") != 2 {
		t.Fatal("Get")
	}
}
