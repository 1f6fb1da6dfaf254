package credential_test

import (
	"testing"

	"github.com/daylight-im/daylight/mls/credential"
)

// BenchmarkValidateX509Chain3 validates a presented 3-certificate chain
// (leaf, intermediate, root): parsing, order and key checks, path building.
func BenchmarkValidateX509Chain3(b *testing.B) {
	for _, alg := range []keyAlg{algEd25519, algP256} {
		b.Run(alg.String(), func(b *testing.B) {
			p := newPKI(b, alg)
			v := newValidator(b, credential.Config{Roots: p.roots})
			cred, key := x509Cred(p.leaf, p.inter, p.root), sigKey(b, p.leaf)
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Validate(cred, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
