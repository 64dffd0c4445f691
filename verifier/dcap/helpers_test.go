package dcap

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Pinned verification times, each inside the window where every piece of
// the named collateral is valid (see testdata/PROVENANCE.md).
var (
	at2023    = time.Date(2023, 6, 25, 0, 0, 0, 0, time.UTC) // assembled_go-tdx-guest_50806f000000_2023-06
	at2025jun = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)  // dcap-qvl b0c06f000000 2025-06
	at2025oct = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC) // assembled 00806f050000 2025-10
	at2025nov = time.Date(2025, 11, 5, 0, 0, 0, 0, time.UTC) // assembled 00a06d080000 2025-10
	at2026    = time.Date(2026, 2, 25, 0, 0, 0, 0, time.UTC) // 90c06f000000 2026-02 (both)
	at2025sgx = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)  // dcap-qvl SGX 00a067110000 2025-06
	atNever   = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)  // before any collateral
	atLate    = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)  // after all collateral
	_         = []time.Time{at2025sgx, atNever, atLate, at2026}
)

// Collateral files.
const (
	collB0C0   = "dcap-qvl_tdx_quote_collateral_b0c06f000000_2025-06.json"
	coll5080   = "assembled_go-tdx-guest_50806f000000_2023-06.json"
	coll0080   = "assembled_00806f050000_2025-10.json"
	collA06D   = "assembled_00a06d080000_2025-10.json"
	coll90C0   = "dcap-qvl_tdx_quote_outdated_collateral_90c06f000000_2026-02.json"
	coll90C0gt = "assembled_90c06f000000_2026-02_go-tdx-guest-tcbinfo.json"
	collSGX    = "dcap-qvl_sgx_quote_collateral_00a067110000_2025-06.json"
)

// sprE4Len is the signed length of go-tdx-guest's SPR E4 quote; the file
// has 39 bytes of test text after it.
const sprE4Len = 4935

func readTestdata(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// quoteBytes returns the raw quote of a file under testdata/quotes.
func quoteBytes(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := DecodeQuoteFile(readTestdata(t, "quotes", name))
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	if name == "go-tdx-guest_tdx_prod_quote_SPR_E4.v4.dat" {
		raw = raw[:sprE4Len]
	}
	return raw
}

func collateral(t testing.TB, name string) *Collateral {
	t.Helper()
	c, err := ParseCollateral(readTestdata(t, "collateral", name))
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return c
}

func bundle(t testing.TB, name string) Bundle { return Bundle{Fixed: collateral(t, name)} }

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
