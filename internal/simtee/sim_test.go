package simtee

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/verify"
)

func TestInitLoadRoundTrip(t *testing.T) {
	s := newSim(t, InitOptions{FMSPC: "B0C06F000000", CertValidity: 48 * time.Hour, CollateralValidity: 10 * time.Hour})
	l, err := Load(s.Dir())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(l.Manifest(), s.Manifest()) {
		t.Errorf("manifest after Load differs:\n%+v\n%+v", l.Manifest(), s.Manifest())
	}
	if !l.Root().Equal(s.Root()) || !bytes.Equal(l.CollateralJSON(), s.CollateralJSON()) || !bytes.Equal(l.RootPEM(), s.RootPEM()) {
		t.Error("root or collateral differ after Load")
	}
	m := l.Manifest()
	if m.Version != ManifestVersion || m.FMSPC != "b0c06f000000" || !m.Created.Equal(pinned) ||
		!m.Certificates.NotAfter.Equal(pinned.Add(48*time.Hour)) || !m.Collateral.NotAfter.Equal(pinned.Add(10*time.Hour)) ||
		m.TCBStatus != "UpToDate" || m.PCKRevoked {
		t.Errorf("manifest %+v does not say what Init was asked", m)
	}
	// A quote of the loaded Sim verifies under the root Init made.
	raw := mustQuote(t, l, reportData("loaded"), TDOptions{})
	if err := verify.TdxQuote(parseQuote(t, raw), withCollateral(t, l, s.RootPool(), checkAt)); err != nil {
		t.Fatalf("quote of the loaded Sim refused: %v", err)
	}
}

func TestInitWritesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "sim")
	s, err := Init(dir, InitOptions{Now: pinned})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("new directory mode %v, want 0700", perm)
	}
	secret := map[string]bool{}
	f := s.Manifest().Files
	for _, k := range []string{f.RootKey, f.PlatformCAKey, f.PCKKey, f.TCBSigningKey, f.AttestationKey} {
		secret[k] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(0o644)
		if secret[e.Name()] {
			want = 0o600
		}
		if info.Mode() != want {
			t.Errorf("%s: mode %v, want %v", e.Name(), info.Mode(), want)
		}
	}
	if len(names) != len(f.list())+1 {
		t.Errorf("directory holds %v; want the %d files of the manifest and sim.json, nothing else", names, len(f.list()))
	}
	root, err := os.ReadFile(filepath.Join(dir, f.Root))
	if err != nil || !bytes.Equal(root, s.RootPEM()) {
		t.Errorf("root.pem is not the Sim's root (%v)", err)
	}
	// No private key material outside the 0600 files.
	for _, e := range entries {
		if secret[e.Name()] {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", e.Name())
		}
	}
}

func TestInitRefuses(t *testing.T) {
	foreign := func(t *testing.T) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	existing := func(t *testing.T) string { return newSim(t, InitOptions{}).Dir() }
	file := func(t *testing.T) string {
		p := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		dir  func(*testing.T) string
		opts InitOptions
		want error
	}{
		{"foreign files", foreign, InitOptions{}, ErrExists},
		{"foreign files, overwrite", foreign, InitOptions{Overwrite: true}, ErrNotSim},
		{"existing sim", existing, InitOptions{}, ErrExists},
		{"path is a file", file, InitOptions{}, ErrExists},
		{"bad FMSPC", func(t *testing.T) string { return t.TempDir() }, InitOptions{FMSPC: "00906ed5"}, ErrOptions},
		{"FMSPC not hex", func(t *testing.T) string { return t.TempDir() }, InitOptions{FMSPC: "00906ed5000g"}, ErrOptions},
		{"negative validity", func(t *testing.T) string { return t.TempDir() }, InitOptions{CertValidity: -time.Hour}, ErrOptions},
		{"sub-second collateral", func(t *testing.T) string { return t.TempDir() }, InitOptions{CollateralValidity: time.Millisecond}, ErrOptions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			tc.opts.Now = pinned
			_, err := Init(dir, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Init error = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("foreign files untouched", func(t *testing.T) {
		dir := foreign(t)
		_, _ = Init(dir, InitOptions{Now: pinned, Overwrite: true})
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("Init wrote into a directory it refused: %d entries", len(entries))
		}
	})
}

func TestInitOverwrite(t *testing.T) {
	old := newSim(t, InitOptions{})
	s, err := Init(old.Dir(), InitOptions{Now: pinned, Overwrite: true, TCBOutOfDate: true})
	if err != nil {
		t.Fatalf("Init with Overwrite over a simulated TEE: %v", err)
	}
	if s.Root().Equal(old.Root()) {
		t.Error("overwriting kept the old root")
	}
	if s.Manifest().TCBStatus != "OutOfDate" {
		t.Errorf("TCB status %q after overwrite", s.Manifest().TCBStatus)
	}
	// The old Sim's quotes no longer verify under the new root.
	raw := mustQuote(t, old, reportData("old"), TDOptions{})
	if err := verify.TdxQuote(parseQuote(t, raw), offline(t, s.RootPool(), checkAt)); err == nil {
		t.Error("a quote of the overwritten Sim verified under the new root")
	}
}

// editManifest rewrites dir/sim.json through a map, so tests can break it.
func editManifest(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, manifestName)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRefuses(t *testing.T) {
	other := newSim(t, InitOptions{})
	files := func(m map[string]any) map[string]any { return m["files"].(map[string]any) }
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  error
	}{
		{"no manifest", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, manifestName)) }, ErrNotSim},
		{"version 2", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["version"] = 2 }) }, ErrVersion},
		{"version 0", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["version"] = 0 }) }, ErrVersion},
		{"no version", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { delete(m, "version") }) }, ErrManifest},
		{"not JSON", func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(dir, manifestName), []byte("version: 1"), 0o644)
		}, ErrManifest},
		{"unknown field", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["extra"] = true }) }, ErrManifest},
		{"bad FMSPC", func(t *testing.T, dir string) { editManifest(t, dir, func(m map[string]any) { m["fmspc"] = "zz" }) }, ErrManifest},
		{"unknown TCB status", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["tcbStatus"] = "Revoked" })
		}, ErrManifest},
		{"file outside the directory", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { files(m)["pckKey"] = "../pck.key" })
		}, ErrManifest},
		{"absolute file name", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { files(m)["root"] = "/etc/passwd" })
		}, ErrManifest},
		{"file name twice", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { files(m)["rootKey"] = "root.pem" })
		}, ErrManifest},
		{"missing key file", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, "attestation.key")) }, fs.ErrNotExist},
		{"FMSPC differs from the PCK certificate", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["fmspc"] = "112233445566" })
		}, ErrInconsistent},
		{"another sim's PCK key", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other.Dir(), "pck.key"), filepath.Join(dir, "pck.key"))
		}, ErrInconsistent},
		{"another sim's root", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other.Dir(), "root.pem"), filepath.Join(dir, "root.pem"))
		}, ErrInconsistent},
		{"another sim's collateral", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(other.Dir(), "collateral.json"), filepath.Join(dir, "collateral.json"))
		}, ErrInconsistent},
		{"certificate is a key", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(dir, "pck.key"), filepath.Join(dir, "pck.pem"))
		}, ErrInconsistent},
		{"edited TCB info", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "collateral.json")
			data, _ := os.ReadFile(p)
			_ = os.WriteFile(p, bytes.Replace(data, []byte(`\"UpToDate\"`), []byte(`\"OutOfDate\"`), 1), 0o644)
		}, ErrInconsistent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newSim(t, InitOptions{}).Dir()
			tc.spoil(t, dir)
			_, err := Load(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load error = %v, want %v", err, tc.want)
			}
			var pathErr *fs.PathError
			if errors.Is(tc.want, fs.ErrNotExist) && (!errors.As(err, &pathErr) || filepath.Dir(pathErr.Path) != dir) {
				t.Errorf("Load error %v does not name the missing file in %s", err, dir)
			}
		})
	}
}

func TestManifestNotice(t *testing.T) {
	s := newSim(t, InitOptions{})
	if !strings.Contains(s.Manifest().Notice, "NOT Intel") {
		t.Errorf("manifest notice %q does not say the hierarchy is not Intel's", s.Manifest().Notice)
	}
	for _, c := range []string{s.Root().Subject.String()} {
		if !strings.Contains(c, "NOT Intel") {
			t.Errorf("root subject %q does not say it is not Intel's", c)
		}
	}
}
