package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/report"
)

func httpDo(t *testing.T, method, url, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestIntakeShowsOnTransparencyPage: a legal request filed at /intake/v1/
// appears in the transparency report (JSON and page) within a minute; the
// operator API answers only on the loopback admin listener, not on the
// public one.
func TestIntakeShowsOnTransparencyPage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	ags := &intake.Agreements{Version: 1, Provider: "US", Agreements: []intake.Agreement{{
		ID: "uk-cloud-act", Jurisdiction: "UK", Instrument: intake.CloudActDAA,
		Authorities: []intake.Authority{{ID: "uk-nca", Key: intake.Key(pub)}},
		Categories:  []intake.Category{intake.Subscriber, intake.Metadata}, MaxTargets: 3, AnswerWithin: 14 * 86400}}}
	raw, err := ags.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	agFile := filepath.Join(t.TempDir(), "agreements.json")
	os.WriteFile(agFile, raw, 0o600)

	url, out := startHTTPDaylightd(t, "--data", data, "--agreements", agFile, "--admin-addr", "127.0.0.1:0", "--keydir-epoch", "1s")
	admin := adminURL(t, out.String())

	now := uint64(time.Now().Unix())
	s, err := intake.Sign(&intake.Request{Version: 1, Agreement: "uk-cloud-act", Authority: "uk-nca", Category: intake.Subscriber,
		Targets: []intake.Target{{Account: "mallory", Nationality: "UK", Location: "UK"}}, Offence: "fraud", Case: "NCA-1",
		Issued: now, AnswerBy: now + 86400, Nonce: "n1"}, priv)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := s.Marshal()
	filed := time.Now()
	st, b := httpDo(t, "POST", url+"/intake/v1/requests", "application/json", body)
	if st != http.StatusCreated || !strings.Contains(string(b), `"state": "logged"`) {
		t.Fatalf("submit: %d %s", st, b)
	}

	// The report shows it within a minute (it recomputes every 10 s).
	var rep report.Report
	fig := func(id string) int64 {
		for _, f := range rep.Figures {
			if f.ID == id {
				return f.Value
			}
		}
		return -1
	}
	for fig("requests.jurisdiction.UK") != 1 {
		if time.Since(filed) > time.Minute {
			t.Fatalf("the request is not in the report after a minute: %+v", rep.Figures)
		}
		time.Sleep(500 * time.Millisecond)
		st, b := httpDo(t, "GET", url+"/transparency/report.json", "", nil)
		if st != 200 {
			continue
		}
		rep = report.Report{}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("report.json: %v", err)
		}
	}
	t.Logf("in the report %v after filing", time.Since(filed).Round(time.Millisecond))
	if fig("requests.total") != 1 || fig("requests.instrument.cloud-act-daa") != 1 || fig("requests.category.subscriber") != 1 {
		t.Fatalf("figures: %+v", rep.Figures)
	}
	st, page := httpDo(t, "GET", url+"/transparency/", "", nil)
	if st != 200 || !strings.Contains(string(page), "requests.jurisdiction.UK") || !strings.Contains(string(page), "UK") {
		t.Fatalf("page: %d (%d bytes) does not show the UK request", st, len(page))
	}
	if b, _ := os.ReadFile(filepath.Join(data, logVKeyFile)); !strings.Contains(html.UnescapeString(string(page)), "--log-key '"+strings.TrimSpace(string(b))+"'") {
		t.Fatal("the page does not show the log key clients pin")
	}
	if st, csv := httpDo(t, "GET", url+"/transparency/report.csv", "", nil); st != 200 || !strings.Contains(string(csv), "requests.jurisdiction.UK,") {
		t.Fatalf("report.csv: %d %s", st, csv)
	}
	if st, _ := httpDo(t, "GET", url+"/transparency/policy", "", nil); st != 200 && st != 404 {
		t.Fatalf("policy: %d", st)
	}

	// The operator API is not on the public listener...
	if st, b := httpDo(t, "GET", url+"/intake/v1/admin/requests", "", nil); st == 200 {
		t.Fatalf("operator API reachable on the public listener: %s", b)
	}
	// ...but on the admin one, where the operator answers the request.
	st, b = httpDo(t, "GET", admin+"/intake/v1/admin/requests", "", nil)
	if st != 200 || !strings.Contains(string(b), "NCA-1") {
		t.Fatalf("admin list: %d %s", st, b)
	}
	id := intake.IDOf(s.Body).String()
	st, b = httpDo(t, "POST", admin+"/intake/v1/admin/requests/"+id+"/answer", "application/json", []byte("{}"))
	if st != 200 || !strings.Contains(string(b), `"state": "fulfilled"`) {
		t.Fatalf("admin answer: %d %s", st, b)
	}
	// The signed answer verifies with the provider key daylightd published.
	pk, err := os.ReadFile(filepath.Join(data, providerPubFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(pk)))
	if err != nil || len(key) != ed25519.PublicKeySize {
		t.Fatalf("provider.pub: %q %v", pk, err)
	}
	req, _ := http.NewRequest("GET", url+"/intake/v1/requests/"+id+"/answer", nil)
	intake.SignQuery(req.Header, "uk-cloud-act", "uk-nca", priv, "GET", "/intake/v1/requests/"+id+"/answer", uint64(time.Now().Unix()), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("answer fetch: %d %s", res.StatusCode, bundle)
	}
	if a, err := intake.VerifyAnswer(bundle, ed25519.PublicKey(key)); err != nil || len(a.Accounts) != 1 || a.Accounts[0].Exists {
		t.Fatalf("answer: %+v %v", a, err)
	}
}

// adminURL reads the operator API's URL from daylightd's start-up lines.
func adminURL(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "operator API on ")
	if !ok {
		t.Fatalf("no operator API line: %q", out)
	}
	return strings.TrimSuffix(strings.Fields(rest)[0], "/")
}

// TestIntakeWithoutAgreements: without --agreements the intake answers a
// clear 503 (public and operator API); an --admin-addr off loopback is
// refused.
func TestIntakeWithoutAgreements(t *testing.T) {
	url, out := startHTTPDaylightd(t, "--data", filepath.Join(t.TempDir(), "data"), "--keydir=false", "--admin-addr", "127.0.0.1:0")
	st, b := httpDo(t, "POST", url+"/intake/v1/requests", "application/json", []byte("{}"))
	if st != http.StatusServiceUnavailable || !strings.Contains(string(b), "no agreements configured") {
		t.Fatalf("want 503 no agreements configured, got %d %s", st, b)
	}
	if st, b := httpDo(t, "GET", adminURL(t, out.String())+"/intake/v1/admin/requests", "", nil); st != http.StatusServiceUnavailable {
		t.Fatalf("operator intake API without agreements: %d %s", st, b)
	}
	agFile := filepath.Join(t.TempDir(), "a.json")
	os.WriteFile(agFile, []byte(`{"version":1,"provider_jurisdiction":"US","agreements":[]}`), 0o600)
	err := run(t.Context(), []string{"--addr", "127.0.0.1:0", "--insecure-http", "--data", t.TempDir(), "--agreements", agFile, "--admin-addr", "0.0.0.0:0"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("--admin-addr off loopback: %v", err)
	}
}
