package keydir

import "github.com/daylight-im/daylight/keydir/prefix"

// TestingOnlyJournalRoundTrip parses a journal payload and re-marshals it.
func TestingOnlyJournalRoundTrip(p []byte) ([]byte, bool) {
	op, err := parseJournalRecord(p)
	if err != nil {
		return nil, false
	}
	out, err := marshalJournalRecord(op)
	return out, err == nil
}

// TestingOnlyJournalSeeds returns one payload of each kind.
func TestingOnlyJournalSeeds() [][]byte {
	var out [][]byte
	for _, op := range []*journalOp{
		{kind: jAppendVersion, label: [32]byte{1}, version: 3, v: StoredVersion{Record: []byte("rec"), Opening: [32]byte{2}}, commitment: [32]byte{3}},
		{kind: jSaveEpoch, epoch: StoredEpoch{Head: EpochHead{Epoch: 2, Root: [32]byte{4}, Time: 9, Signature: []byte{5}}, Updates: []prefix.Entry{{Label: [32]byte{6}}}}},
		{kind: jSetLogged, epochNum: 2, index: 7},
	} {
		b, _ := marshalJournalRecord(op)
		out = append(out, b)
	}
	return out
}

// TestingOnlyHistoryPlain encodes r in the plain (version 1) form, and
// parses it back: what the compact form is measured against.
func TestingOnlyHistoryPlain(r *HistoryResponse) ([]byte, error) { return r.marshalPlain() }

// TestingOnlyParseHistoryPlain parses the plain form.
func TestingOnlyParseHistoryPlain(b []byte) (*HistoryResponse, error) { return parseHistoryPlain(b) }
