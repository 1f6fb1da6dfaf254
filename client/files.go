package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/daylight-im/daylight/client/transport"
)

// Attachments: the file is sealed with a fresh random XChaCha20-Poly1305 key
// (blob = nonce || ciphertext), uploaded as an opaque blob, and the key, the
// blob id and the plaintext's SHA-256 travel in an MLS application message,
// so the server stores only ciphertext and learns no key.

// MaxFileBytes bounds attachments held in memory while sealing.
const MaxFileBytes = 100 << 20

// Progress reports transfer progress (bytes done, total).
type Progress = transport.Progress

// SendFile encrypts and uploads r (size bytes, named name) and sends its
// reference to the group.
func (c *Client) SendFile(ctx context.Context, ref, name string, r io.Reader, size int64, progress Progress) (Message, error) {
	if size > MaxFileBytes {
		return Message{}, fmt.Errorf("client: %s is %d bytes; the limit is %d", name, size, MaxFileBytes)
	}
	plain := make([]byte, size)
	if _, err := io.ReadFull(r, plain); err != nil {
		return Message{}, fmt.Errorf("client: reading %s: %w", name, err)
	}
	key := make([]byte, chacha20poly1305.KeySize)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(c.cfg.Rand, key); err != nil {
		return Message{}, err
	}
	if _, err := io.ReadFull(c.cfg.Rand, nonce); err != nil {
		return Message{}, err
	}
	aead, _ := chacha20poly1305.NewX(key)
	sum := sha256.Sum256(plain)
	blob := aead.Seal(nonce, nonce, plain, []byte("daylight attachment v1"))

	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return Message{}, err
	}
	b, err := c.tr.UploadBlob(ctx, bytes.NewReader(blob), int64(len(blob)), progress)
	if err != nil {
		return Message{}, err
	}
	f := &FileRef{Name: name, Size: size, Blob: b.ID, Key: key, SHA256: sum[:]}
	return c.sendPayload(ctx, gs, payload{T: "file", File: f}, true)
}

// ErrFileIntegrity reports an attachment whose content does not match the
// hash its sender put in the message.
var ErrFileIntegrity = errors.New("client: attachment does not match its hash (tampered or truncated)")

// GetFile downloads, decrypts and checks the attachment of message id in the
// group and writes it to w. It returns the file reference.
func (c *Client) GetFile(ctx context.Context, ref string, id int, w io.Writer, progress Progress) (FileRef, error) {
	c.mu.Lock()
	if err := c.ready(); err != nil {
		c.mu.Unlock()
		return FileRef{}, err
	}
	gs, err := c.resolveGroup(ref)
	if err != nil {
		c.mu.Unlock()
		return FileRef{}, err
	}
	var f *FileRef
	for _, m := range gs.History {
		if m.ID == id && m.File != nil {
			f = m.File
		}
	}
	c.mu.Unlock()
	if f == nil {
		return FileRef{}, fmt.Errorf("%w: %d", ErrUnknownMessage, id)
	}
	var buf bytes.Buffer
	if _, err := c.tr.DownloadBlob(ctx, f.Blob, 0, &buf, progress); err != nil {
		return FileRef{}, err
	}
	blob := buf.Bytes()
	if len(blob) < chacha20poly1305.NonceSizeX {
		return FileRef{}, ErrFileIntegrity
	}
	aead, err := chacha20poly1305.NewX(f.Key)
	if err != nil {
		return FileRef{}, err
	}
	plain, err := aead.Open(nil, blob[:chacha20poly1305.NonceSizeX], blob[chacha20poly1305.NonceSizeX:], []byte("daylight attachment v1"))
	if err != nil {
		return FileRef{}, ErrFileIntegrity
	}
	sum := sha256.Sum256(plain)
	if subtle.ConstantTimeCompare(sum[:], f.SHA256) != 1 || int64(len(plain)) != f.Size {
		return FileRef{}, ErrFileIntegrity
	}
	if _, err := w.Write(plain); err != nil {
		return FileRef{}, err
	}
	return *f, nil
}
