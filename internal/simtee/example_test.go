package simtee_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/verify"

	"github.com/latencyproof/poc/internal/simtee"
)

// A simulated TEE signs a quote over chosen REPORTDATA, and go-tdx-guest
// verifies it, collateral and revocation included, because it was told
// to trust the simulated root.
func Example() {
	dir, err := os.MkdirTemp("", "simtee-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, err := simtee.Init(filepath.Join(dir, "sim"), simtee.InitOptions{Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	var reportData [64]byte
	copy(reportData[:], "digest of the proof")
	raw, err := sim.Quote(reportData, simtee.TDOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}

	quote, err := abi.QuoteToProto(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := now.Add(time.Hour)
	err = verify.TdxQuote(quote, &verify.Options{
		TrustedRoots:     sim.RootPool(), // explicit trust; never nil
		GetCollateral:    true,
		CheckRevocations: true,
		Getter:           sim.Getter(),
		Now:              &verify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at},
	})
	fmt.Println("verified:", err == nil)
	fmt.Println("TCB status:", sim.Manifest().TCBStatus)
	// Output:
	// verified: true
	// TCB status: UpToDate
}
