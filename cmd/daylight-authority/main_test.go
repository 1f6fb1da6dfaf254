package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
)

func TestRequestFileStatusList(t *testing.T) {
	fx := intaketest.New(t)
	log := &intaketest.MemLog{}
	svc, err := intake.New(intake.Config{Agreements: fx.Agreements, Store: intake.NewMemStore(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "nca.key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(fx.Keys["uk-daa/uk-nca"].Seed())+"\n"), 0o600)
	common := []string{"--server", srv.URL, "--key", keyFile, "--agreement", "uk-daa", "--authority", "uk-nca"}
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, nil, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	out := runOK(append(append([]string{"request", "file"}, common...), "--json", "--category", "metadata", "--offence", "terrorism",
		"--case", "NCA-1", "--target", "mallory:UK:UK", "--review-kind", "judicial", "--review-body", "WMC", "--review-ref", "WMC/1")...)
	var v intake.View
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.State != intake.Logged {
		t.Fatalf("%v %s", err, out)
	}
	st := runOK(append(append([]string{"request", "status"}, common...), v.ID)...)
	if !strings.Contains(st, "state: logged") || !strings.Contains(st, "log entry 2") {
		t.Fatalf("status: %s", st)
	}
	// A refused request: the reason is shown and the command fails.
	var errb bytes.Buffer
	err = run(context.Background(), append(append([]string{"request", "file"}, common...), "--category", "subscriber", "--offence", "terrorism",
		"--target", "alice:US:US", "--review-kind", "judicial", "--review-ref", "x"), nil, &bytes.Buffer{}, &errb)
	if err == nil || !strings.Contains(err.Error(), "protected-person") {
		t.Fatalf("refusal: %v", err)
	}
	// Appeal the refusal.
	var refused []intake.View
	json.Unmarshal([]byte(runOK(append([]string{"request", "list", "--json"}, common...)...)), &refused)
	var refusedID string
	for _, x := range refused {
		if x.State == intake.Refused && x.Reason == intake.ReasonProtectedPerson {
			refusedID = x.ID
		}
	}
	if len(refused) != 2 || refusedID == "" {
		t.Fatalf("list: %+v", refused)
	}
	ap := runOK(append(append([]string{"request", "appeal"}, common...), "--detail", "alice lives in the UK", refusedID)...)
	if !strings.Contains(ap, "state: appealed") {
		t.Fatalf("appeal: %s", ap)
	}
	if err := run(context.Background(), append(append([]string{"request", "appeal"}, common...), "--detail", "x", v.ID), nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "illegal-transition") {
		t.Fatalf("appeal of a logged request: %v", err)
	}
	list := runOK(append([]string{"request", "list"}, common...)...)
	if strings.Count(list, "\n") != 3 || !strings.Contains(list, "appealed") || !strings.Contains(list, v.ID) {
		t.Fatalf("list:\n%s", list)
	}
	// Clear errors with hints.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"request", "status"}, "hint"},
		{append(append([]string{"request", "status"}, common...), "nothex"), "64 hex"},
		{[]string{"request", "list", "--server", srv.URL}, "required"},
		{[]string{"request", "frobnicate"}, "unknown command"},
		{append(append([]string{"request", "status"}, common...), strings.Repeat("ab", 32)), "not-found"},
		{[]string{"request", "list", "--server", srv.URL, "--key", keyFile, "--agreement", "fr-mlat", "--authority", "fr-pnf"}, "unauthenticated"},
	} {
		err := run(context.Background(), c.args, nil, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestKeygen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"request", "keygen", "--key", p}, nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.String())); err != nil || len(b) != 32 {
		t.Fatalf("%q", out.String())
	}
	if err := run(context.Background(), []string{"request", "keygen", "--key", p}, nil, &out, &bytes.Buffer{}); err == nil {
		t.Fatal("overwrote a key")
	}
}
