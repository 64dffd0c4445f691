package verdict_test

import (
	"fmt"
	"os"

	"github.com/latencyproof/poc/calibration/profile"
	"github.com/latencyproof/poc/calibration/verdict"
)

// A prover in the lab's westeurope region timed 8 HTTP/2 PINGs to the
// region's API endpoint; the verifier decides with the endpoint's profile.
func ExampleDecide() {
	fh, err := os.Open("../profile/testdata/example.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fh.Close()
	f, err := profile.Read(fh)
	if err != nil {
		fmt.Println(err)
		return
	}
	rtts := []float64{251_200, 238_900, 262_400, 244_700, 240_100, 299_800, 247_300, 243_600} // ns
	v, err := verdict.Decide(&f.Profiles[0], rtts, verdict.Options{Origin: profile.OriginLab})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s (%s): min %.1f µs, threshold %.1f µs at FRR %g\n", v.Decision, v.Reason, v.Statistic/1e3, v.Threshold/1e3, v.FRR)
	fmt.Printf("within %.1f km of the endpoint (vacuum bound); relays beyond %.1f km excluded at FAR %g\n", v.BoundKm, v.ResolutionKm, v.FARTarget)
	// Output:
	// accept (within-threshold): min 238.9 µs, threshold 267.5 µs at FRR 0.001
	// within 3.6 km of the endpoint (vacuum bound); relays beyond 6.2 km excluded at FAR 1e-06
}
