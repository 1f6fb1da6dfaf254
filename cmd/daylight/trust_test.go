package main

import (
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestParseKeyDirTrust(t *testing.T) {
	_, logV, _ := note.GenerateKey(rand.Reader, "example.org/log")
	_, w1, _ := note.GenerateKey(rand.Reader, "w1")
	_, w2, _ := note.GenerateKey(rand.Reader, "w2")
	good := "# pinned at install\norigin example.org/log\nlog-vkey " + logV + "\nwitness " + w1 + "\nwitness " + w2 +
		"\nthreshold 1\ndirectory-key " + strings.Repeat("ab", 32) + "\nvrf-key " + strings.Repeat("cd", 32) + "\n"
	cfg, err := parseKeyDirTrust([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DirectoryKey) != 32 || len(cfg.VRFKey) != 32 || cfg.Checkpoints == nil {
		t.Fatalf("%+v", cfg)
	}
	for name, bad := range map[string]string{
		"unknown key":       good + "colour blue\n",
		"short dir key":     strings.Replace(good, strings.Repeat("ab", 32), "abcd", 1),
		"bad vkey":          strings.Replace(good, logV, "nonsense", 1),
		"missing vrf":       strings.Replace(good, "vrf-key "+strings.Repeat("cd", 32), "", 1),
		"value-less":        good + "threshold\n",
		"threshold non-int": good + "threshold x\n",
	} {
		if _, err := parseKeyDirTrust([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
