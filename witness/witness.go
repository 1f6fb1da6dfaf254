// Package witness implements a transparency-log witness (C2SP tlog-witness):
// for each configured log it keeps the latest checkpoint it cosigned, checks
// that every new checkpoint is consistent with it, refuses rollbacks and
// forks, and returns tlog-cosignature (cosignature/v1, Ed25519) signatures.
// State is persisted crash-safely before a cosignature is returned.
package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// maxProofLines is the spec's limit on consistency proof lines
// (tlog-witness, "add-checkpoint": "MUST NOT send more than 63").
const maxProofLines = 63

// maxBody bounds a request: 64 proof lines plus a checkpoint with up to a few
// dozen signatures.
const maxBody = 64 << 10

// Log is a log the witness is configured to witness.
type Log struct {
	Origin   string
	Verifier note.Verifier // the log's checkpoint key
}

// Store persists the latest cosigned checkpoint per log origin. Save must be
// durable and atomic when it returns (the previous or the new value survives
// any crash, never a mixture). Load returns nil, nil for a log never cosigned.
type Store interface {
	Load(origin string) ([]byte, error)
	Save(origin string, checkpoint []byte) error
}

// Config configures a Witness.
type Config struct {
	Signer note.Signer // cosignature/v1 signer (formats/note.NewSignerForCosignatureV1)
	Logs   []Log
	Store  Store
	Logger *slog.Logger // nil: discard
}

// Witness cosigns checkpoints of its configured logs. It is safe for
// concurrent use: the check of the old size and the update of the stored
// checkpoint happen under one lock per log (tlog-witness, the race at the end
// of "add-checkpoint").
type Witness struct {
	signer note.Signer
	store  Store
	logger *slog.Logger
	logs   map[string]*logState
	byHash map[string]string // hex SHA-256 of origin -> origin (monitoring endpoint)
}

type logState struct {
	mu       sync.Mutex
	verifier note.Verifier
	loaded   bool
	size     uint64
	hash     []byte
	raw      []byte // latest cosigned checkpoint, with the log's and our signatures
}

// New returns a Witness. It fails if a log is listed twice or the config is
// incomplete.
func New(cfg Config) (*Witness, error) {
	if cfg.Signer == nil || cfg.Store == nil {
		return nil, errors.New("witness: Config.Signer and Config.Store are required")
	}
	w := &Witness{signer: cfg.Signer, store: cfg.Store, logger: cfg.Logger, logs: map[string]*logState{}, byHash: map[string]string{}}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	for _, l := range cfg.Logs {
		if l.Origin == "" || l.Verifier == nil {
			return nil, fmt.Errorf("witness: log %q: origin and verifier are required", l.Origin)
		}
		if _, dup := w.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness: log %q configured twice", l.Origin)
		}
		w.logs[l.Origin] = &logState{verifier: l.Verifier}
		w.byHash[originHash(l.Origin)] = l.Origin
	}
	return w, nil
}

// Error is an add-checkpoint refusal with the HTTP status the spec requires.
type Error struct {
	Status int    // 400, 403, 404, 409 or 422
	Body   []byte // for 409: the latest cosigned size and a newline
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("witness: %d %s: %v", e.Status, http.StatusText(e.Status), e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

// Sentinels wrapped by Error, one per refusal branch.
var (
	ErrMalformed    = errors.New("malformed request")
	ErrUnknownLog   = errors.New("unknown log origin")
	ErrBadSignature = errors.New("checkpoint not validly signed by the log")
	ErrRollback     = errors.New("old size is larger than the checkpoint size")
	ErrSizeConflict = errors.New("old size does not match the latest cosigned size")
	ErrInconsistent = errors.New("checkpoint is not consistent with the latest cosigned checkpoint")
	ErrBadEmptyRoot = errors.New("checkpoint of size 0 does not have the empty root")
	ErrStoreFailure = errors.New("could not persist state")
)

func refuse(status int, sentinel error, format string, args ...any) *Error {
	return &Error{Status: status, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

// request is a parsed add-checkpoint body (tlog-witness, "add-checkpoint").
type request struct {
	oldSize    uint64
	proof      [][]byte
	checkpoint []byte
}

func parseDecimal(s string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func parseRequest(body []byte) (*request, error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return nil, errors.New("no old size line")
	}
	sz, found := strings.CutPrefix(string(line), "old ")
	if !found {
		return nil, fmt.Errorf("old size line %q", line)
	}
	r := &request{}
	if r.oldSize, ok = parseDecimal(sz); !ok {
		return nil, fmt.Errorf("old size %q is not a minimal decimal", sz)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, errors.New("no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.proof) == maxProofLines {
			return nil, fmt.Errorf("more than %d proof lines", maxProofLines)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("proof line %d is not a base64 SHA-256 hash", len(r.proof)+1)
		}
		r.proof = append(r.proof, h)
	}
	r.checkpoint = rest
	return r, nil
}

// marshal re-encodes a request (the inverse of parseRequest).
func (r *request) marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.oldSize)
	for _, h := range r.proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.checkpoint)
	return b.Bytes()
}

// AddCheckpoint implements add-checkpoint (C2SP tlog-witness): it verifies
// the request and, if every check passes, durably records the checkpoint as
// the latest for its log and returns the cosignature line(s). Refusals are
// *Error values carrying the spec's status code: 404 unknown origin, 403 no
// valid log signature, 400 malformed or old size above the checkpoint size,
// 409 old size not the latest cosigned size (rollback attempts land here),
// 422 bad consistency proof, fork at equal size, or bad empty root.
func (w *Witness) AddCheckpoint(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parseRequest(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, ErrMalformed, "%v", err)
	}
	origin, _, _ := bytes.Cut(req.checkpoint, []byte("\n"))
	ls, ok := w.logs[string(origin)]
	if !ok {
		return nil, refuse(http.StatusNotFound, ErrUnknownLog, "%q", origin)
	}
	n, err := note.Open(req.checkpoint, note.VerifierList(ls.verifier))
	if err != nil {
		return nil, refuse(http.StatusForbidden, ErrBadSignature, "%v", err)
	}
	var cp f_log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil || cp.Origin != string(origin) {
		return nil, refuse(http.StatusBadRequest, ErrMalformed, "checkpoint body: %v", err)
	}
	if req.oldSize > cp.Size {
		return nil, refuse(http.StatusBadRequest, ErrRollback, "old %d > size %d", req.oldSize, cp.Size)
	}

	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err := w.load(cp.Origin, ls); err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Err: fmt.Errorf("%w: %v", ErrStoreFailure, err)}
	}
	if req.oldSize != ls.size {
		e := refuse(http.StatusConflict, ErrSizeConflict, "old %d, latest cosigned %d", req.oldSize, ls.size)
		e.Body = fmt.Appendf(nil, "%d\n", ls.size)
		w.logger.WarnContext(ctx, "witness: size conflict", "origin", cp.Origin, "old", req.oldSize, "latest", ls.size, "size", cp.Size)
		return nil, e
	}
	if cp.Size == 0 && !bytes.Equal(cp.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
		return nil, refuse(http.StatusUnprocessableEntity, ErrBadEmptyRoot, "")
	}
	if req.oldSize == 0 {
		if len(req.proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, ErrInconsistent, "proof given for old size 0")
		}
	} else if err := proof.VerifyConsistency(rfc6962.DefaultHasher, ls.size, cp.Size, req.proof, ls.hash, cp.Hash); err != nil {
		// Possible evidence of a fork: logged, never cosigned.
		w.logger.WarnContext(ctx, "witness: inconsistent checkpoint (possible fork)", "origin", cp.Origin, "old", ls.size, "size", cp.Size, "error", err)
		return nil, refuse(http.StatusUnprocessableEntity, ErrInconsistent, "%d -> %d: %v", ls.size, cp.Size, err)
	}

	// Cosign (tlog-cosignature: cosignature/v1 over the checkpoint text).
	own, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Err: err}
	}
	sigLines := own[len(n.Text)+1:]
	full, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}) // the log's verified signatures
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Err: err}
	}
	full = append(full, sigLines...)
	if err := w.store.Save(cp.Origin, full); err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Err: fmt.Errorf("%w: %v", ErrStoreFailure, err)}
	}
	ls.size, ls.hash, ls.raw = cp.Size, cp.Hash, full
	w.logger.DebugContext(ctx, "witness: cosigned", "origin", cp.Origin, "size", cp.Size)
	return sigLines, nil
}

// load reads the stored state of a log once, re-verifying it with the log
// key so a corrupted state file is an error, not a silent reset.
func (w *Witness) load(origin string, ls *logState) error {
	if ls.loaded {
		return nil
	}
	raw, err := w.store.Load(origin)
	if err != nil {
		return err
	}
	if raw != nil {
		n, err := note.Open(raw, note.VerifierList(ls.verifier))
		if err != nil {
			return fmt.Errorf("stored checkpoint for %q: %v", origin, err)
		}
		var cp f_log.Checkpoint
		if _, err := cp.Unmarshal([]byte(n.Text)); err != nil || cp.Origin != origin {
			return fmt.Errorf("stored checkpoint for %q: bad body: %v", origin, err)
		}
		ls.size, ls.hash, ls.raw = cp.Size, cp.Hash, raw
	}
	ls.loaded = true
	return nil
}

// Latest returns the latest checkpoint cosigned for origin (with the log's
// and the witness's signatures), or nil if none.
func (w *Witness) Latest(origin string) ([]byte, error) {
	ls, ok := w.logs[origin]
	if !ok {
		return nil, fmt.Errorf("witness: %w: %q", ErrUnknownLog, origin)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err := w.load(origin, ls); err != nil {
		return nil, err
	}
	return ls.raw, nil
}

// Handler serves POST /add-checkpoint and the monitoring endpoint
// GET /<hex sha256(origin)>/checkpoint (tlog-witness, "Monitor Retrieval
// Mechanism"). Mount it at the submission prefix.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		body, err := readAll(rw, r, maxBody)
		if err != nil {
			http.Error(rw, "request too large or unreadable", http.StatusBadRequest)
			return
		}
		sigs, err := w.AddCheckpoint(r.Context(), body)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				we = &Error{Status: http.StatusInternalServerError, Err: err}
			}
			if we.Status == http.StatusConflict {
				rw.Header().Set("Content-Type", "text/x.tlog.size")
				rw.WriteHeader(we.Status)
				rw.Write(we.Body)
				return
			}
			if we.Status == http.StatusInternalServerError {
				w.logger.ErrorContext(r.Context(), "witness: add-checkpoint", "error", err)
				http.Error(rw, "internal error", we.Status)
				return
			}
			http.Error(rw, we.Err.Error(), we.Status)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sigs)
	})
	mux.HandleFunc("GET /{hash}/checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		origin, ok := w.byHash[r.PathValue("hash")]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		raw, err := w.Latest(origin)
		if err != nil {
			http.Error(rw, "internal error", http.StatusInternalServerError)
			return
		}
		if raw == nil {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(raw)
	})
	return mux
}

func readAll(rw http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(rw, r.Body, limit))
	return buf.Bytes(), err
}
