package verifier

import (
	"sync"
	"time"

	"github.com/latencyproof/poc/evidence"
)

// MemoryNonces is a NonceStore in memory: replays are detected for as long
// as the process lives. Services that must remember across restarts use a
// store on disk.
type MemoryNonces struct {
	mu   sync.Mutex
	used map[evidence.Hash]time.Time
	now  func() time.Time
}

// NewMemoryNonces returns an empty store.
func NewMemoryNonces() *MemoryNonces {
	return &MemoryNonces{used: map[evidence.Hash]time.Time{}, now: time.Now}
}

// Seen reports whether the nonce was used.
func (m *MemoryNonces) Seen(n evidence.Hash) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.used[n]
	return ok, nil
}

// Use records the nonce, or fails with ErrReplay. Expired entries are
// forgotten: their challenges are refused as expired anyway.
func (m *MemoryNonces) Use(n evidence.Hash, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.used[n]; ok {
		return ErrReplay
	}
	now := m.now()
	for k, exp := range m.used {
		if exp.Before(now) {
			delete(m.used, k)
		}
	}
	m.used[n] = expires
	return nil
}
