package intake_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
)

func TestAdminAndAppealHTTP(t *testing.T) {
	e := newEnv(t, nil)
	api, admin := e.svc.Handler(), e.svc.AdminHandler()
	r := intaketest.Valid(now, "adm")
	r.Category = intake.Content
	w, resp := do(t, api, httptest.NewRequest("POST", "/intake/v1/requests", bytes.NewReader(e.f.Sign(t, r))))
	if w.Code != 201 {
		t.Fatal(w.Body)
	}
	id := resp["id"].(string)
	adm := func(action, body string) (int, map[string]any) {
		w, resp := do(t, admin, httptest.NewRequest("POST", "/intake/v1/admin/requests/"+id+"/"+action, strings.NewReader(body)))
		return w.Code, resp
	}
	if c, _ := adm("answer", ""); c != 409 {
		t.Fatalf("content answered as non-content: %d", c)
	}
	if c, _ := adm("trustees", `{"warrant_commitment":"zz"}`); c != 400 {
		t.Fatalf("bad commitment: %d", c)
	}
	n := e.log.Len()
	if c, _ := adm("trustees", `{"warrant_commitment":"`+strings.Repeat("ab", 32)+`","x":1}`); c != 400 || e.log.Len() != n {
		t.Fatalf("unknown field: %d", c)
	}
	if c, resp := adm("trustees", `{"warrant_commitment":"`+strings.Repeat("ab", 32)+`"}`); c != 200 || resp["state"] != "under-trustee-review" {
		t.Fatalf("%d %v", c, resp)
	}
	if c, resp := adm("refuse", `{"reason":"trustees-refused","detail":"budget"}`); c != 200 || resp["state"] != "refused" {
		t.Fatalf("%d %v", c, resp)
	}
	// The authority appeals, signing method, path, time and body.
	path := "/intake/v1/requests/" + id + "/appeal"
	body := []byte(`{"detail":"the budget reset"}`)
	tampered := httptest.NewRequest("POST", path, bytes.NewReader([]byte(`{"detail":"something else"}`)))
	intake.SignQuery(tampered.Header, "uk-daa", "uk-nca", e.f.Keys["uk-daa/uk-nca"], "POST", path, now, body)
	if w, _ := do(t, api, tampered); w.Code != 401 {
		t.Fatalf("appeal with a body other than the signed one: %d", w.Code)
	}
	ok := httptest.NewRequest("POST", path, bytes.NewReader(body))
	intake.SignQuery(ok.Header, "uk-daa", "uk-nca", e.f.Keys["uk-daa/uk-nca"], "POST", path, now, body)
	if w, resp := do(t, api, ok); w.Code != 200 || resp["state"] != "appealed" {
		t.Fatalf("appeal: %d %s", w.Code, w.Body)
	}
	if c, resp := adm("reconsider", ""); c != 200 || resp["state"] != "logged" {
		t.Fatalf("%d %v", c, resp)
	}
	if c, _ := adm("frobnicate", ""); c != 404 {
		t.Fatalf("unknown action: %d", c)
	}
	w, _ = do(t, admin, httptest.NewRequest("GET", "/intake/v1/admin/requests", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), id) {
		t.Fatalf("admin list: %d", w.Code)
	}
}
