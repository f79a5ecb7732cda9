-- Withdrawals, and aggregates that carry the location's precision and
-- tell definite from possible violations (issue 14).
--
-- withdrawn: a withdrawn revision is stored as a +1 and a -1 row of itself
-- (storage/write.go, plan), so it counts zero everywhere and stays in
-- report_revisions. reports first: report_revisions_mv is SELECT * FROM
-- reports (see 0002 on an INSERT between the two statements).
ALTER TABLE {db}.reports ADD COLUMN withdrawn UInt8;

ALTER TABLE {db}.report_revisions ADD COLUMN withdrawn UInt8;

-- The counts_* tables replace 0001's agg_* tables. Two new dimensions:
--   precision  the report's geo_precision ('' stored as 'exact'): a
--              reader counts a report at an admin level or map zoom only
--              if its precision supports it (storage/read, Placement);
--   violation_class (adm, tile) 0 not a candidate violation, 1 a
--              definite one (in a protected zone), 2 a possible one (its
--              uncertainty circle only crosses one); 0001's violation was 1
--              for both. Zones keep the 0/1 violation flag: there,
--              possible says how the report lies in the zone itself.
-- Each table is created with its view, then filled from the raw table
-- month by month ({month}: the runner repeats the statement for every
-- month holding reports, within the partitions-per-INSERT limit). A span
-- the view has already counted is recomputed identically (same key, same
-- sums: the rows fold), so the fill is exact while ingest writes. Then
-- the agg_* views and tables are dropped: read counts_* from this version
-- on.

CREATE TABLE IF NOT EXISTS {db}.counts_zone_hour (
    zone        String,
    hour        DateTime('UTC'),
    category    String,
    violation   UInt8,
    possible    UInt8,
    precision   String,
    span_id     UInt64,
    n_reports   Int64,
    n_killed    Int64,
    n_injured   Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (zone, hour, category, violation, possible, precision, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.counts_zone_hour_mv TO {db}.counts_zone_hour
AS SELECT
    tupleElement(zp, 1) AS zone,
    toStartOfHour(observed_at) AS hour,
    category,
    violation,
    tupleElement(zp, 2) AS possible,
    if(geo_precision = '', 'exact', geo_precision) AS precision,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports
ARRAY JOIN arrayConcat(
    arrayMap(z -> (z, toUInt8(0)), zones),
    arrayMap(z -> (z, toUInt8(1)), possible_zones)) AS zp
GROUP BY zone, hour, category, violation, possible, precision, span_id;

INSERT INTO {db}.counts_zone_hour (zone, hour, category, violation, possible, precision, span_id, n_reports, n_killed, n_injured)
SELECT
    tupleElement(zp, 1) AS zone,
    toStartOfHour(observed_at) AS hour,
    category,
    violation,
    tupleElement(zp, 2) AS possible,
    if(geo_precision = '', 'exact', geo_precision) AS precision,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports FINAL
ARRAY JOIN arrayConcat(
    arrayMap(z -> (z, toUInt8(0)), zones),
    arrayMap(z -> (z, toUInt8(1)), possible_zones)) AS zp
WHERE {month}
GROUP BY zone, hour, category, violation, possible, precision, span_id;

CREATE TABLE IF NOT EXISTS {db}.counts_adm_day (
    adm1        String,
    adm2        String,
    adm3        String,
    day         Date,
    category    String,
    violation_class UInt8,
    precision   String,
    span_id     UInt64,
    n_reports   Int64,
    n_killed    Int64,
    n_injured   Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (adm1, adm2, adm3, day, category, violation_class, precision, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.counts_adm_day_mv TO {db}.counts_adm_day
AS SELECT
    adm1, adm2, adm3,
    toDate(observed_at) AS day,
    category,
    multiIf(violation = 0, 0, startsWith(violation_reason, 'possibly_in_zone'), 2, 1) AS violation_class,
    if(geo_precision = '', 'exact', geo_precision) AS precision,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports
GROUP BY adm1, adm2, adm3, day, category, violation_class, precision, span_id;

INSERT INTO {db}.counts_adm_day (adm1, adm2, adm3, day, category, violation_class, precision, span_id, n_reports, n_killed, n_injured)
SELECT
    adm1, adm2, adm3,
    toDate(observed_at) AS day,
    category,
    multiIf(violation = 0, 0, startsWith(violation_reason, 'possibly_in_zone'), 2, 1) AS violation_class,
    if(geo_precision = '', 'exact', geo_precision) AS precision,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports FINAL
WHERE {month}
GROUP BY adm1, adm2, adm3, day, category, violation_class, precision, span_id;

CREATE TABLE IF NOT EXISTS {db}.counts_tile_day (
    tile        UInt64,
    day         Date,
    category    String,
    violation_class UInt8,
    precision   String,
    span_id     UInt64,
    n_reports   Int64,
    n_killed    Int64,
    n_injured   Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tile, day, category, violation_class, precision, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.counts_tile_day_mv TO {db}.counts_tile_day
AS SELECT
    tile,
    toDate(observed_at) AS day,
    category,
    multiIf(violation = 0, 0, startsWith(violation_reason, 'possibly_in_zone'), 2, 1) AS violation_class,
    if(geo_precision = '', 'exact', geo_precision) AS precision,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports
GROUP BY tile, day, category, violation_class, precision, span_id;

INSERT INTO {db}.counts_tile_day (tile, day, category, violation_class, precision, span_id, n_reports, n_killed, n_injured)
SELECT
    tile,
    toDate(observed_at) AS day,
    category,
    multiIf(violation = 0, 0, startsWith(violation_reason, 'possibly_in_zone'), 2, 1) AS violation_class,
    if(geo_precision = '', 'exact', geo_precision) AS precision,
    span_id,
    sum(sign) AS n_reports,
    sum(sign * killed) AS n_killed,
    sum(sign * injured) AS n_injured
FROM {db}.reports FINAL
WHERE {month}
GROUP BY tile, day, category, violation_class, precision, span_id;

DROP TABLE IF EXISTS {db}.agg_zone_hour_mv;

DROP TABLE IF EXISTS {db}.agg_adm_day_mv;

DROP TABLE IF EXISTS {db}.agg_tile_day_mv;

DROP TABLE IF EXISTS {db}.agg_zone_hour;

DROP TABLE IF EXISTS {db}.agg_adm_day;

DROP TABLE IF EXISTS {db}.agg_tile_day;
