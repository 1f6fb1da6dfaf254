package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/daylight-im/daylight/server"
)

// loadLogWriters reads --log-writers (server.ParseLogWriters format:
// "<hex SHA-256 of the token> <role>" per line). It is read once at start.
func loadLogWriters(o *options) (server.LogWriters, error) {
	f, err := os.Open(o.logWriters)
	if err != nil {
		return nil, fmt.Errorf("--log-writers: %w", err)
	}
	defer f.Close()
	w, err := server.ParseLogWriters(f)
	if err != nil {
		return nil, fmt.Errorf("--log-writers %s: %w", o.logWriters, err)
	}
	return w, nil
}

// logWriter implements `daylightd log-writer --log-writers FILE ROLE`: it
// generates a bearer token for ROLE (authority or trustee:<id>), appends
// its hash and the role to FILE (created with mode 0600) and prints the
// token, which is stored nowhere else. Restart daylightd to load the file.
func logWriter(o *options, args []string, stdout io.Writer) error {
	if o.logWriters == "" || len(args) != 1 {
		return errors.New("usage: daylightd log-writer --log-writers FILE authority|trustee:<id>")
	}
	role, err := server.ParseRole(args[0])
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.logWriters); err == nil {
		if _, err := loadLogWriters(o); err != nil {
			return err // never append to a file daylightd would refuse
		}
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	h := server.TokenHash(token)
	f, err := os.OpenFile(o.logWriters, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s\n", hex.EncodeToString(h[:]), role)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--log-writers %s: %w", o.logWriters, err)
	}
	fmt.Fprintln(stdout, strings.TrimSpace(token))
	return nil
}
