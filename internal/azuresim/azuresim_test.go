//go:build cgo

package azuresim

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"

	"github.com/latencyproof/poc/internal/azure/hcl"
	"github.com/latencyproof/poc/internal/azure/vtpm"
	"github.com/latencyproof/poc/internal/quoteabi"
	"github.com/latencyproof/poc/internal/simtee"
)

func TestReportAndQuote(t *testing.T) {
	tpm, err := simulator.GetWithFixedSeedInsecure(2)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	tee, err := simtee.Init(t.TempDir()+"/sim", simtee.InitOptions{Now: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := New(tee, simtee.TDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var data [64]byte
	data[5] = 9
	// Without an AK the paravisor has nothing to put in HCLAkPub.
	if _, err := vm.Report(context.Background(), tpm, data); !errors.Is(err, ErrSim) {
		t.Fatalf("no AK: err = %v", err)
	}
	if err := CreateAK(tpm); err != nil {
		t.Fatal(err)
	}
	b, err := vm.Report(context.Background(), tpm, data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hcl.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := vtpm.ReadAKPublic(tpm, vtpm.AKHandle)
	if string(r.Runtime.UserData) != string(data[:]) || r.Runtime.AKPub.N.Cmp(ak.N) != 0 {
		t.Fatal("the report does not carry the user data and the AK")
	}
	if r.Runtime.VMConfig.SecureBoot == nil {
		t.Fatal("the template's vm-configuration was lost")
	}
	h := sha256.Sum256(r.RuntimeData)
	if string(r.TD.ReportData[:32]) != string(h[:]) || r.TD.ReportData[40] != 0 {
		t.Fatal("TDREPORT does not bind the runtime data")
	}
	q, err := vm.TDQuote(context.Background(), r.TD.Raw)
	if err != nil {
		t.Fatal(err)
	}
	v4, err := quoteabi.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	if string(v4.GetTdQuoteBody().GetReportData()) != string(r.TD.ReportData[:]) || string(v4.GetTdQuoteBody().GetMrTd()) != string(r.TD.MRTD[:]) {
		t.Fatal("the quote is not of the report's TD")
	}
	if _, err := vm.TDQuote(context.Background(), make([]byte, 10)); !errors.Is(err, ErrSim) {
		t.Fatalf("a short TDREPORT: err = %v", err)
	}
}
