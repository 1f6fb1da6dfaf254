package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/store/sqlite"
)

type harness struct {
	t   testing.TB
	svc *ds.Service
	ts  *httptest.Server
}

func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}, MaxMessageBytes: 64 << 10, MaxBlobBytes: 1 << 20, BlobChunkBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Service: svc, MaxJSONBytes: 256 << 10, PerIP: &Rate{}, PerAccount: &Rate{}}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close(); svc.Close(); st.Close() })
	return &harness{t: t, svc: svc, ts: ts}
}

type resp struct {
	status int
	body   []byte
	hdr    http.Header
}

func (r resp) errBody() api.ErrorBody {
	var e api.ErrorResponse
	json.Unmarshal(r.body, &e)
	return e.Error
}

func (h *harness) do(method, path, token, ctype string, body []byte, hdr ...string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b, res.Header}
}

func (h *harness) json(method, path, token string, v any) resp {
	h.t.Helper()
	b, _ := json.Marshal(v)
	return h.do(method, path, token, api.MediaJSON, b)
}

// expect checks status and error code of an error answer.
func expect(t *testing.T, what string, r resp, status int, code api.Code) {
	t.Helper()
	e := r.errBody()
	if r.status != status || e.Code != code || e.Message == "" {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, r.status, e.Code, r.body, status, code)
	}
	if ct := r.hdr.Get("Content-Type"); ct != api.MediaJSON {
		t.Fatalf("%s: error Content-Type %q", what, ct)
	}
}

type user struct {
	sig   dstest.Signer
	token string
}

func (h *harness) register(name string) user {
	h.t.Helper()
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	pub := k.Public().(ed25519.PublicKey)
	r := h.json("POST", "/v1/accounts", "", api.RegisterRequest{Username: name, DeviceName: "d", SigningKey: pub,
		Signature: ed25519.Sign(k, ds.RegisterStatement(name, "d", pub))})
	if r.status != http.StatusCreated {
		h.t.Fatalf("register %s: %d %s", name, r.status, r.body)
	}
	var dr api.DeviceResponse
	json.Unmarshal(r.body, &dr)
	u := user{sig: dstest.Signer{Username: name, Device: ds.DeviceID(dr.Device.ID), Key: k}}
	u.token = h.login(u.sig)
	return u
}

func (h *harness) login(s dstest.Signer) string {
	h.t.Helper()
	r := h.json("POST", "/v1/auth/challenge", "", api.ChallengeRequest{Device: api.DeviceID(s.Device)})
	var ch api.ChallengeResponse
	if err := json.Unmarshal(r.body, &ch); err != nil || r.status != 200 {
		h.t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	r = h.json("POST", "/v1/auth/token", "", api.TokenRequest{Device: api.DeviceID(s.Device), Nonce: ch.Nonce,
		Signature: ed25519.Sign(s.Key, ds.AuthStatement(s.Device, ch.Nonce))})
	var tr api.TokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || r.status != 200 {
		h.t.Fatalf("token: %d %s", r.status, r.body)
	}
	return tr.Token
}

func (h *harness) send(u user, msg []byte) resp {
	return h.do("POST", "/v1/messages", u.token, api.MediaMLS, msg)
}

func (h *harness) group(u user, gid []byte) api.Group {
	h.t.Helper()
	r := h.do("GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(gid), u.token, "", nil)
	var g api.Group
	if r.status != 200 || json.Unmarshal(r.body, &g) != nil {
		h.t.Fatalf("group: %d %s", r.status, r.body)
	}
	return g
}

func (h *harness) queue(u user) []api.Delivery {
	h.t.Helper()
	r := h.do("GET", "/v1/messages?after=0", u.token, "", nil)
	var p api.Page
	if r.status != 200 || json.Unmarshal(r.body, &p) != nil {
		h.t.Fatalf("fetch: %d %s", r.status, r.body)
	}
	return p.Deliveries
}

// checkConsistent runs the store's invariant check.
func (h *harness) checkConsistent() {
	h.t.Helper()
	problems, err := h.svc.Check(context.Background())
	if err != nil || len(problems) > 0 {
		h.t.Fatalf("store check: %v %v", problems, err)
	}
}

// groupOf sets up alice+bob in a group at epoch 1.
func (h *harness) groupOf() (alice, bob user, gid []byte) {
	alice, bob = h.register("alice"), h.register("bob")
	gid = []byte("gid-1")
	if r := h.do("POST", "/v1/groups", alice.token, api.MediaMLS, dstest.GroupInfo(gid, alice.sig)); r.status != 201 {
		h.t.Fatalf("create group: %d %s", r.status, r.body)
	}
	if r := h.send(alice, dstest.Commit(gid, 0, alice.sig, []dstest.FakeMember{bob.sig.Member()})); r.status != 201 {
		h.t.Fatalf("commit: %d %s", r.status, r.body)
	}
	return
}

func TestBadInputMalformedBodies(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ name, body string }{
		{"not JSON", "{"},
		{"unknown field", `{"username":"carol","evil":1}`},
		{"trailing data", `{"username":"carol"} {}`},
		{"wrong type", `{"username":42}`},
	} {
		r := h.do("POST", "/v1/accounts", "", api.MediaJSON, []byte(tc.body))
		expect(t, tc.name, r, 400, api.CodeMalformedBody)
	}
	r := h.do("POST", "/v1/accounts", "", "text/plain", []byte(`{}`))
	expect(t, "wrong media type", r, 415, api.CodeUnsupportedMedia)
	// Nothing was registered: the name is still free.
	h.register("carol")

	alice, _, gid := h.groupOf()
	before := h.group(alice, gid)
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"garbage MLS", []byte("\x00\x01garbage")},
		{"truncated MLS", dstest.Application(gid, 1, []byte("x"))[:10]},
		{"empty body", nil},
	} {
		r := h.send(alice, tc.msg)
		expect(t, tc.name, r, 400, api.CodeInvalidMessage)
	}
	r = h.do("POST", "/v1/messages", alice.token, api.MediaBinary, dstest.Application(gid, 1, []byte("x")))
	expect(t, "send as octet-stream", r, 415, api.CodeUnsupportedMedia)
	if after := h.group(alice, gid); !reflect.DeepEqual(before, after) {
		t.Fatalf("group changed by rejected input: %+v -> %+v", before, after)
	}
	r = h.do("GET", "/v1/messages?after=-1", alice.token, "", nil)
	expect(t, "bad cursor", r, 400, api.CodeInvalidInput)
	r = h.do("GET", "/v1/groups/!!!", alice.token, "", nil)
	expect(t, "bad group id", r, 400, api.CodeInvalidInput)
	h.checkConsistent()
}

func TestBadInputOversizedBodies(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, gid := h.groupOf()
	big := dstest.Application(gid, 1, make([]byte, 64<<10))
	expect(t, "oversized message", h.send(alice, big), 413, api.CodeTooLarge)
	expect(t, "oversized JSON", h.do("POST", "/v1/ack", alice.token, api.MediaJSON, make([]byte, 300<<10)), 413, api.CodeTooLarge)
	r := h.do("POST", "/v1/blobs", alice.token, api.MediaBinary, make([]byte, 1<<20+1))
	expect(t, "oversized blob", r, 413, api.CodeTooLarge)
	if q := h.queue(bob); len(q) != 0 {
		t.Fatalf("bob's queue holds %d entries after rejected sends", len(q))
	}
	h.checkConsistent()
}

func TestBadInputUnauthenticated(t *testing.T) {
	h := newHarness(t, nil)
	h.register("alice")
	routes := [][2]string{
		{"GET", "/v1/accounts/alice/devices"}, {"DELETE", "/v1/devices/1"}, {"POST", "/v1/keypackages"},
		{"GET", "/v1/keypackages/count"}, {"POST", "/v1/accounts/alice/keypackages/claim"},
		{"POST", "/v1/devices/1/keypackage/claim"}, {"POST", "/v1/groups"}, {"GET", "/v1/groups/Zw"},
		{"POST", "/v1/messages"}, {"GET", "/v1/messages"}, {"POST", "/v1/ack"}, {"POST", "/v1/blobs"},
		{"GET", "/v1/blobs/00"}, {"GET", "/v1/ws"},
	}
	for _, rt := range routes {
		for _, tok := range []string{"", "not-a-token", base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
			if rt[1] == "/v1/ws" && tok == "" {
				continue // a WebSocket may authenticate with its first frame: TestWebSocketFirstFrameAuth
			}
			r := h.do(rt[0], rt[1], tok, api.MediaJSON, []byte(`{}`))
			expect(t, rt[0]+" "+rt[1]+" token "+tok, r, 401, api.CodeUnauthenticated)
			if r.hdr.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s %s: 401 without WWW-Authenticate", rt[0], rt[1])
			}
		}
	}
	// Challenges for unknown devices do not reveal whether they exist.
	expect(t, "challenge unknown device", h.json("POST", "/v1/auth/challenge", "", api.ChallengeRequest{Device: 999}), 401, api.CodeUnauthenticated)
}

func TestBadInputForgedDeviceSignature(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, gid := h.groupOf()
	_, mallory, _ := ed25519.GenerateKey(rand.Reader)

	// Registration whose proof of possession is signed by another key.
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	pub := k.Public().(ed25519.PublicKey)
	r := h.json("POST", "/v1/accounts", "", api.RegisterRequest{Username: "eve", DeviceName: "d", SigningKey: pub,
		Signature: ed25519.Sign(mallory, ds.RegisterStatement("eve", "d", pub))})
	expect(t, "forged registration", r, 400, api.CodeBadSignature)

	// A token for alice's device with a signature by another key.
	r = h.json("POST", "/v1/auth/challenge", "", api.ChallengeRequest{Device: api.DeviceID(alice.sig.Device)})
	var ch api.ChallengeResponse
	json.Unmarshal(r.body, &ch)
	r = h.json("POST", "/v1/auth/token", "", api.TokenRequest{Device: api.DeviceID(alice.sig.Device), Nonce: ch.Nonce,
		Signature: ed25519.Sign(mallory, ds.AuthStatement(alice.sig.Device, ch.Nonce))})
	expect(t, "forged challenge answer", r, 401, api.CodeUnauthenticated)

	// A device link approved by a key that is not the approver's.
	_, nk, _ := ed25519.GenerateKey(rand.Reader)
	npub := nk.Public().(ed25519.PublicKey)
	r = h.json("POST", "/v1/accounts/alice/devices", "", api.LinkRequest{Approver: api.DeviceID(alice.sig.Device), DeviceName: "x", SigningKey: npub,
		Approval: ed25519.Sign(mallory, ds.LinkStatement("alice", alice.sig.Device, "x", npub)), Signature: ed25519.Sign(nk, ds.RegisterStatement("alice", "x", npub))})
	expect(t, "forged link approval", r, 400, api.CodeBadSignature)

	// A commit whose signature is not the sender's leaf key.
	before := h.group(alice, gid)
	forged, err := dstest.Forge(dstest.Commit(gid, 1, alice.sig, nil), mallory)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "forged commit", h.send(alice, forged), 400, api.CodeBadSignature)
	// A KeyPackage with a bad signature.
	kp, _ := dstest.Forge(dstest.KeyPackage(bob.sig, time.Now().Add(time.Hour), false, []byte("n")), mallory)
	expect(t, "forged KeyPackage", h.json("POST", "/v1/keypackages", bob.token, api.UploadKeyPackagesRequest{KeyPackages: [][]byte{kp}}), 400, api.CodeBadSignature)

	if after := h.group(alice, gid); !reflect.DeepEqual(before, after) {
		t.Fatalf("group changed: %+v -> %+v", before, after)
	}
	r = h.do("GET", "/v1/keypackages/count", bob.token, "", nil)
	if !strings.Contains(string(r.body), `"count":0`) {
		t.Fatalf("KeyPackage stored after rejection: %s", r.body)
	}
	if devs := h.do("GET", "/v1/accounts/alice/devices", alice.token, "", nil); strings.Count(string(devs.body), `"id"`) != 1 {
		t.Fatalf("alice has extra devices: %s", devs.body)
	}
	h.checkConsistent()
}

func TestBadInputStaleEpochCommit(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, gid := h.groupOf()
	// Both members commit in epoch 1; bob's arrives first and wins.
	if r := h.send(bob, dstest.Commit(gid, 1, bob.sig, nil)); r.status != 201 {
		t.Fatalf("bob's commit: %d %s", r.status, r.body)
	}
	before := h.group(alice, gid)
	r := h.send(alice, dstest.Commit(gid, 1, alice.sig, nil))
	expect(t, "losing commit", r, 409, api.CodeStaleEpoch)
	if d := r.errBody().Detail; !strings.Contains(d, "epoch 1") || !strings.Contains(d, "epoch 2") {
		t.Fatalf("stale-epoch detail does not name the epochs: %q", d)
	}
	if after := h.group(alice, gid); !reflect.DeepEqual(before, after) {
		t.Fatalf("group changed: %+v -> %+v", before, after)
	}
	h.checkConsistent()
}

func TestBadInputReplay(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, gid := h.groupOf()
	msg := dstest.Application(gid, 1, []byte("once"))
	if r := h.send(alice, msg); r.status != 201 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	expect(t, "replayed message", h.send(alice, msg), 409, api.CodeReplay)
	// Resending the accepted commit answers replay (the client learns it was
	// accepted); a different commit for that old epoch is stale.
	expect(t, "replayed commit", h.send(alice, dstest.Commit(gid, 0, alice.sig, []dstest.FakeMember{bob.sig.Member()})), 409, api.CodeReplay)
	expect(t, "other commit for the old epoch", h.send(alice, dstest.Commit(gid, 0, alice.sig, nil)), 409, api.CodeStaleEpoch)
	if q := h.queue(bob); len(q) != 1 {
		t.Fatalf("bob's queue holds %d entries, want 1", len(q))
	}
	h.checkConsistent()
}

func TestBadInputRemovedMember(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, gid := h.groupOf()
	if r := h.send(alice, dstest.Commit(gid, 1, alice.sig, nil, bob.sig.Member())); r.status != 201 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	expect(t, "message from removed member", h.send(bob, dstest.Application(gid, 2, []byte("still here?"))), 403, api.CodeNotMember)
	r := h.do("GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(gid), bob.token, "", nil)
	expect(t, "removed member reads group", r, 403, api.CodeForbidden)
	h.checkConsistent()
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PerIP = &Rate{PerSecond: 1, Burst: 3} })
	var last resp
	for range 5 {
		last = h.do("GET", "/healthz", "", "", nil)
	}
	expect(t, "over the per-IP limit", last, 429, api.CodeRateLimited)
	if last.hdr.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	h = newHarness(t, func(c *Config) { c.PerAccount = &Rate{PerSecond: 1, Burst: 2} })
	alice := h.register("alice")
	for range 2 {
		h.do("GET", "/v1/keypackages/count", alice.token, "", nil)
	}
	expect(t, "over the per-account limit", h.do("GET", "/v1/keypackages/count", alice.token, "", nil), 429, api.CodeRateLimited)
	// Another account is not affected.
	bob := h.register("bob")
	if r := h.do("GET", "/v1/keypackages/count", bob.token, "", nil); r.status != 200 {
		t.Fatalf("bob limited by alice's bucket: %d", r.status)
	}
}

func TestBlobRanges(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.register("alice")
	data := make([]byte, 2500)
	rand.Read(data)
	r := h.do("POST", "/v1/blobs", alice.token, api.MediaBinary, data)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var b api.Blob
	json.Unmarshal(r.body, &b)
	path := "/v1/blobs/" + b.ID
	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
	}{
		{"", 200, data},
		{"bytes=0-0", 206, data[:1]},
		{"bytes=999-1001", 206, data[999:1002]},
		{"bytes=2000-", 206, data[2000:]},
		{"bytes=-10", 206, data[2490:]},
		{"bytes=0-99999", 206, data},
		{"bytes=1-2,5-6", 200, data},
	} {
		r := h.do("GET", path, alice.token, "", nil, "Range", tc.rng)
		if r.status != tc.status || !bytes.Equal(r.body, tc.want) {
			t.Fatalf("Range %q: %d, %d bytes", tc.rng, r.status, len(r.body))
		}
	}
	expect(t, "range past the end", h.do("GET", path, alice.token, "", nil, "Range", "bytes=2500-"), 416, api.CodeRangeNotSatisfied)
	if r := h.do("HEAD", path, alice.token, "", nil); r.status != 200 || r.hdr.Get("Content-Length") != "2500" || len(r.body) != 0 {
		t.Fatalf("HEAD: %d %v", r.status, r.hdr)
	}
	expect(t, "unknown blob", h.do("GET", "/v1/blobs/00112233445566778899aabbccddeeff", alice.token, "", nil), 404, api.CodeNotFound)
	// A declared length longer than the body: nothing is kept.
	req, _ := http.NewRequest("POST", h.ts.URL+"/v1/blobs", io.LimitReader(bytes.NewReader(data), 100))
	req.ContentLength = 100
	req.Header.Set("Content-Type", api.MediaBinary)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	if res, err := h.ts.Client().Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("exact-length upload: %d", res.StatusCode)
		}
	}
	h.checkConsistent()
}

func TestErrorTableCoversSentinels(t *testing.T) {
	for _, e := range []error{ds.ErrNotFound, ds.ErrInvalidInput, ds.ErrUsernameTaken, ds.ErrBadSignature, ds.ErrUnauthenticated,
		ds.ErrForbidden, ds.ErrRevoked, ds.ErrStaleEpoch, ds.ErrConflict, ds.ErrReplay, ds.ErrNotMember, ds.ErrInvalidMessage,
		ds.ErrTooLarge, ds.ErrNoKeyPackage, ds.ErrGroupExists, ds.ErrClosed} {
		status, body := classify(fmt.Errorf("wrapped: %w", e))
		if status == 500 || body.Code == api.CodeInternal {
			t.Errorf("%v maps to 500", e)
		}
	}
	status, body := classify(fmt.Errorf("database exploded: secret=hunter2"))
	if status != 500 || body.Detail != "" || strings.Contains(body.Message, "hunter2") {
		t.Errorf("an unknown error leaks: %d %+v", status, body)
	}
}

func TestMetricsExposition(t *testing.T) {
	h := newHarness(t, nil)
	alice, _, gid := h.groupOf()
	h.send(alice, dstest.Application(gid, 1, []byte("m")))
	r := h.do("GET", "/metrics", "", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %s", r.status, r.hdr.Get("Content-Type"))
	}
	text := string(r.body)
	for _, want := range []string{"daylight_messages_accepted_total 2\n", `http_requests_total{route="POST /v1/messages",code="201"} 2`,
		"# TYPE http_request_duration_seconds histogram", "process_cpu_seconds_total "} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line is "name{labels} value" or "name value".
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if !sampleLine.MatchString(line) {
			t.Errorf("malformed sample line %q", line)
		}
	}
}

var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInf]+$`)

func TestMountPoints(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.LogHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "log:"+r.URL.Path) })
		c.KeyDirHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "kd:"+r.URL.Path) })
	})
	if r := h.do("GET", "/log/tile/0/000", "", "", nil); string(r.body) != "log:/log/tile/0/000" {
		t.Fatalf("log mount: %s", r.body)
	}
	if r := h.do("GET", "/keydir/x", "", "", nil); string(r.body) != "kd:/keydir/x" {
		t.Fatalf("keydir mount: %s", r.body)
	}
	expect(t, "unknown route", h.do("GET", "/nope", "", "", nil), 404, api.CodeNotFound)
}

func TestWebSocketFirstFrameAuth(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.register("alice")
	url := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/v1/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		frame string
		ok    bool
	}{
		{`{"type":"auth","token":"` + alice.token + `"}`, true},
		{`{"type":"auth","token":"bogus"}`, false},
		{`{"type":"ack","cursor":1}`, false},
		{`not json`, false},
	} {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{api.WebSocketSubprotocol}})
		if err != nil {
			t.Fatal(err)
		}
		c.Write(ctx, websocket.MessageText, []byte(tc.frame))
		_, b, err := c.Read(ctx)
		var f api.Frame
		json.Unmarshal(b, &f)
		if tc.ok != (f.Type == api.FrameReady) || (!tc.ok && (f.Type != api.FrameError || f.Error.Code != api.CodeUnauthenticated)) {
			t.Fatalf("auth frame %s: got %s %v", tc.frame, b, err)
		}
		if !tc.ok {
			if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("unauthenticated socket not closed with policy violation: %v", err)
			}
		}
		c.CloseNow()
	}
}

// TestWebSocketClosedOnRevoke: a revoked device loses its open push channel.
func TestWebSocketClosedOnRevoke(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ReauthInterval = 50 * time.Millisecond })
	alice := h.register("alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/v1/ws"
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+alice.token)
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{api.WebSocketSubprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), `"ready"`) {
		t.Fatalf("ready: %s %v", b, err)
	}
	if r := h.do("DELETE", fmt.Sprintf("/v1/devices/%d", alice.sig.Device), alice.token, "", nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("revoked device's socket: want close 1008, got %v", err)
	}
	expect(t, "revoked token", h.do("GET", "/v1/keypackages/count", alice.token, "", nil), 401, api.CodeUnauthenticated)
}

// TestShutdownClosesWebSockets: Close ends open push channels with 1001
// and answers waiting long-polls.
func TestShutdownClosesWebSockets(t *testing.T) {
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, _ := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	defer svc.Close()
	srv, _ := New(Config{Service: svc, PerIP: &Rate{}, PerAccount: &Rate{}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	h := &harness{t: t, svc: svc, ts: ts}
	alice := h.register("alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+alice.token)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/v1/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	c.Read(ctx) // ready
	poll := make(chan resp, 1)
	go func() { poll <- h.do("GET", "/v1/messages?wait=30", alice.token, "", nil) }()
	time.Sleep(100 * time.Millisecond)
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("want close 1001, got %v", err)
	}
	select {
	case r := <-poll:
		if r.status != 200 {
			t.Fatalf("long-poll on shutdown: %d %s", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll still waiting after Close")
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestWebSocketOrigins(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.WebSocketOrigins = []string{"chat.example.org"} })
	alice := h.register("alice")
	url := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/v1/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for origin, ok := range map[string]bool{"https://chat.example.org": true, "https://evil.example": false} {
		hdr := http.Header{}
		hdr.Set("Authorization", "Bearer "+alice.token)
		hdr.Set("Origin", origin)
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
		if (err == nil) != ok {
			t.Fatalf("origin %s: dial error %v, want allowed=%v", origin, err, ok)
		}
		if c != nil {
			c.CloseNow()
		}
	}
}

func TestWrongMethodIsJSON(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("PUT", "/v1/messages", "", "", nil)
	expect(t, "PUT /v1/messages", r, 405, api.CodeMethodNotAllowed)
	if allow := r.hdr.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow: %q", allow)
	}
}
