package kdclient_test

import (
	"bytes"
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/keydir/kdclient"
)

func sampleTrust(t testing.TB) []byte {
	_, lv, _ := note.GenerateKey(rand.Reader, "example.org/log")
	_, w1, _ := note.GenerateKey(rand.Reader, "w1.example")
	_, w2, _ := note.GenerateKey(rand.Reader, "w2.example")
	return []byte("# pinned at install\norigin example.org/log\nlog-vkey " + lv + "\nwitness " + w1 + "\nwitness " + w2 +
		"\nthreshold 1\ndirectory-key " + strings.Repeat("ab", 32) + "\nvrf-key " + strings.Repeat("cd", 32) + "\n")
}

// TestTrust: parse, canonical text, fingerprint independent of the
// witnesses' order and of comments, Diff naming what changed, and the
// refusals of inconsistent settings.
func TestTrust(t *testing.T) {
	raw := sampleTrust(t)
	tr, err := kdclient.ParseTrust(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Threshold != 1 || len(tr.Witnesses) != 2 || tr.Unwitnessed() {
		t.Fatalf("%+v", tr)
	}
	back, err := kdclient.ParseTrust(tr.Marshal())
	if err != nil || !bytes.Equal(back.Marshal(), tr.Marshal()) || back.Fingerprint() != tr.Fingerprint() {
		t.Fatalf("round trip: %v", err)
	}
	swapped := *tr
	swapped.Witnesses = []string{tr.Witnesses[1], tr.Witnesses[0]}
	if swapped.Fingerprint() != tr.Fingerprint() || len(swapped.Diff(tr)) != 0 {
		t.Fatal("witness order changes the fingerprint")
	}
	other := *tr
	other.DirectoryKey = bytes.Repeat([]byte{1}, 32)
	other.Threshold = 2
	if d := other.Diff(tr); !slices.Equal(d, []string{"witness threshold", "key directory key"}) || other.Fingerprint() == tr.Fingerprint() {
		t.Fatalf("diff %v", d)
	}
	if !strings.HasPrefix(tr.Fingerprint(), "SHA256:") {
		t.Fatal(tr.Fingerprint())
	}
	cfg, err := tr.Config()
	if err != nil || cfg.Checkpoints == nil || len(cfg.DirectoryKey) != 32 {
		t.Fatalf("config: %v", err)
	}
	for name, bad := range map[string]string{
		"unknown key":                string(raw) + "colour blue\n",
		"threshold above m":          string(raw) + "threshold 3\n",
		"threshold 0 with witnesses": string(raw) + "threshold 0\n",
		"negative threshold":         string(raw) + "threshold -1\n",
		"short dir key":              strings.Replace(string(raw), strings.Repeat("ab", 32), "abcd", 1),
		"missing origin":             strings.Replace(string(raw), "origin example.org/log\n", "", 1),
		"bad witness":                string(raw) + "witness nonsense\n",
	} {
		if _, err := kdclient.ParseTrust([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// No witnesses: threshold 0, an explicit unwitnessed policy.
	lines := strings.Split(string(raw), "\n")
	var none []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "witness ") && !strings.HasPrefix(l, "threshold ") {
			none = append(none, l)
		}
	}
	u, err := kdclient.ParseTrust([]byte(strings.Join(none, "\n")))
	if err != nil || !u.Unwitnessed() || u.Threshold != 0 {
		t.Fatalf("unwitnessed: %+v %v", u, err)
	}
}

func FuzzParseTrust(f *testing.F) {
	f.Add(sampleTrust(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := kdclient.ParseTrust(data)
		if err != nil {
			return
		}
		canon := tr.Marshal()
		again, err := kdclient.ParseTrust(canon)
		if err != nil || !bytes.Equal(again.Marshal(), canon) {
			t.Fatalf("canonical form does not round-trip: %v\n%s", err, canon)
		}
	})
}
