// Package page is the vendor mock's control page: plain HTML, CSS and
// JavaScript embedded in the binary, with no build step. The page talks to
// /admin/faults and polls /stats.
package page

import (
	"embed"
	"net/http"
	"strings"
)

//go:embed index.html static
var files embed.FS

// Handler serves index.html at / and the assets under /static/.
func Handler() http.Handler {
	assets := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page changes with the binary; never let a browser keep an old one.
		w.Header().Set("Cache-Control", "no-cache")
		switch {
		case r.URL.Path == "/":
			http.ServeFileFS(w, r, files, "index.html")
		case strings.HasPrefix(r.URL.Path, "/static/") && !strings.HasSuffix(r.URL.Path, "/"):
			assets.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
