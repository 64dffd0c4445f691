package fit

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// FuzzCSV: any text gives samples or a *CSVError wrapping ErrCSV, never a
// panic; every sample read has a positive, finite round trip or an error.
func FuzzCSV(f *testing.F) {
	f.Add(csvHeader + csvRow("120000") + csvRow("NaN"))
	f.Add("endpoint,method,rtt_ns\napi,h2-ping,1\n")
	f.Add("\ufeffendpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon\napi,http1,5e5,lab,v,1,2\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cr, err := NewCSVReader(strings.NewReader(doc), CSVOptions{Name: "fuzz"})
		if err != nil {
			if !errors.Is(err, ErrCSV) {
				t.Fatalf("header error %v does not wrap ErrCSV", err)
			}
			return
		}
		for range 1000 {
			s, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var ce *CSVError
				if !errors.Is(err, ErrCSV) || !errors.As(err, &ce) || ce.Line < 1 {
					t.Fatalf("error %v is not a located CSV error", err)
				}
				return
			}
			if s.Error == "" && !(s.RTTNs > 0 && !math.IsInf(s.RTTNs, 0)) {
				t.Fatalf("sample with round trip %v", s.RTTNs)
			}
		}
	})
}
