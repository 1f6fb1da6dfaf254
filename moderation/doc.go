// Package moderation is the provider's side of abuse reporting without
// scanning (docs/moderation.md): the intake of franked user reports, verified
// with the provider's stamp key (franking.Stamper.VerifyReport), and a
// server-rendered moderation console for trust & safety staff.
//
// The intake (Service.Intake, POST /v1/reports) accepts a report only if the
// reported message and every context message verify: this sender sent this
// plaintext to this group at this time. Anything else is refused with a clear
// reason and counted; reports are rate-limited per reporter.
//
// The console (Service.Console, under /moderation/) has its own moderator
// accounts (Argon2id password hashes), roles (viewer, moderator, admin),
// HttpOnly SameSite=Strict session cookies, a CSRF token on every form, and an
// append-only, hash-chained audit trail of every moderator action. Actions:
// warn, suspend an account (the delivery service refuses its sends through
// ds.Config.Franking.Suspensions, which Service implements), revoke a device,
// dismiss, and export a verified report for referral (a signed, self-contained
// file whose digest is logged in the access log as an Evidence entry of kind
// abuse-report).
//
// Storage is the Store interface: NewMemStore for tests, moderation/sqlitestore
// for daylightd (its own database file, moderation.db, in the data directory).
package moderation
