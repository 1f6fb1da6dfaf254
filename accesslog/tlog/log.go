// Package tlog is the storage adapter of the access log: an embeddable,
// tile-based transparency log (C2SP tlog-tiles, tlog-checkpoint, signed-note)
// over transparency-dev/tessera's POSIX driver, whose checkpoints are
// published only once w of the m configured witnesses cosigned them
// (C2SP tlog-witness, tlog-cosignature). It also holds the client side:
// fetching and verifying checkpoints, proofs and entries from a log served
// over HTTP or from a copy of its tiles on disk.
//
// This is the only package of the access log that does I/O; entry formats
// and the pure verification functions live in accesslog.
package tlog

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Witness is one witness the log asks for cosignatures.
type Witness struct {
	URL  string // submission prefix; the log POSTs to URL + "/add-checkpoint"
	VKey string // the witness's cosignature/v1 verifier key
}

// Config configures Open. Zero values take the documented defaults.
type Config struct {
	// Dir holds the log: the tiles, entry bundles and checkpoint served by
	// Handler, tessera's state, and (if Signer is nil) the log key.
	Dir string
	// Origin is the checkpoint origin line (tlog-checkpoint), e.g.
	// "daylight.example/log". It is also the key name.
	Origin string
	// Signer signs checkpoints (Ed25519 signed-note key named Origin). If nil,
	// the key is read from Dir/.daylight/log.key, generated there with mode
	// 0600 on first start.
	Signer note.Signer
	// VerifierKey is Signer's verifier key (vkey), optional: with it, VKey and
	// Policy work for an external Signer too. Ignored when Signer is nil.
	VerifierKey string
	// Witnesses and WitnessThreshold (w of m): a checkpoint is published only
	// once at least WitnessThreshold witnesses cosigned it. Threshold 0 with
	// no witnesses publishes unwitnessed checkpoints (tests, development).
	Witnesses        []Witness
	WitnessThreshold int
	WitnessTimeout   time.Duration // per publication attempt; default 5 s
	// Batching: entries are sequenced in batches of up to BatchMaxSize or
	// after BatchMaxAge (defaults 1024 and 50 ms).
	BatchMaxSize uint
	BatchMaxAge  time.Duration
	// MaxOutstanding bounds appends sequenced-but-not-integrated before
	// Append returns tessera's pushback error (default 1<<16).
	MaxOutstanding uint
	// CheckpointInterval is how often a new checkpoint is signed, witnessed
	// and published (default 1 s, minimum 100 ms).
	CheckpointInterval time.Duration
	Logger             *slog.Logger // default: discard
	HTTPClient         *http.Client // for witnesses; default http.DefaultClient
	Rand               io.Reader    // for key generation; default crypto/rand
}

// Log is an open access log. Its methods are safe for concurrent use.
type Log struct {
	cfg      Config
	vkey     string
	verifier note.Verifier
	policy   *accesslog.CheckpointPolicy
	appender *tessera.Appender
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	logger   *slog.Logger
}

// Open opens (creating if needed) the log in cfg.Dir and starts its
// sequencing and publication loops, which run until Close.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Dir == "" || cfg.Origin == "" {
		return nil, errors.New("tlog: Config.Dir and Config.Origin are required")
	}
	if cfg.BatchMaxSize == 0 {
		cfg.BatchMaxSize = 1024
	}
	if cfg.BatchMaxAge == 0 {
		cfg.BatchMaxAge = 50 * time.Millisecond
	}
	if cfg.MaxOutstanding == 0 {
		cfg.MaxOutstanding = 1 << 16
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.WitnessTimeout == 0 {
		cfg.WitnessTimeout = 5 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("tlog: %w", err)
	}
	vkey := ""
	if cfg.Signer == nil {
		s, vk, err := loadOrCreateLogKey(filepath.Join(cfg.Dir, ".daylight", "log.key"), cfg.Origin, cfg.Rand)
		if err != nil {
			return nil, err
		}
		cfg.Signer, vkey = s, vk
	} else if cfg.Signer.Name() != cfg.Origin {
		return nil, fmt.Errorf("tlog: signer name %q is not the origin %q", cfg.Signer.Name(), cfg.Origin)
	} else if cfg.VerifierKey != "" {
		v, err := note.NewVerifier(cfg.VerifierKey)
		if err != nil || v.Name() != cfg.Signer.Name() || v.KeyHash() != cfg.Signer.KeyHash() {
			return nil, fmt.Errorf("tlog: Config.VerifierKey does not match Config.Signer")
		}
		vkey = cfg.VerifierKey
	}

	var wvkeys []string
	var group tessera.WitnessGroup
	for _, w := range cfg.Witnesses {
		u, err := url.Parse(w.URL)
		if err != nil {
			return nil, fmt.Errorf("tlog: witness URL %q: %w", w.URL, err)
		}
		tw, err := tessera.NewWitness(w.VKey, u)
		if err != nil {
			return nil, fmt.Errorf("tlog: witness key %q: %w", w.VKey, err)
		}
		group.Components = append(group.Components, tw)
		wvkeys = append(wvkeys, w.VKey)
	}
	group.N = cfg.WitnessThreshold

	l := &Log{cfg: cfg, vkey: vkey, logger: logger}
	if vkey != "" {
		pol, err := accesslog.NewCheckpointPolicy(cfg.Origin, vkey, wvkeys, cfg.WitnessThreshold)
		if err != nil {
			return nil, fmt.Errorf("tlog: %w", err)
		}
		l.policy, l.verifier = pol, pol.Log
	} else if cfg.WitnessThreshold < 0 || cfg.WitnessThreshold > len(cfg.Witnesses) {
		return nil, fmt.Errorf("tlog: witness threshold %d outside 0..%d", cfg.WitnessThreshold, len(cfg.Witnesses))
	}

	ctx, cancel := context.WithCancel(ctx)
	driver, err := posix.New(ctx, posix.Config{Path: cfg.Dir, HTTPClient: cfg.HTTPClient})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tlog: posix storage: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Signer).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithPushback(cfg.MaxOutstanding).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithCheckpointRepublishInterval(10 * cfg.CheckpointInterval)
	if len(cfg.Witnesses) > 0 {
		// FailOpen stays false: an unwitnessed checkpoint is never published.
		opts = opts.WithWitnesses(group, &tessera.WitnessOptions{Timeout: cfg.WitnessTimeout})
	}
	a, shutdown, r, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tlog: %w", err)
	}
	l.appender, l.reader, l.shutdown, l.cancel = a, r, shutdown, cancel
	logger.InfoContext(ctx, "access log open", "dir", cfg.Dir, "origin", cfg.Origin, "witnesses", len(cfg.Witnesses), "threshold", cfg.WitnessThreshold)
	return l, nil
}

// Append encodes e and appends it. It returns the entry's index only once
// the entry is durably sequenced and integrated into the tree (tessera's
// POSIX driver has fsynced the entry bundle, tiles and tree state); the next
// published checkpoint commits to it. Use Await to wait for that witnessed
// checkpoint.
func (l *Log) Append(ctx context.Context, e accesslog.Entry) (uint64, error) {
	b, err := accesslog.Marshal(e)
	if err != nil {
		return 0, err
	}
	return l.AppendRaw(ctx, b)
}

// AppendRaw appends an already encoded entry after checking that it parses.
func (l *Log) AppendRaw(ctx context.Context, entry []byte) (uint64, error) {
	if _, err := accesslog.Parse(entry); err != nil {
		return 0, err
	}
	idx, err := l.appender.Add(ctx, tessera.NewEntry(entry))()
	if err != nil {
		return 0, fmt.Errorf("tlog: append: %w", err)
	}
	return idx.Index, nil
}

// Await blocks until the published checkpoint covers index (its size is
// greater than index) and returns that checkpoint. With witnesses
// configured, a published checkpoint carries at least WitnessThreshold
// cosignatures.
func (l *Log) Await(ctx context.Context, index uint64) ([]byte, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		cp, err := l.reader.ReadCheckpoint(ctx)
		if err == nil {
			if size, err := checkpointSize(cp); err == nil && size > index {
				return cp, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// Checkpoint returns the latest published checkpoint (os.ErrNotExist before
// the first one).
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) { return l.reader.ReadCheckpoint(ctx) }

// VKey returns the log's verifier key (signed-note "Verifier keys"), or ""
// if the log was opened with an external Signer and no VerifierKey.
func (l *Log) VKey() string { return l.vkey }

// Policy returns the checkpoint policy clients of this log should use (its
// origin, key, witnesses and threshold), or nil with an external Signer and
// no VerifierKey.
func (l *Log) Policy() *accesslog.CheckpointPolicy { return l.policy }

// Close waits (bounded by ctx) until a published checkpoint covers every
// appended entry, then stops the log's loops. If the witness quorum is
// unreachable it returns at ctx's deadline; acknowledged entries are durable
// regardless and are published after the next Open.
func (l *Log) Close(ctx context.Context) error {
	err := l.shutdown(ctx)
	l.cancel()
	return err
}

func checkpointSize(cp []byte) (uint64, error) {
	_, rest, _ := strings.Cut(string(cp), "\n")
	line, _, ok := strings.Cut(rest, "\n")
	if !ok {
		return 0, errors.New("short checkpoint")
	}
	var size uint64
	_, err := fmt.Sscanf(line, "%d", &size)
	return size, err
}

// loadOrCreateLogKey reads an Ed25519 signed-note private key from path, or
// generates one named origin and stores it with mode 0600.
func loadOrCreateLogKey(path, origin string, rnd io.Reader) (note.Signer, string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, _, err := note.GenerateKey(rnd, origin)
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, "", err
		}
		if err := writeFileAtomic(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, "", fmt.Errorf("tlog: storing log key: %w", err)
		}
		b = []byte(skey)
	} else if err != nil {
		return nil, "", fmt.Errorf("tlog: log key: %w", err)
	}
	skey := strings.TrimSpace(string(b))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("tlog: log key %s: %w", path, err)
	}
	if s.Name() != origin {
		return nil, "", fmt.Errorf("tlog: log key %s is for %q, not origin %q", path, s.Name(), origin)
	}
	vkey, err := ed25519VKey(skey)
	if err != nil {
		return nil, "", err
	}
	return s, vkey, nil
}

// ed25519VKey derives the signed-note verifier key (type 0x01) from an
// Ed25519 private key PRIVATE+KEY+name+id+base64(0x01||seed).
func ed25519VKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return "", errors.New("tlog: malformed private key")
	}
	k, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 0x01 {
		return "", errors.New("tlog: private key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey)
	material := append([]byte{0x01}, pub...)
	h := sha256.Sum256(append(append([]byte(parts[2]), '\n'), material...))
	return fmt.Sprintf("%s+%08x+%s", parts[2], binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(material)), nil
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ParseWitness parses a witness given as "URL=vkey" (the form daylightd's
// flags and config use), e.g.
// "http://127.0.0.1:8701=witness.example/w1+1a2b3c4d+BF...".
func ParseWitness(s string) (Witness, error) {
	u, vkey, ok := strings.Cut(s, "=")
	if !ok || u == "" || vkey == "" {
		return Witness{}, fmt.Errorf("tlog: witness %q: want URL=vkey", s)
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return Witness{}, fmt.Errorf("tlog: witness %q: %q is not an http(s) URL", s, u)
	}
	if _, err := tessera.NewWitness(vkey, pu); err != nil {
		return Witness{}, fmt.Errorf("tlog: witness %q: verifier key: %w", s, err)
	}
	return Witness{URL: u, VKey: vkey}, nil
}
