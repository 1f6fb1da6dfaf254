package ds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// UploadKeyPackages verifies and stores a batch of the principal's own
// KeyPackages (MLSMessage-encoded). Each must verify (ErrBadSignature or
// ErrInvalidMessage from the validator), carry the device's credential identity
// (Identity) and its registered signature key (ErrForbidden otherwise), and not
// be expired. Nothing is stored unless every KeyPackage passes. A KeyPackage
// with the last_resort extension replaces the device's previous one.
func (s *Service) UploadKeyPackages(ctx context.Context, p Principal, kps [][]byte) error {
	if len(kps) == 0 || len(kps) > s.cfg.MaxKeyPackageUpload {
		return fmt.Errorf("ds: upload 1 to %d KeyPackages, got %d: %w", s.cfg.MaxKeyPackageUpload, len(kps), ErrInvalidInput)
	}
	d, err := s.activeDevice(ctx, p)
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]KeyPackage, 0, len(kps))
	lastResort := 0
	for i, raw := range kps {
		if len(raw) > s.cfg.MaxMessageBytes {
			return fmt.Errorf("ds: KeyPackage %d: %w", i, ErrTooLarge)
		}
		info, err := s.val.VerifyKeyPackage(raw)
		if err != nil {
			return fmt.Errorf("ds: KeyPackage %d: %w", i, err)
		}
		user, dev, err := ParseIdentity(info.Identity)
		if err != nil {
			return fmt.Errorf("ds: KeyPackage %d: %w", i, err)
		}
		if user != p.Username || dev != p.Device {
			return fmt.Errorf("ds: KeyPackage %d: credential names another device: %w", i, ErrForbidden)
		}
		if !bytes.Equal(info.SignatureKey, d.SigningKey) {
			return fmt.Errorf("ds: KeyPackage %d: signature key is not the device's registered key: %w", i, ErrForbidden)
		}
		exp := time.Unix(int64(min(info.NotAfter, 1<<62)), 0)
		if !exp.After(now) {
			return fmt.Errorf("ds: KeyPackage %d: expired: %w", i, ErrInvalidInput)
		}
		if len(info.Ref) == 0 {
			return fmt.Errorf("ds: KeyPackage %d: empty ref: %w", i, ErrInvalidMessage)
		}
		if info.LastResort {
			lastResort++
		}
		out = append(out, KeyPackage{Ref: info.Ref, Device: p.Device, Data: raw, Expires: exp, LastResort: info.LastResort})
	}
	if lastResort > 1 {
		return fmt.Errorf("ds: at most one last-resort KeyPackage per upload, got %d: %w", lastResort, ErrInvalidInput)
	}
	return s.store.PutKeyPackages(ctx, out)
}

// ClaimKeyPackages hands out one KeyPackage for each active device of
// username (the requesting device itself excluded), consuming one-time
// KeyPackages. Devices with none are left out; ErrNoKeyPackage if no device
// has one.
func (s *Service) ClaimKeyPackages(ctx context.Context, p Principal, username string) ([]ClaimedKeyPackage, error) {
	devs, err := s.Devices(ctx, username)
	if err != nil {
		return nil, err
	}
	var out []ClaimedKeyPackage
	for _, d := range devs {
		if !d.Active() || d.ID == p.Device {
			continue
		}
		c, err := s.ClaimKeyPackage(ctx, p, d.ID)
		if errors.Is(err, ErrNoKeyPackage) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ds: no KeyPackage for any device of %q: %w", username, ErrNoKeyPackage)
	}
	return out, nil
}

// ClaimKeyPackage hands out one KeyPackage of one device (see
// KeyPackageStore.ClaimKeyPackage for the one-time guarantee).
func (s *Service) ClaimKeyPackage(ctx context.Context, _ Principal, device DeviceID) (ClaimedKeyPackage, error) {
	d, err := s.store.Device(ctx, device)
	if err != nil {
		return ClaimedKeyPackage{}, err
	}
	if !d.Active() {
		return ClaimedKeyPackage{}, fmt.Errorf("ds: device %d: %w", device, ErrRevoked)
	}
	kp, err := s.store.ClaimKeyPackage(ctx, device, s.now())
	if err != nil {
		return ClaimedKeyPackage{}, err
	}
	return ClaimedKeyPackage{Device: device, Ref: kp.Ref, Data: kp.Data, LastResort: kp.LastResort}, nil
}

// KeyPackageCount returns how many unexpired one-time KeyPackages the
// principal's device has left (clients top up below a threshold).
func (s *Service) KeyPackageCount(ctx context.Context, p Principal) (int, error) {
	return s.store.CountKeyPackages(ctx, p.Device, s.now())
}

// activeDevice loads the principal's device and checks it is active and
// belongs to the principal's account.
func (s *Service) activeDevice(ctx context.Context, p Principal) (Device, error) {
	d, err := s.store.Device(ctx, p.Device)
	if errors.Is(err, ErrNotFound) {
		return Device{}, fmt.Errorf("ds: device %d: %w", p.Device, ErrUnauthenticated)
	}
	if err != nil {
		return Device{}, err
	}
	if d.Username != p.Username {
		return Device{}, fmt.Errorf("ds: device %d is not %q's: %w", p.Device, p.Username, ErrUnauthenticated)
	}
	if !d.Active() {
		return Device{}, fmt.Errorf("ds: device %d: %w", p.Device, ErrRevoked)
	}
	return d, nil
}
