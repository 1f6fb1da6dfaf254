package keydir

import (
	"errors"

	vrf "filippo.io/mostly-harmless/vrf-r255"
)

// VRFProofSize is the size of a C2SP vrf-r255 proof.
const VRFProofSize = 80

// labelInput is the VRF input alpha for a username.
func labelInput(username string) []byte {
	return append([]byte("daylight/keydir/label/v1\x00"), username...)
}

func labelFromHash(beta []byte) (l [32]byte) {
	copy(l[:], beta[:32]) // the first 32 bytes of the 64-byte VRF output
	return l
}

// proveLabel computes the label of username and its VRF proof (C2SP
// vrf-r255, ECVRF_prove).
func proveLabel(k *vrf.PrivateKey, username string) ([32]byte, []byte) {
	p := k.Prove(labelInput(username))
	return labelFromHash(p.Hash()), p.Bytes()
}

// ErrBadVRFProof is returned by VerifyLabel.
var ErrBadVRFProof = errors.New("keydir: VRF proof invalid for this username")

// VerifyLabel checks a VRF proof for username (C2SP vrf-r255, ECVRF_verify)
// and returns the label it proves.
func VerifyLabel(vrfPublicKey []byte, username string, proof []byte) ([32]byte, error) {
	pk, err := vrf.NewPublicKey(vrfPublicKey)
	if err != nil {
		return [32]byte{}, ErrBadVRFProof
	}
	p, err := vrf.NewProof(proof)
	if err != nil {
		return [32]byte{}, ErrBadVRFProof
	}
	beta, err := pk.Verify(p, labelInput(username))
	if err != nil {
		return [32]byte{}, ErrBadVRFProof
	}
	return labelFromHash(beta), nil
}
