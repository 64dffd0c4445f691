package vtpm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/latencyproof/poc/internal/azure/hcl"
)

func TestCheckReportUserData(t *testing.T) {
	tdx := mustRead(t, "trustee_az-tdx-vtpm_hcl-report.bin")
	var zero, one [64]byte
	one[63] = 1
	if err := CheckReportUserData(tdx, zero); err != nil {
		t.Errorf("recorded user-data: %v", err)
	}
	if err := CheckReportUserData(tdx, one); !errors.Is(err, ErrStaleReport) {
		t.Errorf("other user-data: %v", err)
	}
	if err := CheckReportUserData(tdx[:100], zero); !errors.Is(err, hcl.ErrTruncated) {
		t.Errorf("truncated report: %v", err)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
