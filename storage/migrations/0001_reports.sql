-- trucewatch schema v1: raw reports, revision state, exactly-once ledger,
-- aggregates maintained by materialized views. See storage/doc.go.
-- {db} is replaced by the back-quoted database name. Every statement must be
-- idempotent: two processes may apply a migration at once. Use IF NOT
-- EXISTS; 18.16 has no ADD COLUMN IF NOT EXISTS, so a plain ADD COLUMN is
-- allowed: the runner ignores "already exists" errors. A statement ends
-- with ';' at the end of a line; no ';' inside comments.
-- Runs on ClickHouse 18.16 and on current releases: only the
-- `ENGINE = X PARTITION BY ... ORDER BY ...` syntax, no LowCardinality,
-- DateTime64, Bool or Nullable.

-- Raw reports. One row per report revision (sign = +1) plus, when a higher
-- revision replaced it, a copy with sign = -1 written in the same INSERT as
-- the replacement. Every row carries the Kafka span of the batch that wrote
-- it; a redone span writes identical rows, which the Replacing engine folds.
CREATE TABLE IF NOT EXISTS {db}.reports (
    partner_id        String,
    report_id         String,
    revision          UInt32,
    sign              Int8,
    observed_at       DateTime('UTC'),
    observed_until    DateTime('UTC'),      -- 1970-01-01 00:00:00 = none
    time_precision    String,
    lat               Float64,
    lon               Float64,
    accuracy_m        Float32,
    geo_precision     String,
    tile              UInt64,               -- Web-Mercator quadkey at storage.TileZoom
    category          String,
    perpetrator_name  String,
    perpetrator_side  String,
    target_name       String,
    target_side       String,
    killed            UInt32,
    injured           UInt32,
    description       String,
    sources           Array(String),
    zone_set          String,
    zones             Array(String),
    possible_zones    Array(String),
    adm1              String,
    adm2              String,
    adm3              String,
    adm_approx        UInt8,
    violation         UInt8,
    violation_reason  String,
    received_at       DateTime('UTC'),
    kafka_cluster     String,
    kafka_topic       String,
    kafka_partition   Int32,
    first_offset      Int64,
    last_offset       Int64,
    span_id           UInt64,               -- hash of (cluster, topic, partition, first_offset)
    written_at        DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(observed_at)
ORDER BY (toDate(observed_at), tile, partner_id, report_id, revision, sign);

-- Every revision ever stored (sign = +1 rows only), ordered by report key:
-- WriteBatch reads the current revision of the batch's reports from here.
-- All revisions are kept (not Replacing by revision) so that merges never
-- change what a redo of a span sees.
CREATE TABLE IF NOT EXISTS {db}.report_revisions AS {db}.reports
ENGINE = ReplacingMergeTree
ORDER BY (partner_id, report_id, revision);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.report_revisions_mv TO {db}.report_revisions
AS SELECT * FROM {db}.reports WHERE sign = 1;

-- One entry per Kafka span: state 0 = pending (INSERT under way), 1 = done.
CREATE TABLE IF NOT EXISTS {db}.ledger (
    kafka_cluster    String,
    kafka_topic      String,
    kafka_partition  Int32,
    first_offset     Int64,
    last_offset      Int64,
    state            UInt8,
    row_count        UInt32,
    inserted         UInt32,
    retracted        UInt32,
    duplicates       UInt32,
    stale            UInt32,
    written_at       DateTime('UTC')
) ENGINE = ReplacingMergeTree(state)
ORDER BY (kafka_cluster, kafka_topic, kafka_partition, first_offset);

-- Aggregates. Each MV groups one INSERT block by its dimensions and the
-- span it came from; the target's ORDER BY is exactly those columns, so a
-- redone span's identical rows fold, different spans add up. Read them as
--   SELECT dims, sum(n_reports) FROM agg FINAL WHERE ... GROUP BY dims.

-- zone x hour x category x violation (x possible: the report's accuracy
-- circle only overlaps the zone).
CREATE TABLE IF NOT EXISTS {db}.agg_zone_hour (
    zone        String,
    hour        DateTime('UTC'),
    category    String,
    violation   UInt8,
    possible    UInt8,
    span_id     UInt64,
    n_reports   Int64,
    n_killed    Int64,
    n_injured   Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (zone, hour, category, violation, possible, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.agg_zone_hour_mv TO {db}.agg_zone_hour
AS SELECT
    tupleElement(zp, 1) AS zone,
    toStartOfHour(observed_at) AS hour,
    category,
    violation,
    tupleElement(zp, 2) AS possible,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports
ARRAY JOIN arrayConcat(
    arrayMap(z -> (z, toUInt8(0)), zones),
    arrayMap(z -> (z, toUInt8(1)), possible_zones)) AS zp
GROUP BY zone, hour, category, violation, possible, span_id;

-- admin area (adm3 with its adm1/adm2) x day x category x violation.
CREATE TABLE IF NOT EXISTS {db}.agg_adm_day (
    adm1        String,
    adm2        String,
    adm3        String,
    day         Date,
    category    String,
    violation   UInt8,
    span_id     UInt64,
    n_reports   Int64,
    n_killed    Int64,
    n_injured   Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (adm1, adm2, adm3, day, category, violation, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.agg_adm_day_mv TO {db}.agg_adm_day
AS SELECT
    adm1, adm2, adm3,
    toDate(observed_at) AS day,
    category,
    violation,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports
GROUP BY adm1, adm2, adm3, day, category, violation, span_id;

-- map tile (quadkey at storage.TileZoom; any coarser tile is a key range)
-- x day x category x violation.
CREATE TABLE IF NOT EXISTS {db}.agg_tile_day (
    tile        UInt64,
    day         Date,
    category    String,
    violation   UInt8,
    span_id     UInt64,
    n_reports   Int64,
    n_killed    Int64,
    n_injured   Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tile, day, category, violation, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.agg_tile_day_mv TO {db}.agg_tile_day
AS SELECT
    tile,
    toDate(observed_at) AS day,
    category,
    violation,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports
GROUP BY tile, day, category, violation, span_id;

-- The current revision of every report, one row each: what analysts query
-- instead of the raw table.
CREATE VIEW IF NOT EXISTS {db}.reports_current AS
SELECT * FROM {db}.reports FINAL
WHERE sign = 1
  AND (partner_id, report_id, revision) NOT IN
      (SELECT partner_id, report_id, revision FROM {db}.reports WHERE sign = -1);
