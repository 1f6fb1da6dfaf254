package tlog

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
)

// Handler serves the log read-only in the C2SP tlog-tiles layout, relative
// to where it is mounted (daylightd mounts it with
// http.StripPrefix("/log", l.Handler()) at /log/):
//
//	GET checkpoint                  text/plain; charset=utf-8, not cached
//	GET tile/<L>/<N>[.p/<W>]        application/octet-stream, immutable
//	GET tile/entries/<N>[.p/<W>]    application/octet-stream, immutable
//
// Only canonical tile paths are served (they are rebuilt from the parsed
// numbers), so nothing else in the directory (tessera's state, the log key)
// is reachable.
func (l *Log) Handler() http.Handler { return DirHandler(l.cfg.Dir) }

// DirHandler serves a tlog-tiles directory (a log's Dir, or a mirror of one)
// as Handler does.
func DirHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only log", http.StatusMethodNotAllowed)
			return
		}
		p, ok := canonicalPath(strings.TrimPrefix(r.URL.Path, "/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if p == layout.CheckpointPath {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache, max-age=0")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		w.Write(b)
	})
}

// canonicalPath maps a request path to the tlog-tiles resource it names, or
// false if it names none or is not in canonical form.
func canonicalPath(p string) (string, bool) {
	if p == layout.CheckpointPath {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return "", false
	}
	var canon string
	if idx, ok := strings.CutPrefix(rest, "entries/"); ok {
		n, w, err := layout.ParseTileIndexPartial(idx)
		if err != nil {
			return "", false
		}
		canon = layout.EntriesPath(n, w)
	} else {
		level, idx, ok := strings.Cut(rest, "/")
		if !ok {
			return "", false
		}
		l, n, w, err := layout.ParseTileLevelIndexPartial(level, idx)
		if err != nil || l > 63 {
			return "", false
		}
		canon = layout.TilePath(l, n, w)
	}
	if canon != p {
		return "", false
	}
	return canon, true
}
