package dcap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/latencyproof/poc/verifier/dcap"
)

// Verify a real Azure TD quote offline against a collateral file, then
// apply a policy. The quote's TCB is UpToDate on this collateral (Intel TCB
// evaluation 17); its TD does not set SEPT_VE_DISABLE, which a policy may
// require.
func Example() {
	file, err := os.ReadFile("testdata/quotes/teekit_tdx-v4-azure.v4.b64")
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, err := dcap.DecodeQuoteFile(file) // base64 here; raw and hex work too
	if err != nil {
		fmt.Println(err)
		return
	}
	coll, err := dcap.ReadBundle("testdata/collateral/assembled_00806f050000_2025-10.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := dcap.Verify(context.Background(), raw, dcap.Options{
		Collateral: coll,
		At:         time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC), // inside the collateral's validity
	})
	var se *dcap.StageError
	switch {
	case errors.Is(err, dcap.ErrCouldNotCheck):
		fmt.Println("could not check, retry later:", err)
		return
	case errors.As(err, &se):
		fmt.Println("refused at stage", se.Stage)
		return
	}
	fmt.Println("TCB status:", res.TCBStatus)
	fmt.Println("MRTD:", res.MRTD[:16]+"…")

	policy := dcap.Policy{RequireSEPTVEDisable: true}
	if err := policy.Check(res); errors.Is(err, dcap.ErrPolicy) {
		fmt.Println("policy:", err)
	}
	// Output:
	// TCB status: UpToDate
	// MRTD: fe27b2aa3a05ec56…
	// policy: policy require_sept_ve_disable: got SEPT_VE_DISABLE=0, want SEPT_VE_DISABLE=1
}
