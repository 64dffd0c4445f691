package rfc8448

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	j, err := os.ReadFile("../../testdata/rfc8448/trace.json")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(j)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"c2s.bin", "s2c.bin", "c2s-handshake.bin", "s2c-handshake.bin", "keylog.txt", "root.pem"} {
		if len(files[n]) == 0 {
			t.Errorf("%s missing", n)
		}
	}
	if got := strings.Count(string(files["keylog.txt"]), "_SECRET"); got != 4 {
		t.Errorf("%d secret lines", got)
	}
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sub := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	for _, bad := range []string{
		`not json`,
		`{}`,
		mutate(func(m map[string]any) { sub(m, "records")["client_finished"] = "zz" }),
		mutate(func(m map[string]any) { delete(sub(m, "records"), "server_hello") }),
		mutate(func(m map[string]any) { sub(m, "secrets")["server_handshake_traffic_secret"] = "q" }),
		mutate(func(m map[string]any) { sub(m, "server")["certificate_der"] = "x" }),
		mutate(func(m map[string]any) { sub(m, "client")["random"] = "" }),
	} {
		if _, err := Files([]byte(bad)); err == nil {
			t.Errorf("no error for %.60q…", bad)
		}
	}
}
