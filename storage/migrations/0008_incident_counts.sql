-- Incident aggregates (issue 15): the counts of incidents keyed like the
-- counts_* tables, written by package incident's resolver, which holds
-- every incident and so every cell in memory and writes each cell's
-- absolute sums, not a delta: a cell touched by a pass is written again,
-- whole, at a higher version (an emptied cell with zeros), so a redo, a
-- write cut half-way or a block written twice cannot count twice, and
-- the resolver's full pass rewrites every cell that differs from its
-- resolution. Read with FINAL (or, for a partition of one part, without:
-- storage/final.go; one INSERT writes a cell once). The filters readers
-- use are all key columns, so they hold for every version of a row.
--
-- precision is read.IncidentPrecision of the incident's uncertainty
-- radius (incidents keep a radius, not a class); violation_class is 1
-- when a member is a definite candidate violation, 2 when one is a
-- possible one and none definite. Partitioned by year, not by month as
-- counts_*: the resolver writes the cells its incidents changed every few
-- seconds, a part in every partition they touch, and by month a feed
-- spread over months (the demo's) made more parts than ingest itself.
-- WriteIncidentCells splits an
-- INSERT at 100 partitions. See storage/incident_cells.go.
CREATE TABLE IF NOT EXISTS {db}.incident_counts_tile_day (
    tile            UInt64,                -- quadkey at zoom 30 (read.IncidentTileZoom) of the representative point
    day             Date,
    category        String,
    violation_class UInt8,
    precision       String,
    version         UInt64,
    n_incidents     Int64,
    n_reports       Int64,
    n_single        Int64,
    n_corroborated  Int64,
    n_cross_groups  Int64,
    n_contested     Int64,
    n_killed        Int64,
    n_killed_min    Int64,
    n_injured       Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(day)
ORDER BY (tile, day, category, violation_class, precision);

CREATE TABLE IF NOT EXISTS {db}.incident_counts_adm_day (
    adm1            String,
    adm2            String,
    adm3            String,
    day             Date,
    category        String,
    violation_class UInt8,
    precision       String,
    version         UInt64,
    n_incidents     Int64,
    n_reports       Int64,
    n_single        Int64,
    n_corroborated  Int64,
    n_cross_groups  Int64,
    n_contested     Int64,
    n_killed        Int64,
    n_killed_min    Int64,
    n_injured       Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(day)
ORDER BY (adm1, adm2, adm3, day, category, violation_class, precision);

-- violation: 0/1 (a candidate violation), possible: the incident's
-- circle only crosses the zone, as counts_zone_hour.
CREATE TABLE IF NOT EXISTS {db}.incident_counts_zone_hour (
    zone            String,
    hour            DateTime('UTC'),
    category        String,
    violation       UInt8,
    possible        UInt8,
    precision       String,
    version         UInt64,
    n_incidents     Int64,
    n_reports       Int64,
    n_single        Int64,
    n_corroborated  Int64,
    n_cross_groups  Int64,
    n_contested     Int64,
    n_killed        Int64,
    n_killed_min    Int64,
    n_injured       Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(hour)
ORDER BY (zone, hour, category, violation, possible, precision);
