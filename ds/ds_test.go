package ds_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
)

func TestIdentity(t *testing.T) {
	id := ds.Identity("alice", 42)
	if string(id) != "daylight:alice/42" {
		t.Fatalf("Identity = %q", id)
	}
	u, d, err := ds.ParseIdentity(id)
	if err != nil || u != "alice" || d != 42 {
		t.Fatalf("ParseIdentity = %q, %d, %v", u, d, err)
	}
	for _, bad := range []string{"", "alice/42", "daylight:alice", "daylight:alice/", "daylight:alice/042", "daylight:alice/-1",
		"daylight:alice/0", "daylight:Alice/1", "daylight:al/ice/1", "daylight:alice/1 ", "daylight:/1", "daylight:alice/99999999999999999999"} {
		if _, _, err := ds.ParseIdentity([]byte(bad)); !errors.Is(err, ds.ErrInvalidMessage) {
			t.Errorf("ParseIdentity(%q) = %v, want ErrInvalidMessage", bad, err)
		}
	}
}

// FuzzParseIdentity: whatever parses re-encodes to the same bytes.
func FuzzParseIdentity(f *testing.F) {
	f.Add([]byte("daylight:alice/42"))
	f.Add([]byte("daylight:a.b-c_d/9223372036854775807"))
	f.Add([]byte("daylight:alice/042"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, d, err := ds.ParseIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(ds.Identity(u, d), b) {
			t.Fatalf("ParseIdentity(%q) = %q, %d; re-encodes to %q", b, u, d, ds.Identity(u, d))
		}
	})
}

func TestValidUsername(t *testing.T) {
	for _, ok := range []string{"a", "alice", "bob.smith", "x_1-2", "0day", "abcdefghijklmnopqrstuvwxyz012345"} {
		if err := ds.ValidUsername(ok); err != nil {
			t.Errorf("ValidUsername(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Alice", ".alice", "-a", "al ice", "al/ice", "ålice", "abcdefghijklmnopqrstuvwxyz0123456"} {
		if err := ds.ValidUsername(bad); !errors.Is(err, ds.ErrInvalidInput) {
			t.Errorf("ValidUsername(%q) = %v, want ErrInvalidInput", bad, err)
		}
	}
}

// TestStatementsUnambiguous: signed statements of different kinds, or with
// fields split differently, never coincide (a signature for one is never a
// signature for another).
func TestStatementsUnambiguous(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	all := [][]byte{
		ds.RegisterStatement("ab", "c", key),
		ds.RegisterStatement("a", "bc", key),
		ds.LinkStatement("ab", 1, "c", key),
		ds.LinkStatement("ab", 2, "c", key),
		ds.AuthStatement(1, []byte("nonce")),
		ds.AuthStatement(2, []byte("nonce")),
	}
	for i := range all {
		for j := range all {
			if i != j && bytes.Equal(all[i], all[j]) {
				t.Errorf("statements %d and %d coincide", i, j)
			}
		}
	}
}

func TestLocalNotifier(t *testing.T) {
	n := ds.NewLocalNotifier()
	a, cancelA := n.Subscribe(1)
	a2, cancelA2 := n.Subscribe(1)
	b, cancelB := n.Subscribe(2)
	defer cancelB()
	n.Wake([]ds.DeviceID{1, 1, 3})
	n.Wake([]ds.DeviceID{1}) // coalesces: the buffer holds one wake-up
	for _, ch := range []<-chan struct{}{a, a2} {
		select {
		case <-ch:
		default:
			t.Fatal("subscriber of device 1 not woken")
		}
		select {
		case <-ch:
			t.Fatal("wake-ups did not coalesce")
		default:
		}
	}
	select {
	case <-b:
		t.Fatal("device 2 woken by device 1's wake-up")
	default:
	}
	cancelA()
	cancelA() // idempotent
	cancelA2()
	if n.Subscribers() != 1 {
		t.Fatalf("Subscribers = %d after cancel, want 1", n.Subscribers())
	}
	n.WakeAll()
	select {
	case <-b:
	case <-time.After(time.Second):
		t.Fatal("WakeAll missed device 2")
	}
}

func TestNewRequiresStoreAndValidator(t *testing.T) {
	if _, err := ds.New(ds.Config{}); err == nil {
		t.Fatal("New without Store and Validator succeeded")
	}
}
