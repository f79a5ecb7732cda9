-- The revision lookup, slim (issue 13). report_revisions was a copy of all
-- 40 columns of every revision: written, sorted, merged and stored a second
-- time for every report, although WriteBatch needs from it only which
-- revisions of a report are stored, by which span, and where each one's
-- row is in reports. revisions keeps that; the row itself is read from
-- reports by its sorting key (toDate(observed_at), tile, ...), for the
-- few reports of a batch that are corrections (storage/write.go,
-- storedRevisions).
--
-- Replacing by gen: a rematch writes a revision again with gen + 1, and
-- merges keep the highest gen (the lookup takes the highest one it sees
-- before the merge). All revisions are kept, so merges never change what
-- a redo of a span sees.
CREATE TABLE IF NOT EXISTS {db}.revisions (
    partner_id   String,
    report_id    String,
    revision     UInt32,
    gen          UInt32,
    withdrawn    UInt8,
    observed_at  DateTime('UTC'),
    tile         UInt64,
    span_id      UInt64
) ENGINE = ReplacingMergeTree(gen)
ORDER BY (partner_id, report_id, revision);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.revisions_mv TO {db}.revisions
AS SELECT partner_id, report_id, revision, gen, withdrawn, observed_at, tile, span_id
FROM {db}.reports WHERE sign = 1;

-- Filled from the raw table (every +1 row, as report_revisions_mv copied
-- them), month by month: rows the view has written already are identical
-- and fold, so the fill is exact while ingest writes.
INSERT INTO {db}.revisions (partner_id, report_id, revision, gen, withdrawn, observed_at, tile, span_id)
SELECT partner_id, report_id, revision, gen, withdrawn, observed_at, tile, span_id
FROM {db}.reports
WHERE sign = 1 AND {month};

DROP TABLE IF EXISTS {db}.report_revisions_mv;

DROP TABLE IF EXISTS {db}.report_revisions;
