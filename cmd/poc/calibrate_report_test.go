package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCalibrateReport(t *testing.T) {
	dir := t.TempDir()
	// Samples of the example's endpoint and vantage, from a CSV without
	// provider and region columns: the profiles supply them.
	var csv bytes.Buffer
	csv.WriteString("endpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon\n")
	for i := range 3000 {
		csv.WriteString(exampleEndpoint + ",h2-ping," + strconv.Itoa(230_000+i*7919%60_000) + ",lab,westeurope-vm,52.3676,4.9041\n")
	}
	samples := filepath.Join(dir, "samples.csv")
	os.WriteFile(samples, csv.Bytes(), 0o644)

	out := filepath.Join(dir, "report")
	code, stdout, stderr := pocCal(t, "calibrate", "report", "--profiles", exampleProfiles, "--dataset", samples,
		"--out", out, "--echoes", "8", "--echoes", "64", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum reportSummary
	decodeOne(t, stdout, &sum)
	if len(sum.Profiles) != 1 || sum.Profiles[0].Samples != 3000 || sum.Profiles[0].Origin != "lab" || len(sum.Files) != 5 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range sum.Files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".png":
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		case ".svg":
			dec := xml.NewDecoder(bytes.NewReader(b))
			for {
				if _, err := dec.Token(); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
		case ".md":
			for _, s := range []string{"LAB PROFILES", "| 8 |", "| 64 |", "samples.csv", "same metro"} {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("report.md lacks %q", s)
				}
			}
		}
	}
	first, _ := os.ReadFile(filepath.Join(out, "power-api.westeurope.lab.test.png"))

	// Again, as text, into the same directory: the same bytes.
	code, stdout, stderr = pocCal(t, "calibrate", "report", "--profiles", exampleProfiles, "--dataset", samples,
		"--out", out, "--echoes", "64,8")
	if code != exitOK || !strings.Contains(stdout, "report of 1 profile in") || !strings.Contains(stdout, "3000 samples plotted") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	again, _ := os.ReadFile(filepath.Join(out, "power-api.westeurope.lab.test.png"))
	if !bytes.Equal(first, again) {
		t.Fatal("the same report rendered differently")
	}
}

func TestCalibrateReportErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("endpoint,method,rtt_ns,origin,vantage,vantage_lat,vantage_lon\n"+exampleEndpoint+",h2-ping,-1,lab,v,1,1\n"), 0o644)
	out := filepath.Join(dir, "out")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"out is a file", []string{"--profiles", exampleProfiles, "--out", file}, exitUsage, "not a directory"},
		{"bad echoes", []string{"--profiles", exampleProfiles, "--out", out, "--echoes", "0"}, exitUsage, "--echoes"},
		{"bad frr", []string{"--profiles", exampleProfiles, "--out", out, "--frr", "0"}, exitUsage, "--frr"},
		{"too many K", []string{"--profiles", exampleProfiles, "--out", out, "--echoes", "1,2,3,4,5,6,7,8,9"}, exitUsage, "at most 8"},
		{"bad dataset row", []string{"--profiles", exampleProfiles, "--out", out, "--dataset", bad}, exitCouldNot, "bad.csv:2:"},
		{"missing profiles", []string{"--profiles", filepath.Join(dir, "none"), "--out", out}, exitCouldNot, "none"},
		{"no out", []string{"--profiles", exampleProfiles}, exitUsage, "out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := pocCal(t, append([]string{"calibrate", "report"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q: %s", code, tc.code, tc.want, stderr)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a failed report wrote its directory")
	}
}
