package authority_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// BenchmarkMLSDecrypt measures the authority's decryption of retained
// PrivateMessages with recovered epoch secrets: secret-tree ratchet, sender
// data, content AEAD and the sender's Ed25519 signature, per message.
func BenchmarkMLSDecrypt(b *testing.B) {
	const n = 1000
	s, _ := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(p.EncryptionSecret)
	rand.Read(p.SenderDataSecret)
	group := []byte("bench-group")
	ctx := escrow.Context{GroupID: group, Epoch: 4}
	gc := (&wire.GroupContext{Version: 1, CipherSuite: wire.CipherSuite(suite.X25519AES128GCMSHA256Ed25519), GroupID: group, Epoch: 4,
		TreeHash: make([]byte, 32), ConfirmedTranscriptHash: make([]byte, 32)}).Marshal()
	priv, pub, _ := s.GenerateSignatureKey(rand.Reader)
	state := &authority.EpochState{Suite: 1, LeafCount: 2, GroupContext: gc, Members: map[uint32]authority.Member{0: {Account: "alice", Device: "d1", SignatureKey: pub}}}
	enc, _ := keyschedule.NewEncryptionSecret(s, bytes.Clone(p.EncryptionSecret))
	tree, _ := secrettree.New(s, enc, 2, secrettree.Config{})
	sd, _ := keyschedule.NewSenderDataSecret(s, bytes.Clone(p.SenderDataSecret))
	signer, _ := s.NewSigner(priv)
	var msgs []authority.Retained
	for i := range n {
		fc := framing.FramedContent{GroupID: group, Epoch: 4, Sender: framing.Sender{Type: framing.SenderMember, Index: 0},
			ContentType: framing.ContentApplication, Body: fmt.Appendf(nil, "message %d: a typical chat line of some sixty bytes", i)}
		ac, _ := framing.SignWith(signer, framing.WireFormatPrivateMessage, fc, gc)
		pm, _ := framing.ProtectPrivate(s, ac, tree, sd, framing.PrivateOptions{PadBlock: 32})
		raw, _ := pm.Marshal()
		msgs = append(msgs, authority.Retained{GroupID: group, Epoch: 4, Ciphertext: raw})
	}
	b.ReportAllocs()
	for b.Loop() {
		d := authority.NewMLSDecrypter(func([]byte, uint64) (*authority.EpochState, error) { return state, nil })
		for _, m := range msgs {
			if _, err := d.Decrypt(ctx, p, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
}
