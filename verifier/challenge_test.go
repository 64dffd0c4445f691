package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latencyproof/poc/evidence"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestChallenge(t *testing.T) {
	k, err := NewChallengeKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewChallengeKey()
	c, err := k.Issue("test verifier", t0, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.CheckChallenge(&c, t0.Add(time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	c2, _ := k.Issue("test verifier", t0, 5*time.Minute)
	if c2.Nonce == c.Nonce {
		t.Fatal("two challenges share a nonce")
	}
	tests := map[string]struct {
		mut  func(c *evidence.Challenge)
		key  *ChallengeKey
		now  time.Time
		want error
	}{
		"other key":        {nil, other, t0, ErrForeignChallenge},
		"nonce altered":    {func(c *evidence.Challenge) { c.Nonce[0] ^= 1 }, k, t0, ErrForeignChallenge},
		"verifier altered": {func(c *evidence.Challenge) { c.Verifier += "x" }, k, t0, ErrForeignChallenge},
		"expiry extended":  {func(c *evidence.Challenge) { c.ExpiresUnix += 3600 }, k, t0, ErrForeignChallenge},
		"issue moved":      {func(c *evidence.Challenge) { c.IssuedUnix-- }, k, t0, ErrForeignChallenge},
		"tag cut":          {func(c *evidence.Challenge) { c.Tag = c.Tag[:16] }, k, t0, ErrForeignChallenge},
		"no tag":           {func(c *evidence.Challenge) { c.Tag = nil }, k, t0, ErrForeignChallenge},
		"expired":          {nil, k, t0.Add(5 * time.Minute), ErrChallengeExpired},
		"long expired":     {nil, k, t0.Add(48 * time.Hour), ErrChallengeExpired},
		"from the future":  {nil, k, t0.Add(-2 * time.Minute), ErrChallengeNotYetValid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cc := c
			cc.Tag = append([]byte(nil), c.Tag...)
			if tt.mut != nil {
				tt.mut(&cc)
			}
			if err := tt.key.CheckChallenge(&cc, tt.now, time.Minute); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	for _, ttl := range []time.Duration{0, -time.Second, MaxChallengeTTL + time.Second} {
		if _, err := k.Issue("v", t0, ttl); err == nil {
			t.Errorf("ttl %v accepted", ttl)
		}
	}
}

func TestChallengeKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	k, _ := NewChallengeKey()
	if err := SaveChallengeKey(path, k); err != nil {
		t.Fatal(err)
	}
	if err := SaveChallengeKey(path, k); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
	k2, err := LoadChallengeKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID() != k.ID() {
		t.Fatal("key changed through its file")
	}
	os.Chmod(path, 0o644)
	if _, err := LoadChallengeKey(path); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("a world-readable key: err = %v", err)
	}
	for name, content := range map[string]string{
		"no header": "00",
		"short":     keyFileHeader + "abcd\n",
		"not hex":   keyFileHeader + "zz\n",
		"large":     keyFileHeader + string(make([]byte, 300)),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := LoadChallengeKey(p); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestNonceStores(t *testing.T) {
	file, err := OpenNonceFile(filepath.Join(t.TempDir(), "nonces.db"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]NonceStore{"memory": NewMemoryNonces(), "file": file} {
		t.Run(name, func(t *testing.T) {
			var n evidence.Hash
			n[0] = 1
			if seen, err := s.Seen(n); err != nil || seen {
				t.Fatalf("fresh nonce seen %v, %v", seen, err)
			}
			if err := s.Use(n, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if seen, _ := s.Seen(n); !seen {
				t.Fatal("used nonce not seen")
			}
			if err := s.Use(n, t0.Add(time.Hour)); !errors.Is(err, ErrReplay) {
				t.Fatalf("second use: %v, want ErrReplay", err)
			}
		})
	}
	// The file store remembers across a reopen, as a restarted service must.
	path := filepath.Join(t.TempDir(), "n.db")
	a, _ := OpenNonceFile(path)
	var n evidence.Hash
	n[1] = 2
	a.Use(n, time.Now().Add(time.Hour))
	a.Close()
	b, err := OpenNonceFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Use(n, time.Now().Add(time.Hour)); !errors.Is(err, ErrReplay) {
		t.Fatalf("after reopening: %v, want ErrReplay", err)
	}
}
