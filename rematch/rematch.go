package rematch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/violation"
)

// DefaultBatchSize is the default Options.BatchSize.
const DefaultBatchSize = 10_000

// NoZone is the key of Result.Zones counting the reports in no zone,
// before or after.
const NoZone = ""

// Errors.
var (
	// ErrIngestPending: an ingest span is pending; let ingest resume (and
	// stop it cleanly) before rematching.
	ErrIngestPending = errors.New("rematch: an ingest batch is pending")
	ErrInvalidWindow = errors.New("rematch: invalid window")
)

// Options configure Run.
type Options struct {
	From, To time.Time // window of observed_at, [From, To); both required

	// Classifier classifies the rematched reports; nil =
	// violation.DefaultRules(), as ingest uses.
	Classifier enrich.Classifier
	// BatchSize is the most reports rewritten per batch (one INSERT, one
	// ledger span); default DefaultBatchSize, at most storage.MaxBatchRows.
	BatchSize int
	// ChangedOnly rewrites only the reports whose match result changed;
	// the others keep the zone-set version they were matched with. By
	// default every report not yet matched with this version is
	// rewritten (relabelled), so that each row records the version it was
	// last matched with.
	ChangedOnly bool
	// DryRun computes and counts, writes nothing (no recovery, no merge).
	DryRun bool
	Logger *slog.Logger // nil = discard
	// AfterBatch, if set, is called after each batch is written.
	AfterBatch func(storage.Span, Result)
}

func (o *Options) setDefaults() error {
	if o.From.IsZero() || o.To.IsZero() || !o.From.Before(o.To) {
		return fmt.Errorf("%w: [%s, %s)", ErrInvalidWindow, o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	if o.Classifier == nil {
		o.Classifier = violation.DefaultRules()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	o.BatchSize = min(o.BatchSize, storage.MaxBatchRows)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Result counts what Run did. Changed and Relabelled reports were
// rewritten (or, with DryRun, would be).
type Result struct {
	Version    string // the matcher's zone-set version
	Examined   int    // current reports observed in the window
	Changed    int    // match result changed (zones, admin area, violation)
	Relabelled int    // same result, zone-set version updated (not with ChangedOnly)
	Unchanged  int    // left as stored
	Batches    int    // batches written
	// Recovered are the interrupted batches of an earlier run that Run
	// completed first (with DryRun: found pending).
	Recovered []storage.Span
	// Unsettled, with DryRun, counts revisions the revisions table still
	// holds in two generations (a run would merge them).
	Unsettled int
	// Zones counts per zone id, NoZone for reports in no zone before and
	// after. A report counts in every zone it is in, or possibly in,
	// before or after.
	Zones map[string]*ZoneCount
}

// ZoneCount is Result's count for one zone.
type ZoneCount struct {
	Examined  int // reports in (or possibly in) the zone before or after
	Changed   int // of which the match changed
	Unchanged int // the others (relabelled or left as stored)
	Entered   int // in the zone after, not before
	Left      int // in the zone before, not after
}

// Run rematches the current reports observed in [o.From, o.To) with m, and
// rewrites those whose result changed; see the package documentation.
func Run(ctx context.Context, s *storage.Store, m *geo.Matcher, o Options) (Result, error) {
	res := Result{Version: m.Version(), Zones: map[string]*ZoneCount{}}
	if err := o.setDefaults(); err != nil {
		return res, err
	}
	r := &run{s: s, o: o, e: enrich.New(m, o.Classifier), res: res}
	if err := r.recover(ctx); err != nil {
		return r.res, err
	}
	// Read one UTC day at a time (memory stays bounded by a day's reports
	// and a batch); a batch may hold several days, never two months
	// (storage.WriteRematch).
	from, to := o.From.UTC(), o.To.UTC()
	for day := from; day.Before(to); {
		end := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, time.UTC)
		if end.After(to) {
			end = to
		}
		if err := r.day(ctx, day, end); err != nil {
			return r.res, err
		}
		if end.Equal(to) || end.Day() == 1 {
			if err := r.flush(ctx); err != nil {
				return r.res, err
			}
		}
		day = end
	}
	if !o.DryRun {
		if err := s.SettleRevisions(ctx); err != nil {
			return r.res, fmt.Errorf("rematch: %w", err)
		}
	}
	return r.res, nil
}

// run is one Run: its store, options, result so far and the batch being
// filled.
type run struct {
	s     *storage.Store
	o     Options
	e     *enrich.Enricher
	res   Result
	batch []storage.Rematch
}

// recover refuses to start while ingest has a span pending, then completes
// the interrupted batches of an earlier run (with DryRun: only counts them).
func (r *run) recover(ctx context.Context) error {
	pending, err := r.s.PendingSpans(ctx)
	if err != nil {
		return fmt.Errorf("rematch: %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %s (and %d more)", ErrIngestPending, pending[0], len(pending)-1)
	}
	if r.o.DryRun {
		if r.res.Recovered, err = r.s.PendingRematch(ctx); err != nil {
			return fmt.Errorf("rematch: %w", err)
		}
		if r.res.Unsettled, err = r.s.UnsettledRevisions(ctx); err != nil {
			return fmt.Errorf("rematch: %w", err)
		}
		return nil
	}
	if r.res.Recovered, err = r.s.RecoverRematch(ctx); err != nil {
		return fmt.Errorf("rematch: %w", err)
	}
	if len(r.res.Recovered) > 0 {
		r.o.Logger.Info("completed interrupted rematch batches", "batches", len(r.res.Recovered))
	}
	return nil
}

// day matches the current reports observed in [day, end) again and adds
// those to rewrite to the batch, flushing it when full.
func (r *run) day(ctx context.Context, day, end time.Time) error {
	cur, err := r.s.CurrentIn(ctx, day, end)
	if err != nil {
		return fmt.Errorf("rematch: %w", err)
	}
	for i := range cur {
		st := &cur[i]
		r.res.Examined++
		var nw storage.Row
		changed, write := false, false
		if st.ZoneSet != r.res.Version {
			nw = Rematch(&st.Row, r.e)
			changed = !storage.SameMatch(&st.Row, &nw)
			write = changed || !r.o.ChangedOnly
		}
		if !write {
			r.res.Unchanged++
			r.res.count(&st.Row, &st.Row, false)
			continue
		}
		if changed {
			r.res.Changed++
		} else {
			r.res.Relabelled++
		}
		r.res.count(&st.Row, &nw, changed)
		r.batch = append(r.batch, storage.Rematch{Stored: *st, New: nw})
		if len(r.batch) >= r.o.BatchSize {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the batch (nothing with DryRun).
func (r *run) flush(ctx context.Context) error {
	defer func() { r.batch = r.batch[:0] }()
	if len(r.batch) == 0 || r.o.DryRun {
		return nil
	}
	sp, err := r.s.WriteRematch(ctx, r.res.Version, r.batch)
	if err != nil {
		return fmt.Errorf("rematch: %w", err)
	}
	r.res.Batches++
	r.o.Logger.Info("rematched batch", "span", sp.String(), "reports", len(r.batch))
	if r.o.AfterBatch != nil {
		r.o.AfterBatch(sp, r.res)
	}
	return nil
}

func (r *Result) count(old, nw *storage.Row, changed bool) {
	before, after := zoneSet(old), zoneSet(nw)
	all := map[string]bool{}
	for z := range before {
		all[z] = true
	}
	for z := range after {
		all[z] = true
	}
	if len(all) == 0 {
		all[NoZone] = true
	}
	for z := range all {
		c := r.Zones[z]
		if c == nil {
			c = &ZoneCount{}
			r.Zones[z] = c
		}
		c.Examined++
		if changed {
			c.Changed++
		} else {
			c.Unchanged++
		}
		switch {
		case z == NoZone:
		case after[z] && !before[z]:
			c.Entered++
		case before[z] && !after[z]:
			c.Left++
		}
	}
}

func zoneSet(r *storage.Row) map[string]bool {
	m := make(map[string]bool, len(r.Zones)+len(r.PossibleZones))
	for _, z := range r.Zones {
		m[z] = true
	}
	for _, z := range r.PossibleZones {
		m[z] = true
	}
	return m
}

// ZoneIDs returns the keys of r.Zones sorted, NoZone last.
func (r *Result) ZoneIDs() []string {
	ids := make([]string, 0, len(r.Zones))
	for z := range r.Zones {
		if z != NoZone {
			ids = append(ids, z)
		}
	}
	sort.Strings(ids)
	if _, ok := r.Zones[NoZone]; ok {
		ids = append(ids, NoZone)
	}
	return ids
}

// Report rebuilds the report a stored row was made from (what matching
// and classification read of it). AccuracyM is stored as float32 and times
// to the second.
func Report(r *storage.Row) report.Report {
	return report.Report{
		ID: r.ReportID, PartnerID: r.PartnerID, Revision: r.Revision,
		ObservedAt: r.ObservedAt, ObservedUntil: r.ObservedUntil,
		TimePrecision: report.TimePrecision(r.TimePrecision),
		Lat:           r.Lat, Lon: r.Lon, AccuracyM: float64(r.AccuracyM),
		GeoPrecision: report.GeoPrecision(r.GeoPrecision),
		Category:     report.Category(r.Category),
		Perpetrator:  report.Actor{Name: r.PerpetratorName, Side: report.Side(r.PerpetratorSide)},
		Target:       report.Actor{Name: r.TargetName, Side: report.Side(r.TargetSide)},
		Killed:       r.Killed, Injured: r.Injured,
		Description: r.Description, Sources: r.Sources,
	}
}

// Rematch matches and classifies a stored row again with e, as ingest
// would have: the row ingest would store for the same report now.
func Rematch(stored *storage.Row, e *enrich.Enricher) storage.Row {
	rep := Report(stored)
	return e.Row(&rep, stored.ReceivedAt)
}
