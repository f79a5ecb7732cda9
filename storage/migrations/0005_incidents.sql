-- Incidents (issue 15): what package incident resolves from the current
-- reports, one row per incident and version. The resolver writes an
-- incident again (a higher version) when it changes and a row with
-- deleted = 1 when it no longer exists; read with FINAL and deleted = 0.
-- Not partitioned: one INSERT is one part. See storage/incidents.go.
CREATE TABLE IF NOT EXISTS {db}.incidents (
    incident_id      String,
    version          UInt64,
    deleted          UInt8,
    observed_at      DateTime('UTC'),
    observed_until   DateTime('UTC'),      -- 1970-01-01 00:00:00 = none
    lat              Float64,
    lon              Float64,
    uncertainty_m    Float32,
    tile             UInt64,
    category         String,
    zones            Array(String),
    possible_zones   Array(String),
    adm1             String,
    adm2             String,
    adm3             String,
    violation        UInt8,
    partners         Array(String),
    partner_groups   Array(String),
    member_partners  Array(String),        -- member i is (member_partners[i], member_reports[i])
    member_reports   Array(String),
    killed           UInt32,
    killed_min       UInt32,
    injured          UInt32,
    injured_min      UInt32,
    sides            Array(String),
    contested        UInt8,
    digest           UInt64,
    written_at       DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree(version)
ORDER BY incident_id;
