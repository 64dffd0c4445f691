// Command gen regenerates transcript/testdata/rfc8448 from the RFC 8448 JSON
// trace:
//
//	go run ./transcript/internal/rfc8448/gen \
//	    -trace ../shared/datasets/tls-traces/rfc8448-simple-1rtt.json \
//	    -out transcript/testdata/rfc8448
//
// It copies the trace itself to trace.json beside the files it derives, so
// the tests can re-derive them without reading anything outside testdata.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/latencyproof/poc/transcript/internal/rfc8448"
)

func main() {
	trace := flag.String("trace", "", "path of rfc8448-simple-1rtt.json")
	out := flag.String("out", "transcript/testdata/rfc8448", "output directory")
	flag.Parse()
	if err := run(*trace, *out); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(trace, out string) error {
	if trace == "" {
		return fmt.Errorf("-trace is required")
	}
	j, err := os.ReadFile(trace)
	if err != nil {
		return err
	}
	files, err := rfc8448.Files(j)
	if err != nil {
		return err
	}
	files["trace.json"] = j
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(out, n), files[n], 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d bytes)\n", filepath.Join(out, n), len(files[n]))
	}
	return nil
}
