package wire_test

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/wire"
)

// Example encodes a PublicMessage carrying a Commit that removes leaf 3,
// then decodes it strictly; errors name the field where decoding stopped.
func Example() {
	msg := &wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPublicMessage, Public: &wire.PublicMessage{
		Content: wire.FramedContent{GroupID: []byte("group"), Epoch: 7,
			Sender:      wire.Sender{Type: wire.SenderTypeMember, Index: 0},
			ContentType: wire.ContentTypeCommit,
			Commit: &wire.Commit{Proposals: []wire.ProposalOrRef{
				{Proposal: &wire.Proposal{Type: wire.ProposalTypeRemove, Removed: 3}},
			}}},
		Auth:          wire.FramedContentAuthData{Signature: []byte{1, 2, 3}, ConfirmationTag: []byte{4, 5}},
		MembershipTag: []byte{6},
	}}
	enc := msg.Marshal()

	got, err := wire.ParseMLSMessage(enc)
	if err != nil {
		panic(err)
	}
	c := got.Public.Content
	fmt.Println("epoch", c.Epoch, "removes leaf", c.Commit.Proposals[0].Proposal.Removed)

	_, err = wire.ParseMLSMessage(enc[:len(enc)-1])
	fmt.Println(err)
	// Output:
	// epoch 7 removes leaf 3
	// mls/wire: MLSMessage: public_message.membership_tag: truncated: vector of 1 bytes, 0 left
}
