package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/store/storetest"
)

// Named tests for the delivery service's security claims (docs/attacks.md);
// each runs the conformance case that attempts the attack, on SQLite.

func fresh(t testing.TB) ds.Store { return open(t, filepath.Join(t.TempDir(), "daylight.db")) }

func TestDSForgedDeviceSignatureRejected(t *testing.T) {
	storetest.RunOne(t, fresh, "AuthForgedSignature")
	storetest.RunOne(t, fresh, "LinkListRevoke")
	storetest.RunOne(t, fresh, "RegisterBadInput")
}

func TestDSForgedCommitRejected(t *testing.T) { storetest.RunOne(t, fresh, "ForgedCommit") }

func TestDSStaleEpochCommitRejected(t *testing.T) { storetest.RunOne(t, fresh, "StaleEpochCommit") }

func TestDSConcurrentCommitsExactlyOneWins(t *testing.T) {
	storetest.RunOne(t, fresh, "ConcurrentCommitsOneWins")
}

func TestDSReplayedMessageRejected(t *testing.T) { storetest.RunOne(t, fresh, "ReplayedMessage") }

func TestDSRemovedMemberRejected(t *testing.T) { storetest.RunOne(t, fresh, "RemovedMember") }

func TestDSGhostDeviceRejected(t *testing.T) { storetest.RunOne(t, fresh, "GhostDevice") }

func TestDSKeyPackageBadSignatureRejected(t *testing.T) {
	storetest.RunOne(t, fresh, "KeyPackagesBadInput")
}

func TestDSKeyPackageHandedOutOnce(t *testing.T) {
	storetest.RunOne(t, fresh, "KeyPackagesConcurrentClaims")
}
