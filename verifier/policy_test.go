package verifier

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestExamplePolicyReads(t *testing.T) {
	p, err := ReadPolicyFile("../docs/policy.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if !p.AllowsTEE("azure-tdx") || p.AllowsTEE("sim") || p.MAA == nil {
		t.Fatalf("example policy read as %+v", p)
	}
	if d := DefaultPolicy(); d.AllowsTEE("sim") || !d.AllowsTEE("tdx") || d.Validate() != nil {
		t.Fatal("the default policy must accept TDX and refuse the simulated TEE")
	}
}

func TestReadPolicyRejects(t *testing.T) {
	tests := map[string]string{
		"version":          `{"version": 2}`,
		"unknown field":    `{"version": 1, "colour": "red"}`,
		"unknown tee":      `{"version": 1, "tees": ["sgx"]}`,
		"revoked accepted": `{"version": 1, "quote": {"accepted_tcb_statuses": ["Revoked"]}}`,
		"maa no issuer":    `{"version": 1, "maa": {}}`,
		"require no maa":   `{"version": 1, "require_maa": true}`,
		"trailing":         `{"version": 1} {}`,
		"not json":         `{`,
		"oversized":        `{"version": 1, "x": "` + strings.Repeat("a", MaxPolicyBytes) + `"}`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadPolicy(strings.NewReader(doc)); !errors.Is(err, ErrPolicyFile) {
				t.Fatalf("err = %v, want ErrPolicyFile", err)
			}
		})
	}
	if _, err := ReadPolicyFile("no-such-file.json"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
