// Package storage keeps trucewatch's reports in ClickHouse: schema and
// migrations, an exactly-once batch writer fed by Kafka, and every query
// of them: no other package writes SQL. The schema runs on ClickHouse 18.16 and on current
// releases (see migrations/0001_reports.sql for the constraints).
//
// # Exactly once
//
// A report is counted once, in its latest revision, whatever happens:
// SIGKILL at any moment, partition rebalances, ClickHouse restarts.
// ClickHouse makes only one part atomic: an INSERT whose rows fall into
// several partitions, and the materialized views (MVs) it feeds, are
// written as separate parts, so a crash can leave a batch half-written.
// The design never relies on atomicity, only on an idempotent redo.
//
// Ingest writes one Batch per Kafka partition and offset span, the
// batches of the partitions it holds together (WriteBatches: each step
// below is one statement for all their spans). WriteBatch:
//
//  1. marks the span pending in the ledger (a done span is skipped);
//  2. reads the stored revisions of the batch's reports from revisions
//     (slim, ordered by report key), ignoring rows written by
//     this same span (by the spans written together), and the rows of
//     those stored, for the reports that are corrections, from reports
//     by its sorting key;
//  3. decides per row, in offset order: a new report or a higher revision
//     is inserted with sign +1, and the revision it replaces is copied with
//     sign -1 (its own columns, the new span's identity); the same revision
//     again is a duplicate, a lower one is stale: both are dropped; within
//     the batch only the highest revision of a report is kept;
//  4. sends the result into reports as one INSERT, one native block, per
//     run of at most MaxPartitionsPerInsert (100) months of observed_at
//     (current ClickHouse refuses more partitions in one INSERT); the MVs
//     fill revisions and the three aggregates from each block, and
//     as every aggregate cell lies in one month, each cell of a span is
//     still summed from one block; spans written together share the
//     blocks, and as every row carries its span and the views group by
//     span_id, each span's rows and cells are those it would write alone;
//  5. marks the span done.
//
// Resume gives a partition's new owner its position: after the last done
// span and, if the last span is pending, that span, which must be fetched
// again with exactly the same offsets and written again first.
//
// Why a redo is exact: step 2 ignores the span's own rows and
// revisions keeps every revision (merges cannot change what it shows;
// they only drop a rematched revision's older gens, never the one the
// lookup takes), so the redo takes the same decisions and sends the same block.
// Every table is a ReplacingMergeTree whose ORDER BY ends with the
// identity of what the row came from:
//
//   - reports: (..., partner_id, report_id, revision, sign): a report
//     revision is +1'd once and -1'd at most once, ever;
//   - revisions: (partner_id, report_id, revision), by gen;
//   - each aggregate: (dims..., span_id), its MV grouping one INSERT block
//     by exactly those columns, so a span yields one row per cell.
//
// The rows a redo writes again are identical to what the first attempt
// wrote, whichever of its parts had landed, and fold into them (at merge,
// or at read with FINAL); rows of different spans add up. A -1 row carries
// the replaced revision's own dimensions (zones, admin area, tile, hour,
// category, violation), so it takes back exactly what that revision added.
//
// What ingest must guarantee:
//   - a redo carries the same rows: ReceivedAt from the Kafka record, not
//     the clock, and the same zone-set version (else a redone cell moves);
//   - a report key always comes from one partition (the Kafka key is the
//     report id, report.MessageKey: all revisions of partner_id/report_id
//     share it) and a partition has one writer at a time (let a
//     revoked partition finish its write before the rebalance completes):
//     two spans must never decide on the same report concurrently;
//   - a pending span is redone with exactly its offsets before anything
//     else (WriteBatch returns ErrSpanMismatch for other bounds at the same
//     first offset); a re-created topic gets a new Source.
//
// Permanent errors (retrying cannot help): ErrInvalidSpan, ErrBatchTooBig,
// ErrSpanMismatch, ErrInvalidRow; IsPermanent tells them. Any other error
// may be retried with the same batch.
//
// # Tables
//
//	reports           ReplacingMergeTree PARTITION BY toYYYYMM(observed_at)
//	                  ORDER BY (toDate(observed_at), tile, partner_id, report_id, revision, sign)
//	revisions         ReplacingMergeTree(gen) ORDER BY (partner_id, report_id, revision)
//	                  key, gen, withdrawn, observed_at, tile, span_id of the sign = +1
//	                  rows (MV revisions_mv; migration 0006 replaced report_revisions,
//	                  a 40-column copy of every row)
//	ledger            ReplacingMergeTree(state) ORDER BY (kafka_cluster, kafka_topic, kafka_partition, first_offset)
//	counts_zone_hour  ReplacingMergeTree PARTITION BY toYYYYMM(hour)
//	                  ORDER BY (zone, hour, category, violation, possible, precision, span_id)
//	counts_adm_day    ReplacingMergeTree PARTITION BY toYYYYMM(day)
//	                  ORDER BY (adm1, adm2, adm3, day, category, violation_class, precision, span_id)
//	counts_tile_day   ReplacingMergeTree PARTITION BY toYYYYMM(day)
//	                  ORDER BY (tile, day, category, violation_class, precision, span_id)
//	reports_current   VIEW: one row per report, its current revision (currentSQL,
//	                  the query every read of current reports runs)
//	incidents         ReplacingMergeTree(version) ORDER BY incident_id: package
//	                  incident's resolution of the current reports (incidents.go,
//	                  docs/incidents.md); read with FINAL and deleted = 0
//	incident_counts_tile_day, incident_counts_adm_day, incident_counts_zone_hour
//	                  ReplacingMergeTree(version) PARTITION BY toYear of the day or
//	                  hour, ORDER BY the keys of counts_* without span_id (the tile a
//	                  quadkey at read.IncidentTileZoom, 30): the incidents' counts,
//	                  each cell written whole by the resolver (incident_cells.go,
//	                  migration 0008)
//	schema_migrations ReplacingMergeTree ORDER BY version
//
// Aggregates carry n_reports = sum(sign), n_killed = sum(sign*killed),
// n_injured = sum(sign*injured) (migration 0004; 0001's agg_* tables are
// gone). precision is the report's geo_precision (” as 'exact'): a
// reader counts a row at an admin level or zoom only if read.PlacedAt
// says so, and the others as coarse. violation_class is 0 (none), 1
// (definite: in a protected zone) or 2 (possible: the uncertainty circle
// only crosses one); zones keep the 0/1 violation flag, possible saying
// how the report lies in the zone itself. A withdrawn revision is a +1
// and a -1 row of itself in one block: it sums to zero everywhere.
// counts_zone_hour has one row per zone a
// report lies in (possible = 0) or whose accuracy circle only overlaps it
// (possible = 1): a report in two zones counts in each.
// tile is the Web-Mercator quadkey at read.TileZoom (20) of the report's
// point; the tile (x, y) at zoom z is the key range [qk<<2(20-z),
// (qk+1)<<2(20-z)), read.TileRange.
//
// # Querying correctly
//
// Never count raw rows of reports: a replaced revision is still there
// (with its -1 copy), and a redone span may be there twice until merged.
// Read reports_current, or sum signs with FINAL:
//
//	SELECT count(), sum(killed) FROM reports_current WHERE observed_at >= '2024-03-01 00:00:00'
//	SELECT sum(sign), sum(sign * killed) FROM reports FINAL WHERE observed_at >= '2024-03-01 00:00:00'
//
// Aggregates: FINAL (folds rows of a redone span not yet merged), sum the
// measures, group by the dimensions wanted, never by span_id:
//
//	SELECT zone, sum(n_reports), sum(n_killed)
//	FROM counts_zone_hour FINAL
//	WHERE hour >= '2024-03-01 00:00:00' AND hour < '2024-03-08 00:00:00'
//	  AND violation = 1 AND possible = 0
//	GROUP BY zone
//
//	-- sub-districts: placed reports and, apart, the too coarse
//	SELECT adm3, sumIf(n_reports, precision IN ('exact', 'near', 'adm3')) AS placed,
//	    sumIf(n_reports, precision NOT IN ('exact', 'near', 'adm3')) AS coarse
//	FROM counts_adm_day FINAL WHERE day >= '2024-03-01' GROUP BY adm3
//
//	-- per zoom-12 tile inside zoom-8 tile (x, y): lo, hi from read.TileRange
//	SELECT bitShiftRight(tile, 2 * (20 - 12)) AS qk12, sum(n_reports)
//	FROM counts_tile_day FINAL
//	WHERE tile >= lo AND tile < hi AND day >= '2024-03-01'
//	GROUP BY qk12
//
// A cell may sum to zero (every report in it moved elsewhere by a
// revision): filter with HAVING. FINAL on 18.16 reads 3M aggregate rows in
// about 1.6 s single-threaded, 0.1 s for one zone; faster than grouping by
// span_id first.
//
// # Reading
//
// Readers (package serve) ask through methods whose arguments and results
// are the types of package read, which holds no driver: TileCells and
// TilePoints (map tiles), ZoneTotals, ZoneSeries and AreaTotals
// (choropleths and series), Reports (current revisions, keyset paging),
// Extent, CountReports and Ping. Values are bound as query parameters,
// never spliced into SQL. An error of theirs wraps read.ErrBusy when no
// connection was free in time and read.ErrUnavailable when ClickHouse
// could not be reached, so that readers tell them without the driver. The
// aggregate queries are split by month: a month partition made of one part
// is read without FINAL (see final.go).
//
// Until a pending span is redone, the tables may show part of it (e.g. a
// revision's +1 without the -1 of the one it replaces). Aggregates keep a
// row per cell and span; they are not rolled up further (a future
// maintenance job could replace old partitions by their sums).
//
// # Rematch
//
// Every row records the zone-set version it was matched with (zone_set).
// When a zone set is amended, package rematch matches a window's stored
// reports again and WriteRematch rewrites those whose match changed, in
// place of a new revision: one INSERT carries, per report, a -1 copy of the
// stored row and a +1 row of the same revision with the new match columns
// (zone_set, zones, possible_zones, adm1-3, adm_approx, violation,
// violation_reason). Both carry gen = the stored gen + 1 (migration 0002;
// WriteBatch writes gen 0, and gen ends the raw table's sorting key), so
// no rematch row folds with another: without gen the new +1 row would fold
// with the original and the report would vanish. The current revision is
// the one whose rows sum to a positive sign, with the values of its +1 row
// of the highest gen. Aggregates need nothing new: a rematch batch is a
// span of its own.
//
// Batches are spans of RematchSource(matcher version), one offset each,
// written through the ledger as WriteBatch does. A batch lies in one month
// (the caller cuts the window by UTC day), so reports gets it as one part;
// the views are written only after that part, so a crash leaves a pending
// span whose rows are nowhere, or in reports and some views.
// RecoverRematch rolls it forward without the crashed run's matcher: it
// reads the span's rows back and sends them again as one block (they fold
// with what landed), or closes the span empty when nothing did.
//
// WriteBatch finds the revision a correction replaces in revisions without
// FINAL, taking its highest gen; after a rematch a key has two gens there
// until merged, and SettleRevisions runs OPTIMIZE FINAL on it (the highest
// gen stays) and checks that no key has two gens left: a run is complete
// only then.
//
// The operator runs one rematch at a time, with no ingest writing the
// window meanwhile (rematch refuses to start while PendingSpans shows an
// interrupted ingest), and after an interrupted rematch runs rematch again
// (any zone set) before ingest resumes.
//
// # Migrations
//
// migrations/NNNN_name.sql, embedded, applied in order by Migrate and
// recorded in schema_migrations. Every statement must be idempotent (IF
// NOT EXISTS; "already exists" errors are ignored) since two processes may
// apply the same migration at once. {db} stands for the database.
package storage
