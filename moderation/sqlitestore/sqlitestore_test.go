package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/moderation/moderationtest"
	"github.com/daylight-im/daylight/moderation/sqlitestore"
)

func TestConformance(t *testing.T) {
	moderationtest.RunStore(t, func(t *testing.T) moderation.Store {
		st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "moderation.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestAuditAppendOnly: the database itself refuses to change or delete audit
// entries (triggers), whoever holds the file.
func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moderation.db")
	st, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(t.Context(), moderation.AuditEntry{Seq: 1, Moderator: "ana", Action: "login", Hash: [32]byte{1}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit SET action = 'nothing'`, `DELETE FROM audit`} {
		if _, err := sqlitestore.TestingOnlyDB(st).Exec(q); err == nil {
			t.Errorf("%s succeeded on the audit trail", q)
		}
	}
	st.Close()
	// Reopening migrates nothing twice.
	st, err = sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	if e, _ := st.LastAudit(t.Context()); e.Seq != 1 {
		t.Fatalf("after reopen, last audit entry %d", e.Seq)
	}
}
