// Package keyschedule implements the MLS key schedule (RFC 9420, Section 8)
// as typed stages:
//
//	InitSecret[n-1] --JoinerSecret(commit_secret, GroupContext[n])--> JoinerSecret
//	JoinerSecret --EpochSecret(psk_secret, GroupContext[n])--> EpochSecret
//	JoinerSecret --WelcomeSecret(psk_secret)--> WelcomeSecret (welcome key and nonce)
//	EpochSecret --Derive()--> EpochSecrets{SenderData, Encryption, Exporter,
//	    EpochAuthenticator, External, Confirmation, Membership, Resumption, Init}
//
// plus PSK secrets (Section 8.4), external initialisation (Section 8.3),
// MLS-Exporter (Section 8.5) and transcript hashes (Section 8.2).
//
// The package does not depend on mls/wire: GroupContext, PreSharedKeyID and
// transcript-hash inputs are passed as their serialized bytes, which the
// group layer produces with mls/wire.
//
// Secrets are held in typed values; Bytes returns a copy for persistence and
// Destroy zeroes the value. The RFC 9420 deletion schedule (Section 9.2) says
// init_secret[n-1], commit_secret, joiner_secret, psk_secret and epoch_secret
// are consumed once the next epoch is in use: the group layer calls Destroy on
// them when it merges a staged commit (not before, so that a rejected commit
// leaves the current epoch intact). Intermediate values computed inside this
// package are zeroed before returning.
package keyschedule

import (
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
)

// secret is a suite-bound secret value.
type secret struct {
	s *suite.Suite
	b []byte
}

func newSecret(s *suite.Suite, b []byte, name string) (secret, error) {
	if s == nil {
		return secret{}, fmt.Errorf("mls/keyschedule: %s: nil suite", name)
	}
	if len(b) != s.Nh() {
		return secret{}, fmt.Errorf("mls/keyschedule: %s is %d bytes, want Nh = %d", name, len(b), s.Nh())
	}
	return secret{s: s, b: append([]byte(nil), b...)}, nil
}

// Bytes returns a copy of the secret, for persistence or for fields that
// carry it (GroupSecrets.joiner_secret).
func (x *secret) Bytes() []byte { return append([]byte(nil), x.b...) }

// Destroy zeroes the secret (RFC 9420, Section 9.2). The value must not be
// used afterwards.
func (x *secret) Destroy() {
	if x != nil {
		clear(x.b)
	}
}

// Suite returns the cipher suite the secret belongs to.
func (x *secret) Suite() *suite.Suite { return x.s }

// InitSecret is init_secret of an epoch.
type InitSecret struct{ secret }

// NewInitSecret wraps an init_secret: the random one of a new group's first
// epoch (RFC 9420, Section 11), or a persisted one.
func NewInitSecret(s *suite.Suite, b []byte) (*InitSecret, error) {
	x, err := newSecret(s, b, "init_secret")
	if err != nil {
		return nil, err
	}
	return &InitSecret{x}, nil
}

// externalInitLabel is the exporter context of Section 8.3.
const externalInitLabel = "MLS 1.0 external init secret"

// ExternalInit implements the joiner side of external initialisation (RFC
// 9420, Section 8.3): kem_output, context = SetupBaseS(external_pub, "");
// init_secret = context.export("MLS 1.0 external init secret", Nh).
func ExternalInit(s *suite.Suite, externalPub []byte) (kemOutput []byte, init *InitSecret, err error) {
	kemOutput, b, err := s.ExportSender(externalPub, nil, []byte(externalInitLabel), s.Nh())
	if err != nil {
		return nil, nil, fmt.Errorf("mls/keyschedule: external init: %w", err)
	}
	return kemOutput, &InitSecret{secret{s: s, b: b}}, nil
}

// ExternalInitReceive implements the member side of external initialisation
// (RFC 9420, Section 8.3), with external_priv from ExternalSecret.KeyPair and
// kem_output from the ExternalInit proposal.
func ExternalInitReceive(s *suite.Suite, externalPriv, kemOutput []byte) (*InitSecret, error) {
	b, err := s.ExportReceiver(externalPriv, kemOutput, nil, []byte(externalInitLabel), s.Nh())
	if err != nil {
		return nil, fmt.Errorf("mls/keyschedule: ExternalInit.kem_output: %w", err)
	}
	return &InitSecret{secret{s: s, b: b}}, nil
}

// CommitSecret is commit_secret (RFC 9420, Section 8): the path secret after
// the root of an UpdatePath, or zero for a commit without a path.
type CommitSecret struct{ secret }

// NewCommitSecret wraps a commit_secret produced by TreeKEM.
func NewCommitSecret(s *suite.Suite, b []byte) (*CommitSecret, error) {
	x, err := newSecret(s, b, "commit_secret")
	if err != nil {
		return nil, err
	}
	return &CommitSecret{x}, nil
}

// ZeroCommitSecret returns the all-zero commit_secret of a Commit without a
// path (RFC 9420, Section 12.4).
func ZeroCommitSecret(s *suite.Suite) *CommitSecret {
	return &CommitSecret{secret{s: s, b: make([]byte, s.Nh())}}
}

// JoinerSecret is joiner_secret (RFC 9420, Section 8).
type JoinerSecret struct{ secret }

// NewJoinerSecret wraps a joiner_secret received in GroupSecrets (RFC 9420,
// Section 12.4.3.1).
func NewJoinerSecret(s *suite.Suite, b []byte) (*JoinerSecret, error) {
	x, err := newSecret(s, b, "GroupSecrets.joiner_secret")
	if err != nil {
		return nil, err
	}
	return &JoinerSecret{x}, nil
}

var errSuiteMismatch = errors.New("mls/keyschedule: secrets of different cipher suites")

// JoinerSecret derives joiner_secret = ExpandWithLabel(Extract(init_secret,
// commit_secret), "joiner", GroupContext[n], Nh) (RFC 9420, Section 8).
// groupContext is the serialized GroupContext of the new epoch.
func (i *InitSecret) JoinerSecret(commit *CommitSecret, groupContext []byte) (*JoinerSecret, error) {
	if i.s.ID() != commit.s.ID() {
		return nil, errSuiteMismatch
	}
	prk := i.s.Extract(i.b, commit.b)
	defer clear(prk)
	return &JoinerSecret{secret{s: i.s, b: i.s.ExpandWithLabel(prk, "joiner", groupContext, i.s.Nh())}}, nil
}

// memberSecret returns KDF.Extract(joiner_secret, psk_secret), the value
// from which welcome_secret and epoch_secret are derived.
func (j *JoinerSecret) memberSecret(psk *PSKSecret) ([]byte, error) {
	if psk == nil {
		psk = ZeroPSKSecret(j.s)
	}
	if psk.s.ID() != j.s.ID() {
		return nil, errSuiteMismatch
	}
	return j.s.Extract(j.b, psk.b), nil
}

// WelcomeSecret derives welcome_secret = DeriveSecret(Extract(joiner_secret,
// psk_secret), "welcome") (RFC 9420, Section 8). A nil psk means no PSKs
// (the all-zero psk_secret).
func (j *JoinerSecret) WelcomeSecret(psk *PSKSecret) (*WelcomeSecret, error) {
	m, err := j.memberSecret(psk)
	if err != nil {
		return nil, err
	}
	defer clear(m)
	return &WelcomeSecret{secret{s: j.s, b: j.s.DeriveSecret(m, "welcome")}}, nil
}

// EpochSecret derives epoch_secret = ExpandWithLabel(Extract(joiner_secret,
// psk_secret), "epoch", GroupContext[n], Nh) (RFC 9420, Section 8). A nil psk
// means no PSKs.
func (j *JoinerSecret) EpochSecret(psk *PSKSecret, groupContext []byte) (*EpochSecret, error) {
	m, err := j.memberSecret(psk)
	if err != nil {
		return nil, err
	}
	defer clear(m)
	return &EpochSecret{secret{s: j.s, b: j.s.ExpandWithLabel(m, "epoch", groupContext, j.s.Nh())}}, nil
}

// WelcomeSecret is welcome_secret (RFC 9420, Section 8), which encrypts the
// GroupInfo of a Welcome.
type WelcomeSecret struct{ secret }

// KeyNonce returns welcome_key = ExpandWithLabel(welcome_secret, "key", "",
// Nk) and welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", Nn)
// (RFC 9420, Section 12.4.3.1).
func (w *WelcomeSecret) KeyNonce() (key, nonce []byte) {
	return w.s.ExpandWithLabel(w.b, "key", nil, w.s.Nk()), w.s.ExpandWithLabel(w.b, "nonce", nil, w.s.Nn())
}

// SealGroupInfo returns Welcome.encrypted_group_info for a serialized
// GroupInfo (RFC 9420, Section 12.4.3.1; AEAD with empty AAD).
func (w *WelcomeSecret) SealGroupInfo(groupInfo []byte) ([]byte, error) {
	key, nonce := w.KeyNonce()
	defer clear(key)
	return w.s.Seal(key, nonce, nil, groupInfo)
}

// OpenGroupInfo decrypts Welcome.encrypted_group_info. A ciphertext that
// does not authenticate returns an error wrapping suite.ErrDecrypt.
func (w *WelcomeSecret) OpenGroupInfo(encryptedGroupInfo []byte) ([]byte, error) {
	key, nonce := w.KeyNonce()
	defer clear(key)
	gi, err := w.s.Open(key, nonce, nil, encryptedGroupInfo)
	if err != nil {
		return nil, fmt.Errorf("mls/keyschedule: Welcome.encrypted_group_info: %w", err)
	}
	return gi, nil
}

// EpochSecret is epoch_secret (RFC 9420, Section 8).
type EpochSecret struct{ secret }

// EpochSecrets are the secrets derived from epoch_secret (RFC 9420, Section
// 8, Table 4), plus the next epoch's init_secret.
type EpochSecrets struct {
	SenderData         *SenderDataSecret
	Encryption         *EncryptionSecret
	Exporter           *ExporterSecret
	EpochAuthenticator []byte
	External           *ExternalSecret
	Confirmation       *ConfirmationKey
	Membership         *MembershipKey
	Resumption         *ResumptionPSK
	Init               *InitSecret
}

// Derive derives every epoch-derived secret and the next init_secret
// (RFC 9420, Section 8, Table 4).
func (e *EpochSecret) Derive() *EpochSecrets {
	d := func(label string) secret { return secret{s: e.s, b: e.s.DeriveSecret(e.b, label)} }
	return &EpochSecrets{
		SenderData:         &SenderDataSecret{d("sender data")},
		Encryption:         &EncryptionSecret{d("encryption")},
		Exporter:           &ExporterSecret{d("exporter")},
		EpochAuthenticator: e.s.DeriveSecret(e.b, "authentication"),
		External:           &ExternalSecret{d("external")},
		Confirmation:       &ConfirmationKey{d("confirm")},
		Membership:         &MembershipKey{d("membership")},
		Resumption:         &ResumptionPSK{d("resumption")},
		Init:               &InitSecret{d("init")},
	}
}

// Destroy zeroes every secret in es (the epoch authenticator is not secret
// and is kept).
func (es *EpochSecrets) Destroy() {
	for _, x := range []interface{ Destroy() }{es.SenderData, es.Encryption, es.Exporter,
		es.External, es.Confirmation, es.Membership, es.Resumption, es.Init} {
		if x != nil && !isNilSecret(x) {
			x.Destroy()
		}
	}
}

// isNilSecret reports whether x holds a nil pointer of one of the secret
// types (a partially restored EpochSecrets).
func isNilSecret(x interface{ Destroy() }) bool {
	switch v := x.(type) {
	case *SenderDataSecret:
		return v == nil
	case *EncryptionSecret:
		return v == nil
	case *ExporterSecret:
		return v == nil
	case *ExternalSecret:
		return v == nil
	case *ConfirmationKey:
		return v == nil
	case *MembershipKey:
		return v == nil
	case *ResumptionPSK:
		return v == nil
	case *InitSecret:
		return v == nil
	}
	return false
}

// SenderDataSecret is sender_data_secret, from which the sender data key and
// nonce of each PrivateMessage are derived.
type SenderDataSecret struct{ secret }

// NewSenderDataSecret wraps a persisted sender_data_secret.
func NewSenderDataSecret(s *suite.Suite, b []byte) (*SenderDataSecret, error) {
	x, err := newSecret(s, b, "sender_data_secret")
	return &SenderDataSecret{x}, err
}

// KeyNonce implements sender data key and nonce derivation (RFC 9420,
// Section 6.3.2): ciphertext_sample is the first Nh bytes of the
// PrivateMessage ciphertext (all of it if shorter), and
// sender_data_key = ExpandWithLabel(sender_data_secret, "key", sample, Nk),
// sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce", sample, Nn).
func (sd *SenderDataSecret) KeyNonce(ciphertext []byte) (key, nonce []byte) {
	sample := ciphertext[:min(len(ciphertext), sd.s.Nh())]
	return sd.s.ExpandWithLabel(sd.b, "key", sample, sd.s.Nk()), sd.s.ExpandWithLabel(sd.b, "nonce", sample, sd.s.Nn())
}

// EncryptionSecret is encryption_secret, the root of the secret tree
// (RFC 9420, Section 9); see package mls/secrettree.
type EncryptionSecret struct{ secret }

// NewEncryptionSecret wraps an encryption_secret (persisted, or from a test
// vector).
func NewEncryptionSecret(s *suite.Suite, b []byte) (*EncryptionSecret, error) {
	x, err := newSecret(s, b, "encryption_secret")
	return &EncryptionSecret{x}, err
}

// ExporterSecret is exporter_secret (RFC 9420, Section 8.5).
type ExporterSecret struct{ secret }

// NewExporterSecret wraps a persisted exporter_secret.
func NewExporterSecret(s *suite.Suite, b []byte) (*ExporterSecret, error) {
	x, err := newSecret(s, b, "exporter_secret")
	return &ExporterSecret{x}, err
}

// Export implements MLS-Exporter(Label, Context, Length) =
// ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported",
// Hash(Context), Length) (RFC 9420, Section 8.5). label may hold any bytes.
// It panics if length exceeds 255*Nh.
func (x *ExporterSecret) Export(label string, context []byte, length int) []byte {
	d := x.s.DeriveSecret(x.b, label)
	defer clear(d)
	return x.s.ExpandWithLabel(d, "exported", x.s.Hash(context), length)
}

// ExternalSecret is external_secret (RFC 9420, Section 8).
type ExternalSecret struct{ secret }

// NewExternalSecret wraps a persisted external_secret.
func NewExternalSecret(s *suite.Suite, b []byte) (*ExternalSecret, error) {
	x, err := newSecret(s, b, "external_secret")
	return &ExternalSecret{x}, err
}

// KeyPair returns external_priv, external_pub = KEM.DeriveKeyPair(
// external_secret) (RFC 9420, Section 8). external_pub goes into the
// external_pub GroupInfo extension.
func (x *ExternalSecret) KeyPair() (priv, pub []byte, err error) {
	priv, pub, err = x.s.DeriveKeyPair(x.b)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/keyschedule: external key pair: %w", err)
	}
	return priv, pub, nil
}

// ConfirmationKey is confirmation_key (RFC 9420, Section 8).
type ConfirmationKey struct{ secret }

// NewConfirmationKey wraps a persisted confirmation_key.
func NewConfirmationKey(s *suite.Suite, b []byte) (*ConfirmationKey, error) {
	x, err := newSecret(s, b, "confirmation_key")
	return &ConfirmationKey{x}, err
}

// Tag returns confirmation_tag = MAC(confirmation_key,
// GroupContext.confirmed_transcript_hash) (RFC 9420, Section 6.1).
func (k *ConfirmationKey) Tag(confirmedTranscriptHash []byte) []byte {
	return k.s.MAC(k.b, confirmedTranscriptHash)
}

// Verify reports in constant time whether tag is the confirmation tag of
// confirmedTranscriptHash (RFC 9420, Section 6.1: a FramedContentAuthData
// is valid only if its confirmation_tag is).
func (k *ConfirmationKey) Verify(confirmedTranscriptHash, tag []byte) bool {
	return k.s.VerifyMAC(k.b, confirmedTranscriptHash, tag)
}

// MembershipKey is membership_key (RFC 9420, Section 8).
type MembershipKey struct{ secret }

// NewMembershipKey wraps a persisted membership_key.
func NewMembershipKey(s *suite.Suite, b []byte) (*MembershipKey, error) {
	x, err := newSecret(s, b, "membership_key")
	return &MembershipKey{x}, err
}

// Tag returns membership_tag = MAC(membership_key, AuthenticatedContentTBM)
// for the serialized AuthenticatedContentTBM (RFC 9420, Section 6.2).
func (k *MembershipKey) Tag(authenticatedContentTBM []byte) []byte {
	return k.s.MAC(k.b, authenticatedContentTBM)
}

// Verify reports in constant time whether tag is the membership tag of
// authenticatedContentTBM.
func (k *MembershipKey) Verify(authenticatedContentTBM, tag []byte) bool {
	return k.s.VerifyMAC(k.b, authenticatedContentTBM, tag)
}

// ResumptionPSK is resumption_psk (RFC 9420, Section 8.6). Keep it per epoch
// for as long as the application allows resumption from that epoch; its
// Bytes are the psk of a resumption PreSharedKeyID.
type ResumptionPSK struct{ secret }

// NewResumptionPSK wraps a persisted resumption_psk.
func NewResumptionPSK(s *suite.Suite, b []byte) (*ResumptionPSK, error) {
	x, err := newSecret(s, b, "resumption_psk")
	return &ResumptionPSK{x}, err
}
