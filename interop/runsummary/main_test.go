package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummaryPassAndFail(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass.json")
	os.WriteFile(pass, []byte(`{"scripts":{"a":[{"cipher_suite":1,"actors":{},"encrypt_flag":false}]}}`), 0o600)
	var out bytes.Buffer
	if err := run([]string{pass, "cfg"}, nil, &out); err != nil || !strings.Contains(out.String(), "PASS cfg a: 1 passed, 0 failed") {
		t.Fatalf("pass: %v %q", err, out.String())
	}
	fail := filepath.Join(dir, "fail.json")
	os.WriteFile(fail, []byte(`{"scripts":{"a":[{"cipher_suite":1,"actors":{},"encrypt_flag":true,"error":"boom","failed_step":2,"failed_step_json":"{\n \"action\": \"x\"}"}]}}`), 0o600)
	out.Reset()
	if err := run([]string{fail}, nil, &out); err == nil || !strings.Contains(out.String(), "FAIL a: 0 passed, 1 failed") || !strings.Contains(out.String(), "boom") {
		t.Fatalf("fail: %v %q", err, out.String())
	}
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte(`{"scripts":{}}`), 0o600)
	if err := run([]string{empty}, nil, &out); err == nil {
		t.Fatal("no runs counted as success")
	}
}
