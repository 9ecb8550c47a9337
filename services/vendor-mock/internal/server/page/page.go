// Package page is the vendor mock's control page: plain HTML, CSS and
// JavaScript embedded in the binary, with no build step. The page talks to
// /admin/faults and polls /stats.
package page

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
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
		case strings.HasPrefix(r.URL.Path, "/static/") && !strings.HasSuffix(r.URL.Path, "/") && exists(r.URL.Path):
			assets.ServeHTTP(w, r)
		default:
			// JSON like every other 4xx of the service (the file server's
			// own 404 is plain text).
			httpjson.NotFound(w, r)
		}
	})
}

// exists says whether urlPath names an embedded file (not a directory).
func exists(urlPath string) bool {
	st, err := fs.Stat(files, strings.TrimPrefix(urlPath, "/"))
	return err == nil && !st.IsDir()
}
