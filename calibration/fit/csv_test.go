package fit

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/latencyproof/poc/calibration/profile"
)

const csvHeader = "provider,region,endpoint,method,rtt_ns,time,origin,vantage,vantage_lat,vantage_lon,error\n"

func csvRow(rtt string) string {
	return "azure,westeurope,api.westeurope,h2-ping," + rtt + ",2026-11-01T10:00:00Z,real,we-vm,52.37,4.90,\n"
}

// TestCSVFit: a CSV import fits like any other source.
func TestCSVFit(t *testing.T) {
	var b strings.Builder
	b.WriteString(csvHeader)
	r := rand.New(rand.NewPCG(1, 1))
	for range 3000 {
		b.WriteString(csvRow(fmt.Sprintf("%.1f", 100_000+30_000*r.ExpFloat64())))
	}
	b.WriteString("azure,westeurope,api.westeurope,h2-ping,,2026-11-01T11:00:00Z,real,we-vm,52.37,4.90,timeout\n")
	cr, err := NewCSVReader(strings.NewReader(b.String()), CSVOptions{Name: "import.csv"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Fit(cr, Options{Locate: locate})
	if err != nil {
		t.Fatal(err)
	}
	p := f.Profiles[0]
	if p.Count != 3000 || p.Failures != 1 || p.Origin != profile.OriginReal || p.Vantage.Name != "we-vm" ||
		p.LastSample.Hour() != 10 || p.Provider != "azure" {
		t.Fatalf("%+v", p)
	}
}

// TestCSVDefaults: columns may be left out when the options supply them.
func TestCSVDefaults(t *testing.T) {
	doc := "endpoint,method,rtt_ns\napi,http1,123456.5\n"
	cr, err := NewCSVReader(strings.NewReader(doc), CSVOptions{
		Provider: "aws", Region: "eu-west-1", Origin: profile.OriginReal,
		Vantage: &profile.Vantage{Name: "dub-vm", Lat: 53.35, Lon: -6.26},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if s.Provider != "aws" || s.Region != "eu-west-1" || s.Origin != "real" || s.Vantage != "dub-vm" || s.VantageLat != 53.35 || s.RTTNs != 123456.5 || s.Method != "http1" {
		t.Fatalf("%+v", s)
	}
	if _, err := cr.Read(); err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
}

// TestCSVErrors: every bad cell is refused with its line and column.
func TestCSVErrors(t *testing.T) {
	good := csvRow("120000")
	tests := []struct {
		name   string
		doc    string
		line   int
		column string
		want   error
	}{
		{"NaN", csvHeader + good + csvRow("NaN"), 3, "rtt_ns", ErrBadRTT},
		{"Inf", csvHeader + good + csvRow("+Inf"), 3, "rtt_ns", ErrBadRTT},
		{"negative", csvHeader + good + good + csvRow("-5"), 4, "rtt_ns", ErrBadRTT},
		{"zero", csvHeader + csvRow("0"), 2, "rtt_ns", ErrBadRTT},
		{"not a number", csvHeader + csvRow("12ms"), 2, "rtt_ns", ErrBadRTT},
		{"empty", csvHeader + csvRow(""), 2, "rtt_ns", ErrBadRTT},
		{"method", csvHeader + strings.Replace(good, "h2-ping", "udp", 1), 2, "method", nil},
		{"origin", csvHeader + strings.Replace(good, "real", "cloud", 1), 2, "origin", nil},
		{"latitude", csvHeader + strings.Replace(good, "52.37", "95", 1), 2, "vantage_lat", nil},
		{"time", csvHeader + strings.Replace(good, "2026-11-01T10:00:00Z", "yesterday", 1), 2, "time", nil},
		{"error with a round trip", csvHeader + strings.Replace(good, ",\n", ",refused\n", 1), 2, "rtt_ns", nil},
		{"field count", csvHeader + good + "a,b\n", 3, "", nil},
		{"unknown column", "endpoint,method,rtt_us\n", 1, "", nil},
		{"missing column", "endpoint,method\n", 1, "", nil},
		{"duplicate column", "endpoint,method,rtt_ns,rtt_ns\n", 1, "", nil},
		{"no vantage", "endpoint,method,rtt_ns\n", 1, "", nil},
		{"empty file", "", 1, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			cr, err := NewCSVReader(strings.NewReader(tc.doc), CSVOptions{Name: "x.csv"})
			if err == nil {
				for err == nil {
					_, err = cr.Read()
				}
			}
			var ce *CSVError
			if !errors.Is(err, ErrCSV) || !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CSVError wrapping ErrCSV", err)
			}
			if ce.File != "x.csv" || ce.Line != tc.line || ce.Column != tc.column {
				t.Errorf("located at %s:%d %q, want line %d column %q (%v)", ce.File, ce.Line, ce.Column, tc.line, tc.column, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
