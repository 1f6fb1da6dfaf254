package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

const usage = `daylight: end-to-end encrypted messaging (MLS)

usage: daylight [global flags] <command> [flags] [arguments]
       daylight [global flags]            (no command: interactive mode)

global flags (also from the environment):
  --home DIR      profile directory, one per device      ($DAYLIGHT_HOME, default ~/.daylight)
  --server URL    daylightd base URL                      ($DAYLIGHT_SERVER; remembered after register)
  --ca FILE       PEM certificate to trust (daylightd's dev certificate: DATA/tls-dev-cert.pem) ($DAYLIGHT_CA;
                  remembered by register and link request)
  --key-file FILE key file sealing the local store        (default HOME/store.key; created at register)
  --keydir-trust FILE  pins of the provider's key directory and access log, given out of band
                  (docs/client.md); without it the client pins what the server publishes on
                  first contact and shows its fingerprint   ($DAYLIGHT_KEYDIR_TRUST; remembered)
                  set $DAYLIGHT_PASSPHRASE to seal with a passphrase instead
                  set $DAYLIGHT_ESCROW_POLICY to a signed access policy file to escrow every epoch under it
  --json          machine-readable output (one JSON value per command)

commands:
  register USER [--device NAME]          create an account with this device
  link request [--device NAME]           (new device) print a link code
  link approve CODE                      (existing device) print the approval for a link code
  link finish USER APPROVAL              (new device) enrol with the approval
  whoami                                 this device
  devices [USER]                         list devices (yours by default)
  devices revoke ID                      revoke one of your devices
  monitor                                check your account's key-directory history since the last check
  trust show | trust reset               the pinned key directory (fingerprint, witnesses) | drop the pins
  contacts add USER                      pin USER's devices; show the safety number
  contacts list                          contacts, with device changes since pinning
  contacts verify [--accept] USER        mark USER verified (--accept re-pins the current devices)
  group create NAME [USER...]            create a group with your devices and USERs' devices
  group add GROUP USER...                add every device of USERs
  group remove GROUP USER...             remove every device of USERs
  group leave GROUP                      leave (the next member to sync commits it)
  group rename GROUP NAME                rename for everyone
  group list | group show GROUP          groups and members
  send GROUP TEXT...                     send a text message
  send-file GROUP PATH                   encrypt and send a file (progress bar on a terminal)
  sync                                   fetch and process new messages (alias: recv)
  recv [--wait DURATION]                 like sync, long-polling up to DURATION for news
  history GROUP [--after ID]             messages of a group
  get-file [-o PATH] GROUP ID            download, decrypt and verify an attachment
  report GROUP ID --reason R [--context N] [--comment TEXT]
                                         report a received message (and N earlier ones) to the provider
  block USER | unblock USER | blocked    hide USER's messages on this device (the provider is not told)
  status                                 your account's standing: moderators' warnings, suspension
  opening-key                            this account's key for warrant opening notices (created on first use)
  notices --log-key VKEY [--witness VKEY]... [--log URL] [--threshold N]
                                         warrants opened on this account, from the access log

GROUP is a group's name or id (a prefix of at least 4 hex digits is enough).
Flags of a command come before its arguments.
`

type env struct {
	home, server, ca, keyFile, trust string
	json                             bool
	stdin                            io.Reader
	stdout, stderr                   io.Writer
	c                                *client.Client
}

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("daylight", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	home := os.Getenv("DAYLIGHT_HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(h, ".daylight")
		}
	}
	fs.StringVar(&e.home, "home", home, "")
	fs.StringVar(&e.server, "server", os.Getenv("DAYLIGHT_SERVER"), "")
	fs.StringVar(&e.ca, "ca", os.Getenv("DAYLIGHT_CA"), "")
	fs.StringVar(&e.keyFile, "key-file", "", "")
	fs.StringVar(&e.trust, "keydir-trust", os.Getenv("DAYLIGHT_KEYDIR_TRUST"), "")
	fs.BoolVar(&e.json, "json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return nil
		}
		return usageErr("%s", err.Error())
	}
	defer func() {
		if e.c != nil {
			e.c.Close()
		}
	}()
	if fs.NArg() == 0 {
		return e.interactive(ctx)
	}
	err := e.dispatch(ctx, fs.Args())
	e.pinNotice(stderr)
	if err != nil && e.json {
		out := map[string]string{"error": err.Error()}
		if h := hint(err); h != "" {
			out["hint"] = h
		}
		var ae *api.Error
		if errors.As(err, &ae) {
			out["code"] = string(ae.Code)
		}
		e.emit(out, nil)
	}
	return err
}

type usageError string

func (u usageError) Error() string { return string(u) }
func usageErr(f string, a ...any) error {
	return usageError(fmt.Sprintf(f, a...))
}

// hint suggests a fix for common errors.
func hint(err error) string {
	var ue usageError
	var ae *api.Error
	var oe *net.OpError
	var ce x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ue):
		return "run `daylight help` for the commands and their arguments"
	case errors.Is(err, client.ErrKeyDirPinChanged), errors.Is(err, kdclient.ErrCheckpoint), errors.Is(err, kdclient.ErrUnverifiable):
		return keyDirHint(err)
	case errors.Is(err, client.ErrNoKeyDirTrust):
		return "get the key-directory trust file from your provider's published keys"
	case strings.HasSuffix(err.Error(), "key-directory alerts on your account"):
		return "if you did not add these devices, revoke them (`daylight devices revoke ID`) and tell your contacts"
	case errors.Is(err, client.ErrSuspended):
		return "a moderator of this provider suspended your account; contact the provider to appeal"
	case errors.Is(err, client.ErrBlocked):
		return "you blocked this user; `daylight unblock USER` first, or leave them out"
	case errors.Is(err, client.ErrGroupPolicy):
		return "`daylight group show GROUP` names the group's access policy; leave the group, or run with DAYLIGHT_ESCROW_POLICY set to that policy if you accept it"
	case errors.Is(err, client.ErrNotReportable):
		return "only messages received from others can be reported; see `daylight history GROUP` for ids"
	case errors.Is(err, localstore.ErrWrongKey):
		return "check $DAYLIGHT_PASSPHRASE or --key-file"
	case errors.Is(err, localstore.ErrLocked):
		return "another daylight is running on this --home; close it or use another --home"
	case errors.As(err, &ce) || strings.Contains(err.Error(), "certificate signed by unknown authority"):
		return "trust the server's certificate with --ca FILE (daylightd's dev certificate is DATA/tls-dev-cert.pem)"
	case errors.As(err, &ae):
		switch ae.Code {
		case api.CodeUsernameTaken:
			return "choose another username, or link this device to the account with `daylight link request`"
		case api.CodeUnauthenticated, api.CodeRevoked:
			return "this device may have been revoked, or the server's database was reset; register a new profile with another --home"
		case api.CodeNoKeyPackage:
			return "the user's devices have no KeyPackages left; they should run `daylight sync` once"
		case api.CodeNotFound:
			return "check the username or id"
		case api.CodeRateLimited:
			return "slow down and retry in a few seconds"
		}
	case errors.As(err, &oe):
		return "is daylightd running at that address? set --server URL (or $DAYLIGHT_SERVER)"
	}
	return ""
}

// emit prints v as JSON with --json, or text(w) otherwise.
func (e *env) emit(v any, text func(w io.Writer)) {
	if e.json || text == nil {
		b, _ := json.Marshal(v)
		fmt.Fprintf(e.stdout, "%s\n", b)
		return
	}
	text(e.stdout)
}

func (e *env) open(create bool) (*client.Client, error) {
	if e.c != nil {
		return e.c, nil
	}
	if e.home == "" {
		return nil, usageErr("no profile directory: pass --home DIR")
	}
	var key localstore.Key
	if p := os.Getenv("DAYLIGHT_PASSPHRASE"); p != "" {
		key.Passphrase = []byte(p)
	} else {
		kf := e.keyFile
		if kf == "" {
			kf = filepath.Join(e.home, "store.key")
		}
		k, err := localstore.ReadKeyFile(kf)
		if errors.Is(err, os.ErrNotExist) {
			if !create {
				return nil, fmt.Errorf("no daylight profile in %s (hint: `daylight --home %s register USER`, or pass --key-file)", e.home, e.home)
			}
			if err := os.MkdirAll(filepath.Dir(kf), 0o700); err != nil {
				return nil, err
			}
			k, err = localstore.NewKeyFile(kf)
		}
		if err != nil {
			return nil, err
		}
		key.Raw = k
	}
	cfg := client.Config{Home: e.home, Key: key, ServerURL: e.server}
	esc, err := escrowPolicy() // escrowflag.go
	if err != nil {
		return nil, err
	}
	cfg.Escrow = esc
	// The --ca certificate is remembered in the profile (HOME/ca.pem, public
	// data) so later commands need no flag.
	saved := filepath.Join(e.home, "ca.pem")
	var pem []byte
	if e.ca != "" {
		var err error
		if pem, err = os.ReadFile(e.ca); err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		if create {
			if err := os.MkdirAll(e.home, 0o700); err != nil {
				return nil, err
			}
			if err := localstore.WriteFileAtomic(saved, pem, 0o600); err != nil {
				return nil, err
			}
		}
	} else if b, err := os.ReadFile(saved); err == nil {
		pem = b
	}
	if pem != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", e.ca)
		}
		cfg.TLS = &tls.Config{RootCAs: pool}
	}
	savedTrust := filepath.Join(e.home, "keydir-trust")
	var trust []byte
	if e.trust != "" {
		var err error
		if trust, err = os.ReadFile(e.trust); err != nil {
			return nil, fmt.Errorf("--keydir-trust: %w", err)
		}
		if create {
			if err := os.MkdirAll(e.home, 0o700); err != nil {
				return nil, err
			}
			if err := localstore.WriteFileAtomic(savedTrust, trust, 0o600); err != nil {
				return nil, err
			}
		}
	} else if b, err := os.ReadFile(savedTrust); err == nil {
		trust = b
	}
	if trust != nil {
		kc, err := parseKeyDirTrust(trust)
		if err != nil {
			return nil, err
		}
		cfg.KeyDirTrust = kc
	}
	c, err := client.Open(cfg)
	if err != nil {
		return nil, err
	}
	e.c = c
	return c, nil
}

func (e *env) dispatch(ctx context.Context, args []string) error {
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return nil
	case "register":
		return e.register(ctx, rest)
	case "link":
		return e.link(ctx, rest)
	case "whoami":
		return e.whoami()
	case "devices":
		return e.devices(ctx, rest)
	case "trust":
		return e.trustCmd(rest)
	case "monitor":
		return e.monitor(ctx, rest)
	case "contacts", "contact":
		return e.contacts(ctx, rest)
	case "group", "groups":
		return e.group(ctx, rest)
	case "send":
		return e.send(ctx, rest)
	case "send-file":
		return e.sendFile(ctx, rest)
	case "sync", "recv":
		return e.sync(ctx, rest)
	case "history":
		return e.history(rest)
	case "get-file":
		return e.getFile(ctx, rest)
	case "report":
		return e.report(ctx, rest)
	case "block":
		return e.block(rest) // block.go
	case "unblock":
		return e.unblock(rest)
	case "blocked":
		return e.blocked(rest)
	case "status":
		return e.status(ctx, rest) // standing.go
	case "opening-key":
		return e.openingKey(rest)
	case "notices":
		return e.notices(ctx, rest)
	}
	return usageErr("unknown command %q", cmd)
}

func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&e.json, "json", e.json, "")
	return fs
}

func parse(fs *flag.FlagSet, args []string, min, max int, what string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		return nil, usageErr("%s: %v", fs.Name(), err)
	}
	if fs.NArg() < min || (max >= 0 && fs.NArg() > max) {
		return nil, usageErr("usage: daylight %s %s", fs.Name(), what)
	}
	return fs.Args(), nil
}

func (e *env) register(ctx context.Context, args []string) error {
	fs := e.flags("register")
	dev := fs.String("device", defaultDeviceName(), "")
	a, err := parse(fs, args, 1, 1, "[--device NAME] USER")
	if err != nil {
		return err
	}
	c, err := e.open(true)
	if err != nil {
		return err
	}
	id, err := c.Register(ctx, a[0], *dev)
	if err != nil {
		return err
	}
	e.emit(id, func(w io.Writer) {
		fmt.Fprintf(w, "registered %s, device %d (%s) on %s\n", id.Username, id.DeviceID, id.DeviceName, id.Server)
		fmt.Fprintf(w, "key directory: %s\n", id.KeyDir)
	})
	return nil
}

func defaultDeviceName() string {
	h, err := os.Hostname()
	if err != nil {
		return "device"
	}
	return h
}

func (e *env) link(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: daylight link request|approve|finish ...")
	}
	switch args[0] {
	case "request":
		fs := e.flags("link request")
		dev := fs.String("device", defaultDeviceName(), "")
		if _, err := parse(fs, args[1:], 0, 0, "[--device NAME]"); err != nil {
			return err
		}
		c, err := e.open(true)
		if err != nil {
			return err
		}
		code, err := c.BeginLink(*dev)
		if err != nil {
			return err
		}
		e.emit(map[string]string{"code": code}, func(w io.Writer) {
			fmt.Fprintln(w, code)
			fmt.Fprintln(e.stderr, "run `daylight link approve CODE` on one of your devices, then `daylight link finish USER APPROVAL` here")
		})
		return nil
	case "approve":
		a, err := parse(e.flags("link approve"), args[1:], 1, 1, "CODE")
		if err != nil {
			return err
		}
		c, err := e.open(false)
		if err != nil {
			return err
		}
		ap, err := c.ApproveCode(a[0])
		if err != nil {
			return err
		}
		e.emit(map[string]string{"approval": ap}, func(w io.Writer) { fmt.Fprintln(w, ap) })
		return nil
	case "finish":
		a, err := parse(e.flags("link finish"), args[1:], 2, 2, "USER APPROVAL")
		if err != nil {
			return err
		}
		c, err := e.open(false)
		if err != nil {
			return err
		}
		id, err := c.FinishLink(ctx, a[0], a[1])
		if err != nil {
			return err
		}
		e.emit(id, func(w io.Writer) {
			fmt.Fprintf(w, "linked: %s device %d (%s)\n", id.Username, id.DeviceID, id.DeviceName)
		})
		return nil
	}
	return usageErr("unknown link step %q (request, approve, finish)", args[0])
}

func (e *env) whoami() error {
	c, err := e.open(false)
	if err != nil {
		return err
	}
	id, err := c.Whoami()
	if err != nil {
		return err
	}
	e.emit(id, func(w io.Writer) {
		fmt.Fprintf(w, "%s, device %d (%s) on %s\n", id.Username, id.DeviceID, id.DeviceName, id.Server)
	})
	return nil
}

func (e *env) devices(ctx context.Context, args []string) error {
	c, err := e.open(false)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "revoke" {
		a, err := parse(e.flags("devices revoke"), args[1:], 1, 1, "ID")
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(a[0], 10, 64)
		if err != nil {
			return usageErr("device id %q is not a number", a[0])
		}
		if err := c.RevokeDevice(ctx, api.DeviceID(id)); err != nil {
			return err
		}
		e.emit(map[string]any{"revoked": id}, func(w io.Writer) { fmt.Fprintf(w, "revoked device %d\n", id) })
		return nil
	}
	a, err := parse(e.flags("devices"), args, 0, 1, "[USER]")
	if err != nil {
		return err
	}
	user := ""
	if len(a) == 1 {
		user = a[0]
	}
	ds, err := c.Devices(ctx, user)
	if err != nil {
		return err
	}
	e.emit(ds, func(w io.Writer) {
		for _, d := range ds {
			mark := ""
			if d.This {
				mark = " (this device)"
			}
			if d.Revoked {
				mark += " REVOKED"
			}
			switch d.KeyDir {
			case "UNSIGNED":
				mark += " WARNING: no device of this account added it (key directory): revoke it if you did not link it"
			case "pending":
				mark += " (key directory record pending: publishes at this device's next sync)"
			}
			fmt.Fprintf(w, "%d\t%s\t%x%s\n", d.ID, d.Name, d.SigningKey[:8], mark)
		}
	})
	return nil
}

func (e *env) monitor(ctx context.Context, args []string) error {
	if _, err := parse(e.flags("monitor"), args, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	as, err := c.MonitorAccount(ctx)
	if err != nil {
		return err
	}
	e.emit(map[string]any{"alerts": as}, func(w io.Writer) {
		if len(as) == 0 {
			fmt.Fprintln(w, "key directory: nothing happened to your account that your devices did not do")
		}
		for _, a := range as {
			fmt.Fprintf(w, "ALERT: %s (epoch %d, version %d): %s\n", a.Kind, a.Epoch, a.Version, a.Detail)
		}
	})
	if len(as) > 0 {
		return fmt.Errorf("%d key-directory alerts on your account", len(as))
	}
	return nil
}

func (e *env) contacts(ctx context.Context, args []string) error {
	c, err := e.open(false)
	if err != nil {
		return err
	}
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	var out []client.Contact
	switch sub {
	case "list":
		if _, err := parse(e.flags("contacts list"), args, 0, 0, ""); err != nil {
			return err
		}
		if out, err = c.Contacts(ctx); err != nil {
			return err
		}
		if out == nil {
			out = []client.Contact{}
		}
		e.emit(out, func(w io.Writer) {
			for _, ct := range out {
				printContact(w, ct)
			}
		})
		return nil
	case "add":
		a, err := parse(e.flags("contacts add"), args, 1, 1, "USER")
		if err != nil {
			return err
		}
		ct, err := c.AddContact(ctx, a[0])
		if err != nil {
			return err
		}
		e.emit(ct, func(w io.Writer) { printContact(w, ct) })
		return nil
	case "verify":
		fs := e.flags("contacts verify")
		accept := fs.Bool("accept", false, "")
		a, err := parse(fs, args, 1, 1, "[--accept] USER")
		if err != nil {
			return err
		}
		ct, err := c.VerifyContact(ctx, a[0], *accept)
		if err != nil {
			return err
		}
		e.emit(ct, func(w io.Writer) { printContact(w, ct) })
		return nil
	}
	return usageErr("unknown contacts command %q (add, list, verify)", sub)
}

func printContact(w io.Writer, ct client.Contact) {
	v := "not verified"
	if ct.Verified {
		v = "verified"
	}
	fmt.Fprintf(w, "%s (%d devices, %s)\n  safety number: %s\n", ct.Username, len(ct.Devices), v, ct.SafetyNumber)
	fmt.Fprintf(w, "  key directory: %s", ct.KeyDir.Status)
	if ct.KeyDir.Version > 0 || ct.KeyDir.SafetyNumber != "" {
		fmt.Fprintf(w, ", version %d, account number %s", ct.KeyDir.Version, ct.KeyDir.SafetyNumber)
	}
	fmt.Fprintln(w)
	if len(ct.KeyDir.Unsigned) > 0 {
		fmt.Fprintf(w, "  WARNING: devices %v are listed by the server but signed by none of %s's devices (possible ghost devices)\n", ct.KeyDir.Unsigned, ct.Username)
	}
	if len(ct.New)+len(ct.Changed)+len(ct.Gone) > 0 {
		fmt.Fprintf(w, "  WARNING: devices changed since pinning: new %v, changed keys %v, gone %v\n  compare safety numbers again, then `daylight contacts verify --accept %s`\n", ct.New, ct.Changed, ct.Gone, ct.Username)
	}
}

func printGroup(w io.Writer, g client.GroupInfo) {
	state := ""
	if g.Removed {
		state = " (you were removed)"
	} else if g.Left {
		state = " (you left)"
	}
	var ms []string
	for _, m := range g.Members {
		ms = append(ms, fmt.Sprintf("%s/%d", m.Username, m.Device))
	}
	fmt.Fprintf(w, "%s  %s  epoch %d  members: %s%s\n", g.ID[:8], g.Name, g.Epoch, strings.Join(ms, " "), state)
	warnBlockedMembers(w, g) // block.go
	if g.Policy != "" && !g.PolicyAccepted {
		fmt.Fprintf(w, "  WARNING: this group's access policy is %s, not the one this client accepts: sending is refused (hint: leave the group, or use the policy with DAYLIGHT_ESCROW_POLICY if you accept it)\n", g.Policy)
	}
}

func (e *env) group(ctx context.Context, args []string) error {
	c, err := e.open(false)
	if err != nil {
		return err
	}
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	var g client.GroupInfo
	switch sub {
	case "list":
		if _, err := parse(e.flags("group list"), args, 0, 0, ""); err != nil {
			return err
		}
		gs, err := c.Groups()
		if err != nil {
			return err
		}
		if gs == nil {
			gs = []client.GroupInfo{}
		}
		e.emit(gs, func(w io.Writer) {
			for _, g := range gs {
				printGroup(w, g)
			}
		})
		return nil
	case "show":
		a, err := parse(e.flags("group show"), args, 1, 1, "GROUP")
		if err != nil {
			return err
		}
		if g, err = c.Group(a[0]); err != nil {
			return err
		}
	case "create":
		a, err := parse(e.flags("group create"), args, 1, -1, "NAME [USER...]")
		if err != nil {
			return err
		}
		res, err := c.CreateGroup(ctx, a[0], a[1:])
		if err != nil {
			return err
		}
		e.emit(res, func(w io.Writer) { printGroup(w, res.Group); warnUnpinned(w, res.Unpinned, res.Refused) })
		return nil
	case "add":
		a, err := parse(e.flags("group add"), args, 2, -1, "GROUP USER...")
		if err != nil {
			return err
		}
		res, err := c.Add(ctx, a[0], a[1:])
		if err != nil {
			return err
		}
		e.emit(res, func(w io.Writer) { printGroup(w, res.Group); warnUnpinned(w, res.Unpinned, res.Refused) })
		return nil
	case "remove":
		a, err := parse(e.flags("group remove"), args, 2, -1, "GROUP USER...")
		if err != nil {
			return err
		}
		if g, err = c.Remove(ctx, a[0], a[1:]); err != nil {
			return err
		}
	case "leave":
		a, err := parse(e.flags("group leave"), args, 1, 1, "GROUP")
		if err != nil {
			return err
		}
		if g, err = c.Leave(ctx, a[0]); err != nil {
			return err
		}
	case "rename":
		a, err := parse(e.flags("group rename"), args, 2, 2, "GROUP NAME")
		if err != nil {
			return err
		}
		if g, err = c.Rename(ctx, a[0], a[1]); err != nil {
			return err
		}
	default:
		return usageErr("unknown group command %q (create, add, remove, leave, rename, list, show)", sub)
	}
	e.emit(g, func(w io.Writer) { printGroup(w, g) })
	return nil
}

func warnUnpinned(w io.Writer, ids, refused []api.DeviceID) {
	if len(ids) > 0 {
		fmt.Fprintf(w, "note: added devices %v that are not among the contacts' pinned devices (check `daylight contacts list`)\n", ids)
	}
	if len(refused) > 0 {
		fmt.Fprintf(w, "WARNING: left out devices %v: the pinned key directory does not vouch for them (ghost devices, or not published yet: retry later)\n", refused)
	}
}

func (e *env) send(ctx context.Context, args []string) error {
	a, err := parse(e.flags("send"), args, 2, -1, "GROUP TEXT...")
	if err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	m, err := c.SendText(ctx, a[0], strings.Join(a[1:], " "))
	if err != nil {
		return err
	}
	e.emit(m, func(w io.Writer) { fmt.Fprintf(w, "sent #%d\n", m.ID) })
	return nil
}

func (e *env) sendFile(ctx context.Context, args []string) error {
	a, err := parse(e.flags("send-file"), args, 2, 2, "GROUP PATH")
	if err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	f, err := os.Open(a[1])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	bar := e.progress("upload " + filepath.Base(a[1]))
	m, err := c.SendFile(ctx, a[0], filepath.Base(a[1]), f, st.Size(), bar.update)
	bar.done()
	if err != nil {
		return err
	}
	e.emit(m, func(w io.Writer) { fmt.Fprintf(w, "sent #%d (%s, %d bytes)\n", m.ID, m.File.Name, m.File.Size) })
	return nil
}

func (e *env) getFile(ctx context.Context, args []string) error {
	fs := e.flags("get-file")
	outPath := fs.String("o", "", "")
	a, err := parse(fs, args, 2, 2, "[-o PATH] GROUP ID")
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(a[1])
	if err != nil {
		return usageErr("message id %q is not a number", a[1])
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	bar := e.progress("download")
	var buf strings.Builder
	f, err := c.GetFile(ctx, a[0], id, &buf, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	path := *outPath
	if path == "" {
		path = filepath.Base(f.Name)
	}
	if err := localstore.WriteFileAtomic(path, []byte(buf.String()), 0o600); err != nil {
		return err
	}
	e.emit(map[string]any{"path": path, "name": f.Name, "size": f.Size, "sha256": fmt.Sprintf("%x", f.SHA256)}, func(w io.Writer) {
		fmt.Fprintf(w, "saved %s (%d bytes, SHA-256 verified)\n", path, f.Size)
	})
	return nil
}

func (e *env) sync(ctx context.Context, args []string) error {
	fs := e.flags("sync")
	wait := fs.Duration("wait", 0, "")
	if _, err := parse(fs, args, 0, 0, "[--wait DURATION]"); err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	var ms []client.Message
	dropped := blockedDropped(c) // block.go
	if *wait > 0 {
		ms, err = c.Wait(ctx, *wait)
	} else {
		ms, err = c.Sync(ctx)
	}
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []client.Message{}
	}
	e.emit(ms, func(w io.Writer) {
		names := map[string]string{}
		for _, m := range ms {
			if _, ok := names[m.Group]; !ok {
				g, _ := c.Group(m.Group)
				names[m.Group] = g.Name
			}
			printMessage(w, names[m.Group], m)
		}
	})
	if !e.json {
		if n := blockedDropped(c) - dropped; n > 0 {
			fmt.Fprintf(e.stderr, "(%d message(s) from blocked users not shown; `daylight blocked`)\n", n)
		}
		noteStanding(ctx, e.stderr, c) // standing.go: new warnings, suspension
	}
	return nil
}

func printMessage(w io.Writer, group string, m client.Message) {
	from := m.From
	if m.FromDevice != 0 {
		from = fmt.Sprintf("%s/%d", m.From, m.FromDevice)
	}
	ts := m.Time.Local().Format("15:04")
	switch m.Kind {
	case "text":
		fmt.Fprintf(w, "[%s] #%d %s %s: %s\n", group, m.ID, ts, from, m.Text)
	case "file":
		fmt.Fprintf(w, "[%s] #%d %s %s sent a file: %s (%d bytes; `daylight get-file %s %d`)\n", group, m.ID, ts, from, m.File.Name, m.File.Size, m.Group[:8], m.ID)
	default:
		if from == "" {
			from = "(a member)"
		}
		fmt.Fprintf(w, "[%s] #%d %s * %s %s\n", group, m.ID, ts, from, m.Text)
	}
}

func (e *env) history(args []string) error {
	fs := e.flags("history")
	after := fs.Int("after", 0, "")
	a, err := parse(fs, args, 1, 1, "[--after ID] GROUP")
	if err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	ms, err := c.History(a[0], *after)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []client.Message{}
	}
	g, _ := c.Group(a[0])
	e.emit(ms, func(w io.Writer) {
		for _, m := range ms {
			printMessage(w, g.Name, m)
		}
	})
	return nil
}

// progressBar draws on stderr when it is a terminal and --json is off.
type progressBar struct {
	e     *env
	label string
	on    bool
	last  time.Time
	drawn bool
}

func (e *env) progress(label string) *progressBar {
	p := &progressBar{e: e, label: label}
	if f, ok := e.stderr.(*os.File); ok && !e.json {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progressBar) update(done, total int64) {
	if !p.on || total <= 0 {
		return
	}
	if time.Since(p.last) < 50*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	const width = 30
	n := int(done * width / total)
	fmt.Fprintf(p.e.stderr, "\r%s [%s%s] %3d%% %s/%s", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		done*100/total, size(done), size(total))
	p.drawn = true
}

func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprintln(p.e.stderr)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// interactive is the line-based mode: every command of the CLI is typed at
// the prompt (without "daylight"), and new messages are printed as they
// arrive (pushed over WebSocket, long-poll fallback: client.Listen).
func (e *env) interactive(ctx context.Context) error {
	c, err := e.open(false)
	if err != nil {
		return err
	}
	id, err := c.Whoami()
	if err != nil {
		return err
	}
	e.json = false
	fmt.Fprintf(e.stdout, "daylight interactive: %s, device %d. Type a command (help, send GROUP TEXT, history GROUP, ...), /quit to leave.\n", id.Username, id.DeviceID)
	noteStanding(ctx, e.stdout, c) // standing.go: new warnings, suspension
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		err := c.Listen(rctx, func(ms []client.Message) {
			for _, m := range ms {
				g, _ := c.Group(m.Group)
				printMessage(e.stdout, g.Name, m)
			}
		}, func(state string, err error) {
			if err != nil && rctx.Err() == nil {
				fmt.Fprintf(e.stderr, "(%s: %v)\n", state, err)
			}
		})
		if err != nil && rctx.Err() == nil {
			fmt.Fprintln(e.stderr, "receive stopped:", err)
		}
	}()
	sc := bufio.NewScanner(e.stdin)
	for {
		fmt.Fprint(e.stdout, "> ")
		if !sc.Scan() {
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line == "/quit" || line == "quit" || line == "exit" {
			return nil
		}
		args, err := splitLine(line)
		if err == nil {
			err = e.dispatch(ctx, args)
		}
		if err != nil {
			fmt.Fprintln(e.stdout, "error:", err)
			if h := hint(err); h != "" {
				fmt.Fprintln(e.stdout, "hint:", h)
			}
		}
	}
}

// splitLine splits a command line on spaces, honouring double quotes.
func splitLine(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, have = !inQ, true
		case r == ' ' && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQ {
		return nil, usageErr("unterminated quote")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}
