// Package dashboard serves Tandem's built-in status page: one HTML page with
// its style sheet and script, embedded in the binary. The page reads the
// node's own JSON API (GET /api/v1/ha/status and GET /api/v1/apps) from the
// browser, so the handler itself holds no state and knows nothing of the node.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// contentTypes are the types of the embedded files, by extension. They are
// fixed here rather than taken from the host's MIME tables, which vary.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// csp allows only the page's own assets. connect-src is wider because the
// page also asks the other member of the group, on another origin, for its
// status.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self' http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the status page at "/" and its assets under "/assets/".
// Mount it at the root of the admin API: the page fetches /api/v1/... by
// absolute path. Any other path is not found.
func Handler() http.Handler {
	files := make(map[string]asset)
	// The embedded tree is fixed at build time and the tests walk it, so
	// an error here cannot happen in a built binary.
	_ = fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		urlPath := "/" + name
		if name == "assets/index.html" {
			urlPath = "/"
		}
		files[urlPath] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return handler(files)
}

type handler map[string]asset

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	// Revalidate every time: the assets change with the binary, and a
	// check that answers 304 costs next to nothing.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if a.ctype == contentTypes[".html"] {
		hd.Set("Content-Security-Policy", csp)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
