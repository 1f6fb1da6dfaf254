package moderation_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/moderation"
)

// TestModeratorCommand: the bootstrap command adds moderators with a hashed
// password read from stdin, lists them, audits the creation, and refuses bad
// arguments with a hint.
func TestModeratorCommand(t *testing.T) {
	ctx := context.Background()
	st := moderation.NewMemStore()
	var out bytes.Buffer
	if err := moderation.ModeratorCommand(ctx, st, []string{"add", "--name", "ana", "--role", "admin"}, strings.NewReader("correct horse battery\n"), &out); err != nil {
		t.Fatal(err)
	}
	m, err := st.Moderator(ctx, "ana")
	if err != nil || m.Role != moderation.RoleAdmin || !strings.HasPrefix(m.PasswordHash, "$argon2id$v=19$m=65536,t=3,p=4$") || strings.Contains(m.PasswordHash, "horse") {
		t.Fatalf("moderator %+v %v", m, err)
	}
	out.Reset()
	if err := moderation.ModeratorCommand(ctx, st, []string{"list"}, nil, &out); err != nil || !strings.HasPrefix(out.String(), "ana\tadmin\t") {
		t.Fatalf("list: %q %v", out.String(), err)
	}
	if es, _ := st.Audit(ctx, 0, 10); len(es) != 1 || es[0].Action != "moderator-add" || es[0].Moderator != "bootstrap" {
		t.Fatalf("audit %+v", es)
	}
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{nil, "", "want a subcommand"},
		{[]string{"add", "--role", "admin"}, "correct horse battery\n", "--name is required"},
		{[]string{"add", "--name", "bo", "--role", "root"}, "correct horse battery\n", "role must be"},
		{[]string{"add", "--name", "bo"}, "short\n", "at least 12 bytes"},
		{[]string{"add", "--name", "Bo!"}, "correct horse battery\n", "not allowed"},
		{[]string{"add", "--name", "ana"}, "correct horse battery\n", "already exists"},
		{[]string{"remove"}, "", "unknown subcommand"},
	} {
		err := moderation.ModeratorCommand(ctx, st, tc.args, strings.NewReader(tc.stdin), &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := st.Moderator(ctx, "bo"); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("a refused add created a moderator: %v", err)
	}
}
