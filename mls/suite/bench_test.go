package suite

import (
	"crypto/rand"
	"testing"
)

// BenchmarkEncryptWithLabel measures one EncryptWithLabel of a 32-byte path
// secret (the per-recipient cost of an UpdatePath) for every suite.
func BenchmarkEncryptWithLabel(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(s.ID().String(), func(b *testing.B) {
			_, pub, _ := s.GenerateKeyPair(rand.Reader)
			ctx := make([]byte, 100)
			pt := make([]byte, 32)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.EncryptWithLabel(pub, "UpdatePathNode", ctx, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecryptWithLabel(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(s.ID().String(), func(b *testing.B) {
			priv, pub, _ := s.GenerateKeyPair(rand.Reader)
			ctx := make([]byte, 100)
			kem, ct, _ := s.EncryptWithLabel(pub, "UpdatePathNode", ctx, make([]byte, 32))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.DecryptWithLabel(priv, "UpdatePathNode", ctx, kem, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignWithLabel(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(s.ID().String(), func(b *testing.B) {
			priv, _, _ := s.GenerateSignatureKey(rand.Reader)
			content := make([]byte, 256)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.SignWithLabel(priv, "FramedContentTBS", content); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyWithLabel(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(s.ID().String(), func(b *testing.B) {
			priv, pub, _ := s.GenerateSignatureKey(rand.Reader)
			content := make([]byte, 256)
			sig, _ := s.SignWithLabel(priv, "FramedContentTBS", content)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.VerifyWithLabel(pub, "FramedContentTBS", content, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkExpandWithLabel(b *testing.B) {
	s, _ := Lookup(X25519AES128GCMSHA256Ed25519)
	secret := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		s.DeriveTreeSecret(secret, "key", 7, 16)
	}
}

func BenchmarkSignerSignWithLabel(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(s.ID().String(), func(b *testing.B) {
			priv, _, _ := s.GenerateSignatureKey(rand.Reader)
			g, _ := s.NewSigner(priv)
			content := make([]byte, 256)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.SignWithLabel("FramedContentTBS", content); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
