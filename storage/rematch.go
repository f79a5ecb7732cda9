package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// RematchCluster is Source.Cluster of the spans rematch writes.
const RematchCluster = "rematch"

// RematchSource is the ledger source of rematch batches for one matcher
// (zone-set) version.
func RematchSource(version string) Source {
	return Source{Cluster: RematchCluster, Topic: version, Partition: 0}
}

// Errors of rematch writes.
var (
	// ErrRematchPending: a rematch batch was interrupted; RecoverRematch
	// must complete it before anything else is rematched.
	ErrRematchPending = errors.New("storage: an interrupted rematch batch is pending")
	// ErrUnsettled: revisions still holds two instances of a
	// rematched revision after OPTIMIZE.
	ErrUnsettled = errors.New("storage: revisions not settled")
)

// Stored is the current instance of a stored report revision.
type Stored struct {
	Row
	Gen  uint32 // rematch generation: 0 as ingested, +1 per rematch
	tile uint64
}

// Rematch is a stored revision matched anew. Only the match columns of
// New are used: ZoneSet, Zones, PossibleZones, Adm1, Adm2, Adm3,
// AdmApprox, Violation, ViolationReason.
type Rematch struct {
	Stored Stored
	New    Row
}

// SameMatch reports whether two rows carry the same match result (zone
// set version aside).
func SameMatch(a, b *Row) bool {
	return slices.Equal(a.Zones, b.Zones) && slices.Equal(a.PossibleZones, b.PossibleZones) &&
		a.Adm1 == b.Adm1 && a.Adm2 == b.Adm2 && a.Adm3 == b.Adm3 && a.AdmApprox == b.AdmApprox &&
		a.Violation == b.Violation && a.ViolationReason == b.ViolationReason
}

// CurrentIn returns the current instance of every report whose current
// revision was observed in [from, to), ordered by partner_id, report_id
// (currentSQL; the highest revision where a pending span shows two).
// A report whose current revision lies outside the window is not
// returned, even if an older revision lies inside.
func (s *Store) CurrentIn(ctx context.Context, from, to time.Time) ([]Stored, error) {
	if !from.Before(to) {
		return nil, nil
	}
	q := s.sql(currentSQL(" AND observed_at >= toDateTime(?) AND observed_at < toDateTime(?)")) +
		"\nORDER BY partner_id, report_id, revision"
	var out []Stored
	err := s.each(ctx, "current in window", q, []any{dbSeconds(from), dbSeconds(to)}, func(sc scanner) error {
		var gen uint32
		sr, err := scanReportWith(sc, &gen)
		if err != nil {
			return err
		}
		st := Stored{Row: sr.Row, Gen: gen, tile: sr.tile}
		if n := len(out); n > 0 && out[n-1].PartnerID == st.PartnerID && out[n-1].ReportID == st.ReportID {
			out[n-1] = st
			return nil
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

func dbSeconds(t time.Time) int64 {
	// Times are stored to the second: s >= t and s < t hold for a whole
	// second s exactly when they hold against t rounded up.
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

func scanReportWith(sc interface{ Scan(...any) error }, extra ...any) (*storedRow, error) {
	var (
		sr                   storedRow
		r                    = &sr.Row
		obs, until, received time.Time
		admApprox, violation uint8
	)
	dst := []any{&r.PartnerID, &r.ReportID, &r.Revision, &obs, &until, &r.TimePrecision,
		&r.Lat, &r.Lon, &r.AccuracyM, &r.GeoPrecision, &sr.tile, &r.Category,
		&r.PerpetratorName, &r.PerpetratorSide, &r.TargetName, &r.TargetSide, &r.Killed, &r.Injured,
		&r.Description, &r.Sources, &r.ZoneSet, &r.Zones, &r.PossibleZones,
		&r.Adm1, &r.Adm2, &r.Adm3, &admApprox, &violation, &r.ViolationReason, &received,
		&r.IncidentOf.PartnerID, &r.IncidentOf.ReportID}
	if err := sc.Scan(append(dst, extra...)...); err != nil {
		return nil, err
	}
	r.ObservedAt, r.ObservedUntil, r.ReceivedAt = goTime(obs), goTime(until), goTime(received)
	r.AdmApprox, r.Violation = admApprox == 1, violation == 1
	return &sr, nil
}

// WriteRematch writes one batch of rematched reports exactly once under
// the next span of RematchSource(version): per report a -1 copy of the
// stored row and a +1 row with the new match, both of generation
// Stored.Gen+1. The reports must all have been observed in the same month
// (one raw part: see the design above) and come from CurrentIn with
// nothing written to them since. It returns the span written (zero for an
// empty batch). A pending batch of this version must first be completed
// by RecoverRematch (ErrRematchPending).
func (s *Store) WriteRematch(ctx context.Context, version string, rs []Rematch) (Span, error) {
	if len(rs) == 0 {
		return Span{}, nil
	}
	if version == "" {
		return Span{}, fmt.Errorf("%w: rematch without a zone-set version", ErrInvalidSpan)
	}
	if len(rs) > MaxBatchRows {
		return Span{}, ErrBatchTooBig
	}
	month := monthOf(rs[0].Stored.ObservedAt)
	out := make([]outRow, 0, 2*len(rs))
	news := make([]Row, len(rs))
	for i := range rs {
		st := &rs[i].Stored
		if monthOf(st.ObservedAt) != month {
			return Span{}, fmt.Errorf("%w: rematch batch spans months (%s/%s)", ErrInvalidRow, st.PartnerID, st.ReportID)
		}
		if err := checkRow(&st.Row); err != nil {
			return Span{}, fmt.Errorf("%w: %s/%s: %v", ErrInvalidRow, st.PartnerID, st.ReportID, err)
		}
		n := st.Row
		nw := &rs[i].New
		n.ZoneSet, n.Zones, n.PossibleZones = nw.ZoneSet, nw.Zones, nw.PossibleZones
		n.Adm1, n.Adm2, n.Adm3, n.AdmApprox = nw.Adm1, nw.Adm2, nw.Adm3, nw.AdmApprox
		n.Violation, n.ViolationReason = nw.Violation, nw.ViolationReason
		news[i] = n
		out = append(out,
			outRow{row: &st.Row, tile: st.tile, sign: -1, gen: st.Gen + 1},
			outRow{row: &news[i], tile: st.tile, sign: 1, gen: st.Gen + 1})
	}
	src := RematchSource(version)
	pos, err := s.Resume(ctx, src)
	if err != nil {
		return Span{}, fmt.Errorf("storage: write rematch: %w", err)
	}
	if pos.Pending != nil {
		return Span{}, fmt.Errorf("%w: %s", ErrRematchPending, pos.Pending)
	}
	next := max(pos.Next, 0)
	sp := Span{Source: src, First: next, Last: next}
	res := WriteResult{Inserted: len(rs), Retracted: len(rs)}
	if err := s.writeLedger(ctx, sp, statePending, len(rs), res); err != nil {
		return sp, fmt.Errorf("storage: write rematch %s: ledger pending: %w", sp, err)
	}
	if err := s.insertRows(ctx, sp, SpanID(sp), out); err != nil {
		return sp, fmt.Errorf("storage: write rematch %s: insert: %w", sp, err)
	}
	if err := s.writeLedger(ctx, sp, stateDone, len(rs), res); err != nil {
		return sp, fmt.Errorf("storage: write rematch %s: ledger done: %w", sp, err)
	}
	s.log.Debug("wrote rematch batch", "span", sp.String(), "reports", len(rs))
	return sp, nil
}

func monthOf(t time.Time) int {
	t = t.UTC()
	return t.Year()*12 + int(t.Month())
}

// insertGen inserts rows with their generation as one block.

// pendingSpans returns the spans whose latest ledger state is pending, of
// the rematch source (rematch) or of every other source (!rematch).
func (s *Store) pendingSpans(ctx context.Context, rematch bool) ([]Span, error) {
	op := "!="
	if rematch {
		op = "="
	}
	rows, err := s.conn.Query(ctx, s.sql(`SELECT kafka_cluster, kafka_topic, kafka_partition, first_offset,
    argMax(last_offset, state), max(state) AS st
FROM {db}.ledger
WHERE kafka_cluster `+op+` ?
GROUP BY kafka_cluster, kafka_topic, kafka_partition, first_offset
HAVING st = 0
ORDER BY kafka_cluster, kafka_topic, kafka_partition, first_offset`), RematchCluster)
	if err != nil {
		return nil, fmt.Errorf("storage: pending spans: %w", err)
	}
	defer rows.Close()
	var out []Span
	for rows.Next() {
		var (
			sp    Span
			part  int32
			state uint8
		)
		if err := rows.Scan(&sp.Cluster, &sp.Topic, &part, &sp.First, &sp.Last, &state); err != nil {
			return nil, fmt.Errorf("storage: pending spans: %w", err)
		}
		sp.Partition = int(part)
		out = append(out, sp)
	}
	return out, rows.Err()
}

// PendingSpans returns the ingest spans (every source but rematch's) whose
// write started and never finished: they will be redone when ingest
// resumes, so rematch must not run before.
func (s *Store) PendingSpans(ctx context.Context) ([]Span, error) {
	return s.pendingSpans(ctx, false)
}

// PendingRematch returns the interrupted rematch batches.
func (s *Store) PendingRematch(ctx context.Context) ([]Span, error) {
	return s.pendingSpans(ctx, true)
}

// RecoverRematch completes every interrupted rematch batch (of any
// version) by sending its rows, read back from reports, again under its
// span; see the design above. It returns the spans completed.
func (s *Store) RecoverRematch(ctx context.Context) ([]Span, error) {
	pending, err := s.PendingRematch(ctx)
	if err != nil {
		return nil, err
	}
	for _, sp := range pending {
		rows, err := s.spanRows(ctx, SpanID(sp))
		if err != nil {
			return nil, fmt.Errorf("storage: recover rematch %s: %w", sp, err)
		}
		if len(rows) > 0 {
			if err := s.insertRows(ctx, sp, SpanID(sp), rows); err != nil {
				return nil, fmt.Errorf("storage: recover rematch %s: insert: %w", sp, err)
			}
		}
		res := WriteResult{Inserted: len(rows) / 2, Retracted: len(rows) / 2}
		if err := s.writeLedger(ctx, sp, stateDone, len(rows)/2, res); err != nil {
			return nil, fmt.Errorf("storage: recover rematch %s: ledger done: %w", sp, err)
		}
		s.log.Info("recovered rematch batch", "span", sp.String(), "rows", len(rows))
	}
	return pending, nil
}

// spanRows reads back the rows a span wrote to reports, one per sorting
// key, in a stable order.
func (s *Store) spanRows(ctx context.Context, spanID uint64) ([]outRow, error) {
	rows, err := s.conn.Query(ctx, s.sql(`SELECT `+reportColumns+`, sign, gen
FROM {db}.reports PREWHERE span_id = ?`), spanID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		reportKey
		rev  uint32
		sign int8
		gen  uint32
	}
	seen := map[key]bool{}
	var out []outRow
	for rows.Next() {
		var (
			sign int8
			gen  uint32
		)
		sr, err := scanReportWith(rows, &sign, &gen)
		if err != nil {
			return nil, err
		}
		k := key{reportKey{sr.PartnerID, sr.ReportID}, sr.Revision, sign, gen}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, outRow{row: &sr.Row, tile: sr.tile, sign: sign, gen: gen})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.row.PartnerID != b.row.PartnerID {
			return a.row.PartnerID < b.row.PartnerID
		}
		if a.row.ReportID != b.row.ReportID {
			return a.row.ReportID < b.row.ReportID
		}
		return a.sign < b.sign
	})
	return out, nil
}

// UnsettledRevisions counts the report revisions that the revisions table
// still holds in more than one generation (WriteBatch takes the highest;
// merges keep only it).
func (s *Store) UnsettledRevisions(ctx context.Context) (int, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, s.sql(`SELECT count() FROM (
    SELECT partner_id, report_id, revision FROM {db}.revisions
    GROUP BY partner_id, report_id, revision HAVING uniqExact(gen) > 1)`)).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: unsettled revisions: %w", err)
	}
	return int(n), nil
}

// SettleRevisions merges revisions (OPTIMIZE FINAL, which keeps the
// highest generation) if it holds a rematched revision twice, until
// none is left; ErrUnsettled if some remain after a few attempts. It
// rewrites the whole table: its cost grows with the number of revisions
// stored.
func (s *Store) SettleRevisions(ctx context.Context) error {
	const attempts = 5
	wait := 200 * time.Millisecond
	for i := 0; ; i++ {
		n, err := s.UnsettledRevisions(ctx)
		if err != nil || n == 0 {
			return err
		}
		if i == attempts {
			return fmt.Errorf("%w: %d revisions in two generations", ErrUnsettled, n)
		}
		octx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"optimize_throw_if_noop": 1}))
		err = s.conn.Exec(octx, s.sql(`OPTIMIZE TABLE {db}.revisions FINAL`))
		if err != nil {
			// a merge already running makes OPTIMIZE a no-op: wait, retry
			s.log.Warn("optimize revisions", "err", err, "attempt", i+1)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			wait *= 2
		}
	}
}
