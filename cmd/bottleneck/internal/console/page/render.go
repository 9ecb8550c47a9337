package page

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console/collect"
)

//go:embed assets
var assets embed.FS

var templates = template.Must(template.New("console").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*max(0, min(1, f))) },
}).ParseFS(assets, "assets/*.html"))

// Presets are the vendor's fault presets, mildest first.
var Presets = []string{"healthy", "degraded", "slow", "flaky", "outage"}

// PageData is the whole page: the live fragment and the controls, filled
// with the settings at the time of loading.
type PageData struct {
	View      View
	JaegerUI  string
	Presets   []string
	SendModes []string
	OnOff     []string
	Scenarios []string

	Workers      *collect.WorkersConfig
	Concurrency  int
	ProcessDelay string
	Scenario     string
	Rate         float64
	Mix          string
}

// NewPageData fills the controls from v's settings.
func NewPageData(v View, jaegerUI string) PageData {
	return PageData{
		View: v, JaegerUI: jaegerUI, Presets: Presets,
		SendModes: []string{"blocking", "nonblocking"}, OnOff: []string{"off", "on"},
		Scenarios: []string{"checkout", "steady", "idle"},
		Workers:   v.Settings.Workers, Concurrency: v.Settings.Concurrency, ProcessDelay: v.Settings.ProcessDelay,
		Scenario: v.Settings.Scenario, Rate: v.Settings.Rate, Mix: v.Settings.Mix,
	}
}

// Fragment renders the live part of the page.
func Fragment(v View) ([]byte, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "fragment", v); err != nil {
		return nil, fmt.Errorf("render fragment: %w", err)
	}
	return b.Bytes(), nil
}

// Page renders the whole page.
func Page(w io.Writer, d PageData) error {
	if err := templates.ExecuteTemplate(w, "page", d); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	return nil
}

// Static serves the page's CSS and script under /static/.
func Static() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".css") && !strings.HasSuffix(r.URL.Path, ".js") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
