package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/trustee/service"
)

// TestLogAppendEndpoint: `daylightd log-writer` issues tokens for the
// authority and a trustee; daylightd started with that roles file lets the
// authority file a warrant commitment through service.HTTPAppender (the
// client trustees and the authority use), the entry is in the served log at
// the returned index, and the trustee's token may not file one.
func TestLogAppendEndpoint(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	roles := filepath.Join(t.TempDir(), "writers")
	token := func(role string) string {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"log-writer", "--log-writers", roles, role}, func(string) string { return "" }, &out, io.Discard); err != nil {
			t.Fatalf("log-writer %s: %v", role, err)
		}
		return strings.TrimSpace(out.String())
	}
	authTok, trusteeTok := token("authority"), token("trustee:t0")
	if err := run(context.Background(), []string{"log-writer", "--log-writers", roles, "admin"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("log-writer accepted an unknown role")
	}
	if st, _ := os.Stat(roles); st.Mode().Perm() != 0o600 {
		t.Fatalf("roles file mode %v", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(roles); strings.Contains(string(b), authTok) {
		t.Fatal("the roles file holds a token, not its hash")
	}
	url, _ := startHTTPDaylightd(t, "--data", data, "--keydir=false", "--log-writers", roles)

	now := uint64(time.Now().Unix())
	wc, _ := accesslog.Marshal(&accesslog.WarrantCommitment{Commitment: [32]byte{7}, Court: "c", Jurisdiction: "UK", NumTargets: 1, WindowEnd: now, EmbargoEnd: now, Filed: now})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := (service.HTTPAppender{URL: url + server.PathLogAppend, Token: trusteeTok}).Append(ctx, wc); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("trustee filed a warrant commitment: %v", err)
	}
	idx, err := (service.HTTPAppender{URL: url + server.PathLogAppend, Token: authTok}).Append(ctx, wc)
	if err != nil {
		t.Fatal(err)
	}
	vk, _ := os.ReadFile(filepath.Join(data, logVKeyFile))
	pol, err := accesslog.NewCheckpointPolicy("", strings.TrimSpace(string(vk)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := tlog.NewClient(url+"/log/", pol, nil)
	for {
		cp, err := lc.Checkpoint(ctx)
		if err == nil && cp.Size > idx {
			if err := lc.VerifyEntry(ctx, cp, idx, wc); err != nil {
				t.Fatalf("entry %d: %v", idx, err)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no checkpoint covering %d: %v", idx, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
