package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestModeratorCommandAndMounts: `daylightd moderator add|list` works on
// <data>/moderation.db with the server stopped, and serve then mounts the
// report intake and the console, and writes the export key 0600.
func TestModeratorCommandAndMounts(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	o := &options{data: data}
	ctx := context.Background()
	if err := moderatorCommand(ctx, o, []string{"add", "--name", "ana", "--role", "admin"}, strings.NewReader("correct horse battery staple\n"), io.Discard); err != nil {
		t.Fatalf("moderator add: %v", err)
	}
	var list bytes.Buffer
	if err := moderatorCommand(ctx, o, []string{"list"}, strings.NewReader(""), &list); err != nil || !strings.Contains(list.String(), "ana") || !strings.Contains(list.String(), "admin") {
		t.Fatalf("moderator list: %v %q", err, list.String())
	}
	if err := moderatorCommand(ctx, o, []string{"add", "--name", "bo", "--role", "viewer"}, strings.NewReader("short\n"), io.Discard); err == nil {
		t.Fatal("a short password was accepted")
	}

	sctx, cancel := context.WithCancel(ctx)
	var out syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(sctx, []string{"--addr", "127.0.0.1:0", "--insecure-http", "--data", data}, func(string) string { return "" }, &out, io.Discard)
	}()
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("no listening line: %q", out.String())
	}
	resp, err := http.Get(url + "/moderation/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "csrf") {
		t.Errorf("console login page: %d %.200s", resp.StatusCode, body)
	}
	resp, err = http.Post(url+"/v1/reports", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated report: %d, want 401", resp.StatusCode)
	}
	for _, f := range []string{moderationExportKey, moderationDB} {
		if st, err := os.Stat(filepath.Join(data, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, err, st)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no shutdown")
	}
}
