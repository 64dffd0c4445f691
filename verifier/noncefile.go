package verifier

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/latencyproof/poc/evidence"
)

// NonceFile is a NonceStore on disk (a bbolt database): answered challenges
// are remembered across restarts, so a replayed proof is refused by a
// verifier service that restarted in between. Entries whose challenge has
// expired are pruned as new ones are recorded: such a challenge is refused
// as expired anyway.
type NonceFile struct {
	db  *bolt.DB
	now func() time.Time
}

var nonceBucket = []byte("used-nonces")

// OpenNonceFile opens (or creates, mode 0600) the store. One process at a
// time may hold it; another waits up to 2 s and then fails.
func OpenNonceFile(path string) (*NonceFile, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening nonce store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(nonceBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising nonce store %s: %w", path, err)
	}
	return &NonceFile{db: db, now: time.Now}, nil
}

// Close releases the store.
func (n *NonceFile) Close() error { return n.db.Close() }

// Seen reports whether the nonce was used.
func (n *NonceFile) Seen(nonce evidence.Hash) (bool, error) {
	var seen bool
	err := n.db.View(func(tx *bolt.Tx) error {
		seen = tx.Bucket(nonceBucket).Get(nonce[:]) != nil
		return nil
	})
	return seen, err
}

// maxPrune bounds the expired entries removed per Use, so one call never
// walks a huge store.
const maxPrune = 64

// Use records the nonce atomically (one bbolt write transaction), or fails
// with ErrReplay.
func (n *NonceFile) Use(nonce evidence.Hash, expires time.Time) error {
	return n.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(nonceBucket)
		if b.Get(nonce[:]) != nil {
			return ErrReplay
		}
		now := n.now().Unix()
		var stale [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(stale) < maxPrune; k, v = c.Next() {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < now {
				stale = append(stale, append([]byte(nil), k...))
			}
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		var exp [8]byte
		binary.BigEndian.PutUint64(exp[:], uint64(expires.Unix()))
		return b.Put(append([]byte(nil), nonce[:]...), exp[:])
	})
}
