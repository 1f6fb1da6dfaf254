package group

import (
	"bytes"
	"strings"
	"testing"
)

// TestCreateWithExtensions starts a group whose first GroupContext carries an
// application extension (as Daylight's access-policy id, A10): members that
// advertise the type join by Welcome and see it; a KeyPackage that does not
// advertise it cannot be added (RFC 9420, Section 12.2: the new leaf must
// support the group's extensions), and a creator that does not list the type
// is refused with a hint.
func TestCreateWithExtensions(t *testing.T) {
	const appExt = 0xF0A1
	cfg := Config{ExtensionTypes: []uint16{appExt}}
	ext := []Extension{{Type: appExt, Data: []byte("policy-id")}}
	if _, err := CreateWithExtensions(Config{}, cs1, []byte("g"), []byte("alice"), ext); err == nil || !strings.Contains(err.Error(), "Config.ExtensionTypes") {
		t.Fatalf("creator without the type in its capabilities: %v", err)
	}
	alice, err := CreateWithExtensions(cfg, cs1, []byte("g"), []byte("alice"), ext)
	if err != nil {
		t.Fatal(err)
	}
	if got := alice.Extensions(); len(got) != 1 || got[0].Type != appExt || !bytes.Equal(got[0].Data, []byte("policy-id")) {
		t.Fatalf("creator's extensions %+v", got)
	}
	bob, err := NewKeyPackage(cfg, cs1, []byte("bob"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: bob.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	bg, err := Join(cfg, bob, res.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := bg.Extensions(); len(got) != 1 || got[0].Type != appExt || !bytes.Equal(got[0].Data, []byte("policy-id")) {
		t.Fatalf("joiner's extensions %+v", got)
	}
	old, err := NewKeyPackage(Config{}, cs1, []byte("carol"))
	if err != nil {
		t.Fatal(err)
	}
	before := save(t, alice)
	if _, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: old.Message}}}); err == nil {
		t.Fatal("added a member whose leaf does not support the group's extension")
	}
	if !bytes.Equal(save(t, alice), before) {
		t.Fatal("the refused Add changed the state")
	}
}
