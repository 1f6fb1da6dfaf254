package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/trustee/service"
)

const (
	authorityToken = "authority-token-0123456789abcdef"
	trustee0Token  = "trustee-t0-token-0123456789abcdef"
)

// appendHarness is a real access log (tlog, unwitnessed) behind the append
// endpoint mounted on a Server, with an authority and trustee t0 as writers.
func appendHarness(t *testing.T) (*harness, *tlog.Log) {
	t.Helper()
	al, err := tlog.Open(context.Background(), tlog.Config{Dir: t.TempDir(), Origin: "test/log", BatchMaxAge: 5 * time.Millisecond, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		al.Close(ctx)
	})
	a, t0 := TokenHash(authorityToken), TokenHash(trustee0Token)
	roles := "# writers\n" + hex.EncodeToString(a[:]) + " authority\n\n" + hex.EncodeToString(t0[:]) + " trustee:t0\n"
	writers, err := ParseLogWriters(strings.NewReader(roles))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) {
		c.Mounts = map[string]http.Handler{PathLogAppend: NewLogAppendHandler(LogAppendConfig{Log: al, Writers: writers, MaxBytes: 4096})}
	})
	return h, al
}

func encode(t *testing.T, e accesslog.Entry) []byte {
	t.Helper()
	b, err := accesslog.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entries() (wc, ev, rel, relOther, op, tk, pol, kd, req accesslog.Entry) {
	now := uint64(time.Now().Unix())
	wc = &accesslog.WarrantCommitment{Commitment: [32]byte{1}, Court: "court", Jurisdiction: "UK", NumTargets: 1, WindowStart: now - 86400, WindowEnd: now, EmbargoEnd: now + 86400, Filed: now}
	ev = &accesslog.Evidence{Kind: accesslog.EvidenceBundle, Digest: [32]byte{2}, Jurisdiction: "UK", Time: now, Ref: "case-1"}
	rel = &accesslog.Release{WarrantCommitment: [32]byte{1}, Trustee: "t0", Count: 1, Time: now, Signature: []byte{1}}
	relOther = &accesslog.Release{WarrantCommitment: [32]byte{1}, Trustee: "t1", Count: 1, Time: now, Signature: []byte{1}}
	op = &accesslog.Opening{WarrantCommitment: [32]byte{1}, Trustee: "t0", Time: now, Sealed: []byte{3}}
	tk = &accesslog.TrusteeKey{Trustee: "t0", Period: 1, PublicKey: []byte{4}, NotBefore: now, NotAfter: now + 1, DestroyBy: now + 2, Time: now, Signature: []byte{5}}
	pol = &accesslog.Policy{Time: now}
	kd = &accesslog.KeyDirectory{Time: now}
	req = &accesslog.Request{Time: now}
	return
}

// TestLogAppendAuthorizedRoles: the authority appends WarrantCommitment and
// Evidence, trustee t0 its Release, Opening and TrusteeKey, through the
// client the trustee service and the authority use (service.HTTPAppender);
// each index is the entry's place in the log.
func TestLogAppendAuthorizedRoles(t *testing.T) {
	h, al := appendHarness(t)
	wc, ev, rel, _, op, tk, _, _, _ := entries()
	ctx := context.Background()
	authority := service.HTTPAppender{URL: h.ts.URL + PathLogAppend, Token: authorityToken}
	trustee := service.HTTPAppender{URL: h.ts.URL + PathLogAppend, Token: trustee0Token}
	var want [][]byte
	for _, c := range []struct {
		app service.HTTPAppender
		e   accesslog.Entry
	}{{authority, wc}, {authority, ev}, {trustee, rel}, {trustee, op}, {trustee, tk}} {
		b := encode(t, c.e)
		idx, err := c.app.Append(ctx, b)
		if err != nil {
			t.Fatalf("%s: %v", c.e.Type(), err)
		}
		if idx != uint64(len(want)) {
			t.Fatalf("%s: index %d, want %d", c.e.Type(), idx, len(want))
		}
		want = append(want, b)
	}
	checkLog(t, al, want)
}

// checkLog waits for a checkpoint covering the log and compares its entries.
func checkLog(t *testing.T, al *tlog.Log, want [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(want) > 0 {
		if _, err := al.Await(ctx, uint64(len(want)-1)); err != nil {
			t.Fatal(err)
		}
	}
	cpRaw, err := al.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := al.Policy().Verify(cpRaw)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != uint64(len(want)) {
		t.Fatalf("log size %d, want %d (a refused entry was appended?)", cp.Size, len(want))
	}
}

// TestAttackLogAppendRefusals: every request that is not an authorized
// role appending an entry type of that role is refused with its status and
// code, and nothing reaches the log.
func TestAttackLogAppendRefusals(t *testing.T) {
	h, al := appendHarness(t)
	wc, ev, rel, relOther, op, tk, pol, kd, req := entries()
	big := &accesslog.Evidence{Kind: accesslog.EvidenceBundle, Ref: strings.Repeat("x", 5000)}
	const oct = "application/octet-stream"
	for _, c := range []struct {
		name, token, ctype string
		body               []byte
		status             int
		code               api.Code
	}{
		{"no token", "", oct, encode(t, wc), 401, api.CodeUnauthenticated},
		{"unknown token", "guessed-token", oct, encode(t, wc), 401, api.CodeUnauthenticated},
		{"a token's hash as the token", hex.EncodeToString(func() []byte { x := TokenHash(authorityToken); return x[:] }()), oct, encode(t, wc), 401, api.CodeUnauthenticated},
		{"authority appends a Release", authorityToken, oct, encode(t, rel), 403, api.CodeForbidden},
		{"authority appends an Opening", authorityToken, oct, encode(t, op), 403, api.CodeForbidden},
		{"authority appends a TrusteeKey", authorityToken, oct, encode(t, tk), 403, api.CodeForbidden},
		{"authority appends a Policy", authorityToken, oct, encode(t, pol), 403, api.CodeForbidden},
		{"authority appends a KeyDirectory head", authorityToken, oct, encode(t, kd), 403, api.CodeForbidden},
		{"authority appends an intake Request", authorityToken, oct, encode(t, req), 403, api.CodeForbidden},
		{"trustee appends a WarrantCommitment", trustee0Token, oct, encode(t, wc), 403, api.CodeForbidden},
		{"trustee appends Evidence", trustee0Token, oct, encode(t, ev), 403, api.CodeForbidden},
		{"trustee t0 appends a Release of t1", trustee0Token, oct, encode(t, relOther), 403, api.CodeForbidden},
		{"trustee appends a Policy", trustee0Token, oct, encode(t, pol), 403, api.CodeForbidden},
		{"trustee appends a KeyDirectory head", trustee0Token, oct, encode(t, kd), 403, api.CodeForbidden},
		{"garbage body", authorityToken, oct, []byte("not an entry"), 400, api.CodeInvalidInput},
		{"entry with trailing bytes", authorityToken, oct, append(encode(t, wc), 0), 400, api.CodeInvalidInput},
		{"empty body", authorityToken, oct, nil, 400, api.CodeInvalidInput},
		{"oversized body", authorityToken, oct, encode(t, big), 413, api.CodeTooLarge},
		{"JSON content type", authorityToken, "application/json", encode(t, wc), 415, api.CodeUnsupportedMedia},
	} {
		r := h.do("POST", PathLogAppend, c.token, c.ctype, c.body)
		var e api.ErrorResponse
		json.Unmarshal(r.body, &e)
		if r.status != c.status || e.Error.Code != c.code {
			t.Errorf("%s: got %d %q (%s), want %d %q", c.name, r.status, e.Error.Code, r.body, c.status, c.code)
		}
		if c.status == 401 && !strings.HasPrefix(r.hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	if r := h.do("GET", PathLogAppend, authorityToken, "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.status)
	}
	// The client reports a refusal as an error, never as an index.
	if _, err := (service.HTTPAppender{URL: h.ts.URL + PathLogAppend, Token: trustee0Token}).Append(context.Background(), encode(t, wc)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("HTTPAppender on a refusal: %v", err)
	}
	// Nothing was appended: the next authorized entry gets index 0.
	idx, err := (service.HTTPAppender{URL: h.ts.URL + PathLogAppend, Token: authorityToken}).Append(context.Background(), encode(t, wc))
	if err != nil || idx != 0 {
		t.Fatalf("after the refusals: index %d, %v; want 0", idx, err)
	}
	checkLog(t, al, [][]byte{encode(t, wc)})
}

// TestParseLogWritersRefusesBadFiles: malformed lines, unknown roles and
// duplicate tokens in the roles file are errors naming the line.
func TestParseLogWritersRefusesBadFiles(t *testing.T) {
	h := TokenHash("x")
	hx := hex.EncodeToString(h[:])
	for _, c := range []struct{ in, want string }{
		{hx + " admin\n", "line 1: role"},
		{hx + " trustee:\n", "line 1: role"},
		{"# c\nabc authority\n", "line 2: token hash"},
		{hx + " authority\n" + hx + " trustee:t0\n", "line 2: token hash listed twice"},
		{hx + "\n", "line 1: want"},
	} {
		if _, err := ParseLogWriters(strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
	w, err := ParseLogWriters(bytes.NewReader(nil))
	if err != nil || len(w) != 0 {
		t.Fatalf("empty file: %v %v", w, err)
	}
}
