package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/simplify"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/storage/read"
)

// MaxSimplifyZoom is the highest `zoom` of the choropleth endpoints; above
// it, and without `zoom`, geometries are sent at full detail.
const MaxSimplifyZoom = 18

var (
	zonesParams  = []string{"set", "from", "to", "zoom", "category", "precision", "measure"}
	seriesParams = []string{"bucket", "from", "to", "tz", "category", "precision", "measure"}
	adminParams  = []string{"from", "to", "zoom", "category", "violation", "precision", "measure"}
)

// counts are the aggregates of an area over a window (read.Counts: the
// same measures in zones, admin areas and tiles).
type counts = read.Totals

// props sets an area's measures: a zone's possible_reports, an admin
// area's coarse_reports (a zone has none: a coarse report's circle crosses
// it or lies inside it).
func props(c counts, p geojson.Properties, zone bool) {
	p["reports"] = c.Reports
	p["killed"] = c.Killed
	p["injured"] = c.Injured
	p["violations"] = c.Violations
	p["possible_violations"] = c.PossibleViolations
	if zone {
		p["possible_reports"] = c.Possible
	} else {
		p["coarse_reports"] = c.Coarse
	}
}

// totalsFilter reads the filters of the choropleths and series (those
// their aggregates hold): category, precision and, for admin areas,
// violation.
func totalsFilter(q *query, violation bool) (read.Filter, error) {
	var f read.Filter
	var err error
	if f.Categories, err = q.list("category", validCategory, "a report category"); err != nil {
		return f, err
	}
	if f.Precisions, err = q.list("precision", validPrecision, "a geo precision ("+strings.Join(read.Precisions, ", ")+")"); err != nil {
		return f, err
	}
	if violation {
		f.Violations, err = q.violations()
	}
	return f, err
}

func filterKey(f read.Filter) string {
	return fmt.Sprintf("%s|%s|%v", strings.Join(f.Categories, ","), strings.Join(f.Precisions, ","), f.Violations)
}

// zoomParam reads the simplification zoom; -1 = full detail.
func zoomParam(q *query) (int, error) { return q.intRange("zoom", -1, 0, MaxSimplifyZoom) }

// geomKey identifies a simplified geometry.
type geomKey struct {
	id   string // "adm:PCODE" or "zone:ID"
	zoom int
}

type geomEntry struct {
	once sync.Once
	g    orb.Geometry
	js   []byte // g as GeoJSON
}

// simplified returns g simplified for display at zoom (Douglas-Peucker
// with a tolerance of one 256-pixel tile pixel at that zoom, at the
// equator, in degrees) and rounded to a tenth of that pixel; cached.
func (s *Server) simplified(id string, zoom int, g func() orb.Geometry) orb.Geometry {
	v, _ := s.geoms.LoadOrStore(geomKey{id, zoom}, &geomEntry{})
	e := v.(*geomEntry)
	e.once.Do(func() {
		full := g()
		if zoom < 0 {
			e.g = full
			return
		}
		e.g = simplifyFor(full, zoom)
	})
	return e.g
}

// simplifiedJSON is simplified as GeoJSON, encoded once.
func (s *Server) simplifiedJSON(id string, zoom int, g func() orb.Geometry) []byte {
	gm := s.simplified(id, zoom, g)
	v, _ := s.geoms.Load(geomKey{id, zoom})
	e := v.(*geomEntry)
	s.geomJSONMu.Lock()
	defer s.geomJSONMu.Unlock()
	if e.js == nil {
		e.js, _ = json.Marshal(geojson.NewGeometry(gm))
	}
	return e.js
}

// rawFeature is a feature whose geometry is already encoded.
type rawFeature struct {
	id    string
	geom  []byte
	props geojson.Properties
}

// featureCollectionJSON writes what geojson.FeatureCollection.MarshalJSON
// would, from pre-encoded geometries: choropleth geometries are encoded
// once per zoom, not on every request.
func featureCollectionJSON(fs []rawFeature, extra map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"features":[`)
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		id, _ := json.Marshal(f.id)
		props, err := json.Marshal(f.props)
		if err != nil {
			return nil, err
		}
		b.WriteString(`{"id":`)
		b.Write(id)
		b.WriteString(`,"type":"Feature","geometry":`)
		b.Write(f.geom)
		b.WriteString(`,"properties":`)
		b.Write(props)
		b.WriteByte('}')
	}
	b.WriteString(`]`)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(extra[k])
		b.WriteByte(',')
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteString(`,"type":"FeatureCollection"}`)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func rawFCResponse(route string, fs []rawFeature, win window) (response, error) {
	b, err := featureCollectionJSON(fs, map[string]string{"from": win.From.Format(time.RFC3339), "to": win.To.Format(time.RFC3339)})
	if err != nil {
		return response{}, fmt.Errorf("serve: encode %s: %w", route, err)
	}
	cache := fmt.Sprintf("public, max-age=%d", int(defaultChoroplethAge/time.Second))
	return response{ctype: "application/geo+json", body: b, cache: cache, route: route}, nil
}

// pixelDegrees is the width of one pixel of a 256-pixel tile at zoom z.
func pixelDegrees(z int) float64 { return 360 / (256 * math.Exp2(float64(z))) }

func simplifyFor(full orb.Geometry, zoom int) orb.Geometry {
	tol := pixelDegrees(zoom)
	g := simplify.DouglasPeucker(tol).Simplify(orb.Clone(full))
	decimals := int(math.Ceil(-math.Log10(tol / 10)))
	if decimals < 1 {
		decimals = 1
	}
	if decimals < 9 {
		g = orb.Round(g, int(math.Pow10(decimals)))
	}
	g = dropDegenerate(g)
	if g == nil {
		// Too small to show at this zoom: keep a minimal outline (its
		// bound) so that the area is still there to hover and click.
		return full.Bound().ToPolygon()
	}
	return g
}

// dropDegenerate removes rings with fewer than 4 points and polygons whose
// outer ring is gone. nil when nothing is left.
func dropDegenerate(g orb.Geometry) orb.Geometry {
	cleanPoly := func(p orb.Polygon) orb.Polygon {
		if len(p) == 0 || len(p[0]) < 4 {
			return nil
		}
		out := orb.Polygon{p[0]}
		for _, r := range p[1:] {
			if len(r) >= 4 {
				out = append(out, r)
			}
		}
		return out
	}
	switch g := g.(type) {
	case orb.Polygon:
		if p := cleanPoly(g); p != nil {
			return p
		}
	case orb.MultiPolygon:
		var out orb.MultiPolygon
		for _, p := range g {
			if p := cleanPoly(p); p != nil {
				out = append(out, p)
			}
		}
		if len(out) == 1 {
			return out[0]
		}
		if len(out) > 1 {
			return out
		}
	}
	return nil
}

// zoneGeometry is a zone's area: its inline geometry, or the admin areas
// its pcodes name, as one MultiPolygon.
func (s *Server) zoneGeometry(z *geo.Zone) orb.Geometry {
	if z.Geometry != nil {
		return z.Geometry
	}
	var mp orb.MultiPolygon
	add := func(g orb.Geometry) {
		switch g := g.(type) {
		case orb.Polygon:
			mp = append(mp, g)
		case orb.MultiPolygon:
			mp = append(mp, g...)
		}
	}
	for _, pc := range z.PCodes {
		if a, ok := s.o.Admin.Area(pc); ok {
			add(a.Geometry)
			continue
		}
		// "SY" (all of Syria) or a prefix that is not an area itself:
		// the governorates or sub-districts under it.
		level := 3
		if pc == "SY" {
			level = 1
		}
		for _, a := range s.o.Admin.Areas(level) {
			if strings.HasPrefix(a.PCode, pc) {
				add(a.Geometry)
			}
		}
	}
	return mp
}

func (s *Server) handleZones(w http.ResponseWriter, r *http.Request) error {
	q, err := newQuery(r.URL, zonesParams)
	if err != nil {
		return err
	}
	set, hasSet := q.get("set")
	if hasSet {
		found := false
		for _, zs := range s.o.ZoneSets {
			found = found || zs.Name == set
		}
		if !found {
			return badParam("set", "unknown zone set %q (known: %s)", set, strings.Join(s.setNames(), ", "))
		}
	}
	win, err := q.window(s.windowNow(r), s.o.Window, s.o.MaxTotalsWindow)
	if err != nil {
		return err
	}
	f, err := totalsFilter(q, false)
	if err != nil {
		return err
	}
	if !win.hourAligned() {
		return badParam("from", "zone aggregates are hourly: from and to must be whole hours (UTC)")
	}
	zoom, err := zoomParam(q)
	if err != nil {
		return err
	}
	measure, err := s.measureParam(q)
	if err != nil {
		return err
	}
	key := "zones|" + set + "|" + win.From.String() + "|" + win.To.String() + "|" + fmt.Sprint(zoom) + "|" + filterKey(f) + "|" + measure
	return s.cached(w, r, key, defaultChoroplethAge, func(r *http.Request) (response, error) {
		if measure == "incidents" {
			return s.buildZoneIncidents(r, hasSet, set, f, win, zoom)
		}
		return s.buildZones(r, hasSet, set, f, win, zoom)
	})
}

// measureParam reads measure (reports or incidents). The incident
// aggregates hold the same filters as the report aggregates (category,
// violation class, precision).
func (s *Server) measureParam(q *query) (string, error) {
	measure, err := q.enum("measure", "reports", "reports", "incidents")
	if err != nil || measure != "incidents" {
		return measure, err
	}
	if s.o.Incidents == nil {
		return "", badParam("measure", "this server has no incident store (serve.Options.Incidents)")
	}
	return measure, nil
}

// incidentCountProps sets an area's incident measures: admin areas add
// coarse_incidents, zones possible_incidents.
func incidentCountProps(c read.IncidentCounts, p geojson.Properties, zone bool) {
	p["incidents"], p["reports"], p["single"], p["corroborated"] = c.Incidents, c.Reports, c.Single, c.Corroborated
	p["cross_groups"], p["contested"], p["violations"], p["possible_violations"] = c.CrossGroups, c.Contested, c.Violations, c.PossibleViolations
	p["killed"], p["killed_min"], p["injured"] = c.Killed, c.KilledMin, c.Injured
	if zone {
		p["possible_incidents"] = c.Possible
	} else {
		p["coarse_incidents"] = c.Coarse
	}
}

// buildZoneIncidents is the zone choropleth counting incidents.
func (s *Server) buildZoneIncidents(r *http.Request, hasSet bool, set string, f read.Filter, win window, zoom int) (response, error) {
	zs, ids := s.zonesOf(hasSet, set)
	var agg map[string]read.IncidentCounts
	err := s.ask(r, "zones_incidents", "incident_counts_zone_hour", func(ctx context.Context) (err error) {
		agg, err = s.o.Incidents.IncidentZoneCounts(ctx, ids, inWindow(f, win))
		return err
	})
	if err != nil {
		return response{}, err
	}
	return rawFCResponse("zones", s.zoneFeatures(zs, zoom, func(id string, p geojson.Properties) { incidentCountProps(agg[id], p, true) }), win)
}

// zonesOf are the zones of set (every set unless hasSet) and their ids.
func (s *Server) zonesOf(hasSet bool, set string) ([]*zoneInfo, []string) {
	var zs []*zoneInfo
	var ids []string
	for _, zi := range s.zoneList {
		if !hasSet || zi.set.Name == set {
			zs = append(zs, zi)
			ids = append(ids, zi.zone.ID)
		}
	}
	return zs, ids
}

// zoneFeatures are the zones zs as features with their names and times;
// set adds each one's measures.
func (s *Server) zoneFeatures(zs []*zoneInfo, zoom int, set func(id string, p geojson.Properties)) []rawFeature {
	fs := make([]rawFeature, 0, len(zs))
	for _, zi := range zs {
		z := zi.zone
		f := rawFeature{id: z.ID, geom: s.simplifiedJSON("zone:"+z.ID, zoom, func() orb.Geometry { return s.zoneGeometry(z) })}
		f.props = geojson.Properties{
			"id": z.ID, "name": z.Name, "kind": z.Kind, "set": zi.set.Name,
			"valid_from": z.ValidFrom.UTC().Format(time.RFC3339),
		}
		if !z.ValidTo.IsZero() {
			f.props["valid_to"] = z.ValidTo.UTC().Format(time.RFC3339)
		}
		set(z.ID, f.props)
		fs = append(fs, f)
	}
	return fs
}

func (s *Server) buildZones(r *http.Request, hasSet bool, set string, f read.Filter, win window, zoom int) (response, error) {
	zs, ids := s.zonesOf(hasSet, set)
	agg, err := s.zoneCounts(r, ids, f, win)
	if err != nil {
		return response{}, err
	}
	return rawFCResponse("zones", s.zoneFeatures(zs, zoom, func(id string, p geojson.Properties) { props(agg[id], p, true) }), win)
}

func (s *Server) setNames() []string {
	var out []string
	for _, zs := range s.o.ZoneSets {
		out = append(out, zs.Name)
	}
	return out
}

// zoneCounts sums counts_zone_hour per zone over the window.
func (s *Server) zoneCounts(r *http.Request, ids []string, f read.Filter, win window) (map[string]counts, error) {
	if len(ids) == 0 {
		return map[string]counts{}, nil
	}
	var tot map[string]read.Totals
	err := s.ask(r, "zones", "counts_zone_hour", func(ctx context.Context) (err error) {
		tot, err = s.o.Store.ZoneTotals(ctx, ids, inWindow(f, win))
		return err
	})
	return tot, err
}

// seriesPoint is one bucket of a zone's time series.
type seriesPoint struct {
	T                  string `json:"t"`
	Reports            int64  `json:"reports"`
	Killed             int64  `json:"killed"`
	Injured            int64  `json:"injured"`
	Violations         int64  `json:"violations"`
	PossibleViolations int64  `json:"possible_violations"`
	Possible           int64  `json:"possible_reports"`
}

type seriesBody struct {
	Zone   string        `json:"zone"`
	Bucket string        `json:"bucket"`
	TZ     string        `json:"tz"`
	From   string        `json:"from"`
	To     string        `json:"to"`
	Points []seriesPoint `json:"points"`
}

// bucketStart truncates t to its bucket in loc (weeks start on Monday).
func bucketStart(t time.Time, bucket string, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	switch bucket {
	case "day":
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	case "week":
		day := time.Date(y, m, d, 0, 0, 0, 0, loc)
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	}
	return t.Truncate(time.Hour)
}

func nextBucket(t time.Time, bucket string) time.Time {
	switch bucket {
	case "day":
		return t.AddDate(0, 0, 1)
	case "week":
		return t.AddDate(0, 0, 7)
	case "month":
		return t.AddDate(0, 1, 0)
	case "year":
		return t.AddDate(1, 0, 0)
	}
	return t.Add(time.Hour)
}

func (s *Server) handleSeries(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	zi, ok := s.zones[id]
	if !ok {
		return &paramError{Status: http.StatusNotFound, Param: "id", Message: fmt.Sprintf("unknown zone %q", id)}
	}
	q, err := newQuery(r.URL, seriesParams)
	if err != nil {
		return err
	}
	bucket, err := q.enum("bucket", "day", "hour", "day", "week", "month", "year")
	if err != nil {
		return err
	}
	loc, err := q.location()
	if err != nil {
		return err
	}
	win, err := q.windowIn(s.windowNow(r), s.o.Window, s.o.MaxTotalsWindow, loc)
	if err != nil {
		return err
	}
	if _, off := win.From.In(loc).Zone(); off%3600 != 0 {
		return badParam("tz", "zone aggregates are hourly: %s is not a whole number of hours from UTC", loc)
	}
	if !win.hourAligned() {
		return badParam("from", "zone aggregates are hourly: from and to must be whole hours")
	}
	f, err := totalsFilter(q, false)
	if err != nil {
		return err
	}
	if bucket == "hour" && win.To.Sub(win.From) > s.o.MaxWindow {
		return badParam("bucket", "hourly series are limited to %s; use day, week, month or year", fmtDays(s.o.MaxWindow))
	}
	measure, err := s.measureParam(q)
	if err != nil {
		return err
	}
	key := "series|" + zi.zone.ID + "|" + bucket + "|" + loc.String() + "|" + win.From.String() + "|" + win.To.String() + "|" + filterKey(f) + "|" + measure
	return s.cached(w, r, key, defaultChoroplethAge, func(r *http.Request) (response, error) {
		if measure == "incidents" {
			return s.buildIncidentSeries(r, zi, bucket, loc, f, win)
		}
		return s.buildSeries(r, zi, bucket, loc, f, win)
	})
}

// incidentPoint is one bucket of a zone's incident series.
type incidentPoint struct {
	T                  string `json:"t"`
	Incidents          int64  `json:"incidents"`
	Reports            int64  `json:"reports"`
	Single             int64  `json:"single"`
	Corroborated       int64  `json:"corroborated"`
	CrossGroups        int64  `json:"cross_groups"`
	Contested          int64  `json:"contested"`
	Violations         int64  `json:"violations"`
	PossibleViolations int64  `json:"possible_violations"`
	Killed             int64  `json:"killed"`
	KilledMin          int64  `json:"killed_min"`
	Injured            int64  `json:"injured"`
	PossibleIncidents  int64  `json:"possible_incidents"`
}

// buildIncidentSeries is the zone's series counting incidents, by the
// hour of their observed_at, in the same dense buckets as reports.
func (s *Server) buildIncidentSeries(r *http.Request, zi *zoneInfo, bucket string, loc *time.Location, f read.Filter, win window) (response, error) {
	pts, at := densePoints(win, bucket, loc, func(t string) incidentPoint { return incidentPoint{T: t} })
	var hours []read.IncidentHour
	err := s.ask(r, "series_incidents", "incident_counts_zone_hour", func(ctx context.Context) (err error) {
		hours, err = s.o.Incidents.IncidentZoneSeries(ctx, zi.zone.ID, inWindow(f, win))
		return err
	})
	if err != nil {
		return response{}, err
	}
	for _, h := range hours {
		p := at(h.Hour)
		if p == nil {
			continue
		}
		p.Incidents += h.Incidents
		p.Reports += h.IncidentCounts.Reports
		p.Single += h.Single
		p.Corroborated += h.Corroborated
		p.CrossGroups += h.CrossGroups
		p.Contested += h.Contested
		p.Violations += h.Violations
		p.PossibleViolations += h.PossibleViolations
		p.Killed += h.Killed
		p.KilledMin += h.KilledMin
		p.Injured += h.Injured
		p.PossibleIncidents += h.Possible
	}
	body := map[string]any{"zone": zi.zone.ID, "bucket": bucket, "tz": loc.String(), "measure": "incidents",
		"from": win.From.Format(time.RFC3339), "to": win.To.Format(time.RFC3339), "points": pts}
	return seriesResponse(body)
}

// densePoints are the points of every bucket of win in loc, zeros
// included, so that a time slider gets a dense series; at is the point
// of the bucket holding an hour (nil outside the window).
func densePoints[P any](win window, bucket string, loc *time.Location, point func(t string) P) (pts []P, at func(time.Time) *P) {
	idx := map[int64]int{}
	for t := bucketStart(win.From, bucket, loc); t.Before(win.To); t = nextBucket(t, bucket) {
		idx[t.Unix()] = len(pts)
		pts = append(pts, point(t.Format(time.RFC3339)))
	}
	return pts, func(h time.Time) *P {
		if i, ok := idx[bucketStart(h, bucket, loc).Unix()]; ok {
			return &pts[i]
		}
		return nil
	}
}

func seriesResponse(body any) (response, error) {
	return jsonResponse("series", "application/json", fmt.Sprintf("public, max-age=%d", int(defaultChoroplethAge/time.Second)), body)
}

func (s *Server) buildSeries(r *http.Request, zi *zoneInfo, bucket string, loc *time.Location, f read.Filter, win window) (response, error) {
	pts, at := densePoints(win, bucket, loc, func(t string) seriesPoint { return seriesPoint{T: t} })
	var hours []read.HourTotals
	err := s.ask(r, "series", "counts_zone_hour", func(ctx context.Context) (err error) {
		hours, err = s.o.Store.ZoneSeries(ctx, zi.zone.ID, inWindow(f, win))
		return err
	})
	for _, h := range hours {
		p := at(h.Hour)
		if p == nil {
			continue
		}
		p.Reports += h.Reports
		p.Killed += h.Killed
		p.Injured += h.Injured
		p.Violations += h.Violations
		p.PossibleViolations += h.PossibleViolations
		p.Possible += h.Possible
	}
	if err != nil {
		return response{}, err
	}
	body := seriesBody{Zone: zi.zone.ID, Bucket: bucket, TZ: loc.String(), From: win.From.Format(time.RFC3339), To: win.To.Format(time.RFC3339), Points: pts}
	return seriesResponse(body)
}

func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request) error {
	var level int
	switch r.PathValue("level") {
	case "adm1.geojson":
		level = 1
	case "adm2.geojson":
		level = 2
	case "adm3.geojson":
		level = 3
	default:
		return &paramError{Status: http.StatusNotFound, Param: "level", Message: "want adm1.geojson, adm2.geojson or adm3.geojson"}
	}
	q, err := newQuery(r.URL, adminParams)
	if err != nil {
		return err
	}
	win, err := q.window(s.windowNow(r), s.o.Window, s.o.MaxTotalsWindow)
	if err != nil {
		return err
	}
	f, err := totalsFilter(q, true)
	if err != nil {
		return err
	}
	if !win.dayAligned() {
		return badParam("from", "admin aggregates are daily: from and to must be dates or UTC midnights")
	}
	zoom, err := zoomParam(q)
	if err != nil {
		return err
	}
	measure, err := s.measureParam(q)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("admin|%d|%s|%s|%d|%s|%s", level, win.From, win.To, zoom, filterKey(f), measure)
	return s.cached(w, r, key, defaultChoroplethAge, func(r *http.Request) (response, error) {
		if measure == "incidents" {
			return s.buildAdminIncidents(r, level, f, win, zoom)
		}
		return s.buildAdmin(r, level, f, win, zoom)
	})
}

// adminFeatures are the areas of level with their names; set adds each
// one's measures.
func (s *Server) adminFeatures(level, zoom int, set func(pcode string, p geojson.Properties)) []rawFeature {
	areas := s.o.Admin.Areas(level)
	fs := make([]rawFeature, 0, len(areas))
	for _, a := range areas {
		f := rawFeature{id: a.PCode, geom: s.simplifiedJSON("adm:"+a.PCode, zoom, func() orb.Geometry { return a.Geometry })}
		f.props = geojson.Properties{"pcode": a.PCode, "name": a.Name, "name_ar": a.NameAR, "adm1": a.Adm1}
		if level == 3 {
			f.props["adm2"] = a.Adm2
		}
		set(a.PCode, f.props)
		fs = append(fs, f)
	}
	return fs
}

// buildAdminIncidents is the admin choropleth counting incidents: each at
// its representative point, at a level only if its uncertainty allows
// (read.LevelRadiusM), else in coarse_incidents.
func (s *Server) buildAdminIncidents(r *http.Request, level int, f read.Filter, win window, zoom int) (response, error) {
	var agg map[string]read.IncidentCounts
	err := s.ask(r, "admin_incidents", "incident_counts_adm_day", func(ctx context.Context) (err error) {
		agg, err = s.o.Incidents.IncidentAreaCounts(ctx, level, inWindow(f, win))
		return err
	})
	if err != nil {
		return response{}, err
	}
	fs := s.adminFeatures(level, zoom, func(pc string, p geojson.Properties) { incidentCountProps(agg[pc], p, false) })
	return rawFCResponse("admin", fs, win)
}

func (s *Server) buildAdmin(r *http.Request, level int, f read.Filter, win window, zoom int) (response, error) {
	agg, err := s.adminCounts(r, level, f, win)
	if err != nil {
		return response{}, err
	}
	fs := s.adminFeatures(level, zoom, func(pc string, p geojson.Properties) { props(agg[pc], p, false) })
	return rawFCResponse("admin", fs, win)
}

// adminCounts sums the areas' aggregates over win from week pieces
// (see pyramid.go: windows that overlap share their weeks), or with one
// query when the server caches nothing or the window is longer than a
// year (a 20-year window would be a thousand weeks).
func (s *Server) adminCounts(r *http.Request, level int, f read.Filter, win window) (map[string]counts, error) {
	if s.cache == nil || win.To.Sub(win.From) > DefaultMaxWindow {
		return s.queryAdminCounts(r, level, f, win)
	}
	parts, err := eachWeek(win, func(w window) (map[string]counts, error) {
		key := fmt.Sprintf("%d|%s|%s|%s", level, w.From, w.To, filterKey(f))
		m, how, err := s.adminPieces.get(r.Context(), key, defaultChoroplethAge, s.o.QueryTimeout, s.dataVersion("counts_adm_day", w),
			func(ctx context.Context) (map[string]counts, error) {
				return s.queryAdminCounts(r.WithContext(ctx), level, f, w)
			},
			func(err error) { s.o.Logger.Warn("serve: refresh area totals", "err", err) })
		s.mCache.WithLabelValues("areas_" + how).Inc()
		return m, err
	})
	if err != nil {
		return nil, err
	}
	agg := map[string]counts{}
	for _, m := range parts {
		for pc, c := range m {
			a := agg[pc]
			a.Add(c.Counts)
			a.Possible += c.Possible
			agg[pc] = a
		}
	}
	return agg, nil
}

// queryAdminCounts is one query for the areas' aggregates over win.
func (s *Server) queryAdminCounts(r *http.Request, level int, f read.Filter, win window) (map[string]counts, error) {
	var tot map[string]read.Totals
	err := s.ask(r, "admin", "counts_adm_day", func(ctx context.Context) (err error) {
		tot, err = s.o.Store.AreaTotals(ctx, level, inWindow(f, win))
		return err
	})
	return tot, err
}
