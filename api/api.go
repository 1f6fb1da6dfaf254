// Package api holds the wire types of the daylightd server protocol, shared by
// server/ (the HTTP and WebSocket adapter) and client/transport (the Go client).
//
// Control requests and responses are JSON (application/json), decoded strictly
// by Decode: unknown fields, trailing data and oversized bodies are errors.
// Single MLS messages travel as raw bytes with the media type message/mls
// (RFC 9420, Section 17.10); where MLS bytes sit inside JSON (a queue page, a
// batch of KeyPackages) they are standard base64 ([]byte fields of encoding/json).
//
// The package is pure: no I/O besides the io.Reader it decodes, no net/http.
// docs/api.md lists every route with its request and response.
package api

// Media types.
const (
	MediaJSON   = "application/json"
	MediaMLS    = "message/mls" // RFC 9420, Section 17.10
	MediaBinary = "application/octet-stream"
	MediaText   = "text/plain; version=0.0.4; charset=utf-8" // Prometheus exposition
)

// Routes (Go 1.22 ServeMux patterns). {username}, {device}, {group}, {blob}
// are path parameters; a group id is base64url without padding.
const (
	RouteRegister        = "POST /v1/accounts"
	RouteLink            = "POST /v1/accounts/{username}/devices"
	RouteDevices         = "GET /v1/accounts/{username}/devices"
	RouteRevoke          = "DELETE /v1/devices/{device}"
	RouteChallenge       = "POST /v1/auth/challenge"
	RouteToken           = "POST /v1/auth/token"
	RouteUploadKP        = "POST /v1/keypackages"
	RouteCountKP         = "GET /v1/keypackages/count"
	RouteClaimUserKP     = "POST /v1/accounts/{username}/keypackages/claim"
	RouteClaimDeviceKP   = "POST /v1/devices/{device}/keypackage/claim"
	RouteCreateGroup     = "POST /v1/groups"
	RouteGroup           = "GET /v1/groups/{group}"
	RouteSend            = "POST /v1/messages"
	RouteFetch           = "GET /v1/messages"
	RouteAck             = "POST /v1/ack"
	RouteWebSocket       = "GET /v1/ws"
	RouteUploadBlob      = "POST /v1/blobs"
	RouteBlob            = "GET /v1/blobs/{blob}"
	RouteBlobHead        = "HEAD /v1/blobs/{blob}"
	RouteHealth          = "GET /healthz"
	RouteMetrics         = "GET /metrics"
	PathLog              = "/log/"    // mount point of the access log tiles (accesslog/tlog)
	PathKeyDir           = "/keydir/" // mount point of the key directory (keydir)
	HeaderBlobSHA256     = "Daylight-Blob-Sha256"
	QueryAfter           = "after"
	QueryLimit           = "limit"
	QueryWait            = "wait" // long-poll: seconds to wait for a non-empty page (max MaxWaitSeconds)
	MaxWaitSeconds       = 60
	WebSocketSubprotocol = "daylight.v1"
)
