package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
	"github.com/daylight-im/daylight/report"
	"golang.org/x/mod/sumdb/note"
)

// TestRequestEndToEndOnThePublicPage: an authority files a request from the
// CLI against the intake over a real log; the public report served beside
// the log shows it as soon as a checkpoint covers its entries, with entry
// indexes that are the intake's own log indexes.
func TestRequestEndToEndOnThePublicPage(t *testing.T) {
	const origin = "daylight.test/intake-log"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	dir := t.TempDir()
	lg, err := tlog.Open(context.Background(), tlog.Config{Dir: dir, Origin: origin, Signer: signer, VerifierKey: vkey,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		lg.Close(ctx)
	})
	fx := intaketest.New(t)
	svc, err := intake.New(intake.Config{Agreements: fx.Agreements, Store: intake.NewMemStore(), Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	client, err := tlog.NewClient(dir, lg.Policy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/intake/v1/", svc.Handler())
	mux.Handle("/log/", http.StripPrefix("/log", lg.Handler()))
	mux.Handle("/transparency/", report.NewHandler(report.HandlerConfig{Log: client, MaxAge: time.Millisecond}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	keyFile := filepath.Join(t.TempDir(), "nca.key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(fx.Keys["uk-daa/uk-nca"].Seed())), 0o600)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"request", "file", "--json", "--server", srv.URL, "--key", keyFile, "--agreement", "uk-daa",
		"--authority", "uk-nca", "--category", "subscriber", "--offence", "terrorism", "--target", "mallory:UK:UK",
		"--review-kind", "judicial", "--review-ref", "WMC/9"}, nil, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var v intake.View
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v.State != intake.Logged {
		t.Fatalf("%v %s", err, out.String())
	}
	last := v.History[len(v.History)-1].LogIndex
	if _, err := lg.Await(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/transparency/report.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rep, err := report.ParseJSON(b)
	if err != nil {
		t.Fatalf("%v %s", err, b)
	}
	f, ok := rep.Figure("requests.jurisdiction.UK")
	if !ok || f.Value != 1 || len(f.Entries) != 1 || f.Entries[0] != v.History[0].LogIndex {
		t.Fatalf("figure %+v, history %+v", f, v.History)
	}
	if o, ok := rep.Figure("requests.outcome.logged"); !ok || o.Entries[0] != last {
		t.Fatalf("outcome %+v", o)
	}
	// The logged entry is exactly the intake's state change.
	e, err := accesslog.ParseAs[*accesslog.Request](mustEntry(t, client, last))
	if err != nil || e.State != "logged" || e.Jurisdiction != "UK" || e.Instrument != "cloud-act-daa" || strings.ToLower(v.ID) != intake.ID(e.RequestID).String() {
		t.Fatalf("%v %+v", err, e)
	}
}

func mustEntry(t *testing.T, c *tlog.Client, i uint64) []byte {
	cp, err := c.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	c.Entries(context.Background(), cp, func(j uint64, b []byte) error {
		if j == i {
			got = append([]byte(nil), b...)
		}
		return nil
	})
	return got
}
