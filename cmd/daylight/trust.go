package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

// parseKeyDirTrust reads a key-directory trust file (--keydir-trust): what
// the client pins about the provider's key directory and the access log
// whose witnessed checkpoints anchor it, in kdclient.Trust's text form (the
// same text daylightd publishes at /keydir/v1/trust):
//
//	origin <access log checkpoint origin>
//	log-vkey <signed-note verifier key of the access log>
//	witness <cosignature verifier key>        (repeated)
//	threshold <witness cosignatures required> (default: all witnesses)
//	directory-key <hex Ed25519 key signing epoch heads>
//	vrf-key <hex vrf-r255 public key>
//
// Blank lines and lines starting with # are ignored; unknown keys are errors.
func parseKeyDirTrust(data []byte) (*kdclient.Config, error) {
	t, err := kdclient.ParseTrust(data)
	if err != nil {
		return nil, fmt.Errorf("keydir trust: %w", err)
	}
	return t.Config()
}

// savedTrustFile is where --keydir-trust is remembered in the profile.
func (e *env) savedTrustFile() string { return filepath.Join(e.home, "keydir-trust") }

// trustCmd: `trust show` prints the pins in use (out-of-band file, or what
// was pinned on first contact); `trust reset` drops them, so the next use
// pins what the server publishes then (after the user compared its new
// fingerprint with the provider's, out of band).
func (e *env) trustCmd(args []string) error {
	if len(args) != 1 || args[0] != "show" && args[0] != "reset" {
		return usageErr("usage: daylight trust show | daylight trust reset")
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	if args[0] == "show" {
		info, err := c.KeyDirTrust()
		if err != nil {
			return err
		}
		if info.Source == "file" {
			if info, err = e.fileTrust(); err != nil {
				return err
			}
		}
		e.emit(info, func(w io.Writer) { printTrust(w, info) })
		return nil
	}
	var dropped []client.TrustInfo
	if e.trust == "" {
		if ft, err := e.fileTrust(); err == nil {
			if err := os.Remove(e.savedTrustFile()); err != nil {
				return err
			}
			dropped = append(dropped, ft)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	pinned, err := c.ResetKeyDirTrust()
	if err != nil {
		return err
	}
	if pinned.Fingerprint != "" {
		dropped = append(dropped, pinned)
	}
	e.emit(map[string]any{"dropped": dropped}, func(w io.Writer) {
		if len(dropped) == 0 {
			fmt.Fprintln(w, "nothing was pinned")
		}
		for _, d := range dropped {
			fmt.Fprintf(w, "dropped the pins (%s): %s\n", d.Source, d.Summary())
		}
		if e.trust != "" {
			fmt.Fprintln(w, "--keydir-trust is given: it still pins the key directory for this command")
		} else {
			fmt.Fprintln(w, "the next key-directory use pins what the server publishes then, and shows its fingerprint")
		}
	})
	return nil
}

// fileTrust describes the out-of-band trust file in use.
func (e *env) fileTrust() (client.TrustInfo, error) {
	path := e.trust
	if path == "" {
		path = e.savedTrustFile()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return client.TrustInfo{}, err
	}
	t, err := kdclient.ParseTrust(b)
	if err != nil {
		return client.TrustInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	info := client.DescribeTrust(t)
	info.Source = "file"
	return info, nil
}

func printTrust(w io.Writer, i client.TrustInfo) {
	if i.Fingerprint == "" {
		fmt.Fprintln(w, "no key directory pinned (the next key-directory use pins what the server publishes)")
		return
	}
	src := i.Source
	if !i.PinnedAt.IsZero() {
		src += fmt.Sprintf(" on %s from %s", i.PinnedAt.Format("2006-01-02 15:04 MST"), i.Server)
	}
	fmt.Fprintf(w, "key directory %s (%s)\n", i.Fingerprint, src)
	fmt.Fprintf(w, "  log        %s\n  log key    %s\n", i.Origin, i.LogKey)
	for _, k := range i.Witnesses {
		fmt.Fprintf(w, "  witness    %s\n", k)
	}
	if i.Unwitnessed {
		fmt.Fprintln(w, "  threshold  0: WARNING: no witnesses; the log key alone vouches for checkpoints")
	} else {
		fmt.Fprintf(w, "  threshold  %d of %d witness cosignatures\n", i.Threshold, len(i.Witnesses))
	}
	fmt.Fprintf(w, "  directory  %s\n  vrf        %s\n", i.DirectoryKey, i.VRFKey)
}

// pinNotice shows the user what the client pinned on first contact.
func (e *env) pinNotice(stderr io.Writer) {
	if e.c == nil {
		return
	}
	if n := e.c.KeyDirNotice(); n != "" {
		fmt.Fprintln(stderr, "daylight: "+n)
	}
}

func keyDirHint(err error) string {
	switch {
	case errors.Is(err, client.ErrKeyDirPinChanged):
		return "the server now publishes other key-directory keys than the ones this profile pinned; compare the new fingerprint with your provider's announcement (out of band) before `daylight trust reset`"
	case errors.Is(err, kdclient.ErrCheckpoint):
		return "the server's checkpoint lacks the cosignatures of the pinned witnesses (a split view, or a witness outage): retry later; `daylight trust show` lists the pins"
	case strings.Contains(err.Error(), "pinned"):
		return "`daylight trust show` lists the pins the answer was checked against"
	}
	return "the key directory's answer does not verify: nothing from it was used"
}
