// Package partners keeps the API keys of the field partners who send
// reports over HTTPS. A key is 256 random bits shown once when it is made;
// the keys file keeps only its SHA-256, so a copy of the file lets nobody
// in. Each key belongs to one partner name, and that name is the
// partner_id every report sent with the key carries: it never comes from
// the request body, and it stays the same when the partner's key is
// rotated, so re-sent reports keep deduplicating.
//
// The keys file is JSON, written atomically (temporary file + rename) with
// mode 0600. A running server re-reads it when its modification time, size
// or inode changes, checked at most once per ReloadInterval, so a revoked
// key stops working within about a second without a restart.
package partners

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trucewatch/trucewatch/report"
)

// ReloadInterval is the most often the keys file is checked for changes.
const ReloadInterval = time.Second

// KeyPrefix starts every key, so that a leaked key is easy to recognise
// (secret scanners, logs).
const KeyPrefix = "tw_"

// FileVersion is the format version of the keys file.
const FileVersion = 1

// Errors returned by Add and Revoke.
var (
	ErrUnknownPartner = errors.New("partners: unknown partner")
	ErrInvalidName    = errors.New("partners: invalid partner name")
)

var namePattern = regexp.MustCompile(report.PartnerIDPattern)

// Partner is one key of one partner, as List shows it. The key itself is
// never stored.
type Partner struct {
	Name      string    `json:"name"`                // the partner_id of its reports
	KeyID     string    `json:"key_id"`              // first 12 hex digits of the key's SHA-256, to tell keys apart
	CreatedAt time.Time `json:"created_at"`          //
	RevokedAt time.Time `json:"revoked_at,omitzero"` // zero while the key is valid
}

// Revoked reports whether the key no longer authenticates.
func (p Partner) Revoked() bool { return !p.RevokedAt.IsZero() }

// entry is one key in the file.
type entry struct {
	Name      string    `json:"name"`
	KeySHA256 string    `json:"key_sha256"` // hex
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

type file struct {
	Version int     `json:"version"`
	Keys    []entry `json:"keys"`
}

// active is a valid key as Authenticate compares it.
type active struct {
	name string
	sum  [sha256.Size]byte
}

// Keys is the set of partner keys of one keys file. It is safe for
// concurrent use.
type Keys struct {
	path   string
	logger atomic.Pointer[slog.Logger]

	mu      sync.RWMutex
	entries []entry
	active  []active
	stat    os.FileInfo // of the file as last read; nil when it was missing

	checked atomic.Int64 // unix nanos of the last change check
	reload  sync.Mutex   // one check at a time
	now     func() time.Time
}

// Open reads the keys file at path. The file must exist (Create makes an
// empty one).
func Open(path string) (*Keys, error) {
	k := &Keys{path: path, now: time.Now}
	k.logger.Store(slog.New(slog.DiscardHandler))
	if err := k.load(); err != nil {
		return nil, err
	}
	k.checked.Store(k.now().UnixNano())
	return k, nil
}

// Create opens the keys file at path, making an empty one (and its
// directory) first when there is none.
func Create(path string) (*Keys, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("partners: create keys file: %w", err)
		}
		if err := writeFile(path, file{Version: FileVersion, Keys: []entry{}}); err != nil {
			return nil, err
		}
	}
	return Open(path)
}

// SetLogger sets where reload problems are logged (nil: nowhere).
func (k *Keys) SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	k.logger.Store(l)
}

// Path is the keys file.
func (k *Keys) Path() string { return k.path }

// load reads the file and replaces the keys.
func (k *Keys) load() error {
	f, err := os.Open(k.path)
	if err != nil {
		return fmt.Errorf("partners: open keys file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("partners: stat keys file: %w", err)
	}
	var doc file
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("partners: keys file %s: %w", k.path, err)
	}
	if doc.Version != FileVersion {
		return fmt.Errorf("partners: keys file %s: version %d, want %d", k.path, doc.Version, FileVersion)
	}
	var act []active
	for i, e := range doc.Keys {
		if !namePattern.MatchString(e.Name) || len(e.Name) > report.MaxPartnerIDLen {
			return fmt.Errorf("partners: keys file %s: key %d: invalid name %q", k.path, i, e.Name)
		}
		sum, err := hex.DecodeString(e.KeySHA256)
		if err != nil || len(sum) != sha256.Size {
			return fmt.Errorf("partners: keys file %s: key %d (%s): key_sha256 is not 64 hex digits", k.path, i, e.Name)
		}
		if e.RevokedAt.IsZero() {
			a := active{name: e.Name}
			copy(a.sum[:], sum)
			act = append(act, a)
		}
	}
	k.mu.Lock()
	k.entries, k.active, k.stat = doc.Keys, act, st
	k.mu.Unlock()
	return nil
}

// maybeReload re-reads the file when it changed, at most once per
// ReloadInterval. A missing file revokes every key (fail closed); a file
// that does not parse keeps the keys as they were, and is logged.
func (k *Keys) maybeReload() {
	now := k.now().UnixNano()
	last := k.checked.Load()
	if now-last < int64(ReloadInterval) || !k.reload.TryLock() {
		return
	}
	defer k.reload.Unlock()
	if !k.checked.CompareAndSwap(last, now) {
		return
	}
	st, err := os.Stat(k.path)
	k.mu.RLock()
	prev := k.stat
	k.mu.RUnlock()
	switch {
	case err != nil:
		if prev != nil {
			k.logger.Load().Error("partners: keys file unreadable; every key is refused until it is back", "path", k.path, "err", err)
			k.mu.Lock()
			k.active, k.stat = nil, nil
			k.mu.Unlock()
		}
		return
	case prev != nil && os.SameFile(prev, st) && st.ModTime().Equal(prev.ModTime()) && st.Size() == prev.Size():
		return
	}
	if err := k.load(); err != nil {
		k.logger.Load().Error("partners: keys file changed but cannot be read; keeping the keys loaded before", "path", k.path, "err", err)
		k.mu.Lock()
		k.stat = st // do not retry until it changes again
		k.mu.Unlock()
		return
	}
	k.logger.Load().Info("partners: keys file reloaded", "path", k.path, "active_keys", k.activeCount())
}

func (k *Keys) activeCount() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.active)
}

// Authenticate returns the partner whose valid key is bearer. It hashes
// bearer and compares the hash with every valid key in constant time, so
// the time taken says nothing about which key, or how much of one, matched.
func (k *Keys) Authenticate(bearer string) (partnerID string, ok bool) {
	k.maybeReload()
	if !strings.HasPrefix(bearer, KeyPrefix) {
		return "", false
	}
	sum := sha256.Sum256([]byte(bearer))
	k.mu.RLock()
	defer k.mu.RUnlock()
	found := -1
	for i := range k.active {
		if subtle.ConstantTimeCompare(sum[:], k.active[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return k.active[found].name, true
}

// Add makes a new key for partner name and returns it; only its hash is
// stored, so this is the one time it can be seen. A partner may hold
// several valid keys (rotation: add the new one, let the partner switch,
// revoke the old ones); they all write as the same partner_id.
func (k *Keys) Add(name string) (key string, err error) {
	if !namePattern.MatchString(name) || len(name) > report.MaxPartnerIDLen {
		return "", fmt.Errorf("%w %q: it becomes the partner_id of the reports, so it must match %s and have at most %d characters",
			ErrInvalidName, name, report.PartnerIDPattern, report.MaxPartnerIDLen)
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", fmt.Errorf("partners: random key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(key))
	err = k.update(func(es []entry) ([]entry, error) {
		return append(es, entry{Name: name, KeySHA256: hex.EncodeToString(sum[:]), CreatedAt: k.now().UTC().Truncate(time.Second)}), nil
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// Revoke revokes every valid key of partner name. Revoked keys stay in the
// file, marked with the time, as a record.
func (k *Keys) Revoke(name string) error { return k.RevokeKey(name, "") }

// RevokeKey revokes the key of partner name whose KeyID (as List shows
// it) is keyID, or every key of name when keyID is empty. Revoking only
// the old key is how a key is rotated.
func (k *Keys) RevokeKey(name, keyID string) error {
	return k.update(func(es []entry) ([]entry, error) {
		known, now := false, k.now().UTC().Truncate(time.Second)
		for i := range es {
			if es[i].Name != name || keyID != "" && !strings.HasPrefix(es[i].KeySHA256, strings.ToLower(keyID)) {
				continue
			}
			known = true
			if es[i].RevokedAt.IsZero() {
				es[i].RevokedAt = now
			}
		}
		switch {
		case !known && keyID != "":
			return nil, fmt.Errorf("%w %q with key id %q", ErrUnknownPartner, name, keyID)
		case !known:
			return nil, fmt.Errorf("%w %q", ErrUnknownPartner, name)
		}
		return es, nil
	})
}

// List returns every key, valid and revoked, by name then creation time.
func (k *Keys) List() []Partner {
	k.maybeReload()
	k.mu.RLock()
	out := make([]Partner, len(k.entries))
	for i, e := range k.entries {
		out[i] = Partner{Name: e.Name, KeyID: e.KeySHA256[:12], CreatedAt: e.CreatedAt, RevokedAt: e.RevokedAt}
	}
	k.mu.RUnlock()
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out
}

// update re-reads the file, applies change and writes the result
// atomically. Concurrent updates from several processes are not locked
// against each other: manage keys from one place at a time.
func (k *Keys) update(change func([]entry) ([]entry, error)) error {
	k.reload.Lock()
	defer k.reload.Unlock()
	if err := k.load(); err != nil {
		return err
	}
	k.mu.RLock()
	es := append([]entry(nil), k.entries...)
	k.mu.RUnlock()
	es, err := change(es)
	if err != nil {
		return err
	}
	if err := writeFile(k.path, file{Version: FileVersion, Keys: es}); err != nil {
		return err
	}
	return k.load()
}

// writeFile replaces path with doc: write a temporary file in the same
// directory, sync it, rename it over path. A reader sees the old file or
// the new one, never half of one.
func writeFile(path string, doc file) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("partners: encode keys file: %w", err)
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), ".partners-*.json")
	if err != nil {
		return fmt.Errorf("partners: write keys file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("partners: write keys file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("partners: write keys file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("partners: write keys file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("partners: write keys file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("partners: write keys file: %w", err)
	}
	return nil
}
