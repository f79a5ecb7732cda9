-- Explicit links between reports (issue 15): a report may name another
-- report of the same event (schema v1 incident_of: partner and id), and
-- package incident joins the two into one incident whenever both are
-- current. Two columns on reports, written by WriteBatch with the rest of
-- the row, a correction's stored row is read back with them, and rows
-- written before this migration read '' (no link).
-- Runs on ClickHouse 18.16 and on current releases: one plain ADD COLUMN
-- per statement (no IF NOT EXISTS on 18.16, the runner ignores "already
-- exists"), a constant DEFAULT, not part of any key. No materialized view
-- reads them: the counts and revisions are unaffected.
ALTER TABLE {db}.reports ADD COLUMN incident_of_partner_id String DEFAULT '';

ALTER TABLE {db}.reports ADD COLUMN incident_of_report_id String DEFAULT '';

-- reports_current names its columns: defined again (as currentSQL, which
-- now has the two) so that analysts see the link too.
DROP TABLE IF EXISTS {db}.reports_current;

CREATE VIEW IF NOT EXISTS {db}.reports_current AS
SELECT partner_id, report_id, revision, observed_at,
    argMax(c_observed_until, cur) AS observed_until,
    argMax(c_time_precision, cur) AS time_precision,
    argMax(c_lat, cur) AS lat,
    argMax(c_lon, cur) AS lon,
    argMax(c_accuracy_m, cur) AS accuracy_m,
    argMax(c_geo_precision, cur) AS geo_precision,
    argMax(c_tile, cur) AS tile,
    argMax(c_category, cur) AS category,
    argMax(c_perpetrator_name, cur) AS perpetrator_name,
    argMax(c_perpetrator_side, cur) AS perpetrator_side,
    argMax(c_target_name, cur) AS target_name,
    argMax(c_target_side, cur) AS target_side,
    argMax(c_killed, cur) AS killed,
    argMax(c_injured, cur) AS injured,
    argMax(c_description, cur) AS description,
    argMax(c_sources, cur) AS sources,
    argMax(c_zone_set, cur) AS zone_set,
    argMax(c_zones, cur) AS zones,
    argMax(c_possible_zones, cur) AS possible_zones,
    argMax(c_adm1, cur) AS adm1,
    argMax(c_adm2, cur) AS adm2,
    argMax(c_adm3, cur) AS adm3,
    argMax(c_adm_approx, cur) AS adm_approx,
    argMax(c_violation, cur) AS violation,
    argMax(c_violation_reason, cur) AS violation_reason,
    argMax(c_received_at, cur) AS received_at,
    argMax(c_incident_of_partner_id, cur) AS incident_of_partner_id,
    argMax(c_incident_of_report_id, cur) AS incident_of_report_id,
    argMax(c_gen, cur) AS gen
FROM (SELECT partner_id, report_id, revision, observed_at, sign, toInt64(gen) * 2 + (sign = 1) AS cur, observed_until AS c_observed_until, time_precision AS c_time_precision, lat AS c_lat, lon AS c_lon, accuracy_m AS c_accuracy_m, geo_precision AS c_geo_precision, tile AS c_tile, category AS c_category, perpetrator_name AS c_perpetrator_name, perpetrator_side AS c_perpetrator_side, target_name AS c_target_name, target_side AS c_target_side, killed AS c_killed, injured AS c_injured, description AS c_description, sources AS c_sources, zone_set AS c_zone_set, zones AS c_zones, possible_zones AS c_possible_zones, adm1 AS c_adm1, adm2 AS c_adm2, adm3 AS c_adm3, adm_approx AS c_adm_approx, violation AS c_violation, violation_reason AS c_violation_reason, received_at AS c_received_at, incident_of_partner_id AS c_incident_of_partner_id, incident_of_report_id AS c_incident_of_report_id, gen AS c_gen
    FROM {db}.reports FINAL
    WHERE 1)
GROUP BY partner_id, report_id, revision, observed_at
HAVING sum(sign) > 0;
