package storage

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cespare/xxhash/v2"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Row is one report as stored, flattened, with the result of zone matching
// and violation classification.
type Row struct {
	PartnerID, ReportID string
	Revision            uint32
	ObservedAt          time.Time // stored to the second, UTC
	ObservedUntil       time.Time // zero = none
	TimePrecision       string
	Lat, Lon            float64
	AccuracyM           float32
	GeoPrecision        string
	Category            string
	PerpetratorName     string
	PerpetratorSide     string
	TargetName          string
	TargetSide          string
	Killed, Injured     uint32
	Description         string
	Sources             []string
	ZoneSet             string
	Zones               []string // zones whose area contains the report
	PossibleZones       []string // zones the report's accuracy circle only overlaps
	Adm1, Adm2, Adm3    string
	AdmApprox           bool
	Violation           bool
	ViolationReason     string
	// Withdrawn: this revision takes the report out of every count. It is
	// stored with the content of the revision it withdraws (see plan).
	Withdrawn bool
	// ReceivedAt should come from the Kafka record (its timestamp), not the
	// clock: a redone span must produce the same rows.
	ReceivedAt time.Time
	// IncidentOf is the report this one says it reports the same event as
	// (report.Report.IncidentOf); zero for none.
	IncidentOf read.ReportKey
}

// Source is one Kafka partition of one topic incarnation. Cluster is the
// Kafka cluster id; a re-created topic must get a distinct Source (e.g. the
// topic id in Topic), otherwise its offsets collide with the old topic's.
type Source struct {
	Cluster, Topic string
	Partition      int
}

// Span is the inclusive offset range of one batch of a Source.
type Span struct {
	Source
	First, Last int64
}

func (s Span) String() string {
	return fmt.Sprintf("%s/%s/%d@%d-%d", s.Cluster, s.Topic, s.Partition, s.First, s.Last)
}

// Batch is the valid reports of one span (poison records excluded), in
// offset order.
type Batch struct {
	Span
	Rows []Row
}

// Position is where a Source resumes.
type Position struct {
	// Next is the offset to fetch next: after the last done span, or
	// Pending.First. -1 means nothing is stored for the source.
	Next int64
	// Pending, if set, is a span whose write started but never finished:
	// fetch exactly its offsets again and WriteBatch them with this Span
	// before anything else.
	Pending *Span
}

// WriteResult says what WriteBatch did with a batch's rows.
type WriteResult struct {
	Inserted    int  // reports stored as new or as a higher revision (+1 rows)
	Retracted   int  // earlier revisions cancelled by a higher one (-1 rows)
	Duplicates  int  // same report and revision already stored or earlier in the batch
	Stale       int  // a lower revision than the one stored or earlier in the batch
	Superseded  int  // replaced by a higher revision later in the same batch
	Withdrawn   int  // of Inserted, withdrawals (a +1 and a -1 row each)
	Redo        bool // the span was pending: a previous attempt was interrupted
	AlreadyDone bool // the span was done before: nothing written
}

// Errors.
var (
	ErrSpanMismatch = errors.New("storage: span overlaps a stored span with other bounds")
	ErrBatchTooBig  = fmt.Errorf("storage: batch has more than %d rows", MaxBatchRows)
	ErrInvalidSpan  = errors.New("storage: invalid span")
	ErrNotFound     = errors.New("storage: not found")
	// ErrInvalidRow: a row cannot be stored (time outside DateTime's
	// range 1970..2105, empty report key). Ingest should have rejected it.
	ErrInvalidRow = errors.New("storage: invalid row")
)

const (
	statePending uint8 = 0
	stateDone    uint8 = 1
)

// SpanID is the identity of a span stored on every row it wrote and on
// every aggregate row computed from it.
func SpanID(s Span) uint64 {
	d := xxhash.New()
	d.WriteString(s.Cluster)
	d.Write([]byte{0})
	d.WriteString(s.Topic)
	d.Write([]byte{0})
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(int64(s.Partition)))
	binary.BigEndian.PutUint64(b[8:], uint64(s.First))
	d.Write(b[:])
	return d.Sum64()
}

// Resume returns where src resumes, from the ledger.
func (s *Store) Resume(ctx context.Context, src Source) (Position, error) {
	row := s.conn.QueryRow(ctx, s.sql(`SELECT first_offset, argMax(last_offset, state), max(state)
FROM {db}.ledger
WHERE kafka_cluster = ? AND kafka_topic = ? AND kafka_partition = ?
GROUP BY first_offset ORDER BY first_offset DESC LIMIT 1`), src.Cluster, src.Topic, int32(src.Partition))
	var (
		first, last int64
		state       uint8
	)
	if err := row.Scan(&first, &last, &state); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Position{Next: -1}, nil
		}
		return Position{}, fmt.Errorf("storage: resume %s/%s/%d: %w", src.Cluster, src.Topic, src.Partition, err)
	}
	if state == stateDone {
		return Position{Next: last + 1}, nil
	}
	return Position{Next: first, Pending: &Span{Source: src, First: first, Last: last}}, nil
}

// ledgerEntry reads the ledger entry of span's first offset, if any.
func (s *Store) ledgerEntry(ctx context.Context, sp Span) (found bool, last int64, state uint8, res WriteResult, err error) {
	rows, err := s.conn.Query(ctx, s.sql(`SELECT argMax(last_offset, state), max(state),
    argMax(inserted, state), argMax(retracted, state), argMax(duplicates, state), argMax(stale, state)
FROM {db}.ledger
WHERE kafka_cluster = ? AND kafka_topic = ? AND kafka_partition = ? AND first_offset = ?
GROUP BY first_offset`), sp.Cluster, sp.Topic, int32(sp.Partition), sp.First)
	if err != nil {
		return false, 0, 0, res, err
	}
	defer rows.Close()
	for rows.Next() {
		var ins, ret, dup, stale uint32
		if err := rows.Scan(&last, &state, &ins, &ret, &dup, &stale); err != nil {
			return false, 0, 0, res, err
		}
		found = true
		res = WriteResult{Inserted: int(ins), Retracted: int(ret), Duplicates: int(dup), Stale: int(stale)}
	}
	return found, last, state, res, rows.Err()
}

// WriteBatch stores a batch exactly once (see the package documentation):
//
//  1. a ledger entry marks the span pending;
//  2. the stored revision of each report in the batch is read, ignoring
//     rows this same span wrote before (a redo decides as the first try);
//  3. one INSERT writes a +1 row per new report or higher revision, and a
//     -1 copy of each revision it replaces; duplicates and lower revisions
//     are dropped;
//  4. the ledger entry is marked done.
//
// Writing a span again is harmless: a done span is skipped, a pending one
// is redone and writes rows identical to the first attempt's, which the
// tables fold. The caller may retry a failed WriteBatch with the same
// batch. Rows of one report must always come from the same Source
// partition (Kafka key = the report key) so two spans never race on it.
// WriteBatches does the same for the spans of several partitions at once.
func (s *Store) WriteBatch(ctx context.Context, b Batch) (WriteResult, error) {
	res, errs := s.WriteBatches(ctx, []Batch{b})
	return res[0], errs[0]
}

// IsPermanent reports whether a WriteBatch error will recur however often
// the same batch is retried.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrInvalidSpan) || errors.Is(err, ErrBatchTooBig) ||
		errors.Is(err, ErrSpanMismatch) || errors.Is(err, ErrInvalidRow)
}

// DateTime's range, to the second.
var (
	minTime = time.Unix(1, 0)
	maxTime = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
)

func checkRow(r *Row) error {
	if r.ReportID == "" {
		return errors.New("empty report id")
	}
	for _, t := range []struct {
		name string
		t    time.Time
		zero bool
	}{{"observed_at", r.ObservedAt, r.Withdrawn}, {"observed_until", r.ObservedUntil, true}, {"received_at", r.ReceivedAt, true}} {
		if t.zero && t.t.IsZero() {
			continue
		}
		if t.t.Before(minTime) || t.t.After(maxTime) {
			return fmt.Errorf("%s %s outside 1970..2105", t.name, t.t.Format(time.RFC3339))
		}
	}
	return nil
}

type reportKey struct{ partner, report string }

// outRow is a row to insert: a report with its sign and generation (0
// from WriteBatch; a rematch chains 1, 2, ..., see the package doc, Rematch).
type outRow struct {
	row  *Row
	tile uint64
	sign int8
	gen  uint32
	span *spanOf // the span writing the row (set by insertInto, WriteBatches)
}

// plan decides, in batch order, what each row becomes given the stored
// current revisions. The result depends only on its inputs, so a redo
// inserts the same rows in the same order.
//
// A withdrawn revision is written as a +1 and a -1 row of itself: it sums
// to zero in the raw table and in every aggregate (both rows are in one
// block), and revisions (fed by the +1 rows) keeps it, so a lower
// revision arriving later is stale. It carries the content of the latest
// revision it withdraws, so the history shows what was withdrawn and where.
// A withdrawn revision is never retracted: it already counts zero.
func plan(rows []Row, stored map[reportKey]*storedRow, res *WriteResult) []outRow {
	type keyState struct {
		rev    uint32
		exists bool
		minus  *storedRow // stored revision to retract
		plus   *Row       // revision to insert
		base   *Row       // latest content that is not a withdrawal
	}
	states := make(map[reportKey]*keyState, len(rows))
	order := make([]reportKey, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		k := reportKey{r.PartnerID, r.ReportID}
		st := states[k]
		if st == nil {
			st = &keyState{}
			if sr := stored[k]; sr != nil {
				st.exists, st.rev = true, sr.Revision
				if !sr.Withdrawn {
					st.minus = sr // retracted only if a higher revision arrives
				}
				st.base = &sr.Row
			}
			states[k] = st
			order = append(order, k)
		}
		switch {
		case !st.exists || r.Revision > st.rev:
			if st.plus != nil {
				res.Superseded++
			}
			st.exists, st.rev, st.plus = true, r.Revision, r
		case r.Revision == st.rev:
			res.Duplicates++
		default:
			res.Stale++
		}
		if st.plus == r && !r.Withdrawn {
			st.base = r
		}
	}
	out := make([]outRow, 0, len(order)+len(order)/8)
	for _, k := range order {
		st := states[k]
		if st.plus == nil {
			continue
		}
		if st.minus != nil {
			out = append(out, outRow{row: &st.minus.Row, tile: st.minus.tile, sign: -1})
			res.Retracted++
		}
		plus := st.plus
		if plus.Withdrawn {
			plus = withdrawal(plus, st.base)
		}
		tile := TileKey(plus.Lon, plus.Lat)
		out = append(out, outRow{row: plus, tile: tile, sign: 1})
		if plus.Withdrawn {
			out = append(out, outRow{row: plus, tile: tile, sign: -1})
			res.Withdrawn++
		}
		res.Inserted++
	}
	return out
}

// withdrawal is the row stored for withdrawal w of a report whose latest
// content is base (nil when nothing of it is stored: the withdrawal is
// kept as it came, dated at its arrival when it has no time, so that a
// lower revision arriving later is still stale).
func withdrawal(w, base *Row) *Row {
	out := *w
	if base != nil {
		out = *base
		out.Revision, out.ReceivedAt, out.Withdrawn = w.Revision, w.ReceivedAt, true
		if w.Description != "" {
			out.Description = w.Description
		}
		if len(w.Sources) > 0 {
			out.Sources = w.Sources
		}
	} else if out.ObservedAt.IsZero() {
		out.ObservedAt = w.ReceivedAt
	}
	out.Violation = false
	return &out
}

// reportColumns are the columns of a report written and read by this
// package, in the order of rowValues.
const reportColumns = `partner_id, report_id, revision, observed_at, observed_until, time_precision,
    lat, lon, accuracy_m, geo_precision, tile, category, perpetrator_name, perpetrator_side,
    target_name, target_side, killed, injured, description, sources, zone_set, zones,
    possible_zones, adm1, adm2, adm3, adm_approx, violation, violation_reason, received_at,
    incident_of_partner_id, incident_of_report_id`

var epoch = time.Unix(0, 0).UTC()

func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t.UTC().Truncate(time.Second)
}

func goTime(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t.UTC()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (s *Store) insertRows(ctx context.Context, sp Span, spanID uint64, out []outRow) error {
	return s.insertInto(ctx, "reports", sp, spanID, out)
}

func (s *Store) insertInto(ctx context.Context, table string, sp Span, spanID uint64, out []outRow) error {
	so := &spanOf{Span: sp, id: spanID}
	for i := range out {
		out[i].span = so
	}
	return s.insertOut(ctx, table, out)
}

// insertOut sends rows, each carrying its span, as one INSERT per run of
// at most MaxPartitionsPerInsert months.
func (s *Store) insertOut(ctx context.Context, table string, out []outRow) error {
	for _, chunk := range byMonths(out, MaxPartitionsPerInsert) {
		if err := s.insertBlock(ctx, table, chunk); err != nil {
			return err
		}
	}
	return nil
}

// MaxPartitionsPerInsert is the most monthly partitions one INSERT
// touches: current ClickHouse refuses more (max_partitions_per_insert_block,
// 100 by default), and each one is a part of every table the INSERT feeds.
const MaxPartitionsPerInsert = 100

// byMonths splits out into runs of rows of at most n months of observed_at
// each, months in order and rows in their order within a run. Every
// aggregate cell lies in one month (its hour or day), so each cell of a
// span is still summed from one block; and the split depends only on the
// rows, so a redo sends the same blocks.
func byMonths(out []outRow, n int) [][]outRow {
	month := func(o outRow) int { t := o.row.ObservedAt.UTC(); return t.Year()*12 + int(t.Month()) - 1 }
	months := map[int]bool{}
	for _, o := range out {
		months[month(o)] = true
	}
	if len(months) <= n {
		return [][]outRow{out}
	}
	sorted := make([]int, 0, len(months))
	for m := range months {
		sorted = append(sorted, m)
	}
	slices.Sort(sorted)
	chunkOf := make(map[int]int, len(sorted))
	for i, m := range sorted {
		chunkOf[m] = i / n
	}
	chunks := make([][]outRow, (len(sorted)+n-1)/n)
	for _, o := range out {
		c := chunkOf[month(o)]
		chunks[c] = append(chunks[c], o)
	}
	return chunks
}

// insertBlock sends rows as one block in one INSERT: every materialized
// view sees all of them, and a redo sends the very same rows. The block is
// built column by column (one Append of a slice per column), not row by
// row through 40 interface values.
func (s *Store) insertBlock(ctx context.Context, table string, out []outRow) error {
	if len(out) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, s.sql(`INSERT INTO {db}.`+table+` (`+reportColumns+`, withdrawn, sign,
    kafka_cluster, kafka_topic, kafka_partition, first_offset, last_offset, span_id, gen)`))
	if err != nil {
		return err
	}
	defer b.Abort()
	for i, col := range reportBlock(out) {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return b.Send()
}

// reportBlock is out as the columns of insertBlock's INSERT, in order.
func reportBlock(out []outRow) []any {
	n := len(out)
	strs := func() []string { return make([]string, n) }
	times := func() []time.Time { return make([]time.Time, n) }
	var (
		partnerID, reportID, timePrecision, geoPrecision, category = strs(), strs(), strs(), strs(), strs()
		perpName, perpSide, targetName, targetSide, description    = strs(), strs(), strs(), strs(), strs()
		zoneSet, adm1, adm2, adm3, reason, cluster, topic          = strs(), strs(), strs(), strs(), strs(), strs(), strs()
		linkPartner, linkReport                                    = strs(), strs()
		observedAt, observedUntil, receivedAt                      = times(), times(), times()
		revision, killed, injured, gen                             = make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
		lat, lon                                                   = make([]float64, n), make([]float64, n)
		accuracy                                                   = make([]float32, n)
		tile, spanID                                               = make([]uint64, n), make([]uint64, n)
		sources, zones, possible                                   = make([][]string, n), make([][]string, n), make([][]string, n)
		admApprox, violation, withdrawn                            = make([]uint8, n), make([]uint8, n), make([]uint8, n)
		sign                                                       = make([]int8, n)
		partition                                                  = make([]int32, n)
		first, last                                                = make([]int64, n), make([]int64, n)
	)
	for i, o := range out {
		r, sp := o.row, o.span
		partnerID[i], reportID[i], revision[i] = r.PartnerID, r.ReportID, r.Revision
		observedAt[i], observedUntil[i], timePrecision[i] = dbTime(r.ObservedAt), dbTime(r.ObservedUntil), r.TimePrecision
		lat[i], lon[i], accuracy[i], geoPrecision[i], tile[i] = r.Lat, r.Lon, r.AccuracyM, r.GeoPrecision, o.tile
		category[i], perpName[i], perpSide[i], targetName[i], targetSide[i] = r.Category, r.PerpetratorName, r.PerpetratorSide, r.TargetName, r.TargetSide
		killed[i], injured[i], description[i], sources[i] = r.Killed, r.Injured, r.Description, nonNil(r.Sources)
		zoneSet[i], zones[i], possible[i] = r.ZoneSet, nonNil(r.Zones), nonNil(r.PossibleZones)
		adm1[i], adm2[i], adm3[i], admApprox[i] = r.Adm1, r.Adm2, r.Adm3, b2u(r.AdmApprox)
		violation[i], reason[i], receivedAt[i], withdrawn[i], sign[i] = b2u(r.Violation), r.ViolationReason, dbTime(r.ReceivedAt), b2u(r.Withdrawn), o.sign
		cluster[i], topic[i], partition[i], first[i], last[i], spanID[i], gen[i] = sp.Cluster, sp.Topic, int32(sp.Partition), sp.First, sp.Last, sp.id, o.gen
		linkPartner[i], linkReport[i] = r.IncidentOf.PartnerID, r.IncidentOf.ReportID
	}
	return []any{partnerID, reportID, revision, observedAt, observedUntil, timePrecision,
		lat, lon, accuracy, geoPrecision, tile, category, perpName, perpSide,
		targetName, targetSide, killed, injured, description, sources, zoneSet, zones,
		possible, adm1, adm2, adm3, admApprox, violation, reason, receivedAt,
		linkPartner, linkReport, withdrawn, sign, cluster, topic, partition, first, last, spanID, gen}
}

// storedRow is a stored revision, as read back.
type storedRow struct {
	Row
	tile uint64
}

// scanRevision scans reportColumns and withdrawn.
func scanRevision(sc interface{ Scan(...any) error }) (*storedRow, error) {
	var withdrawn uint8
	sr, err := scanReportWith(sc, &withdrawn)
	if err == nil {
		sr.Withdrawn = withdrawn == 1
	}
	return sr, err
}

// storedRevisions returns, for each report key of the batches' rows, its
// highest stored revision (in its highest rematch gen), ignoring rows
// written by the spans spanIDs (the batches' own: a redo decides as the
// first attempt did). Most reports of a batch are new: the slim revisions
// table says which are stored and where their rows are, and only those
// rows are read from reports, by its sorting key.
func (s *Store) storedRevisions(ctx context.Context, batches [][]Row, spanIDs []uint64) (map[reportKey]*storedRow, error) {
	n := 0
	for _, rows := range batches {
		n += len(rows)
	}
	keys := make([]reportKey, 0, n)
	seen := make(map[reportKey]bool, n)
	for _, rows := range batches {
		for i := range rows {
			k := reportKey{rows[i].PartnerID, rows[i].ReportID}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	type revision struct {
		rev, gen uint32
		at       time.Time
		tile     uint64
	}
	latest := map[reportKey]revision{}
	notSpans, args := spanFilter(spanIDs)
	err := s.withKeys(ctx, keys, `SELECT partner_id, report_id, revision, gen, observed_at, tile
FROM {db}.revisions
WHERE (partner_id, report_id) IN (SELECT partner_id, report_id FROM batch_keys)
  AND `+notSpans, args, func(res driver.Rows) error {
		var (
			k reportKey
			r revision
		)
		if err := res.Scan(&k.partner, &k.report, &r.rev, &r.gen, &r.at, &r.tile); err != nil {
			return err
		}
		if cur, ok := latest[k]; !ok || r.rev > cur.rev || r.rev == cur.rev && r.gen > cur.gen {
			latest[k] = r
		}
		return nil
	})
	out := make(map[reportKey]*storedRow, len(latest))
	if err != nil || len(latest) == 0 {
		return out, err
	}
	t, err := ext.NewTable("stored",
		ext.Column("partner_id", "String"), ext.Column("report_id", "String"),
		ext.Column("revision", "UInt32"), ext.Column("gen", "UInt32"),
		ext.Column("day", "Date"), ext.Column("tile", "UInt64"))
	if err != nil {
		return nil, err
	}
	for k, r := range latest {
		if err := t.Append(k.partner, k.report, r.rev, r.gen, r.at.UTC(), r.tile); err != nil {
			return nil, err
		}
	}
	// The stored revision's +1 row (a redone span may have written it
	// twice, identically, until merged).
	res, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), s.sql(`SELECT `+reportColumns+`, withdrawn
FROM {db}.reports
WHERE toDate(observed_at) IN (SELECT day FROM stored) AND tile IN (SELECT tile FROM stored)
  AND (partner_id, report_id, revision, gen) IN (SELECT partner_id, report_id, revision, gen FROM stored)
  AND sign = 1`))
	if err != nil {
		return nil, err
	}
	defer res.Close()
	for res.Next() {
		sr, err := scanRevision(res)
		if err != nil {
			return nil, err
		}
		out[reportKey{sr.PartnerID, sr.ReportID}] = sr
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	if len(out) != len(latest) {
		return nil, fmt.Errorf("%d of %d stored revisions have no row in reports", len(latest)-len(out), len(latest))
	}
	return out, nil
}

// spanFilter is the condition "span_id is none of ids" and its arguments.
func spanFilter(ids []uint64) (string, []any) {
	if len(ids) == 0 {
		return "1", nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "span_id NOT IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args
}

// withKeys runs query with keys as the external table batch_keys
// (partner_id, report_id) and args, and calls fn for each result row.
func (s *Store) withKeys(ctx context.Context, keys []reportKey, query string, args []any, fn func(driver.Rows) error) error {
	t, err := ext.NewTable("batch_keys",
		ext.Column("partner_id", "String"),
		ext.Column("report_id", "String"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.Append(k.partner, k.report); err != nil {
			return err
		}
	}
	res, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), s.sql(query), args...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		if err := fn(res); err != nil {
			return err
		}
	}
	return res.Err()
}

// Current returns the current (highest stored) revision of a report, or
// ErrNotFound, as WriteBatch finds it.
func (s *Store) Current(ctx context.Context, partnerID, reportID string) (Row, error) {
	stored, err := s.storedRevisions(ctx, [][]Row{{{PartnerID: partnerID, ReportID: reportID}}}, nil)
	if err != nil {
		return Row{}, fmt.Errorf("storage: current report: %w", err)
	}
	if sr := stored[reportKey{partnerID, reportID}]; sr != nil {
		return sr.Row, nil
	}
	return Row{}, ErrNotFound
}
