package moderation

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/ds"
)

// Every action takes the acting moderator explicitly (the console passes the
// session's moderator), checks its role, and appends to the audit trail.

func need(m Moderator, r Role) error {
	if m.Role < r {
		return fmt.Errorf("moderation: %s %q needs role %s: %w", m.Role, m.Name, r, ErrForbidden)
	}
	return nil
}

// ViewReport returns a report (any role) and audits the view: reading
// reported content is itself an action worth recording.
func (s *Service) ViewReport(ctx context.Context, m Moderator, id string) (Report, error) {
	if err := need(m, RoleViewer); err != nil {
		return Report{}, err
	}
	r, err := s.st.Report(ctx, id)
	if err != nil {
		return Report{}, err
	}
	return r, s.audit(ctx, m.Name, "view", "report "+id, "")
}

// Warn records a warning to the reported sender.
func (s *Service) Warn(ctx context.Context, m Moderator, id, text string) error {
	if err := need(m, RoleModerator); err != nil {
		return err
	}
	if len(text) > MaxComment {
		return fmt.Errorf("moderation: warning longer than %d bytes: %w", MaxComment, ErrInvalidInput)
	}
	r, err := s.st.Report(ctx, id)
	if err != nil {
		return err
	}
	if err := s.st.AddWarning(ctx, Warning{Account: r.Message.Account, Report: id, Text: text, Time: s.now()}); err != nil {
		return err
	}
	if err := s.st.SetReportStatus(ctx, id, StatusActioned); err != nil {
		return err
	}
	return s.audit(ctx, m.Name, "warn", "account "+r.Message.Account, "report "+id)
}

// Suspend suspends the reported sender's account: the delivery service
// refuses its next send (ds.Config.Franking.Suspensions).
func (s *Service) Suspend(ctx context.Context, m Moderator, id, note string) error {
	if err := need(m, RoleModerator); err != nil {
		return err
	}
	if len(note) > MaxComment {
		return fmt.Errorf("moderation: note longer than %d bytes: %w", MaxComment, ErrInvalidInput)
	}
	r, err := s.st.Report(ctx, id)
	if err != nil {
		return err
	}
	if err := s.st.PutSuspension(ctx, Suspension{Account: r.Message.Account, By: m.Name, Reason: note, Since: s.now()}); err != nil {
		return err
	}
	s.forgetSuspension(r.Message.Account)
	if err := s.st.SetReportStatus(ctx, id, StatusActioned); err != nil {
		return err
	}
	return s.audit(ctx, m.Name, "suspend", "account "+r.Message.Account, "report "+id)
}

// Unsuspend lifts an account's suspension.
func (s *Service) Unsuspend(ctx context.Context, m Moderator, account string) error {
	if err := need(m, RoleModerator); err != nil {
		return err
	}
	if err := ds.ValidUsername(account); err != nil {
		return fmt.Errorf("moderation: account: %w", ErrInvalidInput)
	}
	if err := s.st.DeleteSuspension(ctx, account); err != nil {
		return err
	}
	s.forgetSuspension(account)
	return s.audit(ctx, m.Name, "unsuspend", "account "+account, "")
}

// RevokeDevice revokes the device that sent the reported message.
func (s *Service) RevokeDevice(ctx context.Context, m Moderator, id string) error {
	if err := need(m, RoleModerator); err != nil {
		return err
	}
	r, err := s.st.Report(ctx, id)
	if err != nil {
		return err
	}
	dev, err := strconv.ParseInt(r.Message.Device, 10, 64)
	if err != nil {
		return fmt.Errorf("moderation: report %s: stamped device %q is not a device ID: %w", id, r.Message.Device, ErrInvalidInput)
	}
	if err := s.cfg.DS.RevokeDevice(ctx, ds.Principal{Username: r.Message.Account, Device: ds.DeviceID(dev)}, ds.DeviceID(dev)); err != nil {
		return fmt.Errorf("moderation: revoking device %d of %q: %w", dev, r.Message.Account, err)
	}
	if err := s.st.SetReportStatus(ctx, id, StatusActioned); err != nil {
		return err
	}
	return s.audit(ctx, m.Name, "revoke-device", fmt.Sprintf("device %d of %s", dev, r.Message.Account), "report "+id)
}

// Dismiss closes a report without action.
func (s *Service) Dismiss(ctx context.Context, m Moderator, id string) error {
	if err := need(m, RoleModerator); err != nil {
		return err
	}
	if err := s.st.SetReportStatus(ctx, id, StatusDismissed); err != nil {
		return err
	}
	return s.audit(ctx, m.Name, "dismiss", "report "+id, "")
}

// ExportFormat names the export file format.
const ExportFormat = "daylight-abuse-report-export/v1"

// ExportFile is a signed, self-contained export of a verified report for
// referral to an authority. Payload is the JSON of ExportPayload; Signature is
// Ed25519 by the provider's export key over Payload; SHA-256(Payload) is the
// digest logged in the access log (Evidence, kind abuse-report).
type ExportFile struct {
	Format    string `json:"format"`
	PublicKey []byte `json:"public_key"`
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
}

// ExportPayload is what the provider attests.
type ExportPayload struct {
	Format       string            `json:"format"`
	ReportID     string            `json:"report_id"`
	ExportedAt   time.Time         `json:"exported_at"`
	ExportedBy   string            `json:"exported_by"`
	Jurisdiction string            `json:"jurisdiction"`
	Reason       string            `json:"reason"`
	Comment      string            `json:"comment,omitempty"`
	Reporter     string            `json:"reporter"`
	ReceivedAt   time.Time         `json:"received_at"`
	Message      ExportedMessage   `json:"message"`
	Context      []ExportedMessage `json:"context,omitempty"`
	Statement    string            `json:"statement"`
}

// ExportedMessage is one verified message.
type ExportedMessage struct {
	Account   string    `json:"account"`
	Device    string    `json:"device"`
	GroupID   string    `json:"group_id"` // base64url
	Time      time.Time `json:"time"`
	Text      string    `json:"text,omitempty"`      // the plaintext, if UTF-8
	Plaintext []byte    `json:"plaintext,omitempty"` // else the bytes
	Franked   []byte    `json:"franked"`             // franking.Report bytes as reported
}

const exportStatement = "The provider verified, with its franking stamp key, that each message was sent by the named account and device to the named group at the named time (docs/franking.md). The stamp is a MAC only the provider can check; this signature is the provider's attestation."

func exported(v VerifiedMessage) ExportedMessage {
	e := ExportedMessage{Account: v.Account, Device: v.Device, GroupID: base64.RawURLEncoding.EncodeToString(v.GroupID), Time: v.Time, Franked: v.Franked}
	if utf8.Valid(v.Plaintext) {
		e.Text = string(v.Plaintext)
	} else {
		e.Plaintext = v.Plaintext
	}
	return e
}

// Export produces the signed export of a report (admin only), logs its digest
// in the access log and audits it. It returns the file and the log index.
func (s *Service) Export(ctx context.Context, m Moderator, id string) ([]byte, uint64, error) {
	if err := need(m, RoleAdmin); err != nil {
		return nil, 0, err
	}
	if s.cfg.Evidence == nil {
		return nil, 0, fmt.Errorf("moderation: no access log configured; exports must be logged: %w", ErrForbidden)
	}
	r, err := s.st.Report(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	now := s.now().UTC()
	p := ExportPayload{Format: ExportFormat, ReportID: r.ID, ExportedAt: now, ExportedBy: m.Name, Jurisdiction: s.cfg.Jurisdiction,
		Reason: string(r.Reason), Comment: r.Comment, Reporter: r.Reporter, ReceivedAt: r.Received.UTC(),
		Message: exported(r.Message), Statement: exportStatement}
	for _, c := range r.Context {
		p.Context = append(p.Context, exported(c))
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, 0, err
	}
	f := ExportFile{Format: ExportFormat, PublicKey: s.cfg.ExportKey.Public().(ed25519.PublicKey), Payload: payload,
		Signature: ed25519.Sign(s.cfg.ExportKey, payload)}
	file, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, 0, err
	}
	digest := sha256.Sum256(payload)
	idx, err := s.cfg.Evidence.Append(ctx, &accesslog.Evidence{Kind: accesslog.EvidenceAbuseReport, Digest: digest,
		Jurisdiction: s.cfg.Jurisdiction, Time: uint64(now.Unix()), Ref: "abuse-report " + r.ID})
	if err != nil {
		return nil, 0, fmt.Errorf("moderation: logging export: %w", err)
	}
	if err := s.audit(ctx, m.Name, "export", "report "+id, fmt.Sprintf("sha256 %s, access log index %d", hex.EncodeToString(digest[:]), idx)); err != nil {
		return nil, 0, err
	}
	return file, idx, nil
}

// VerifyExport checks an export file's signature against the provider's
// export public key and returns its payload and the digest that the access
// log holds.
func VerifyExport(file []byte, pub ed25519.PublicKey) (*ExportPayload, [32]byte, error) {
	var f ExportFile
	if err := json.Unmarshal(file, &f); err != nil {
		return nil, [32]byte{}, fmt.Errorf("moderation: export file: %w", err)
	}
	if f.Format != ExportFormat {
		return nil, [32]byte{}, fmt.Errorf("moderation: export format %q: %w", f.Format, ErrInvalidInput)
	}
	if !ed25519.Verify(pub, f.Payload, f.Signature) {
		return nil, [32]byte{}, errors.New("moderation: export signature does not verify")
	}
	var p ExportPayload
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		return nil, [32]byte{}, fmt.Errorf("moderation: export payload: %w", err)
	}
	return &p, sha256.Sum256(f.Payload), nil
}
