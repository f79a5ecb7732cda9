package geo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"strings"
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
	lastStat string
	lastErr  error
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

// Reload reads the zone-set files at paths, builds a matcher from the base
// sets and them, and swaps it in. changed is false when the files' content
// is what was loaded last. On error the matcher in use stays.
func (h *Holder) Reload(paths ...string) (changed bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastStat = stamps(paths)
	changed, err = h.reload(paths)
	h.lastErr = err
	return changed, err
}

func (h *Holder) reload(paths []string) (bool, error) {
	var raws [][]byte
	all := sha256.New()
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			return false, fmt.Errorf("geo: reload zones: %w", err)
		}
		raws = append(raws, raw)
		sum := sha256.Sum256(raw)
		all.Write(sum[:])
	}
	var sum [sha256.Size]byte
	all.Sum(sum[:0])
	if sum == h.lastSum && h.lastErr == nil {
		return false, nil
	}
	sets := append([]*ZoneSet(nil), h.base...)
	for i, raw := range raws {
		zs, err := LoadZoneSet(bytes.NewReader(raw), h.admin)
		if err != nil {
			return false, fmt.Errorf("geo: reload zones %s: %w", paths[i], err)
		}
		sets = append(sets, zs)
	}
	m, err := NewMatcher(h.admin, sets...)
	if err != nil {
		return false, fmt.Errorf("geo: reload zones: %w", err)
	}
	old := h.cur.Swap(m)
	h.lastSum = sum
	h.log.Info("geo: zones reloaded", "paths", paths, "sets", len(sets),
		"version", m.Version(), "previous", old.Version())
	return true, nil
}

// stamps returns the modification time and size of every file, as a
// string (a missing file gives "-").
func stamps(paths []string) string {
	var b strings.Builder
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", st.ModTime().UnixNano(), st.Size())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

// DefaultWatchInterval is how often Watch looks at the file by default.
const DefaultWatchInterval = 5 * time.Second

// Watch reloads the files whenever the modification time or size of one
// changes (and after a failed load, until one succeeds), checking every
// interval (DefaultWatchInterval if <= 0), until ctx ends. Load errors are
// logged and retried; Watch returns ctx's error.
func (h *Holder) Watch(ctx context.Context, interval time.Duration, paths ...string) error {
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
		st := stamps(paths)
		h.mu.Lock()
		retry := st != h.lastStat || h.lastErr != nil
		h.mu.Unlock()
		if !retry {
			continue
		}
		if _, err := h.Reload(paths...); err != nil {
			h.log.Error("geo: zones not reloaded, keeping the current ones", "paths", paths, "err", err)
		}
	}
}

// LastError returns the error of the last Reload, nil if it succeeded.
func (h *Holder) LastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}
