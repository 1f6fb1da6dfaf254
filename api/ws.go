package api

// WebSocket protocol (RouteWebSocket, subprotocol WebSocketSubprotocol): JSON
// text frames, each a Frame. The client authenticates with the Authorization
// header, or, where it cannot set headers (browsers), with a first frame
// {"type":"auth","token":...}. Query parameter "after" is the cursor to resume
// from (the last acked cursor).
//
// server -> client: "deliveries" (Page), "receipt" / "error" (answers to
// "send", matched by ID), "ready" (after authentication).
// client -> server: "auth", "send" (Send), "ack" (Cursor).
//
// Acks are explicit: the server pushes every entry after the resume cursor
// and keeps pushing as the queue grows; nothing is deleted until acked.

// Frame types.
const (
	FrameAuth       = "auth"
	FrameReady      = "ready"
	FrameDeliveries = "deliveries"
	FrameSend       = "send"
	FrameReceipt    = "receipt"
	FrameAck        = "ack"
	FrameError      = "error"
)

// Frame is one WebSocket message. Fields unused by a type are omitted.
type Frame struct {
	Type    string       `json:"type"`
	ID      uint64       `json:"id,omitempty"`      // send / receipt / error correlation
	Token   string       `json:"token,omitempty"`   // auth
	Send    *SendRequest `json:"send,omitempty"`    // send
	Receipt *Receipt     `json:"receipt,omitempty"` // receipt
	Page    *Page        `json:"page,omitempty"`    // deliveries
	Cursor  uint64       `json:"cursor,omitempty"`  // ack
	Error   *ErrorBody   `json:"error,omitempty"`   // error
	Device  DeviceID     `json:"device,omitempty"`  // ready
}
