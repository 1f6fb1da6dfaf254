package moderation_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/moderation"
)

// TestAttackStatusOnlyOwnAccount: GET /v1/moderation/status answers each
// device with its own account's warnings and suspension only; it names no
// report, moderator or internal note; it refuses requests without a valid
// token (401) and other methods (405).
func TestAttackStatusOnlyOwnAccount(t *testing.T) {
	w := newWorld(t, true)
	mallory, bob := w.register("mallory"), w.register("bob")
	t0 := time.Now().UTC().Truncate(time.Second)
	if err := w.store.AddWarning(w.ctx, moderation.Warning{Account: "mallory", Report: "rep-secret-id", Text: "Stop the threats.", Time: t0}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.PutSuspension(w.ctx, moderation.Suspension{Account: "mallory", By: "moderator-ana", Reason: "internal note", Since: t0}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.mod.Status())
	defer srv.Close()
	get := func(method, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/v1/moderation/status", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("GET", mallory.token)
	var st moderation.StatusResponse
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("mallory: %d %s", code, body)
	}
	if !st.Suspended || st.Since == nil || !st.Since.Equal(t0) || len(st.Warnings) != 1 || st.Warnings[0].Text != "Stop the threats." {
		t.Fatalf("mallory's standing: %+v", st)
	}
	for _, secret := range []string{"rep-secret-id", "moderator-ana", "internal note"} {
		if strings.Contains(body, secret) {
			t.Fatalf("status reveals %q: %s", secret, body)
		}
	}
	code, body = get("GET", bob.token)
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Suspended || len(st.Warnings) != 0 {
		t.Fatalf("bob sees: %d %s", code, body)
	}
	for _, tok := range []string{"", "not-a-token"} {
		if code, body := get("GET", tok); code != http.StatusUnauthorized || !strings.Contains(body, "unauthenticated") {
			t.Fatalf("token %q: %d %s", tok, code, body)
		}
	}
	if code, _ := get("POST", mallory.token); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", code)
	}
}
