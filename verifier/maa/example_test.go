package maa_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/latencyproof/poc/verifier/maa"
)

// Verifying a real Azure CVM token offline, with a saved key set, at a
// pinned time inside its validity.
func ExampleVerify() {
	keys, err := maa.JWKSFile("testdata/secretnetwork_maa_signing_keys_jwks.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	token := mustRead("testdata/jesserc_azurevm_sevsnp_sharedeus2_2025-01-12.jwt")
	pol := maa.Policy{
		Issuer:           "https://sharedeus2.eus2.attest.azure.net",
		AttestationTypes: []string{"azurevm"},
	}
	opts := maa.Options{Keys: keys, At: time.Unix(1736697400, 0).Add(time.Hour), UserData: make([]byte, 64)}
	res, err := maa.Verify(context.Background(), token, opts, pol)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Verified, res.AttestationType, res.IsolationTEE.AttestationType)
	fmt.Println(res.UserData.Path, res.UserData.Checked)
	// Output:
	// true azurevm sevsnpvm
	// x-ms-isolation-tee.x-ms-runtime.user-data true
}

// A token signed by a key the verifier does not have cannot be checked:
// that is reported apart from a refusal.
func ExampleIndeterminate() {
	keys, _ := maa.JWKSFile("testdata/secretnetwork_maa_signing_keys_jwks.json")
	token := mustRead("testdata/ms-cvm-guest-attestation_azurevm_sharedeus2_2022-04-14.jwt")
	pol := maa.Policy{Issuer: "https://sharedeus2.eus2.attest.azure.net", AttestationTypes: []string{"azurevm"}}
	_, err := maa.Verify(context.Background(), token, maa.Options{Keys: keys, At: time.Unix(1649979780, 0)}, pol)
	fmt.Println(errors.Is(err, maa.ErrUnknownKey), maa.Indeterminate(err))
	// Output: true true
}

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}
