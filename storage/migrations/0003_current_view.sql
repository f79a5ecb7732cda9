-- reports_current is the current revision as every query of current reports
-- computes it (storage/current.go, currentSQL; a test keeps the two the
-- same): the revision whose rows sum to a positive sign, each column from
-- its +1 row of the highest rematch gen. It replaces 0002's NOT IN
-- definition, which gave the same rows (no pending span) by another route.
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
    argMax(c_gen, cur) AS gen
FROM (SELECT partner_id, report_id, revision, observed_at, sign, toInt64(gen) * 2 + (sign = 1) AS cur, observed_until AS c_observed_until, time_precision AS c_time_precision, lat AS c_lat, lon AS c_lon, accuracy_m AS c_accuracy_m, geo_precision AS c_geo_precision, tile AS c_tile, category AS c_category, perpetrator_name AS c_perpetrator_name, perpetrator_side AS c_perpetrator_side, target_name AS c_target_name, target_side AS c_target_side, killed AS c_killed, injured AS c_injured, description AS c_description, sources AS c_sources, zone_set AS c_zone_set, zones AS c_zones, possible_zones AS c_possible_zones, adm1 AS c_adm1, adm2 AS c_adm2, adm3 AS c_adm3, adm_approx AS c_adm_approx, violation AS c_violation, violation_reason AS c_violation_reason, received_at AS c_received_at, gen AS c_gen
    FROM {db}.reports FINAL
    WHERE 1)
GROUP BY partner_id, report_id, revision, observed_at
HAVING sum(sign) > 0;
