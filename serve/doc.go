// Package serve is the HTTP API that map frontends read: vector and
// GeoJSON tiles of report aggregates, choropleths of truce zones and
// administrative areas, zone time series, and the individual reports
// behind an aggregate. Everything is read through Options.Store (a
// storage.Store: serve writes no SQL and does not import the ClickHouse
// driver), under the request's context, so that a client that goes away
// cancels its query in ClickHouse too.
//
// # Endpoints
//
//	GET /v1/tiles/{z}/{x}/{y}.geojson|.mvt   z 0..22; from, to, category, side, violation, zone, partner, precision, by=category
//	GET /v1/zones.geojson                     set, from, to, zoom, category, precision
//	GET /v1/zones/{id}/series                 bucket=hour|day|week|month|year, from, to, tz, category, precision
//	GET /v1/admin/{adm1|adm2|adm3}.geojson    from, to, zoom, category, violation, precision
//	GET /v1/reports                           bbox, from, to, limit, cursor, category, side, violation, zone, partner, precision
//	GET /v1/reports/{partner}/{id}/history    every stored revision, withdrawals included
//	GET /v1/extent                            the days that hold data, the default window
//	GET /v1/incidents                         bbox, from, to, limit (with Options.Incidents: incidents.go)
//	GET /v1/incidents/{id}                    an incident's reports side by side, what differs
//	GET /openapi.json, /healthz, /readyz, /metrics
//	GET /, /map/...                           the map page (page.go, web/)
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
// (366 days by default); without from/to the last 30 days that hold data
// are served: up to the next UTC midnight, or to the end of the last day
// with reports when that is earlier (Store.Extent, GET /v1/extent).
//
// # Measures
//
// Every count means the same everywhere (read.Counts): reports, killed and
// injured count the reports placed in the zone, area or cell; violations
// the definite candidate violations among them, possible_violations the
// possible ones; zones add possible_reports (the uncertainty circle only
// crosses the zone), admin areas and cells coarse_reports (the point lies
// there but its geo precision is too coarse for the level or zoom, see
// read.PlacedAt). violation= takes the classes definite, possible and none
// (true: both candidate classes). Choropleths and series take windows of
// up to Options.MaxTotalsWindow (20 years; hourly series up to MaxWindow),
// series in a tz whose offset is whole hours.
//
// # Which table answers
//
// A tile is a grid of 16x16 cells (the tiles at zoom z+4, GridBits).
// Reports carry the quadkey of their zoom-20 tile (read.TileZoom), so a
// tile at any zoom is a contiguous key range and a cell is the key shifted
// right: the query reads one range of the primary key, like adsb.exposed.
//
//   - counts_tile_day (tile x day x category x violation) when from and to
//     are whole UTC days, the only filters are category and violation, and
//     z <= 16;
//   - the raw reports table (sum of sign over FINAL rows, so a replaced
//     revision counts zero) for the side, zone and partner filters, for
//     windows that are not whole days, and for z >= 17, whose cells are
//     finer than the stored key: those are binned in Go from the
//     coordinates of the reports of the tile's zoom-20 ancestor.
//
// The X-Trucewatch-Source header (and "source" in GeoJSON tiles) says
// which. Zone choropleths and series read counts_zone_hour (from and to must
// be whole hours), admin choropleths counts_adm_day (whole days). The zone
// filter counts reports inside the zone, not those whose uncertainty only
// overlaps it; zone choropleths report those separately as
// possible_reports.
//
// # Making tiles cheap
//
// The tile aggregate holds about one row per report (its key is the
// zoom-20 tile and the Kafka span), so the cost of a tile query is the
// number of reports in its key range and window. Three things keep it down
// (see storage/final.go, pyramid.go, pieces.go, cache.go):
//
//   - FINAL only where needed: month partitions made of a single part
//     are read without FINAL (ClickHouse 18.16 runs FINAL as one merging
//     stream, six times slower on 10 million reports); queries are split by
//     month and the partial sums added.
//   - Week pyramids and metatiles: every tile of zoom <= 12 (from the
//     tile aggregate) is summed in memory from week pyramids, the whole
//     country's zoom-16 cells for one week (Monday to Monday, UTC, or the
//     part of a week at either end of a window) and one filter set, one
//     query each. Windows that overlap (a time slider moved by a week,
//     users on the default window) share their weeks. A tile of zoom
//     2..16 otherwise comes from the 4x4 block of tiles around it (its
//     ancestor two zooms up), queried once. The admin choropleths are
//     summed from week totals per area the same way.
//   - These pieces are kept for TileMaxAge (choropleths: 60 s); for one
//     more max-age an expired piece is still served while one background
//     query replaces it (stale-while-revalidate), so a busy piece's expiry
//     stalls no request. At most 8 million cells (32 bytes each, about
//     256 MB; a year of the benchmark's 10 million reports fits) and
//     150,000 area totals are kept, least recently used first out.
//   - Responses (tiles, choropleths, series) are cached for their max-age
//     (64 MiB by default) with their ETag and gzipped body, and identical
//     requests in flight share one computation. A query runs under the
//     context of the request that started it; if that client goes away,
//     the query is cancelled and the requests waiting for it run their own.
//
// So behind the cache a report shows in tiles and choropleths at most
// twice TileMaxAge (60 s) after it reaches ClickHouse; `serve
// --cache-bytes -1` turns every cache off, and then a report shows as soon
// as ClickHouse has it. It reached ClickHouse (and showed in its tile and
// zone series, uncached) 0.83 s after being produced at the median, 1.1 s
// at p95 and 1.3 s at most, with 10,000 reports/s flowing through one
// ingest worker (BenchmarkServeLoad, freshness); that grows when the
// worker falls behind the feed.
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
// Cache-Control (tiles: public, max-age=60 by default; private, with
// Vary: Authorization, when Options.ReadTokens are set, so that no shared
// cache hands tokened data to anyone else), are gzipped when the client
// accepts it, and CORS headers for the origins in Options.AllowOrigins. A
// path served under other methods answers 405 with Allow and the error
// body (see Options.Intake for POST /v1/reports); an unknown path 404. Metrics: trucewatch_serve_request_duration_seconds
// {route,code}, trucewatch_serve_query_duration_seconds{query,table},
// trucewatch_serve_query_errors_total{query,kind},
// trucewatch_serve_response_bytes{route},
// trucewatch_serve_cache_requests_total{result},
// trucewatch_serve_cached_cells, trucewatch_serve_cached_area_totals.
//
// # Load benchmark
//
// BenchmarkServeLoad (make bench-serve; skipped without -load) seeds 10
// million synthetic reports through the real write path, drives the API
// with 32 clients panning and zooming for 30 s from cold caches (reported
// as the warm-up), then again for the 30 s measured, prints p50/p95/p99
// and requests/s per endpoint and the ClickHouse queries behind them, then
// the same tiles computed by a plain GROUP BY over the raw table (the
// baseline), then freshness under a 10,000 reports/s Kafka feed.
package serve
