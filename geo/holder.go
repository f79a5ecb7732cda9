package geo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"
)

// Holder holds the Matcher in use and replaces it atomically, so that a
// changed zone file is picked up without a restart: ingest calls Reload on
// SIGHUP (or runs Watch), while its workers keep calling Match. A Match in
// flight finishes on the matcher it started with; the next one uses the new
// matcher. A file that fails to load or validate leaves the current
// matcher in place.
type Holder struct {
	cur   atomic.Pointer[Matcher]
	admin *Admin
	base  []*ZoneSet
	log   *slog.Logger

	mu       sync.Mutex // serialises reloads
	lastSum  [sha256.Size]byte
	lastStat fileStamp
	lastErr  error
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewHolder returns a holder whose matcher uses a and the base zone sets
// (for example the shipped ones, or none). Reload adds a zone file to them.
// log may be nil.
func NewHolder(a *Admin, base []*ZoneSet, log *slog.Logger) (*Holder, error) {
	m, err := NewMatcher(a, base...)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Holder{admin: a, base: base, log: log}
	h.cur.Store(m)
	return h, nil
}

// Load returns the matcher in use.
func (h *Holder) Load() *Matcher { return h.cur.Load() }

// Match matches with the matcher in use (see Matcher.Match).
func (h *Holder) Match(p orb.Point, at time.Time, accuracyM float64, dst *Match) {
	h.cur.Load().Match(p, at, accuracyM, dst)
}

// Store makes m the matcher in use.
func (h *Holder) Store(m *Matcher) { h.cur.Store(m) }

// Reload reads the zone-set file at path, builds a matcher from the base
// sets and it, and swaps it in. changed is false when the file's content
// is what was loaded last. On error the matcher in use stays.
func (h *Holder) Reload(path string) (changed bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, _ := os.Stat(path)
	if st != nil {
		h.lastStat = fileStamp{st.ModTime(), st.Size()}
	}
	changed, err = h.reload(path)
	h.lastErr = err
	return changed, err
}

func (h *Holder) reload(path string) (bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("geo: reload zones: %w", err)
	}
	sum := sha256.Sum256(raw)
	if sum == h.lastSum && h.lastErr == nil {
		return false, nil
	}
	zs, err := LoadZoneSet(bytes.NewReader(raw), h.admin)
	if err != nil {
		return false, fmt.Errorf("geo: reload zones %s: %w", path, err)
	}
	m, err := NewMatcher(h.admin, append(append([]*ZoneSet(nil), h.base...), zs)...)
	if err != nil {
		return false, fmt.Errorf("geo: reload zones %s: %w", path, err)
	}
	old := h.cur.Swap(m)
	h.lastSum = sum
	h.log.Info("geo: zones reloaded", "path", path, "set", zs.Name, "zones", len(zs.Zones),
		"version", m.Version(), "previous", old.Version())
	return true, nil
}

// DefaultWatchInterval is how often Watch looks at the file by default.
const DefaultWatchInterval = 5 * time.Second

// Watch reloads path whenever its modification time or size changes (and
// after a failed load, until one succeeds), checking every interval
// (DefaultWatchInterval if <= 0), until ctx ends. Load errors are logged
// and retried; Watch returns ctx's error.
func (h *Holder) Watch(ctx context.Context, path string, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		st, err := os.Stat(path)
		if err != nil {
			h.log.Warn("geo: watch zones", "path", path, "err", err)
			continue
		}
		h.mu.Lock()
		stamp := fileStamp{st.ModTime(), st.Size()}
		retry := stamp != h.lastStat || h.lastErr != nil
		h.mu.Unlock()
		if !retry {
			continue
		}
		if _, err := h.Reload(path); err != nil {
			h.log.Error("geo: zones not reloaded, keeping the current ones", "path", path, "err", err)
		}
	}
}

// LastError returns the error of the last Reload, nil if it succeeded.
func (h *Holder) LastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}
