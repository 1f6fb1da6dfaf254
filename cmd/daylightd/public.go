package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/dsholdings"
	"github.com/daylight-im/daylight/report"
	"github.com/daylight-im/daylight/server"
)

// Lawful-access files in the data directory.
const (
	providerKeyFile = "provider-signing.key" // Ed25519 seed (secret, 0600): signs non-content answer bundles
	providerPubFile = "provider.pub"         // its public key, base64 (what intake.VerifyAnswer needs)
	intakeDir       = "intake"               // intake.FileStore: one JSON file per request
)

// lawfulAccess is what daylightd serves for lawful access and its
// transparency next to the DS: the transparency report (/transparency/),
// the intake of legal requests (/intake/v1/), the operator's intake API on a
// separate loopback listener (--admin-addr), and the log append endpoint for
// trustees and authorities (/v1/log/append, logappend.go).
type lawfulAccess struct {
	mounts map[string]http.Handler
	notes  []string
	admin  *http.Server
	adminL net.Listener
}

// openLawfulAccess builds the handlers. addr is the main listener's address
// (the default public URL of the report's links).
func openLawfulAccess(o *options, al *tlog.Log, svc *ds.Service, witnesses []tlog.Witness, threshold int, addr net.Addr, log *slog.Logger) (*lawfulAccess, error) {
	la := &lawfulAccess{mounts: map[string]http.Handler{}}

	// Transparency report: computed from the local tiles, verified like any
	// auditor would (log signature, w cosignatures, every entry against the root).
	public := o.publicURL
	if public == "" {
		scheme := "https"
		if o.insecureHTTP {
			scheme = "http"
		}
		public = scheme + "://" + addr.String()
	}
	lc, err := tlog.NewClient(filepath.Join(o.data, "log"), al.Policy(), nil)
	if err != nil {
		return nil, fmt.Errorf("transparency report: log client: %w", err)
	}
	var wkeys []string
	for _, w := range witnesses {
		wkeys = append(wkeys, w.VKey)
	}
	la.mounts["/transparency/"] = report.NewHandler(report.HandlerConfig{
		Log: lc, Logger: log,
		Page: report.Page{LogURL: public + "/log/", ReportURL: public + "/transparency/report.json",
			LogKey: al.VKey(), Witnesses: wkeys, Threshold: threshold, Policy: "policy"},
	})
	la.notes = append(la.notes, "transparency report at /transparency/ (recomputed from the log every 10 s)")

	// Log append for trustees and the authority (docs/trustee.md).
	if o.logWriters != "" {
		writers, err := loadLogWriters(o)
		if err != nil {
			return nil, err
		}
		la.mounts[server.PathLogAppend] = server.NewLogAppendHandler(server.LogAppendConfig{Log: al, Writers: writers, Logger: log})
		la.notes = append(la.notes, fmt.Sprintf("log append at %s for %d writers (--log-writers)", server.PathLogAppend, len(writers)))
	}

	// The provider's signing key: access policy and non-content answers.
	signer, pub, err := providerKey(o)
	if err != nil {
		return nil, err
	}
	la.notes = append(la.notes, fmt.Sprintf("provider key %s (in <data>/%s): signs the access policy and intake answers", pub, providerPubFile))

	// Retained ciphertext for a logged warrant (prospective retention, docs/retention.md).
	la.mounts[server.RetainedPattern] = server.NewRetainedHandler(server.RetainedConfig{Service: svc, Provider: signer.Public().(ed25519.PublicKey)})
	la.notes = append(la.notes, "retained ciphertext for logged warrants at "+server.RetainedPattern)
	if _, ok := la.mounts[server.WarrantRecordsPattern]; !ok { // lawful.go: under the logged policy the warrant names
		la.mounts[server.WarrantRecordsPattern] = &recordsByLoggedPolicy{svc: svc, logDir: filepath.Join(o.data, "log"), logPol: al.Policy(), provider: signer.Public().(ed25519.PublicKey)}
	}
	if _, ok := la.mounts[server.WarrantStatesPattern]; !ok { // the in-scope epochs' public states, same checks
		la.mounts[server.WarrantStatesPattern] = &recordsByLoggedPolicy{svc: svc, logDir: filepath.Join(o.data, "log"), logPol: al.Policy(),
			provider: signer.Public().(ed25519.PublicKey), build: server.WarrantStatesHandler}
	}

	// The operator API (loopback only): policy publication, intake admin.
	adminMux := http.NewServeMux()
	adminMux.Handle("POST /admin/v1/policy", &policyPublisher{o: o, al: al, pub: signer.Public().(ed25519.PublicKey), log: log, now: time.Now})

	// Intake: only with agreements; otherwise a clear 503.
	if o.agreements == "" {
		la.mounts["/intake/v1/"] = noAgreements{}
		adminMux.Handle("/intake/v1/admin/", noAgreements{})
		la.notes = append(la.notes, "intake at /intake/v1/ answers 503: no --agreements configured")
	} else {
		raw, err := os.ReadFile(o.agreements)
		if err != nil {
			return nil, fmt.Errorf("--agreements: %w", err)
		}
		ags, err := intake.ParseAgreements(raw)
		if err != nil {
			return nil, fmt.Errorf("--agreements %s: %w", o.agreements, err)
		}
		store, err := intake.NewFileStore(filepath.Join(o.data, intakeDir))
		if err != nil {
			return nil, fmt.Errorf("intake store: %w", err)
		}
		in, err := intake.New(intake.Config{Agreements: ags, Store: store, Log: al, Signer: signer,
			Holdings: dsholdings.Holdings{DS: svc, Groups: dsholdings.AccountGroups(svc)}, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("intake: %w", err)
		}
		la.mounts["/intake/v1/"] = in.Handler()
		adminMux.Handle("/intake/v1/admin/", in.AdminHandler())
		la.notes = append(la.notes, fmt.Sprintf("intake at /intake/v1/ (%d agreements)", len(ags.Agreements)))
	}

	if o.adminAddr != "" {
		ln, err := net.Listen("tcp", o.adminAddr)
		if err != nil {
			return nil, fmt.Errorf("--admin-addr: %w", err)
		}
		if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
			ln.Close()
			return nil, fmt.Errorf("--admin-addr %s is not a loopback address: the operator API has no authentication of its own (hint: 127.0.0.1:PORT, reached over SSH)", o.adminAddr)
		}
		la.adminL = ln
		la.admin = &http.Server{Handler: adminMux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		la.notes = append(la.notes, "operator API on http://"+ln.Addr().String()+"/ (loopback only: /admin/v1/policy, /intake/v1/admin/)")
		go func() {
			if err := la.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("admin listener", "err", err)
			}
		}()
	}
	return la, nil
}

// needsAccessLog refuses lawful-access and witness settings with
// --access-log=false, where they would be silently ignored.
func needsAccessLog(o *options) error {
	if o.accessLog {
		return nil
	}
	for flag, set := range map[string]bool{"--log-witness": len(o.logWitnesses) > 0, "--agreements": o.agreements != "",
		"--admin-addr": o.adminAddr != "", "--log-writers": o.logWriters != ""} {
		if set {
			return fmt.Errorf("%s needs the access log (--access-log=false given)", flag)
		}
	}
	return nil
}

// close stops the operator listener.
func (la *lawfulAccess) close() {
	if la == nil || la.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	la.admin.Shutdown(ctx)
}

func providerKeyPath(o *options) string {
	if o.providerKey != "" {
		return o.providerKey
	}
	return filepath.Join(o.data, providerKeyFile)
}

// noAgreements answers every intake call while no agreements are configured.
type noAgreements struct{}

func (noAgreements) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "3600")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(map[string]intake.APIError{"error": {Code: "unavailable",
		Message: "no agreements configured: this provider accepts no legal requests through the intake",
		Hint:    "the operator starts daylightd with --agreements FILE (docs/intake.md)"}})
}
