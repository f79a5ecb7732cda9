package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/internal/ops"
	"github.com/trucewatch/trucewatch/storage/read"
)

// Defaults and limits for Options.
const (
	DefaultMaxWindow = 366 * 24 * time.Hour // longest from..to window of tiles and reports
	// DefaultMaxTotalsWindow is the longest window of choropleths and
	// series: 20 years (series in day, week, month or year buckets).
	DefaultMaxTotalsWindow = (20*365 + 5) * 24 * time.Hour
	DefaultWindow          = 30 * 24 * time.Hour // window when from and to are omitted
	DefaultQueryTimeout    = 10 * time.Second    // per ClickHouse query
	DefaultBulkQueries     = 3                   // bulk queries at once (Options.BulkQueries)
	DefaultTileMaxAge      = 60 * time.Second    // Cache-Control max-age of tiles
	DefaultReportsLimit    = 100                 // reports per page
	MaxReportsLimit        = 1000                //
	MaxZoom                = 22                  // highest tile zoom served
	GridBits               = 4                   // a tile is a 2^4 x 2^4 grid of cells
	maxRawTileRows         = 200000              // reports binned in Go for tiles finer than the storage key
	minGzipBytes           = 512                 // smaller responses are sent uncompressed
	defaultChoroplethAge   = 60 * time.Second
)

// Options configure New. Store and Admin are required.
type Options struct {
	Store    Store      // the reports, e.g. a *storage.Store
	Admin    *geo.Admin // admin boundaries (geo.LoadAdmin)
	ZoneSets []*geo.ZoneSet

	// AllowOrigins is the CORS allow-list: exact origins
	// ("https://map.example.org") or "*". Empty = no CORS headers.
	AllowOrigins []string
	// Intake, if set, serves POST /v1/reports (the partner intake).
	Intake http.Handler
	// Incidents, if set, serves /v1/incidents (serve/incidents.go).
	Incidents IncidentStore
	// ReadTokens, when set, makes every read endpoint require
	// "Authorization: Bearer TOKEN" with one of them (401 otherwise).
	// /healthz and /readyz stay open for probes; POST /v1/reports has the
	// partners' own keys.
	ReadTokens []string

	MaxWindow       time.Duration // default DefaultMaxWindow
	MaxTotalsWindow time.Duration // default DefaultMaxTotalsWindow
	Window          time.Duration // default DefaultWindow
	QueryTimeout    time.Duration // default DefaultQueryTimeout
	TileMaxAge      time.Duration // default DefaultTileMaxAge
	// BulkQueries bounds the bulk queries (week pyramids, area totals:
	// see bulkQueries) running at once, default DefaultBulkQueries; the
	// others wait, so that the store's connections stay free for the
	// interactive ones.
	BulkQueries int
	// CacheBytes bounds the response cache (responses are kept for their
	// max-age); default DefaultCacheBytes. Negative = no cache, and no
	// week pieces or metatiles either: every answer is its own query.
	CacheBytes int

	// Registry receives the metrics and is what /metrics serves; nil = a
	// new registry with the Go and process collectors.
	Registry *prometheus.Registry
	Logger   *slog.Logger     // nil = discard
	Now      func() time.Time // default time.Now
}

func (o *Options) setDefaults() error {
	if o.Store == nil || o.Admin == nil {
		return errors.New("serve: Store and Admin are required")
	}
	if o.MaxWindow <= 0 {
		o.MaxWindow = DefaultMaxWindow
	}
	if o.MaxTotalsWindow <= 0 {
		o.MaxTotalsWindow = DefaultMaxTotalsWindow
	}
	if o.MaxTotalsWindow < o.MaxWindow {
		o.MaxTotalsWindow = o.MaxWindow
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Window > o.MaxWindow {
		o.Window = o.MaxWindow
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.TileMaxAge <= 0 {
		o.TileMaxAge = DefaultTileMaxAge
	}
	if o.BulkQueries <= 0 {
		o.BulkQueries = DefaultBulkQueries
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.Registry == nil {
		reg, err := ops.NewRegistry()
		if err != nil {
			return err
		}
		o.Registry = reg
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Server serves the map API. It is an http.Handler.
type Server struct {
	o      Options
	log    *slog.Logger
	mux    *http.ServeMux
	routes []*route

	zones      map[string]*zoneInfo // by zone id
	zoneList   []*zoneInfo          // in set order
	geoms      sync.Map             // geomKey -> *geomEntry: simplified geometries
	geomJSONMu sync.Mutex           // guards geomEntry.js
	cache      *cache               // nil = off
	bulk       chan struct{}        // a slot per bulk query running
	readTokens [][sha256.Size]byte  // digests of Options.ReadTokens

	pyramids    pieceCache[*pyramid]          // week pyramids and metatiles, see pyramid.go
	adminPieces pieceCache[map[string]counts] // areas' totals per week
	extentC     extentCache                   // see extent.go

	mReq     *prometheus.HistogramVec
	mQuery   *prometheus.HistogramVec
	mErrors  *prometheus.CounterVec
	mRespLen *prometheus.HistogramVec
	mCache   *prometheus.CounterVec
}

type zoneInfo struct {
	set  *geo.ZoneSet
	zone *geo.Zone
}

// New returns a server.
func New(o Options) (*Server, error) {
	var readTokens [][sha256.Size]byte
	for _, t := range o.ReadTokens {
		if t = strings.TrimSpace(t); t != "" {
			readTokens = append(readTokens, sha256.Sum256([]byte(t)))
		}
	}
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{o: o, log: o.Logger, mux: http.NewServeMux(), zones: map[string]*zoneInfo{}, readTokens: readTokens}
	s.pyramids = pieceCache[*pyramid]{max: maxPyramidCells, size: (*pyramid).len}
	s.adminPieces = pieceCache[map[string]counts]{max: maxAreaTotals, size: func(m map[string]counts) int { return len(m) }}
	s.cache = newCache(o.CacheBytes)
	s.bulk = make(chan struct{}, o.BulkQueries)
	for _, zs := range o.ZoneSets {
		for i := range zs.Zones {
			z := &zs.Zones[i]
			if _, dup := s.zones[z.ID]; dup {
				return nil, fmt.Errorf("serve: zone id %q in two zone sets", z.ID)
			}
			zi := &zoneInfo{set: zs, zone: z}
			s.zones[z.ID] = zi
			s.zoneList = append(s.zoneList, zi)
		}
	}
	if err := s.registerMetrics(o.Registry); err != nil {
		return nil, err
	}
	s.mount()
	return s, nil
}

// registerMetrics creates the server's Prometheus series in reg.
func (s *Server) registerMetrics(reg prometheus.Registerer) error {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	s.mReq = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "request_duration_seconds",
		Help: "HTTP request latency by route and status code.", Buckets: latency,
	}, []string{"route", "code"})
	s.mQuery = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "query_duration_seconds",
		Help: "ClickHouse query latency by query name and source table.", Buckets: latency,
	}, []string{"query", "table"})
	s.mErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "query_errors_total",
		Help: "ClickHouse queries that failed, by query name and kind (canceled, timeout, unavailable, error).",
	}, []string{"query", "kind"})
	s.mRespLen = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "response_bytes",
		Help:    "Response body size before compression, by route.",
		Buckets: prometheus.ExponentialBuckets(256, 4, 10),
	}, []string{"route"})
	s.mCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "cache_requests_total",
		Help: "Cacheable requests by result: hit (from the cache), shared (waited for an identical request in flight), miss (queried), retry.",
	}, []string{"result"})
	cells := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "cached_cells",
		Help: "Tile cells held in week pyramids and metatiles (at most 8,000,000; 24 bytes each).",
	}, func() float64 { return float64(s.pyramids.held()) })
	areas := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "trucewatch", Subsystem: "serve", Name: "cached_area_totals",
		Help: "Week totals of admin areas held (at most 150,000).",
	}, func() float64 { return float64(s.adminPieces.held()) })
	for _, c := range []prometheus.Collector{s.mReq, s.mQuery, s.mErrors, s.mRespLen, s.mCache, cells, areas} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("serve: register metrics: %w", err)
		}
	}
	return nil
}

// mount puts the route table, /metrics and the map page on the mux, and
// answers everything else with 405 (a path served under other methods) or
// 404.
func (s *Server) mount() {
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		if rt.handler == nil {
			continue
		}
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	s.mux.Handle("GET /metrics", ops.Metrics(s.o.Registry))
	s.mountPage() // the map page at /, see page.go
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all matches every method, so the mux's own 405 never
		// happens: a path served under other methods is answered here.
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, &paramError{Status: http.StatusMethodNotAllowed, Param: "method",
				Message: fmt.Sprintf("%s is not served here; use %s", r.Method, strings.Join(allow, " or "))})
			return
		}
		s.writeError(w, r, &paramError{Status: http.StatusNotFound, Param: "path", Message: "no such endpoint; see /openapi.json"})
	})
}

// allowed returns the methods the route table serves r's path with, in
// the order GET, HEAD, POST; none when no route has the path.
func (s *Server) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// ServeHTTP serves a request, answering CORS preflights itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// An API of data, never a page: nothing here is to be framed, sniffed
	// or allowed to load anything.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	s.cors(w, r)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if len(s.readTokens) > 0 && !s.readAllowed(r) {
		h.Set("WWW-Authenticate", `Bearer realm="trucewatch"`)
		s.writeError(w, r, &paramError{Status: http.StatusUnauthorized, Param: "Authorization", Message: "a valid bearer token is required"})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// readAllowed reports whether r may pass the read-token check: probes, the
// map page's static files and the partner intake always, others with one
// of the tokens. Tokens are compared as SHA-256 digests in constant time.
func (s *Server) readAllowed(r *http.Request) bool {
	switch {
	case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
		return true
	case r.Method == http.MethodPost && r.URL.Path == "/v1/reports":
		return true
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/map/")):
		return true // the map page's own files, no data: it asks for the token itself
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	okAny := 0
	for _, want := range s.readTokens {
		okAny |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return okAny == 1
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.o.AllowOrigins) == 0 {
		return
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	switch {
	case slices.Contains(s.o.AllowOrigins, "*"):
		h.Set("Access-Control-Allow-Origin", "*")
	case slices.Contains(s.o.AllowOrigins, origin):
		h.Set("Access-Control-Allow-Origin", origin)
	default:
		return
	}
	h.Set("Access-Control-Expose-Headers", "ETag, Link")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match")
		h.Set("Access-Control-Max-Age", "600")
	}
}

// handlerFunc is an endpoint: it writes a response or returns an error,
// which wrap turns into a JSON error response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.code == 0 {
		sw.code = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.code == 0 {
		sw.code = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		if err := rt.handler(sw, r); err != nil {
			s.writeError(sw, r, err)
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		s.mReq.WithLabelValues(rt.name, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Status  int    `json:"status"`
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}

// StatusClientClosed is logged (and counted) for requests whose client
// went away before the answer was ready.
const StatusClientClosed = 499

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *paramError
	d := errorDetail{Status: http.StatusInternalServerError, Message: "internal error"}
	switch {
	case errors.As(err, &pe):
		d = errorDetail{Status: pe.Status, Param: pe.Param, Message: pe.Message}
		if d.Status == 0 {
			d.Status = http.StatusBadRequest
		}
	case r.Context().Err() != nil:
		d = errorDetail{Status: StatusClientClosed, Message: "client closed request"}
	case errors.Is(err, context.DeadlineExceeded):
		d = errorDetail{Status: http.StatusServiceUnavailable, Message: "query took too long; narrow the window or the area"}
		s.log.Warn("query timeout", "path", r.URL.Path, "err", err)
	case errors.Is(err, read.ErrBusy):
		d = errorDetail{Status: http.StatusServiceUnavailable, Message: "server busy; retry later"}
		s.log.Warn("connection pool exhausted", "path", r.URL.Path)
	case errors.Is(err, read.ErrUnavailable):
		d = errorDetail{Status: http.StatusServiceUnavailable, Message: "database unavailable"}
		s.log.Error("database unavailable", "path", r.URL.Path, "err", err)
	default:
		s.log.Error("request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
	}
	b, _ := json.Marshal(errorBody{Error: d})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if d.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(d.Status)
	w.Write(append(b, '\n'))
}

// response is a complete body to send.
type response struct {
	ctype string
	body  []byte
	// cache is the Cache-Control value; "" = no-cache (revalidate).
	cache string
	route string
	// link, if set, is sent as a Link header.
	link string
	// source, if set, is sent as X-Trucewatch-Source.
	source string

	etag string // set by prepare
	gz   []byte // gzipped body, set by prepare when worth it
}

// prepare computes the ETag (a hash of the body) and the gzipped body,
// once per response, before it is cached.
func (resp *response) prepare() {
	if resp.etag != "" {
		return
	}
	resp.etag = fmt.Sprintf(`"%016x"`, xxhash.Sum64(resp.body))
	if len(resp.body) >= minGzipBytes {
		var buf bytes.Buffer
		buf.Grow(len(resp.body) / 4)
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&buf)
		zw.Write(resp.body)
		zw.Close()
		gzipPool.Put(zw)
		if buf.Len() < len(resp.body) {
			resp.gz = buf.Bytes()
		}
	}
}

// send writes resp with its ETag, answers If-None-Match with 304, and
// sends the gzipped body when the client accepts it.
func (s *Server) send(w http.ResponseWriter, r *http.Request, resp response) error {
	resp.prepare()
	h := w.Header()
	h.Set("Content-Type", resp.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if resp.cache == "" {
		resp.cache = "no-cache"
	}
	if len(s.readTokens) > 0 {
		// Behind read tokens an answer is for its token's holders only: a
		// shared cache must neither keep it nor serve it to anyone else.
		if rest, ok := strings.CutPrefix(resp.cache, "public"); ok {
			resp.cache = "private" + rest
		}
		h.Add("Vary", "Authorization")
	}
	h.Set("Cache-Control", resp.cache)
	if resp.link != "" {
		h.Set("Link", resp.link)
	}
	if resp.source != "" {
		h.Set("X-Trucewatch-Source", resp.source)
	}
	h.Set("ETag", resp.etag)
	h.Add("Vary", "Accept-Encoding")
	if resp.route != "" {
		s.mRespLen.WithLabelValues(resp.route).Observe(float64(len(resp.body)))
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, resp.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := resp.body
	if resp.gz != nil && acceptsGzip(r) {
		body = resp.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, p := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(p), ";")
		if strings.TrimSpace(name) == "gzip" {
			q = strings.ReplaceAll(strings.TrimSpace(q), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func (s *Server) sendJSON(w http.ResponseWriter, r *http.Request, route, ctype, cache string, v any) error {
	resp, err := jsonResponse(route, ctype, cache, v)
	if err != nil {
		return err
	}
	return s.send(w, r, resp)
}

func jsonResponse(route, ctype, cache string, v any) (response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return response{}, fmt.Errorf("serve: encode %s: %w", route, err)
	}
	return response{ctype: ctype, body: append(b, '\n'), cache: cache, route: route}, nil
}

// queryCtx bounds a ClickHouse query by the request's context (so that a
// client that goes away cancels the query in ClickHouse too) and by
// QueryTimeout.
func (s *Server) queryCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.o.QueryTimeout)
}

// observe records a query's latency, or its failure.
func (s *Server) observe(name, table string, start time.Time, err error) {
	if err == nil {
		s.mQuery.WithLabelValues(name, table).Observe(time.Since(start).Seconds())
		return
	}
	kind := "error"
	switch {
	case errors.Is(err, context.Canceled):
		kind = "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		kind = "timeout"
	case errors.Is(err, read.ErrUnavailable):
		kind = "unavailable"
	}
	s.mErrors.WithLabelValues(name, kind).Inc()
}

// bulkQueries are the queries that fill the piece caches: each reads a
// whole week of the country (or its areas), and many requests share it.
// Under load they took most of ClickHouse's time, and a drill-down queued
// behind them for a connection and for CPU; so they run in a lane of
// their own (Options.BulkQueries at once) and at a lower priority.
var bulkQueries = map[string]bool{"tile_week": true, "admin": true}

// ask runs one Store call under queryCtx, records it as query name on
// table, and names the query in its error. A bulk query first waits for
// its lane (within the query timeout).
func (s *Server) ask(r *http.Request, name, table string, call func(ctx context.Context) error) error {
	ctx, cancel := s.queryCtx(r)
	defer cancel()
	start := time.Now()
	if bulkQueries[name] {
		select {
		case s.bulk <- struct{}{}:
			defer func() { <-s.bulk }()
		case <-ctx.Done():
			s.observe(name, table, start, ctx.Err())
			return fmt.Errorf("serve: %s query: waiting for a bulk slot: %w", name, ctx.Err())
		}
		ctx = read.Bulk(ctx)
	}
	err := call(ctx)
	s.observe(name, table, start, err)
	if err != nil {
		return fmt.Errorf("serve: %s query: %w", name, err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := newQuery(r.URL, nil); err != nil {
		return err
	}
	return s.send(w, r, response{ctype: "application/json", body: []byte(`{"status":"ok"}` + "\n"), cache: "no-store"})
}

// readyz is ready when ClickHouse answers a ping.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if _, err := newQuery(r.URL, nil); err != nil {
		return err
	}
	if err := ops.Ready(r.Context(), s.o.Store.Ping); err != nil {
		s.log.Warn("not ready", "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","reason":"clickhouse unreachable"}` + "\n"))
		return nil
	}
	return s.send(w, r, response{ctype: "application/json", body: []byte(`{"status":"ready"}` + "\n"), cache: "no-store"})
}
