package api

import "time"

// DeviceID names a device (the server's ds.DeviceID).
type DeviceID int64

// Device describes one device of an account.
type Device struct {
	ID         DeviceID   `json:"id"`
	Username   string     `json:"username"`
	Name       string     `json:"name"`
	SigningKey []byte     `json:"signing_key"` // Ed25519 public key
	Created    time.Time  `json:"created"`
	Revoked    *time.Time `json:"revoked,omitempty"`
}

// RegisterRequest registers a username with its first device (RouteRegister).
// Signature is by SigningKey over ds.RegisterStatement(username, device_name, key).
type RegisterRequest struct {
	Username   string `json:"username"`
	DeviceName string `json:"device_name"`
	SigningKey []byte `json:"signing_key"`
	Signature  []byte `json:"signature"`
}

// LinkRequest adds a device to an account (RouteLink); sent by the new device.
// Approval is by the approver's key over ds.LinkStatement; Signature by the new
// key over ds.RegisterStatement.
type LinkRequest struct {
	Approver   DeviceID `json:"approver"`
	DeviceName string   `json:"device_name"`
	SigningKey []byte   `json:"signing_key"`
	Approval   []byte   `json:"approval"`
	Signature  []byte   `json:"signature"`
}

// DeviceResponse answers RouteRegister and RouteLink.
type DeviceResponse struct {
	Device Device `json:"device"`
}

// DevicesResponse answers RouteDevices.
type DevicesResponse struct {
	Devices []Device `json:"devices"`
}

// ChallengeRequest asks for a nonce to sign (RouteChallenge).
type ChallengeRequest struct {
	Device DeviceID `json:"device"`
}

// ChallengeResponse carries the nonce; sign ds.AuthStatement(device, nonce).
type ChallengeResponse struct {
	Device  DeviceID  `json:"device"`
	Nonce   []byte    `json:"nonce"`
	Expires time.Time `json:"expires"`
}

// TokenRequest answers a challenge (RouteToken).
type TokenRequest struct {
	Device    DeviceID `json:"device"`
	Nonce     []byte   `json:"nonce"`
	Signature []byte   `json:"signature"`
}

// TokenResponse carries a bearer token: send it as "Authorization: Bearer <token>".
type TokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// UploadKeyPackagesRequest uploads MLSMessage-encoded KeyPackages (RouteUploadKP).
type UploadKeyPackagesRequest struct {
	KeyPackages [][]byte `json:"key_packages"`
}

// CountResponse answers RouteCountKP.
type CountResponse struct {
	Count int `json:"count"`
}

// KeyPackage is a claimed KeyPackage.
type KeyPackage struct {
	Device     DeviceID `json:"device"`
	Ref        []byte   `json:"ref"`
	Data       []byte   `json:"data"` // MLSMessage(KeyPackage)
	LastResort bool     `json:"last_resort,omitempty"`
}

// ClaimResponse answers RouteClaimUserKP (one per device) and RouteClaimDeviceKP (one).
type ClaimResponse struct {
	KeyPackages []KeyPackage `json:"key_packages"`
}

// Group is what a member may read about a group (RouteCreateGroup, RouteGroup).
type Group struct {
	ID      []byte     `json:"id"`
	Epoch   uint64     `json:"epoch"`
	Members []DeviceID `json:"members"`
	LastSeq uint64     `json:"last_seq"`
	State   []byte     `json:"state,omitempty"` // the validator's public state, opaque
}

// SendRequest is the JSON form of RouteSend, used when a Welcome accompanies a
// commit that adds members (a single message is sent as a message/mls body).
type SendRequest struct {
	Message []byte `json:"message"`
	Welcome []byte `json:"welcome,omitempty"`
}

// Receipt tells the sender its message is durable.
type Receipt struct {
	Cursor uint64 `json:"cursor"`
	Seq    uint64 `json:"seq"`
	Epoch  uint64 `json:"epoch"`
}

// Message kinds of a Delivery.
const (
	KindApplication = "application"
	KindProposal    = "proposal"
	KindCommit      = "commit"
	KindWelcome     = "welcome"
)

// Delivery is one entry of a device's queue.
type Delivery struct {
	Cursor   uint64    `json:"cursor"`
	GroupID  []byte    `json:"group_id,omitempty"`
	Seq      uint64    `json:"seq"`
	Epoch    uint64    `json:"epoch"`
	Kind     string    `json:"kind"`
	Sender   DeviceID  `json:"sender,omitempty"`
	Data     []byte    `json:"data"` // MLS bytes
	Received time.Time `json:"received"`
	// Stamp is the provider's franking stamp of an application message
	// (franking.ParseStamp); keep it with the message to report abuse.
	Stamp []byte `json:"stamp,omitempty"`
}

// Page is one read of a device's queue (RouteFetch; WebSocket "deliveries").
// Ack Cursor once every delivery is processed.
type Page struct {
	Deliveries []Delivery `json:"deliveries"`
	Cursor     uint64     `json:"cursor"`
}

// AckRequest acknowledges the queue up to Cursor, inclusive (RouteAck).
type AckRequest struct {
	Cursor uint64 `json:"cursor"`
}

// Blob describes an uploaded attachment (RouteUploadBlob).
type Blob struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	SHA256 []byte `json:"sha256"` // of the stored (encrypted) bytes
}

// Health answers RouteHealth.
type Health struct {
	Status string `json:"status"` // "ok" or "unavailable"
}
