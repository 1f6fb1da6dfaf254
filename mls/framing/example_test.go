package framing_test

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
)

func Example() {
	s, _ := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	groupContext := []byte("serialized GroupContext") // from mls/wire
	type epoch struct {
		tree       *secrettree.Tree
		senderData *keyschedule.SenderDataSecret
	}
	newEpoch := func() epoch {
		enc, _ := keyschedule.NewEncryptionSecret(s, bytes.Repeat([]byte{1}, 32))
		tree, _ := secrettree.New(s, enc, 2, secrettree.Config{})
		sd, _ := keyschedule.NewSenderDataSecret(s, bytes.Repeat([]byte{2}, 32))
		return epoch{tree, sd}
	}
	alice, bob := newEpoch(), newEpoch()
	sigPriv, sigPub, _ := s.GenerateSignatureKey(rand.Reader)
	signer, _ := s.NewSigner(sigPriv)

	// Alice (leaf 0) sends an application message.
	content := framing.FramedContent{GroupID: []byte("g"), Epoch: 3, Sender: framing.Sender{Type: framing.SenderMember, Index: 0},
		ContentType: framing.ContentApplication, Body: []byte("hello")}
	ac, _ := framing.SignWith(signer, framing.WireFormatPrivateMessage, content, groupContext)
	pm, _ := framing.ProtectPrivate(s, ac, alice.tree, alice.senderData, framing.PrivateOptions{PadBlock: 32})
	wire, _ := pm.Marshal()

	// Bob receives it.
	pm2, _ := framing.ParsePrivateMessage(wire)
	got, err := framing.UnprotectPrivate(s, pm2, bob.tree, bob.senderData, framing.UnprotectOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Content.Sender.Index, string(got.Content.Body), got.VerifySignature(s, sigPub, groupContext))
	// Output: 0 hello <nil>
}
