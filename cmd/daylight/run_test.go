package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type cli struct {
	t   *testing.T
	url string
	dir string
}

// run runs one daylight command for the profile home and returns stdout.
func (c *cli) run(home string, args ...string) (string, error) {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--home", filepath.Join(c.dir, home), "--server", c.url}, args...)
	err := run(context.Background(), full, strings.NewReader(""), &out, &errb)
	return out.String(), err
}

func (c *cli) ok(home string, args ...string) string {
	c.t.Helper()
	out, err := c.run(home, args...)
	if err != nil {
		c.t.Fatalf("%s %v: %v\n%s", home, args, err, out)
	}
	return out
}

func (c *cli) json(home string, v any, args ...string) {
	c.t.Helper()
	out := c.ok(home, append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("%s %v: output is not JSON: %v\n%s", home, args, err, out)
	}
}

type msg struct {
	ID   int    `json:"id"`
	From string `json:"from"`
	Kind string `json:"kind"`
	Text string `json:"text"`
	File *struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	} `json:"file"`
}

func texts(ms []msg) []string {
	var out []string
	for _, m := range ms {
		if m.Kind == "text" {
			out = append(out, m.From+":"+m.Text)
		}
	}
	return out
}

func TestCLIChat(t *testing.T) {
	c := &cli{t: t, url: startServer(t), dir: t.TempDir()}
	var id struct {
		Username string `json:"username"`
		DeviceID int64  `json:"device_id"`
	}
	c.json("a1", &id, "register", "--device", "laptop", "alice")
	if id.Username != "alice" || id.DeviceID == 0 {
		t.Fatalf("register: %+v", id)
	}
	// Link a second device with the three-step flow.
	var code struct{ Code string }
	c.json("a2", &code, "link", "request", "--device", "phone")
	var ap struct{ Approval string }
	c.json("a1", &ap, "link", "approve", code.Code)
	c.json("a2", &id, "link", "finish", "alice", ap.Approval)
	if id.Username != "alice" || id.DeviceID < 2 {
		t.Fatalf("link: %+v", id)
	}
	var devs []struct{ ID int64 }
	c.json("a1", &devs, "devices")
	if len(devs) != 2 {
		t.Fatalf("devices: %+v", devs)
	}
	c.ok("b", "register", "bob")
	var ct struct {
		SafetyNumber string `json:"safety_number"`
	}
	c.json("a1", &ct, "contacts", "add", "bob")
	if len(strings.Fields(ct.SafetyNumber)) != 12 {
		t.Fatalf("safety number %q", ct.SafetyNumber)
	}
	var g struct {
		Group struct {
			ID      string `json:"id"`
			Members []struct{ Username string }
		} `json:"group"`
	}
	c.json("a1", &g, "group", "create", "team", "bob")
	if len(g.Group.Members) != 3 {
		t.Fatalf("group create: %+v", g)
	}
	c.ok("a1", "send", "team", "hello", "all")
	var ms []msg
	c.json("b", &ms, "sync")
	if s := texts(ms); len(s) != 1 || s[0] != "alice:hello all" {
		t.Fatalf("bob sync: %+v", ms)
	}
	// A file from bob to alice.
	file := make([]byte, 300000)
	rand.Read(file)
	p := filepath.Join(c.dir, "photo.bin")
	os.WriteFile(p, file, 0o600)
	var sent msg
	c.json("b", &sent, "send-file", "team", p)
	c.json("a2", &ms, "recv", "--wait", "1s")
	var fid int
	for _, m := range ms {
		if m.Kind == "file" && m.From == "bob" {
			fid = m.ID
		}
	}
	if fid == 0 {
		t.Fatalf("a2 got no file: %+v", ms)
	}
	got := filepath.Join(c.dir, "got.bin")
	c.ok("a2", "get-file", "-o", got, "team", itoa(fid))
	if b, _ := os.ReadFile(got); !bytes.Equal(b, file) {
		t.Fatal("downloaded file differs")
	}
	// Remove bob: he sees nothing afterwards.
	c.ok("a2", "group", "remove", "team", "bob")
	c.ok("a1", "send", "team", "secret plans")
	c.json("b", &ms, "sync")
	if s := texts(ms); len(s) != 0 {
		t.Fatalf("removed bob read %v", s)
	}
	out, err := c.run("b", "--json", "send", "team", "hi?")
	if err == nil || !strings.Contains(out, `"error"`) {
		t.Fatalf("removed member sending: %v %s", err, out)
	}
	c.ok("a2", "sync")
	var hist []msg
	c.json("a2", &hist, "history", "team")
	if s := texts(hist); len(s) != 2 || s[1] != "alice:secret plans" {
		t.Fatalf("a2 history %v", s)
	}
	// Errors carry hints.
	_, err = c.run("b", "frobnicate")
	if err == nil || hint(err) == "" {
		t.Fatalf("unknown command: %v", err)
	}
	_, err = c.run("nobody", "whoami")
	if err == nil || !strings.Contains(err.Error(), "register") {
		t.Fatalf("missing profile: %v", err)
	}
	_, err = c.run("c", "register", "bob")
	if err == nil || !strings.Contains(hint(err), "another username") {
		t.Fatalf("taken username: %v / %q", err, hint(err))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestInteractive drives the line-based mode: commands typed at the prompt,
// and a message from another device printed as it arrives.
func TestInteractive(t *testing.T) {
	c := &cli{t: t, url: startServer(t), dir: t.TempDir()}
	c.ok("a", "register", "alice")
	c.ok("b", "register", "bob")
	c.ok("a", "group", "create", "chat", "bob")
	pr, pw := io.Pipe()
	var out syncBuf
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"--home", filepath.Join(c.dir, "b"), "--server", c.url}, pr, &out, &out)
	}()
	io.WriteString(pw, "sync\n")
	io.WriteString(pw, `send chat "hello from the prompt"`+"\n")
	c.ok("a", "send", "chat", "pushed while bob is at the prompt")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "pushed while bob is at the prompt") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(pw, "bogus\n/quit\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"daylight interactive: bob", "sent #", "pushed while bob is at the prompt", `error: unknown command "bogus"`} {
		if !strings.Contains(s, want) {
			t.Fatalf("interactive output lacks %q:\n%s", want, s)
		}
	}
	c.ok("a", "sync")
	var ms []msg
	c.json("a", &ms, "history", "chat")
	if s := texts(ms); len(s) != 2 || !slices.Contains(s, "bob:hello from the prompt") {
		t.Fatalf("alice got %v", s)
	}
}

// TestTLSCertificateRemembered: a server with a certificate no system root
// trusts is refused with a hint; with --ca at register it works, and later
// commands need no flag (the certificate is kept in the profile).
func TestTLSCertificateRemembered(t *testing.T) {
	hs := startServerWith(t, true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600)
	c := &cli{t: t, url: hs.URL, dir: dir}
	_, err := c.run("nocert", "register", "eve")
	if err == nil || !strings.Contains(hint(err), "--ca") {
		t.Fatalf("untrusted certificate: %v (hint %q)", err, hint(err))
	}
	c.ok("a", "--ca", ca, "register", "alice")
	if out := c.ok("a", "devices"); !strings.Contains(out, "this device") {
		t.Fatalf("devices without --ca: %s", out)
	}
}
