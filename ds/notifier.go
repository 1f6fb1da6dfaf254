package ds

import (
	"context"
	"sync"
)

// Notifier wakes the push channels of devices when their queue grows. It is a
// hint only: the durable queue is the truth, and a woken device fetches after
// its cursor. For one process use LocalNotifier; with several replicas over
// PostgreSQL, store/postgres provides one over LISTEN/NOTIFY.
type Notifier interface {
	// Notify wakes every subscriber of the devices, on every replica.
	Notify(ctx context.Context, devices []DeviceID) error
	// Subscribe returns a channel that receives a value when the device is
	// woken (wake-ups coalesce: the buffer holds one) and a cancel function
	// that must be called to release it.
	Subscribe(device DeviceID) (<-chan struct{}, func())
}

// LocalNotifier is an in-process Notifier. The zero value is not usable; call
// NewLocalNotifier.
type LocalNotifier struct {
	mu   sync.Mutex
	subs map[DeviceID]map[chan struct{}]struct{}
}

// NewLocalNotifier returns an empty in-process notifier.
func NewLocalNotifier() *LocalNotifier {
	return &LocalNotifier{subs: make(map[DeviceID]map[chan struct{}]struct{})}
}

// Notify implements Notifier; it never blocks and never fails.
func (n *LocalNotifier) Notify(_ context.Context, devices []DeviceID) error {
	n.Wake(devices)
	return nil
}

// Wake wakes local subscribers of the devices (used by cross-replica
// notifiers when a remote wake-up arrives).
func (n *LocalNotifier) Wake(devices []DeviceID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range devices {
		for ch := range n.subs[d] {
			select {
			case ch <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}
}

// Subscribe implements Notifier.
func (n *LocalNotifier) Subscribe(device DeviceID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	m := n.subs[device]
	if m == nil {
		m = make(map[chan struct{}]struct{})
		n.subs[device] = m
	}
	m[ch] = struct{}{}
	n.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			n.mu.Lock()
			delete(n.subs[device], ch)
			if len(n.subs[device]) == 0 {
				delete(n.subs, device)
			}
			n.mu.Unlock()
		})
	}
}

// Subscribers returns the number of devices with at least one subscriber.
func (n *LocalNotifier) Subscribers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs)
}

// WakeAll wakes every local subscriber (after a cross-replica notifier
// reconnects and may have missed wake-ups).
func (n *LocalNotifier) WakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.subs {
		for ch := range m {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}
