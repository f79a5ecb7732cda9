// Package storage keeps trucewatch's reports in ClickHouse: schema and
// migrations, an exactly-once batch writer fed by Kafka, and the queries of
// the aggregates.
//
// # Exactly once
//
// A report is counted once, in its latest revision, whatever happens:
// SIGKILL at any moment, partition rebalances, ClickHouse restarts.
// ClickHouse makes only one part atomic; an INSERT whose rows fall in
// several partitions, and the materialized views (MVs) fed by it, are
// written as separate parts, so a crash can leave a batch half-written.
// The design therefore never relies on atomicity, only on idempotent redo:
//
//   - Ingest writes one Batch per Kafka partition and span of offsets.
//     WriteBatch (1) marks the span pending in the ledger, (2) reads the
//     stored revisions of the batch's reports from report_revisions,
//     ignoring rows written by this same span, (3) sends ONE INSERT (one
//     native block) into reports: a +1 row per new report or higher
//     revision, a -1 copy of each revision it replaces (same columns, the
//     new span's identity); equal or lower revisions are dropped, also
//     within the batch; (4) marks the span done.
//   - Resume tells a partition's new owner where to start: after the last
//     done span, and, if the last span is pending, that span to redo with
//     exactly the same offsets.
//   - A redo decides exactly as the first attempt (step 2 excludes the
//     span's own rows, and report_revisions keeps every revision so merges
//     cannot change what it sees), so it inserts the same block. Every
//     table is a ReplacingMergeTree whose ORDER BY ends with the identity
//     of what a row came from: reports and report_revisions with (partner_id,
//     report_id, revision[, sign]); each aggregate with (dims..., span_id),
//     its MV grouping one INSERT block by the same columns. The rows a redo
//     writes again are identical to those the first attempt wrote and fold
//     into them; rows of different spans add up.
//
// Conditions on the caller (ingest): the rows of a redo must be the same
// (derive ReceivedAt from the Kafka record, match with the same zone-set
// version); one report key always comes from one partition (Kafka key =
// partner_id/report_id) and a partition has one writer at a time, so two
// spans never decide on the same report concurrently; a re-created topic
// must get a Source distinct from the old one. Batches hold at most
// MaxBatchRows rows, so that the INSERT is a single block for every MV.
//
// # Tables
//
//	reports           ReplacingMergeTree  PARTITION BY toYYYYMM(observed_at)
//	                  ORDER BY (toDate(observed_at), tile, partner_id, report_id, revision, sign)
//	report_revisions  ReplacingMergeTree  ORDER BY (partner_id, report_id, revision)   (MV: sign = +1 rows)
//	ledger            ReplacingMergeTree(state) ORDER BY (kafka_cluster, kafka_topic, kafka_partition, first_offset)
//	agg_zone_hour     ReplacingMergeTree  ORDER BY (zone, hour, category, violation, possible, span_id)
//	agg_adm_day       ReplacingMergeTree  ORDER BY (adm1, adm2, adm3, day, category, violation, span_id)
//	agg_tile_day      ReplacingMergeTree  ORDER BY (tile, day, category, violation, span_id)
//	reports_current   VIEW: the current revision of each report
//	schema_migrations ReplacingMergeTree  ORDER BY version
//
// tile is the Web-Mercator quadkey at TileZoom; a tile of any coarser zoom
// is the key range TileRange returns.
//
// # Querying correctly
//
// Never count raw rows. Either read reports_current, or sum signs:
//
//	SELECT count() FROM reports_current WHERE observed_at >= '2024-03-01'
//	SELECT sum(sign), sum(sign * killed) FROM reports FINAL WHERE ...
//
// Aggregates hold one row per dimensions and span; sum them with FINAL
// (which folds redone spans not yet merged) and group by the dimensions you
// want, never by span_id:
//
//	SELECT zone, sum(n_reports), sum(n_killed)
//	FROM agg_zone_hour FINAL
//	WHERE hour >= '2024-03-01 00:00:00' AND hour < '2024-03-08 00:00:00' AND violation = 1
//	GROUP BY zone
//
// A tile at zoom z: WHERE tile >= lo AND tile < hi with TileRange; per
// sub-tile at zoom z2 >= z: GROUP BY bitShiftRight(tile, 2*(TileZoom-z2)).
// The query methods of Store (ZoneHours, AdmDays, TileDays) do this.
package storage
