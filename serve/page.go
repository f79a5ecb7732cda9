package serve

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

// web is the map page: plain ES modules and the vendored MapLibre GL JS
// (web/vendor/maplibre-gl, see its VERSION), nothing fetched from
// anywhere else.
//
//go:embed web
var web embed.FS

// pageCSP lets the page load its own scripts, styles and MapLibre's
// worker (a module worker from the same origin; blob: for its fallback
// and for decoded images) and talk to this server only.
const pageCSP = "default-src 'none'; script-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; " +
	"style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// pageTypes are the content types of the page's files, by extension.
var pageTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

// pageFiles holds each file's prepared response (ETag, gzip), made on
// first use.
var pageFiles sync.Map // name -> *response

// mountPage serves the page at / and its files under /map/.
func (s *Server) mountPage() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { s.pageFile(w, r, "index.html") })
	s.mux.HandleFunc("GET /map/{file...}", func(w http.ResponseWriter, r *http.Request) {
		s.pageFile(w, r, r.PathValue("file"))
	})
}

func (s *Server) pageFile(w http.ResponseWriter, r *http.Request, name string) {
	ctype, ok := pageTypes[path.Ext(name)]
	if !ok || strings.Contains(name, "..") {
		s.writeError(w, r, &paramError{Status: http.StatusNotFound, Param: "path", Message: "no such file"})
		return
	}
	v, ok := pageFiles.Load(name)
	if !ok {
		b, err := fs.ReadFile(web, "web/"+name)
		if err != nil {
			s.writeError(w, r, &paramError{Status: http.StatusNotFound, Param: "path", Message: "no such file"})
			return
		}
		resp := &response{ctype: ctype, body: b, cache: "no-cache", route: "page"}
		resp.prepare()
		v, _ = pageFiles.LoadOrStore(name, resp)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	s.send(w, r, *v.(*response))
}
