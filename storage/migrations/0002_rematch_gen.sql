-- Rematch generations (see storage/rematch.go). A rematch rewrites a stored
-- report revision with a new zone match: it writes a -1 copy of the stored
-- row and a +1 row of the same revision, both with gen = the stored row's
-- gen + 1. gen is part of the raw table's sorting key so that these rows
-- never fold with the revision's earlier rows, nor with the -1 row that
-- WriteBatch writes (gen 0) when a higher revision arrives.
-- Runs on ClickHouse 18.16 and on current releases: MODIFY ORDER BY may only
-- append a column added, without a default, in the same ALTER.
-- reports first: report_revisions_mv is SELECT * FROM reports, and an
-- INSERT between the two statements fails (loudly; WriteBatch's retry redoes
-- it) in either order.
ALTER TABLE {db}.reports ADD COLUMN gen UInt32,
    MODIFY ORDER BY (toDate(observed_at), tile, partner_id, report_id, revision, sign, gen);

ALTER TABLE {db}.report_revisions ADD COLUMN gen UInt32;

-- The current instance of a revision: not retracted by a higher revision
-- (a -1 row with gen 0, written by WriteBatch) nor by a rematch (a -1 row
-- with gen g retracts the +1 row with gen g-1).
DROP TABLE IF EXISTS {db}.reports_current;

CREATE VIEW IF NOT EXISTS {db}.reports_current AS
SELECT * FROM {db}.reports FINAL
WHERE sign = 1
  AND (partner_id, report_id, revision) NOT IN
      (SELECT partner_id, report_id, revision FROM {db}.reports WHERE sign = -1 AND gen = 0)
  AND (partner_id, report_id, revision, gen) NOT IN
      (SELECT partner_id, report_id, revision, toUInt32(gen - 1) FROM {db}.reports WHERE sign = -1 AND gen > 0);
