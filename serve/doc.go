// Package serve is the HTTP API that map frontends read: vector and
// GeoJSON tiles of report aggregates, choropleths of truce zones and
// administrative areas, zone time series, and the individual reports
// behind an aggregate. Everything is read from ClickHouse with one
// parameterised query per request (values are bound by clickhouse-go,
// never spliced into SQL), under the request's context, so that a client
// that goes away cancels its query in ClickHouse too.
//
// # Endpoints
//
//	GET /v1/tiles/{z}/{x}/{y}.geojson|.mvt   z 0..22; from, to, category, side, violation, zone, partner, by=category
//	GET /v1/zones.geojson                     set, from, to, zoom
//	GET /v1/zones/{id}/series                 bucket=hour|day|week, from, to
//	GET /v1/admin/{adm1|adm2|adm3}.geojson    from, to, zoom
//	GET /v1/reports                           bbox, from, to, limit, cursor, category, side, violation, zone, partner
//	GET /openapi.json, /healthz, /readyz, /metrics
//
// /openapi.json is generated from the same route table the server mounts,
// and a test checks it against the routes.
//
// # Validation
//
// Every parameter is checked; a bad one gets a 400 with a JSON body
// {"error":{"status":400,"param":"z","message":"..."}} naming it. Unknown
// and repeated parameters are rejected. Windows are half-open [from, to)
// in UTC, given as dates or RFC 3339 times, at most Options.MaxWindow
// (366 days by default); without from/to the last 30 days are served.
//
// # Which table answers
//
// A tile is a grid of 16x16 cells (the tiles at zoom z+4, GridBits).
// Reports carry the quadkey of their zoom-20 tile (storage.TileZoom), so a
// tile at any zoom is a contiguous key range and a cell is the key shifted
// right: the query reads one range of the primary key, like adsb.exposed.
//
//   - agg_tile_day (tile x day x category x violation) when from and to
//     are whole UTC days, the only filters are category and violation, and
//     z <= 16;
//   - the raw reports table (sum of sign over FINAL rows, so a replaced
//     revision counts zero) for the side, zone and partner filters, for
//     windows that are not whole days, and for z >= 17, whose cells are
//     finer than the stored key: those are binned in Go from the
//     coordinates of the reports of the tile's zoom-20 ancestor.
//
// The X-Trucewatch-Source header (and "source" in GeoJSON tiles) says
// which. Zone choropleths and series read agg_zone_hour (from and to must
// be whole hours), admin choropleths agg_adm_day (whole days). The zone
// filter counts reports inside the zone, not those whose uncertainty only
// overlaps it; zone choropleths report those separately as
// possible_reports.
//
// # Geometry
//
// Choropleths take `zoom`: geometries are simplified with Douglas-Peucker
// at a tolerance of one pixel of a 256-pixel tile at that zoom and rounded
// to a tenth of a pixel, and cached per area and zoom. Measured on the
// shipped OCHA boundaries (TestChoroplethSize): /v1/admin/adm3.geojson is
// 2,875,557 bytes at full detail (925,296 gzipped), 108,124 bytes at zoom 6
// (25,421 gzipped), 189,302 at zoom 8, 336,296 at zoom 10.
//
// # HTTP
//
// Responses carry an ETag (hash of the body; If-None-Match gets 304),
// Cache-Control (tiles: public, max-age=60 by default), are gzipped when
// the client accepts it, and CORS headers for the origins in
// Options.AllowOrigins. Metrics: trucewatch_serve_request_duration_seconds
// {route,code}, trucewatch_serve_query_duration_seconds{query,table},
// trucewatch_serve_query_errors_total{query,kind},
// trucewatch_serve_response_bytes{route}.
package serve
