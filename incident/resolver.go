package incident

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Store is what the Resolver reads and writes (storage.Store implements
// it).
type Store interface {
	// ChangedReports returns every current report for the zero since
	// (the full pass).
	ChangedReports(ctx context.Context, since time.Time) (read.ReportChanges, error)
	// ChangedRows returns the store's clock and the stamps of the rows
	// written at or after since; CurrentSince the current revisions of
	// keys among them.
	ChangedRows(ctx context.Context, since time.Time) (time.Time, []read.RowStamp, error)
	CurrentSince(ctx context.Context, since time.Time, keys []read.ReportKey) ([]read.Report, error)
	// StoredIncidents returns the id and digest of every stored incident,
	// and the highest version written.
	StoredIncidents(ctx context.Context) ([]read.IncidentDigest, uint64, error)
	// WriteIncidents stores put and deletes del, at version (higher than
	// any before): idempotent, a redo at a higher version replaces.
	WriteIncidents(ctx context.Context, version uint64, put []read.Incident, del []string) error
	// StoredIncidentCells returns every stored cell of the incident
	// aggregates holding incidents, and the highest version written.
	StoredIncidentCells(ctx context.Context) ([]read.IncidentCell, uint64, error)
	// WriteIncidentCells stores the whole sums of cells (each once) at
	// version: idempotent, as WriteIncidents.
	WriteIncidentCells(ctx context.Context, version uint64, cells []read.IncidentCell) error
}

// Defaults of Options.
const (
	DefaultInterval     = time.Second
	DefaultOverlap      = 10 * time.Second
	DefaultCellInterval = 10 * time.Second
)

// Options configure a Resolver. The zero value of each field but Store
// works.
type Options struct {
	Store  Store
	Rule   Rule
	Groups map[string]string // partner id -> partner group, e.g. "guarantor:ru"
	// Interval between two passes (DefaultInterval).
	Interval time.Duration
	// Overlap: each pass reads again the rows written this long before
	// the previous pass began, so that a row whose INSERT was still
	// under way then is not missed (DefaultOverlap).
	Overlap time.Duration
	// CellInterval: a later pass writes the aggregate cells changed since
	// the last cell write only when this long has passed since it, or
	// when the pass itself changed none (the feed paused)
	// (DefaultCellInterval). Each write is a part in every month
	// partition it touches of three tables: written every second, a
	// continuous feed spread over months made more parts than ingest
	// itself. The maps' tiles are cached for a minute anyway; the
	// incidents themselves are written every pass.
	CellInterval time.Duration
	Logger       *slog.Logger
	// Pass, when set, is called after every pass with its figures.
	Pass func(Pass)
}

// Pass is the figures of one pass.
type Pass struct {
	Full      bool // a full resolution (the first pass, or after an error)
	Changed   int  // keys whose current revision was read
	Skipped   int  // keys with rows written since, all of them read before
	Put, Del  int  // incidents written, deleted
	Cells     int  // incident aggregate cells written
	Reports   int  // current reports held
	Incidents int
	Took      time.Duration
}

// Resolver keeps the stored incidents equal to the resolution of the
// current reports. Its first pass (and the pass after any error) reads
// every current report, resolves them from scratch and writes what
// differs from the stored incidents, deleting the stored incidents that
// are not in the result; each later pass reads the reports changed since
// the previous one began (less Overlap) and resolves only their
// neighbourhood (Set.Apply). Every write carries a higher version, so a
// pass that crashed half-way is completed by the next full pass. Run one
// Resolver per database.
//
// It keeps the incident aggregates (incident_counts_*) too: every cell of
// its incidents in memory, written whole after the incidents: by a full
// pass those that differ from the stored cells, by a later pass those its
// changed incidents left or entered since the last cell write, at most
// every CellInterval (cells.go).
type Resolver struct {
	o       Options
	set     *Set
	cells   *cells           // the incident aggregates of set
	seen    stampsByKey      // the stamps of the previous pass's window
	pending map[cellKey]bool // cells changed since the last cell write
	cellsAt time.Time        // when the cells were last written
	since   time.Time
	version uint64
}

// New returns a Resolver; Run or Step start it.
func New(o Options) (*Resolver, error) {
	if o.Store == nil {
		return nil, errors.New("incident: no store")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Overlap <= 0 {
		o.Overlap = DefaultOverlap
	}
	if o.CellInterval <= 0 {
		o.CellInterval = DefaultCellInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Resolver{o: o}, nil
}

// Run runs a pass every Interval until ctx ends; a failed pass is logged
// and followed by a full one.
func (r *Resolver) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.o.Logger.Warn("incident pass failed", "err", err)
		}
		t.Reset(r.o.Interval)
	}
}

// Step runs one pass. After an error the next Step is a full pass.
func (r *Resolver) Step(ctx context.Context) error {
	start := time.Now()
	full := r.set == nil
	var p Pass
	var err error
	if full {
		p, err = r.full(ctx)
	} else {
		p, err = r.incremental(ctx)
	}
	if err != nil {
		r.set, r.pending = nil, nil
		return err
	}
	p.Full, p.Took = full, time.Since(start)
	p.Reports, p.Incidents = r.set.Len(), len(r.set.incidents)
	r.o.Logger.Debug("incident pass", "full", p.Full, "changed", p.Changed, "put", p.Put, "del", p.Del, "took", p.Took)
	if r.o.Pass != nil {
		r.o.Pass(p)
	}
	return nil
}

func (r *Resolver) full(ctx context.Context) (Pass, error) {
	ch, err := r.o.Store.ChangedReports(ctx, time.Time{})
	if err != nil {
		return Pass{}, fmt.Errorf("incident: read reports: %w", err)
	}
	set := NewSet(r.o.Rule, r.o.Groups)
	all, _ := set.Apply(nil, ch.Current) // from an empty set: every incident
	stored, version, err := r.o.Store.StoredIncidents(ctx)
	if err != nil {
		return Pass{}, fmt.Errorf("incident: read incidents: %w", err)
	}
	r.version = max(r.version, version)
	have := make(map[string]uint64, len(stored))
	for _, d := range stored {
		have[d.ID] = d.Digest
	}
	put := all[:0]
	for _, inc := range all {
		if d, ok := have[inc.ID]; !ok || d != inc.Digest {
			put = append(put, inc)
		}
	}
	var del []string
	for _, d := range stored {
		if set.incidents[d.ID] == nil {
			del = append(del, d.ID)
		}
	}
	storedCells, version, err := r.o.Store.StoredIncidentCells(ctx)
	if err != nil {
		return Pass{}, fmt.Errorf("incident: read cells: %w", err)
	}
	r.version = max(r.version, version)
	if err := r.write(ctx, put, del); err != nil {
		return Pass{}, err
	}
	cs := newCells(set)
	diff := cs.diff(storedCells)
	if err := r.writeCells(ctx, diff); err != nil {
		return Pass{}, err
	}
	r.set, r.cells, r.since = set, cs, ch.Now.Add(-r.o.Overlap)
	r.pending, r.cellsAt, r.seen = map[cellKey]bool{}, time.Now(), nil
	return Pass{Changed: len(ch.Keys), Put: len(put), Del: len(del), Cells: len(diff)}, nil
}

func (r *Resolver) incremental(ctx context.Context) (Pass, error) {
	now, rows, err := r.o.Store.ChangedRows(ctx, r.since)
	if err != nil {
		return Pass{}, fmt.Errorf("incident: read changes: %w", err)
	}
	window := stampsOf(rows)
	keys := window.newer(r.seen)
	cur, err := r.o.Store.CurrentSince(ctx, r.since, keys)
	if err != nil {
		return Pass{}, fmt.Errorf("incident: read changes: %w", err)
	}
	put, del := r.set.Apply(keys, cur)
	if err := r.write(ctx, put, del); err != nil {
		return Pass{}, err
	}
	n := len(r.pending)
	r.cells.update(r.set, put, del, r.pending)
	var cells []read.IncidentCell
	if len(r.pending) > 0 && (len(r.pending) == n || time.Since(r.cellsAt) >= r.o.CellInterval) {
		cells = r.cells.cellsOf(r.pending)
		if err := r.writeCells(ctx, cells); err != nil {
			return Pass{}, err
		}
		r.pending, r.cellsAt = map[cellKey]bool{}, time.Now()
	}
	r.since, r.seen = now.Add(-r.o.Overlap), window
	return Pass{Changed: len(keys), Skipped: len(window) - len(keys), Put: len(put), Del: len(del), Cells: len(cells)}, nil
}

func (r *Resolver) write(ctx context.Context, put []read.Incident, del []string) error {
	if len(put) == 0 && len(del) == 0 {
		return nil
	}
	r.version = max(r.version+1, uint64(time.Now().UnixNano()))
	if err := r.o.Store.WriteIncidents(ctx, r.version, put, del); err != nil {
		return fmt.Errorf("incident: write: %w", err)
	}
	return nil
}

// writeCells writes the incident aggregate cells of a pass, after its
// incidents (a pass that fails between the two is followed by a full
// one, which writes the cells that differ).
func (r *Resolver) writeCells(ctx context.Context, cells []read.IncidentCell) error {
	if len(cells) == 0 {
		return nil
	}
	r.version = max(r.version+1, uint64(time.Now().UnixNano()))
	if err := r.o.Store.WriteIncidentCells(ctx, r.version, cells); err != nil {
		return fmt.Errorf("incident: write cells: %w", err)
	}
	return nil
}

// A pass reads again the rows of its Overlap, most of them read by the
// pass before: under a sustained feed that made every pass read the
// current revision of every key of the last 10 s again. A key's current
// revision is decided by the set of its rows' stamps (identical rows
// fold), and the rows written since this pass's start that existed at the
// previous pass's read were in that pass's window too (its window began
// earlier), so a key all of whose stamps in this window the previous
// pass saw has no row the Set has not seen: it is skipped.

type stamp struct {
	revision, gen uint32
	sign          int8
}

type stampsByKey map[read.ReportKey][]stamp

func stampsOf(rows []read.RowStamp) stampsByKey {
	m := stampsByKey{}
	for _, r := range rows {
		m[r.Key] = append(m[r.Key], stamp{r.Revision, r.Gen, r.Sign})
	}
	return m
}

// newer returns the keys of m with a stamp that seen does not hold for
// them, sorted.
func (m stampsByKey) newer(seen stampsByKey) []read.ReportKey {
	var out []read.ReportKey
	for k, st := range m {
		old := seen[k]
		for _, x := range st {
			if !slices.Contains(old, x) {
				out = append(out, k)
				break
			}
		}
	}
	slices.SortFunc(out, keyLess)
	return out
}
