// Package evidence builds and verifies daylight's evidence bundle (A1): the
// messages of a lawful-access case, decrypted, each with the MLS signature
// of its sender and the sender's key as the key directory proved it; a
// human-readable HTML transcript and machine-readable JSON Lines; the
// authorization (policy, court-signed warrant and salt, the access-log
// entries of the warrant commitment and of the trustees' releases with
// inclusion proofs under a witnessed checkpoint, the escrow records opened);
// and a manifest of SHA-256 hashes of every file, signed by the authority.
//
// Build returns the bundle as files (pure: WriteDir and WriteZip store it);
// Verify checks a bundle offline from an fs.FS (a directory or a zip file)
// and reports every problem it finds, by file and line.
package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/warrant"
)

// Format names the bundle format in its manifest.
const Format = "daylight-evidence-bundle/1"

// File names inside a bundle.
const (
	ManifestFile      = "manifest.json"
	ManifestSigFile   = "manifest.sig"
	MessagesFile      = "messages.jsonl"
	TranscriptFile    = "transcript.html"
	PolicyFile        = "authorization/policy.bin"
	WarrantFile       = "authorization/warrant.bin"
	AuthorizationFile = "authorization/log.json"
	recordsDir        = "authorization/records/"
)

// ErrBuild is returned when the inputs cannot make a valid bundle.
var ErrBuild = errors.New("evidence: cannot build bundle")

// Message is one decrypted application message with what proves its sender
// sent it. ContentTBS is the FramedContentTBS the sender signed (RFC 9420,
// Section 6.1); its application_data is the text (franked, if Franked: then
// it is franking content version || key || text).
type Message struct {
	GroupID    []byte `json:"group"`
	Epoch      uint64 `json:"epoch"`
	Sender     string `json:"sender"`
	Device     string `json:"device"`
	LeafIndex  uint32 `json:"leaf_index"`
	Time       uint64 `json:"time_ms"` // delivery server's acceptance time, unix ms
	Text       string `json:"text"`
	Franked    bool   `json:"franked"`
	Suite      uint16 `json:"cipher_suite"`
	ContentTBS []byte `json:"content_tbs"`
	Signature  []byte `json:"signature"`
	SignerKey  []byte `json:"signer_key"`
	KeyProof   []byte `json:"key_proof,omitempty"` // key-directory proof of SignerKey (keydir/)
}

// LogEntry is an access-log entry with its inclusion proof under the
// bundle's checkpoint.
type LogEntry struct {
	Index uint64   `json:"index"`
	Entry []byte   `json:"entry"`
	Proof [][]byte `json:"proof"`
	// Records lists the record ids a Release entry covers (their hash is
	// the entry's RecordsHash); empty for other entries.
	Records []string `json:"records,omitempty"`
}

// Authorization is what authorized the case.
type Authorization struct {
	Policy     *policy.Signed
	Warrant    *warrant.Signed
	Salt       [32]byte
	Checkpoint []byte     // signed note with witness cosignatures
	Entries    []LogEntry // the warrant commitment and the releases
	Records    [][]byte   // the escrow records opened
}

type authorizationFile struct {
	Salt       string     `json:"salt"`
	Checkpoint string     `json:"checkpoint"`
	Entries    []LogEntry `json:"entries"`
}

// FileHash is one manifest row.
type FileHash struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Manifest is the signed table of contents of a bundle.
type Manifest struct {
	Format            string     `json:"format"`
	Created           string     `json:"created"`
	AuthorityKey      []byte     `json:"authority_key"`
	PolicyID          string     `json:"policy_id"`
	WarrantCommitment string     `json:"warrant_commitment"`
	Court             string     `json:"court"`
	Jurisdiction      string     `json:"jurisdiction"`
	CaseNumber        string     `json:"case_number"`
	Targets           []string   `json:"targets"`
	WindowStart       uint64     `json:"window_start"`
	WindowEnd         uint64     `json:"window_end"`
	Messages          int        `json:"messages"`
	Files             []FileHash `json:"files"`
}

// Bundle is a built bundle: file path -> contents.
type Bundle map[string][]byte

func manifestSigMessage(manifest []byte) []byte {
	return append([]byte("daylight evidence manifest v1\x00"), manifest...)
}

// Build checks every message (signature, scope) against the authorization
// and makes the bundle, signed by the authority. created is unix seconds.
// It refuses (ErrBuild, naming the message) rather than include a message
// that Verify would reject.
func Build(a *Authorization, msgs []Message, authority ed25519.PrivateKey, created uint64) (Bundle, error) {
	ctx, problems := checkAuthorization(a)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrBuild, strings.Join(problems, "; "))
	}
	if !bytes.Equal(authority.Public().(ed25519.PublicKey), ctx.w.AuthoritySigningKey) {
		return nil, fmt.Errorf("%w: the signing key is not that of authority %q named in the warrant", ErrBuild, ctx.w.Authority)
	}
	sorted := slices.Clone(msgs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time < sorted[j].Time })
	var jsonl bytes.Buffer
	enc := json.NewEncoder(&jsonl)
	enc.SetEscapeHTML(false)
	if p := checkMessages(ctx, sorted, nil); len(p) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrBuild, strings.Join(p, "; "))
	}
	for i := range sorted {
		if err := enc.Encode(&sorted[i]); err != nil {
			return nil, err
		}
	}
	b := Bundle{MessagesFile: jsonl.Bytes()}
	html, err := renderTranscript(ctx, sorted)
	if err != nil {
		return nil, err
	}
	b[TranscriptFile] = html
	pol, err := a.Policy.Marshal()
	if err != nil {
		return nil, err
	}
	b[PolicyFile] = pol
	b[WarrantFile] = a.Warrant.Marshal()
	af, err := json.MarshalIndent(authorizationFile{Salt: hex.EncodeToString(a.Salt[:]), Checkpoint: string(a.Checkpoint), Entries: a.Entries}, "", " ")
	if err != nil {
		return nil, err
	}
	b[AuthorizationFile] = af
	for _, r := range a.Records {
		id := escrow.RecordID(r)
		b[recordsDir+hex.EncodeToString(id[:])+".bin"] = r
	}
	m := Manifest{
		Format: Format, Created: time.Unix(int64(created), 0).UTC().Format(time.RFC3339),
		AuthorityKey: authority.Public().(ed25519.PublicKey), PolicyID: hex.EncodeToString(ctx.pol.ID[:]),
		WarrantCommitment: hex.EncodeToString(ctx.commitment[:]), Court: ctx.w.Court, Jurisdiction: ctx.w.Jurisdiction,
		CaseNumber: ctx.w.CaseNumber, Targets: ctx.w.Targets, WindowStart: ctx.w.WindowStart, WindowEnd: ctx.w.WindowEnd,
		Messages: len(sorted),
	}
	paths := make([]string, 0, len(b))
	for p := range b {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		h := sha256.Sum256(b[p])
		m.Files = append(m.Files, FileHash{Path: p, SHA256: hex.EncodeToString(h[:]), Size: int64(len(b[p]))})
	}
	mb, err := json.MarshalIndent(&m, "", " ")
	if err != nil {
		return nil, err
	}
	mb = append(mb, '\n')
	b[ManifestFile] = mb
	b[ManifestSigFile] = []byte(hex.EncodeToString(ed25519.Sign(authority, manifestSigMessage(mb))) + "\n")
	return b, nil
}

// WriteDir writes the bundle into dir (created; must not exist).
func (b Bundle) WriteDir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for p, data := range b {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteZip writes the bundle as a zip archive to w, files in sorted order.
func (b Bundle) WriteZip(w io.Writer) error {
	zw := zip.NewWriter(w)
	paths := make([]string, 0, len(b))
	for p := range b {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: p, Method: zip.Deflate})
		if err != nil {
			return err
		}
		if _, err := f.Write(b[p]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// caseContext is the checked authorization, for message checks.
type caseContext struct {
	pol        *policy.Verified
	w          *warrant.Verified
	commitment [32]byte
	records    map[string]*escrow.Record // by group id + epoch key
}

func recordKey(group []byte, epoch uint64) string { return fmt.Sprintf("%x/%d", group, epoch) }

// checkAuthorization verifies policy, warrant, log entries and releases; it
// returns every problem it finds.
func checkAuthorization(a *Authorization) (*caseContext, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	pol, err := policy.Verify(a.Policy)
	if err != nil {
		bad("%s: %v", PolicyFile, err)
		return nil, problems
	}
	wp, err := warrant.Parse(a.Warrant.Body)
	if err != nil {
		bad("%s: %v", WarrantFile, err)
		return nil, problems
	}
	// Verify the court's signature as of the issue time; the log entry's
	// filing time is checked against the expiry below.
	w, err := warrant.Verify(a.Warrant, pol, wp.Issued)
	if err != nil {
		bad("%s: %v", WarrantFile, err)
		return nil, problems
	}
	ctx := &caseContext{pol: pol, w: w, commitment: warrant.Commitment(a.Warrant, a.Salt), records: map[string]*escrow.Record{}}
	cpol, err := pol.CheckpointPolicy()
	if err != nil {
		bad("%s: %v", PolicyFile, err)
		return ctx, problems
	}
	cp, err := cpol.Verify(a.Checkpoint)
	if err != nil {
		bad("%s: checkpoint: %v", AuthorizationFile, err)
		return ctx, problems
	}
	recIDs := map[[32]byte]*escrow.Record{}
	for i, r := range a.Records {
		rec, err := escrow.Parse(r)
		if err != nil {
			bad("records[%d]: %v", i, err)
			continue
		}
		if rec.Context.PolicyID != pol.ID {
			bad("records[%d]: under another policy", i)
		}
		recIDs[rec.ID()] = rec
		ctx.records[recordKey(rec.Context.GroupID, rec.Context.Epoch)] = rec
	}
	sawWarrant := false
	releasedBy := map[[32]byte]map[string]bool{}
	for i, le := range a.Entries {
		where := fmt.Sprintf("%s: entries[%d] (log index %d)", AuthorizationFile, i, le.Index)
		if le.Index >= cp.Size {
			bad("%s: beyond the checkpoint", where)
			continue
		}
		if err := accesslog.VerifyInclusion(cp, le.Index, le.Entry, le.Proof); err != nil {
			bad("%s: %v", where, err)
			continue
		}
		e, err := accesslog.Parse(le.Entry)
		if err != nil {
			bad("%s: %v", where, err)
			continue
		}
		switch e := e.(type) {
		case *accesslog.WarrantCommitment:
			if err := w.Matches(warrant.Metadata(*e), a.Salt); err != nil {
				bad("%s: warrant commitment entry does not match the warrant and salt", where)
				continue
			}
			if e.Filed >= w.Expiry || e.Filed < w.Issued {
				bad("%s: warrant filed outside its validity", where)
			}
			sawWarrant = true
		case *accesslog.Release:
			if e.WarrantCommitment != ctx.commitment {
				bad("%s: release for another warrant", where)
				continue
			}
			idx, ok := pol.TrusteeIndex(e.Trustee)
			msg, _ := e.SignedMessage()
			if !ok || !ed25519.Verify(pol.Trustees[idx].SigningKey, msg, e.Signature) {
				bad("%s: release not signed by trustee %q of the policy", where, e.Trustee)
				continue
			}
			var ids [][32]byte
			for _, h := range le.Records {
				var id [32]byte
				if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
					bad("%s: record id %q", where, h)
					continue
				} else {
					copy(id[:], b)
				}
				ids = append(ids, id)
			}
			if escrow.RecordsHash(ids) != e.RecordsHash || int(e.Count) != len(ids) {
				bad("%s: listed records do not match the release's records hash and count", where)
				continue
			}
			for _, id := range ids {
				if releasedBy[id] == nil {
					releasedBy[id] = map[string]bool{}
				}
				releasedBy[id][e.Trustee] = true
			}
		default:
			bad("%s: unexpected %T entry", where, e)
		}
	}
	if !sawWarrant {
		bad("%s: no logged warrant commitment for this warrant", AuthorizationFile)
	}
	for id, rec := range recIDs {
		if n := len(releasedBy[id]); n < int(pol.K) {
			bad("record %x (group %x epoch %d): released by %d trustees, need %d", id[:8], rec.Context.GroupID, rec.Context.Epoch, n, pol.K)
		}
	}
	return ctx, problems
}

// checkMessage checks one message: scope and MLS signature.
func (c *caseContext) checkMessage(m *Message) error {
	if _, ok := c.records[recordKey(m.GroupID, m.Epoch)]; !ok {
		return fmt.Errorf("out of scope: no released escrow record for group %x epoch %d", m.GroupID, m.Epoch)
	}
	if m.Time/1000 < c.w.WindowStart || m.Time/1000 >= c.w.WindowEnd {
		return fmt.Errorf("out of scope: time %d ms outside the warrant window [%d, %d) s", m.Time, c.w.WindowStart, c.w.WindowEnd)
	}
	tbs, err := parseApplicationTBS(m.ContentTBS)
	if err != nil {
		return err
	}
	if !bytes.Equal(tbs.GroupID, m.GroupID) || tbs.Epoch != m.Epoch || tbs.LeafIndex != m.LeafIndex {
		return errors.New("signed content names another group, epoch or sender leaf")
	}
	text := tbs.ApplicationData
	if m.Franked {
		if text, _, err = franking.ParseContent(tbs.ApplicationData); err != nil {
			return err
		}
	}
	if string(text) != m.Text {
		return errors.New("text differs from the signed application data")
	}
	return verifyWithLabel(m.Suite, m.SignerKey, "FramedContentTBS", m.ContentTBS, m.Signature)
}

// Digest is SHA-256 of the bundle's signed manifest, which fixes every file:
// the value of the access log's Evidence entry for the bundle.
func (b Bundle) Digest() [32]byte { return sha256.Sum256(b[ManifestFile]) }

// LogEntry returns the access-log Evidence entry for the bundle.
func (b Bundle) LogEntry(jurisdiction, ref string, time uint64) *accesslog.Evidence {
	return &accesslog.Evidence{Kind: accesslog.EvidenceBundle, Digest: b.Digest(), Jurisdiction: jurisdiction, Time: time, Ref: ref}
}
