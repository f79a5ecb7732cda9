package serve

import (
	"fmt"
	"net/http"

	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage/read"
)

// route is one endpoint: how it is mounted and how it is documented.
type route struct {
	name       string // metrics label
	method     string
	pattern    string // http.ServeMux pattern (without the method)
	path       string // OpenAPI path
	summary    string
	desc       string
	pathParams []param // path parameters
	query      []string
	ctypes     []string       // success content types
	schema     string         // components schema of the 200 answer, if documented
	responses  map[string]any // when set, documented instead of 200, 400 and 503
	handler    handlerFunc
}

type param struct {
	name   string
	desc   string
	schema map[string]any
}

func (s *Server) routeTable() []*route {
	rs := []*route{
		{name: "tile", method: "GET", pattern: "/v1/tiles/{z}/{x}/{yfmt}", path: "/v1/tiles/{z}/{x}/{y}.{format}",
			summary: "Aggregates of the reports in one map tile, as a grid of 16x16 cells.",
			desc: "Cells are the tiles at zoom z+4. Computed from the tile aggregate (counts_tile_day) when from and to " +
				"are whole UTC days and the only filters are category and violation; from the raw reports table " +
				"otherwise (side, zone, partner filters, windows not on day boundaries, zooms above 16). " +
				"With measure=incidents, from the incident aggregate (incident_counts_tile_day) at every zoom. " +
				"The X-Trucewatch-Source header says which. Empty cells are omitted.",
			pathParams: []param{
				{"z", "zoom", map[string]any{"type": "integer", "minimum": 0, "maximum": MaxZoom}},
				{"x", "tile column, 0..2^z-1", map[string]any{"type": "integer", "minimum": 0}},
				{"y", "tile row, 0..2^z-1", map[string]any{"type": "integer", "minimum": 0}},
				{"format", "geojson (RFC 7946 FeatureCollection) or mvt (Mapbox Vector Tile, layer \"cells\")",
					map[string]any{"type": "string", "enum": []string{"geojson", "mvt"}}},
			},
			query:   tileParams,
			ctypes:  []string{"application/geo+json", "application/vnd.mapbox-vector-tile"},
			handler: s.handleTile},
		{name: "zones", method: "GET", pattern: "/v1/zones.geojson", path: "/v1/zones.geojson",
			summary: "The zones of a zone set with their aggregates over the window (a choropleth).",
			desc: "reports, killed, injured, violations count the reports inside the zone; possible_reports those " +
				"whose location uncertainty only crosses it, possible_violations the candidate violations among them. " +
				"From counts_zone_hour: from and to must be whole hours.",
			query: zonesParams, ctypes: []string{"application/geo+json"}, handler: s.handleZones},
		{name: "series", method: "GET", pattern: "/v1/zones/{id}/series", path: "/v1/zones/{id}/series",
			summary:    "A zone's time series, one point per bucket (zeros included).",
			pathParams: []param{{"id", "zone id", map[string]any{"type": "string"}}},
			query:      seriesParams, ctypes: []string{"application/json"}, handler: s.handleSeries},
		{name: "admin", method: "GET", pattern: "/v1/admin/{level}", path: "/v1/admin/{level}.geojson",
			summary: "Administrative areas (governorates, districts, sub-districts) with their aggregates.",
			desc: "reports, killed, injured, violations (definite), possible_violations count the reports placed " +
				"at the level: exact, near and adm3 precision at adm3, adm2 at adm2 and above, adm1 at adm1; " +
				"coarse_reports the others whose point lies in the area. " +
				"From counts_adm_day: from and to must be dates (whole UTC days).",
			pathParams: []param{{"level", "adm1 (governorates), adm2 (districts) or adm3 (sub-districts)",
				map[string]any{"type": "string", "enum": []string{"adm1", "adm2", "adm3"}}}},
			query: adminParams, ctypes: []string{"application/geo+json"}, handler: s.handleAdmin},
		{name: "reports", method: "GET", pattern: "/v1/reports", path: "/v1/reports",
			summary: "The individual reports (current revision) behind an aggregate, oldest first, paginated.",
			desc: "Pass next_cursor (also in the Link header) as cursor to get the next page; " +
				"it is absent on the last page.",
			query: reportsParams, ctypes: []string{"application/geo+json"}, schema: "Reports", handler: s.handleReports},
		{name: "history", method: "GET", pattern: "/v1/reports/{partner}/{id}/history", path: "/v1/reports/{partner}/{id}/history",
			summary:    "Every stored revision of one report, oldest first, withdrawals included (property withdrawn).",
			desc:       "A withdrawal carries the content of the revision it withdrew. 404 when no revision of the report is stored.",
			pathParams: []param{{"partner", "the partner id", map[string]any{"type": "string"}}, {"id", "the report id", map[string]any{"type": "string"}}},
			ctypes:     []string{"application/geo+json"}, handler: s.handleHistory},
		{name: "extent", method: "GET", pattern: "/v1/extent", path: "/v1/extent",
			summary: "The first and last day that hold reports, and the default window of every endpoint.",
			desc: "The default window (from and to omitted) is the last 30 days up to the next UTC midnight, ending " +
				"at the last day that holds data when that is before today. first and last are null when nothing is stored.",
			ctypes: []string{"application/json"}, handler: s.handleExtent},
		{name: "openapi", method: "GET", pattern: "/openapi.json", path: "/openapi.json",
			summary: "This document.", ctypes: []string{"application/json"}, handler: s.handleOpenAPI},
		{name: "healthz", method: "GET", pattern: "/healthz", path: "/healthz",
			summary: "Liveness: the process serves HTTP.", ctypes: []string{"application/json"}, handler: s.healthz},
		{name: "readyz", method: "GET", pattern: "/readyz", path: "/readyz",
			summary: "Readiness: 503 while ClickHouse is unreachable.", ctypes: []string{"application/json"}, handler: s.readyz},
		{name: "metrics", method: "GET", pattern: "/metrics", path: "/metrics",
			summary: "Prometheus metrics.", ctypes: []string{"text/plain"}},
	}
	rs = append(rs, s.incidentRoutes()...)
	if s.o.Intake != nil {
		rs = append(rs, &route{name: "intake", method: "POST", pattern: "/v1/reports", path: "/v1/reports",
			summary: "Partner intake: submit reports (see the intake documentation; bearer key required).",
			ctypes:  []string{"application/json"}, responses: intakeResponses(),
			handler: func(w http.ResponseWriter, r *http.Request) error { s.o.Intake.ServeHTTP(w, r); return nil }})
	}
	return rs
}

var paramDocs = map[string]param{
	"from": {"from", "start of the window, inclusive: a date (2017-03-01, midnight UTC) or an RFC 3339 time. " +
		"Default: to minus the default window (30 days).", map[string]any{"type": "string"}},
	"to": {"to", fmt.Sprintf("end of the window, exclusive, same forms as from. Default: the next UTC midnight "+
		"(or from plus the default window). At most %s after from.", fmtDays(DefaultMaxWindow)), map[string]any{"type": "string"}},
	"category": {"category", "only these report categories (comma-separated)", map[string]any{"type": "string",
		"pattern": "^[a-z_]+(,[a-z_]+)*$", "x-values": report.Categories()}},
	"side": {"side", "only reports whose perpetrator is on these sides (comma-separated); uses the raw table",
		map[string]any{"type": "string", "x-values": report.Sides()}},
	"violation": {"violation", "only these violation classes (comma-separated): definite (in a protected zone), " +
		"possible (its uncertainty circle only crosses one), none; true = definite,possible; false = none",
		map[string]any{"type": "string", "x-values": []string{"definite", "possible", "none", "true", "false"}}},
	"precision": {"precision", "only reports of these geo precisions (comma-separated). Whatever the filter, a report " +
		"counts at an admin level or map zoom only if its precision places it there; the others are coarse_reports",
		map[string]any{"type": "string", "x-values": read.Precisions}},
	"measure": {"measure", "reports (default) or incidents: the incidents resolved from every partner's reports " +
		"(docs/incidents.md), each counted once at its representative point, from the incident aggregates, with incidents, " +
		"reports (in them), single, corroborated, cross_groups, contested, violations, possible_violations, killed, killed_min, " +
		"injured and coarse_incidents (admin areas, tiles) or possible_incidents (zones). The filters the aggregates hold " +
		"apply (category, violation, precision: the class of the incident's uncertainty radius); tiles counting incidents " +
		"take no side, zone or partner filter and whole UTC days only",
		map[string]any{"type": "string", "enum": []string{"reports", "incidents"}, "default": "reports"}},
	"tz": {"tz", "IANA time zone of the buckets and of dates in from and to (default UTC); its offset must be whole hours",
		map[string]any{"type": "string", "default": "UTC"}},
	"zone": {"zone", "only reports inside one of these zones (ids, comma-separated); uses the raw table",
		map[string]any{"type": "string"}},
	"partner": {"partner", "only reports from these partners (comma-separated); uses the raw table",
		map[string]any{"type": "string"}},
	"by": {"by", "category: add one property n_<category> per category to each cell",
		map[string]any{"type": "string", "enum": []string{"category"}}},
	"set": {"set", "zone set name (default: every zone set)", map[string]any{"type": "string"}},
	"zoom": {"zoom", fmt.Sprintf("simplify geometries for display at this map zoom (Douglas-Peucker, tolerance one "+
		"pixel); 0..%d, default full detail", MaxSimplifyZoom), map[string]any{"type": "integer", "minimum": 0, "maximum": MaxSimplifyZoom}},
	"bucket": {"bucket", fmt.Sprintf("time bucket in tz (weeks start on Monday); hour only for windows up to %s. "+
		"Choropleths and series take windows of up to %s", fmtDays(DefaultMaxWindow), fmtDays(DefaultMaxTotalsWindow)),
		map[string]any{"type": "string", "enum": []string{"hour", "day", "week", "month", "year"}, "default": "day"}},
	"bbox": {"bbox", "minLon,minLat,maxLon,maxLat (WGS 84); default everywhere", map[string]any{"type": "string"}},
	"limit": {"limit", fmt.Sprintf("reports per page, 1..%d", MaxReportsLimit), map[string]any{"type": "integer",
		"minimum": 1, "maximum": MaxReportsLimit, "default": DefaultReportsLimit}},
	"cursor": {"cursor", "opaque: next_cursor of the previous page", map[string]any{"type": "string"}},
}

// openAPI builds the OpenAPI 3 document from the route table, so that it
// always lists what is served.
func (s *Server) openAPI() map[string]any {
	paths := map[string]any{}
	errResp := map[string]any{"description": "invalid parameter (error.param names it)",
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	for _, rt := range s.routes {
		var params []any
		for _, p := range rt.pathParams {
			params = append(params, map[string]any{"name": p.name, "in": "path", "required": true, "description": p.desc, "schema": p.schema})
		}
		for _, name := range rt.query {
			p := paramDocs[name]
			params = append(params, map[string]any{"name": name, "in": "query", "required": false, "description": p.desc, "schema": p.schema})
		}
		content := map[string]any{}
		for _, ct := range rt.ctypes {
			content[ct] = map[string]any{}
			if rt.schema != "" {
				content[ct] = map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + rt.schema}}
			}
		}
		op := map[string]any{
			"operationId": rt.name,
			"summary":     rt.summary,
			"responses": map[string]any{
				"200": map[string]any{"description": "OK", "content": content},
				"400": errResp,
				"503": map[string]any{"description": "ClickHouse unavailable or the query took too long"},
			},
		}
		if rt.responses != nil {
			op["responses"] = rt.responses
		}
		if rt.desc != "" {
			op["description"] = rt.desc
		}
		if params != nil {
			op["parameters"] = params
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[lower(rt.method)] = op
	}
	schemas := map[string]any{"Error": errorSchema, "Reports": reportsSchema}
	if s.o.Intake != nil {
		schemas["IntakeResponse"] = intakeResponseSchema
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "trucewatch map API", "version": "1",
			"description": "Aggregates of ceasefire-monitoring reports for map frontends. Every parameter is validated; " +
				"unknown parameters are rejected with 400. Time windows are half-open [from, to) in UTC."},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	}
}

// errorSchema is the body of every error answer, the intake's included.
var errorSchema = map[string]any{
	"type": "object", "required": []string{"error"},
	"properties": map[string]any{"error": map[string]any{"type": "object", "required": []string{"status", "message"},
		"properties": map[string]any{
			"status":  map[string]any{"type": "integer"},
			"param":   map[string]any{"type": "string"},
			"message": map[string]any{"type": "string"},
		}}}}

// intakeResponseSchema is intake.Response: the answer of a 202, and of a
// 400 that rejected every report (which also has error).
var intakeResponseSchema = map[string]any{
	"type": "object", "required": []string{"partner_id", "accepted", "rejected"},
	"properties": map[string]any{
		"error":      errorSchema["properties"].(map[string]any)["error"],
		"partner_id": map[string]any{"type": "string"},
		"accepted": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"index": map[string]any{"type": "integer"}, "id": map[string]any{"type": "string"}, "revision": map[string]any{"type": "integer"}}}},
		"rejected": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"index": map[string]any{"type": "integer"}, "line": map[string]any{"type": "integer"}, "id": map[string]any{"type": "string"},
			"errors": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
				"field": map[string]any{"type": "string"}, "rule": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}}}}}}},
	}}

func intakeResponses() map[string]any {
	ref := func(name string) map[string]any {
		return map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + name}}}
	}
	e := func(desc string) map[string]any { return map[string]any{"description": desc, "content": ref("Error")} }
	return map[string]any{
		"202": map[string]any{"description": "at least one report accepted; every rejected one with its errors", "content": ref("IntakeResponse")},
		"400": map[string]any{"description": "no report valid (error, and rejected lists each one's errors), or a body that cannot be split into reports (error only)",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"anyOf": []any{
				map[string]any{"$ref": "#/components/schemas/IntakeResponse"}, map[string]any{"$ref": "#/components/schemas/Error"}}}}}},
		"401": e("missing, unknown or revoked key"),
		"413": e("body over the byte limit, or more reports than the item limit"),
		"415": e("Content-Type is not JSON or NDJSON"),
		"429": e("over the partner's rate or bytes in flight (Retry-After)"),
		"503": e("the brokers did not acknowledge, or the server holds as many request bytes as it may (Retry-After); nothing was accepted"),
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	if _, err := newQuery(r.URL, nil); err != nil {
		return err
	}
	return s.sendJSON(w, r, "openapi", "application/json", "public, max-age=300", s.openAPI())
}
