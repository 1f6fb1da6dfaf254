package evidence

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/warrant"
)

// Options for Verify.
type Options struct {
	// AuthorityKey, if set, is the requesting authority's signing key as the
	// verifier knows it out of band; it must be the key the court-signed
	// warrant names. If nil, the warrant's key is used (the court's word).
	AuthorityKey ed25519.PublicKey
	// KeyDirectory, if set, checks a message's signer key and key proof
	// against the key directory (keydir/). Without it the binding of sender
	// names to keys rests on the authority's word, and the report says so.
	KeyDirectory func(m *Message) error
}

// Report summarizes a bundle that verified.
type Report struct {
	Manifest Manifest
	Messages int
	Groups   int
	Warnings []string
}

// VerifyError lists everything wrong with a bundle.
type VerifyError struct {
	Problems []string
}

// ErrInvalid is wrapped by *VerifyError.
var ErrInvalid = errors.New("evidence: bundle does not verify")

func (e *VerifyError) Error() string {
	const max = 20
	p := e.Problems
	more := ""
	if len(p) > max {
		more = fmt.Sprintf("\n  ... and %d more", len(p)-max)
		p = p[:max]
	}
	return fmt.Sprintf("evidence: bundle does not verify (%d problems):\n  %s%s", len(e.Problems), strings.Join(p, "\n  "), more)
}

func (e *VerifyError) Unwrap() error { return ErrInvalid }

const maxFileSize = 1 << 32

func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize))
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// Verify checks a bundle offline: the authority's signature on the
// manifest, every file's hash (and that no file was added or removed), the
// policy and its signatures, the court's signature on the warrant, the log
// entries of the warrant commitment and the releases (inclusion under a
// checkpoint with w witness cosignatures, trustee signatures, at least k
// trustees per record), every message's scope and MLS signature, and that
// the transcript says what the messages say. It returns a *VerifyError
// listing every problem found.
func Verify(fsys fs.FS, opts Options) (*Report, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	fail := func() (*Report, error) { return nil, &VerifyError{Problems: problems} }

	mb, err := readFile(fsys, ManifestFile)
	if err != nil {
		bad("%s: %v", ManifestFile, err)
		return fail()
	}
	var m Manifest
	if err := strictJSON(mb, &m); err != nil {
		bad("%s: %v", ManifestFile, err)
		return fail()
	}
	if m.Format != Format {
		bad("%s: format %q, want %q", ManifestFile, m.Format, Format)
	}

	// Files: exactly the listed ones, with their hashes.
	files := map[string][]byte{}
	listed := map[string]bool{ManifestFile: true, ManifestSigFile: true}
	for _, fh := range m.Files {
		if listed[fh.Path] {
			bad("%s: %s listed twice", ManifestFile, fh.Path)
			continue
		}
		listed[fh.Path] = true
		data, err := readFile(fsys, fh.Path)
		if err != nil {
			bad("%s: missing (%v)", fh.Path, err)
			continue
		}
		h := sha256.Sum256(data)
		if hex.EncodeToString(h[:]) != fh.SHA256 || int64(len(data)) != fh.Size {
			bad("%s: altered (SHA-256 or size differs from the manifest)", fh.Path)
			continue
		}
		files[fh.Path] = data
	}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !listed[p] {
			bad("%s: not in the manifest (added file)", p)
		}
		return nil
	})
	if err != nil {
		bad("listing the bundle: %v", err)
	}
	for _, need := range []string{MessagesFile, TranscriptFile, PolicyFile, WarrantFile, AuthorizationFile} {
		if _, ok := files[need]; !ok && !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, need+":") }) {
			bad("%s: missing from the manifest", need)
		}
	}
	if len(problems) > 0 && files[PolicyFile] == nil {
		return fail()
	}

	// Authorization.
	a := &Authorization{}
	if a.Policy, err = policy.ParseSigned(files[PolicyFile]); err != nil {
		bad("%s: %v", PolicyFile, err)
		return fail()
	}
	if a.Warrant, err = warrant.ParseSigned(files[WarrantFile]); err != nil {
		bad("%s: %v", WarrantFile, err)
		return fail()
	}
	// The manifest must be signed by the authority the court named.
	if wp, err := warrant.Parse(a.Warrant.Body); err == nil {
		authKey := wp.AuthoritySigningKey
		if opts.AuthorityKey != nil && !bytes.Equal(opts.AuthorityKey, authKey) {
			bad("%s: names authority %q with another signing key than the one given to the verifier", WarrantFile, wp.Authority)
		}
		if !bytes.Equal(m.AuthorityKey, authKey) {
			bad("%s: authority_key is not the key of the authority the warrant names", ManifestFile)
		}
		sigHex, err := readFile(fsys, ManifestSigFile)
		sig, herr := hex.DecodeString(strings.TrimSuffix(string(sigHex), "\n"))
		switch {
		case err != nil:
			bad("%s: %v", ManifestSigFile, err)
		case herr != nil || !ed25519.Verify(authKey, manifestSigMessage(mb), sig):
			bad("%s: not a valid signature of the manifest by the authority's key", ManifestSigFile)
		}
	}
	var af authorizationFile
	if err := strictJSON(files[AuthorizationFile], &af); err != nil {
		bad("%s: %v", AuthorizationFile, err)
		return fail()
	}
	salt, err := hex.DecodeString(af.Salt)
	if err != nil || len(salt) != 32 {
		bad("%s: salt", AuthorizationFile)
		return fail()
	}
	copy(a.Salt[:], salt)
	a.Checkpoint, a.Entries = []byte(af.Checkpoint), af.Entries
	for _, fh := range m.Files {
		if strings.HasPrefix(fh.Path, recordsDir) && files[fh.Path] != nil {
			a.Records = append(a.Records, files[fh.Path])
		}
	}
	ctx, aproblems := checkAuthorization(a)
	problems = append(problems, aproblems...)
	if ctx == nil {
		return fail()
	}
	for _, r := range a.Records {
		id := recordIDHex(r)
		if files[recordsDir+id+".bin"] == nil {
			bad("%s%s.bin: record stored under another name", recordsDir, id)
		}
	}
	w := ctx.w
	if m.PolicyID != hex.EncodeToString(ctx.pol.ID[:]) || m.WarrantCommitment != hex.EncodeToString(ctx.commitment[:]) ||
		m.Court != w.Court || m.Jurisdiction != w.Jurisdiction || m.CaseNumber != w.CaseNumber ||
		!slices.Equal(m.Targets, w.Targets) || m.WindowStart != w.WindowStart || m.WindowEnd != w.WindowEnd {
		bad("%s: case fields differ from the warrant", ManifestFile)
	}

	// Messages.
	msgs, mproblems := parseMessages(files[MessagesFile])
	problems = append(problems, mproblems...)
	if len(msgs) != m.Messages {
		bad("%s: %d messages, the manifest says %d", MessagesFile, len(msgs), m.Messages)
	}
	problems = append(problems, checkMessages(ctx, msgs, opts.KeyDirectory)...)
	if html, err := renderTranscript(ctx, msgs); err != nil || !bytes.Equal(html, files[TranscriptFile]) {
		bad("%s: does not match %s (the transcript was altered or lists other messages)", TranscriptFile, MessagesFile)
	}
	if len(problems) > 0 {
		return fail()
	}
	groups := map[string]bool{}
	for _, msg := range msgs {
		groups[string(msg.GroupID)] = true
	}
	rep := &Report{Manifest: m, Messages: len(msgs), Groups: len(groups)}
	if opts.KeyDirectory == nil {
		rep.Warnings = append(rep.Warnings, "signer keys were not checked against the key directory: sender names rest on the authority's word (MLS signatures were checked against the keys in the bundle)")
	}
	rep.Warnings = append(rep.Warnings, "message times are the delivery server's acceptance times; epochs were scoped by the trustees from member-signed commit times")
	return rep, nil
}

func recordIDHex(r []byte) string {
	id := escrow.RecordID(r)
	return hex.EncodeToString(id[:])
}

func parseMessages(data []byte) ([]Message, []string) {
	var msgs []Message
	var problems []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	line := 0
	var last uint64
	for sc.Scan() {
		line++
		var m Message
		if err := strictJSON(sc.Bytes(), &m); err != nil {
			problems = append(problems, fmt.Sprintf("%s line %d: %v", MessagesFile, line, err))
			continue
		}
		if m.Time < last {
			problems = append(problems, fmt.Sprintf("%s line %d: not in time order", MessagesFile, line))
		}
		last = m.Time
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", MessagesFile, err))
	}
	return msgs, problems
}

// checkMessages checks messages in parallel and reports problems by line.
func checkMessages(ctx *caseContext, msgs []Message, keydir func(*Message) error) []string {
	errs := make([]error, len(msgs))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			for i := wk; i < len(msgs); i += workers {
				err := ctx.checkMessage(&msgs[i])
				if err == nil && keydir != nil {
					err = keydir(&msgs[i])
				}
				errs[i] = err
			}
		}(wk)
	}
	wg.Wait()
	var problems []string
	for i, err := range errs {
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s message %d (group %x epoch %d, sender %s): %v", MessagesFile, i+1, msgs[i].GroupID, msgs[i].Epoch, msgs[i].Sender, err))
		}
	}
	return problems
}

// VerifyPath verifies a bundle stored as a directory or as a zip file.
func VerifyPath(path string, opts Options) (*Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return Verify(os.DirFS(path), opts)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("evidence: %s is neither a directory nor a zip file: %w", path, err)
	}
	defer zr.Close()
	return Verify(zr, opts)
}
