package transport_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// Example registers two devices, puts them in a group and delivers one
// message over the WebSocket push channel. The MLS bytes here use ds/dstest's
// toy framing; a real client passes its MLS engine's messages instead.
func Example() {
	ctx := context.Background()
	// An in-process daylightd: SQLite in a temporary directory.
	dir, _ := os.MkdirTemp("", "daylight-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "d.db")})
	defer st.Close()
	svc, _ := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	defer svc.Close()
	srv, _ := server.New(server.Config{Service: svc})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	register := func(name string) (*transport.Client, dstest.Signer) {
		c, _ := transport.New(transport.Config{BaseURL: ts.URL})
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		d, err := c.Register(ctx, name, "laptop", key)
		if err != nil {
			panic(err)
		}
		return c, dstest.Signer{Username: name, Device: ds.DeviceID(d.ID), Key: key}
	}
	alice, aliceKey := register("alice")
	bob, bobKey := register("bob")

	gid := []byte("example-group")
	alice.CreateGroup(ctx, dstest.GroupInfo(gid, aliceKey))
	alice.Send(ctx, dstest.Commit(gid, 0, aliceKey, []dstest.FakeMember{bobKey.Member()}))

	conn, err := bob.Dial(ctx, 0) // push everything after cursor 0
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	msg := dstest.Application(gid, 1, []byte("hello bob"))
	rc, _ := alice.Send(ctx, msg)
	fmt.Println("accepted with seq", rc.Seq)

	page := <-conn.Pages()
	for _, d := range page.Deliveries {
		fmt.Println(d.Kind, d.Seq, bytes.Equal(d.Data, msg))
	}
	conn.Ack(ctx, page.Cursor)

	_, err = alice.Send(ctx, msg)
	fmt.Println("resend:", api.HasCode(err, api.CodeReplay))
	// Output:
	// accepted with seq 2
	// application 2 true
	// resend: true
}
