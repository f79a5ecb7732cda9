package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Incidents (migration 0005) are written by package incident's resolver,
// which reads the current reports through ChangedReports; serve reads
// them through Incidents and Incident.

// incidentReportCols are the columns of a current report the resolver
// reads (in scanIncidentReport's order).
const incidentReportCols = `partner_id, report_id, revision, observed_at, observed_until, time_precision,
    lat, lon, accuracy_m, geo_precision, category, perpetrator_side, killed, injured,
    zones, possible_zones, adm1, adm2, adm3, violation, incident_of_partner_id, incident_of_report_id,
    violation_reason`

func scanIncidentReport(sc scanner) (read.Report, error) {
	var (
		r          read.Report
		obs, until time.Time
		violation  uint8
	)
	err := sc.Scan(&r.PartnerID, &r.ReportID, &r.Revision, &obs, &until, &r.TimePrecision,
		&r.Lat, &r.Lon, &r.AccuracyM, &r.GeoPrecision, &r.Category, &r.PerpetratorSide, &r.Killed, &r.Injured,
		&r.Zones, &r.PossibleZones, &r.Adm1, &r.Adm2, &r.Adm3, &violation, &r.IncidentOf.PartnerID, &r.IncidentOf.ReportID,
		&r.ViolationReason)
	r.ObservedAt, r.ObservedUntil, r.Violation = obs.Unix(), until.Unix(), violation != 0 // 1970 = none: 0
	return r, err
}

// ChangedReports returns ClickHouse's clock, every report key with a row
// in reports written at or after since (a new revision, its retraction, a
// withdrawal, a rematch, a redone span) and the current revision of those
// keys that have one (currentSQL): ChangedRows' keys and CurrentSince.
// For the zero since: every current report. written_at is the server's
// clock at INSERT, to the second.
func (s *Store) ChangedReports(ctx context.Context, since time.Time) (read.ReportChanges, error) {
	if since.IsZero() {
		return s.currentReports(ctx)
	}
	now, rows, err := s.ChangedRows(ctx, since)
	ch := read.ReportChanges{Now: now}
	if err != nil {
		return ch, err
	}
	seen := make(map[read.ReportKey]bool, len(rows))
	for _, r := range rows {
		if !seen[r.Key] {
			seen[r.Key] = true
			ch.Keys = append(ch.Keys, r.Key)
		}
	}
	ch.Current, err = s.CurrentSince(ctx, since, ch.Keys)
	return ch, err
}

// currentReports is ChangedReports for the zero since: every current
// report, and its key.
func (s *Store) currentReports(ctx context.Context) (read.ReportChanges, error) {
	var ch read.ReportChanges
	err := s.each(ctx, "changed reports: now", "SELECT now()", nil, func(sc scanner) error { return sc.Scan(&ch.Now) })
	if err != nil {
		return ch, err
	}
	q := s.sql("SELECT " + incidentReportCols + "\nFROM (" + currentSQL("") + ")")
	err = s.each(ctx, "changed reports", q, nil, func(sc scanner) error {
		r, err := scanIncidentReport(sc)
		ch.Current = append(ch.Current, r)
		ch.Keys = append(ch.Keys, read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID})
		return err
	})
	return ch, err
}

// ChangedRows returns ClickHouse's clock and the distinct stamps of the
// rows of reports written at or after since: what the resolver needs to
// tell a key with a new row from one it has read before (CurrentSince).
func (s *Store) ChangedRows(ctx context.Context, since time.Time) (time.Time, []read.RowStamp, error) {
	var now time.Time
	if err := s.each(ctx, "changed rows: now", "SELECT now()", nil, func(sc scanner) error { return sc.Scan(&now) }); err != nil {
		return now, nil, err
	}
	var out []read.RowStamp
	err := s.each(ctx, "changed rows", s.sql(`SELECT DISTINCT partner_id, report_id, revision, gen, sign FROM {db}.reports
WHERE written_at >= toDateTime(?)`), []any{since.UTC()}, func(sc scanner) error {
		var r read.RowStamp
		err := sc.Scan(&r.Key.PartnerID, &r.Key.ReportID, &r.Revision, &r.Gen, &r.Sign)
		out = append(out, r)
		return err
	})
	return now, out, err
}

// CurrentSince returns the current revision of those of keys that have
// one, keys with a row of reports written at or after since: what
// ChangedReports(since) returns for them, read for them alone.
func (s *Store) CurrentSince(ctx context.Context, since time.Time, keys []read.ReportKey) ([]read.Report, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rk := make([]reportKey, len(keys))
	for i, k := range keys {
		rk[i] = reportKey{k.PartnerID, k.ReportID}
	}
	where := ` AND (toDate(observed_at), tile) IN (SELECT toDate(observed_at), tile FROM {db}.reports WHERE written_at >= toDateTime(?))
    AND (partner_id, report_id) IN batch_keys`
	q := "SELECT " + incidentReportCols + "\nFROM (" + currentSQL(where) + ")"
	var out []read.Report
	err := s.withKeys(ctx, rk, q, []any{since.UTC()}, func(row driver.Rows) error {
		r, err := scanIncidentReport(row)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: current since: %w", readErr(err))
	}
	return out, nil
}

// StoredIncidents returns the id and digest of every stored incident (not
// deleted) and the highest version written.
func (s *Store) StoredIncidents(ctx context.Context) ([]read.IncidentDigest, uint64, error) {
	var out []read.IncidentDigest
	err := s.each(ctx, "stored incidents", s.sql(`SELECT incident_id, digest FROM {db}.incidents FINAL WHERE deleted = 0`), nil,
		func(sc scanner) error {
			var d read.IncidentDigest
			if err := sc.Scan(&d.ID, &d.Digest); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	if err != nil {
		return nil, 0, err
	}
	var version uint64
	err = s.each(ctx, "stored incidents: version", s.sql(`SELECT max(version) FROM {db}.incidents`), nil,
		func(sc scanner) error { return sc.Scan(&version) })
	return out, version, err
}

// MaxIncidentRows bounds the rows of one INSERT of WriteIncidents (one
// native block, one part).
const MaxIncidentRows = 100_000

const incidentCols = `incident_id, version, deleted, observed_at, observed_until, lat, lon, uncertainty_m, tile,
    category, zones, possible_zones, adm1, adm2, adm3, violation, partners, partner_groups,
    member_partners, member_reports, killed, killed_min, injured, injured_min, sides, contested, digest`

// WriteIncidents stores the incidents put and a deletion of each id of
// del, all at version, in INSERTs of at most MaxIncidentRows rows. Writing
// the same again, or at a higher version, is harmless: the table keeps
// each incident's highest version.
func (s *Store) WriteIncidents(ctx context.Context, version uint64, put []read.Incident, del []string) error {
	for len(put)+len(del) > 0 {
		np := min(len(put), MaxIncidentRows)
		nd := min(len(del), MaxIncidentRows-np)
		b, err := s.conn.PrepareBatch(ctx, s.sql("INSERT INTO {db}.incidents ("+incidentCols+")"))
		if err != nil {
			return fmt.Errorf("storage: write incidents: %w", readErr(err))
		}
		for i, col := range incidentBlock(version, put[:np], del[:nd]) {
			if err := b.Column(i).Append(col); err != nil {
				b.Abort()
				return fmt.Errorf("storage: write incidents: column %d: %w", i, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("storage: write incidents: %w", readErr(err))
		}
		put, del = put[np:], del[nd:]
	}
	return nil
}

// incidentBlock is put, then a deletion of each id of del, as the columns
// of incidentCols: one Append of a slice per column, not 27 interface
// values per row.
func incidentBlock(version uint64, put []read.Incident, del []string) []any {
	n := len(put) + len(del)
	strs := func() []string { return make([]string, n) }
	lists := func() [][]string { return make([][]string, n) }
	u32 := func() []uint32 { return make([]uint32, n) }
	var (
		id, category, adm1, adm2, adm3                         = strs(), strs(), strs(), strs(), strs()
		zones, possible, partners, groups, mPartners, mReports = lists(), lists(), lists(), lists(), lists(), lists()
		sides                                                  = lists()
		versions, tile, digest                                 = make([]uint64, n), make([]uint64, n), make([]uint64, n)
		deleted, violation, contested                          = make([]uint8, n), make([]uint8, n), make([]uint8, n)
		at, until                                              = make([]time.Time, n), make([]time.Time, n)
		lat, lon                                               = make([]float64, n), make([]float64, n)
		uncertainty                                            = make([]float32, n)
		killed, killedMin, injured, injuredMin                 = u32(), u32(), u32(), u32()
	)
	empty, epoch := []string{}, time.Unix(0, 0).UTC()
	for i := range n {
		versions[i] = version
		if i >= len(put) { // a deletion
			id[i], deleted[i], at[i], until[i] = del[i-len(put)], 1, epoch, epoch
			zones[i], possible[i], partners[i], groups[i], mPartners[i], mReports[i], sides[i] = empty, empty, empty, empty, empty, empty, empty
			continue
		}
		inc := &put[i]
		id[i], at[i], until[i] = inc.ID, time.Unix(inc.ObservedAt, 0).UTC(), time.Unix(inc.ObservedUntil, 0).UTC()
		lat[i], lon[i], uncertainty[i], tile[i], category[i] = inc.Lat, inc.Lon, inc.UncertaintyM, inc.Tile, inc.Category
		zones[i], possible[i], adm1[i], adm2[i], adm3[i] = nonNil(inc.Zones), nonNil(inc.PossibleZones), inc.Adm1, inc.Adm2, inc.Adm3
		violation[i], partners[i], groups[i] = inc.ViolationClass, nonNil(inc.Partners), nonNil(inc.Groups)
		mPartners[i], mReports[i] = make([]string, len(inc.Members)), make([]string, len(inc.Members))
		for j, m := range inc.Members {
			mPartners[i][j], mReports[i][j] = m.PartnerID, m.ReportID
		}
		killed[i], killedMin[i], injured[i], injuredMin[i] = inc.Killed, inc.KilledMin, inc.Injured, inc.InjuredMin
		sides[i], contested[i], digest[i] = nonNil(inc.Sides), b2u(inc.Contested), inc.Digest
	}
	return []any{id, versions, deleted, at, until, lat, lon, uncertainty, tile,
		category, zones, possible, adm1, adm2, adm3, violation, partners, groups,
		mPartners, mReports, killed, killedMin, injured, injuredMin, sides, contested, digest}
}

const incidentReadCols = `incident_id, observed_at, observed_until, lat, lon, uncertainty_m, tile,
    category, zones, possible_zones, adm1, adm2, adm3, violation, partners, partner_groups,
    member_partners, member_reports, killed, killed_min, injured, injured_min, sides, contested, digest`

func scanIncident(sc scanner) (read.Incident, error) {
	var (
		inc                read.Incident
		obs, until         time.Time
		violation, contest uint8
		mp, mr             []string
	)
	err := sc.Scan(&inc.ID, &obs, &until, &inc.Lat, &inc.Lon, &inc.UncertaintyM, &inc.Tile,
		&inc.Category, &inc.Zones, &inc.PossibleZones, &inc.Adm1, &inc.Adm2, &inc.Adm3, &violation, &inc.Partners, &inc.Groups,
		&mp, &mr, &inc.Killed, &inc.KilledMin, &inc.Injured, &inc.InjuredMin, &inc.Sides, &contest, &inc.Digest)
	if err != nil {
		return inc, err
	}
	inc.ObservedAt, inc.ObservedUntil = obs.Unix(), until.Unix() // 1970 = none: 0
	// violation holds the class (0001-0008 wrote 1 for any candidate:
	// the resolver's next full pass rewrites those, their digest differs).
	inc.Violation, inc.ViolationClass, inc.Contested = violation != 0, violation, contest != 0
	for i := range mp {
		inc.Members = append(inc.Members, read.ReportKey{PartnerID: mp[i], ReportID: mr[i]})
	}
	return inc, nil
}

// incidentWhere is the condition of q on the incidents table.
func incidentWhere(q read.IncidentQuery) (string, []any) {
	var where strings.Builder
	var args []any
	if b := q.Box; b != nil {
		where.WriteString(" AND lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?")
		args = append(args, b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	if !q.From.IsZero() {
		where.WriteString(" AND observed_at >= toDateTime(?)")
		args = append(args, q.From.UTC())
	}
	if !q.To.IsZero() {
		where.WriteString(" AND observed_at < toDateTime(?)")
		args = append(args, q.To.UTC())
	}
	return where.String(), args
}

// IncidentCounts counts the stored incidents matching q (not limited).
func (s *Store) IncidentCounts(ctx context.Context, q read.IncidentQuery) (read.IncidentCounts, error) {
	where, args := incidentWhere(q)
	var c read.IncidentCounts
	err := s.each(ctx, "incident counts", s.sql(`SELECT `+incidentSums("1")+`
FROM {db}.incidents FINAL WHERE deleted = 0`+where), args, func(sc scanner) error {
		return sc.Scan(scanIncidentSums(&c)...)
	})
	return c, err
}

// incidentSums are IncidentCounts' measures of the incidents for which
// cond holds, in its field order (Coarse aside).
func incidentSums(cond string) string {
	return strings.ReplaceAll(`toInt64(countIf({c})), toInt64(sumIf(length(member_reports), {c})),
    toInt64(countIf({c} AND length(partners) = 1)), toInt64(countIf({c} AND length(partners) >= 2)), toInt64(countIf({c} AND length(partner_groups) >= 2)),
    toInt64(countIf({c} AND contested = 1)), toInt64(countIf({c} AND violation = 1)), toInt64(countIf({c} AND violation = 2)), toInt64(sumIf(killed, {c})), toInt64(sumIf(killed_min, {c}))`, "{c}", cond)
}

// scanIncidentSums are the destinations of incidentSums' columns.
func scanIncidentSums(c *read.IncidentCounts) []any {
	return []any{&c.Incidents, &c.Reports, &c.Single, &c.Corroborated, &c.CrossGroups, &c.Contested, &c.Violations, &c.PossibleViolations, &c.Killed, &c.KilledMin}
}

// Incidents returns the stored incidents matching q, in (observed_at, id)
// order.
func (s *Store) Incidents(ctx context.Context, q read.IncidentQuery) ([]read.Incident, error) {
	where, args := incidentWhere(q)
	sql := s.sql("SELECT " + incidentReadCols + " FROM {db}.incidents FINAL WHERE deleted = 0" + where +
		"\nORDER BY observed_at, incident_id")
	if q.Limit > 0 {
		sql += "\nLIMIT ?"
		args = append(args, q.Limit)
	}
	var out []read.Incident
	err := s.each(ctx, "incidents", sql, args, func(sc scanner) error {
		inc, err := scanIncident(sc)
		out = append(out, inc)
		return err
	})
	return out, err
}

// Incident returns the stored incident id and the current revisions of
// its reports, in member order; ok is false when there is none.
func (s *Store) Incident(ctx context.Context, id string) (inc read.Incident, reports []read.Report, ok bool, err error) {
	err = s.each(ctx, "incident", s.sql("SELECT "+incidentReadCols+" FROM {db}.incidents FINAL WHERE incident_id = ? AND deleted = 0"),
		[]any{id}, func(sc scanner) error {
			inc, err = scanIncident(sc)
			ok = err == nil
			return err
		})
	if err != nil || !ok {
		return inc, nil, ok, err
	}
	mp, mr := make([]string, len(inc.Members)), make([]string, len(inc.Members))
	for i, m := range inc.Members {
		mp[i], mr[i] = m.PartnerID, m.ReportID
	}
	byKey := map[read.ReportKey]read.Report{}
	q := s.sql(currentSQL(" AND has(?, partner_id) AND has(?, report_id)"))
	err = s.each(ctx, "incident reports", q, []any{mp, mr}, func(sc scanner) error {
		var gen uint32
		sr, err := scanReportWith(sc, &gen)
		if err != nil {
			return err
		}
		r := reportOf(&sr.Row)
		byKey[read.ReportKey{PartnerID: r.PartnerID, ReportID: r.ReportID}] = r
		return nil
	})
	for _, m := range inc.Members {
		if r, found := byKey[m]; found {
			reports = append(reports, r)
		}
	}
	return inc, reports, ok, err
}
