package server

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/httpjson"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/faults"
)

// adminFaults: GET shows the configuration, PUT replaces it, PATCH merges
// into it, DELETE restores the default. Every change answers the resulting
// configuration; a rejected one changes nothing.
func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		httpjson.Write(w, http.StatusOK, s.Faults())
	case http.MethodPut:
		s.change(w, r, func(_ faults.Config, body []byte) (faults.Config, error) {
			return faults.Decode(body)
		})
	case http.MethodPatch:
		s.change(w, r, faults.Merge)
	case http.MethodDelete:
		s.change(w, r, func(faults.Config, []byte) (faults.Config, error) {
			return faults.Default(), nil
		})
	default:
		methodNotAllowed(w, r, "GET", "HEAD", "PUT", "PATCH", "DELETE")
	}
}

// adminPreset: POST /admin/faults/presets/{name} replaces the whole
// configuration, routes included, with a preset.
func (s *Server) adminPreset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return
	}
	// The name is the whole input: a body may be left out or be {}, and
	// anything else is refused rather than ignored.
	var none struct{}
	if _, err := httpjson.DecodeOptional(w, r, &none, httpjson.MaxBody); err != nil {
		s.log.WarnContext(r.Context(), "fault change rejected", "method", r.Method, "path", r.URL.Path, "err", err)
		httpjson.WriteError(w, err)
		return
	}
	name := r.PathValue("name")
	s.change(w, r, func(faults.Config, []byte) (faults.Config, error) {
		c, err := faults.Preset(name)
		if err != nil {
			return faults.Config{}, httpjson.BadRequest("preset: %v", err)
		}
		return c, nil
	})
}

// change applies f to the current configuration under the writers' lock.
// PUT and PATCH bodies are read first (at most 64 KiB, JSON only).
func (s *Server) change(w http.ResponseWriter, r *http.Request, f func(cur faults.Config, body []byte) (faults.Config, error)) {
	var body json.RawMessage
	if r.Method == http.MethodPut || r.Method == http.MethodPatch {
		if err := httpjson.Decode(w, r, &body, httpjson.MaxBody); err != nil {
			s.log.WarnContext(r.Context(), "fault change rejected", "method", r.Method, "path", r.URL.Path, "err", err)
			httpjson.WriteError(w, err)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.faults.Load()
	next, err := f(cur.Clone(), body)
	if err != nil {
		s.log.WarnContext(r.Context(), "fault change rejected", "method", r.Method, "path", r.URL.Path, "err", err)
		httpjson.WriteError(w, err)
		return
	}
	s.faults.Store(&next)
	s.logChange(r.Context(), r.Method+" "+r.URL.Path, *cur, next)
	httpjson.Write(w, http.StatusOK, next.Clone())
}

func (s *Server) logChange(ctx context.Context, by string, from, to faults.Config) {
	s.log.InfoContext(ctx, "fault config changed",
		"by", by,
		"preset", to.Preset,
		"previous_preset", from.Preset,
		"global", to.Global.String(),
		"routes", len(to.Routes),
	)
}
