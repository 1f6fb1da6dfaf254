// Package ds is the delivery service domain of daylightd: accounts and devices,
// signed-challenge authentication, the KeyPackage directory, groups with one
// accepted commit per epoch, per-group ordering, fan-out to per-device queues,
// acknowledgements, retention, attachment metadata and wake-up notifications.
//
// ds does no I/O of its own. It declares the storage it needs (Store) and the
// view of the MLS engine it needs (GroupValidator); store/sqlite and
// store/postgres implement the first, an adapter over mls/group's PublicGroup the
// second. The HTTP/WebSocket adapter (server/) calls Service methods and maps the
// sentinel errors of this package to status codes.
//
// Durability: every Service method that accepts data returns only after the data
// is durable in the Store (Send returns after the batch holding the message has
// committed).
//
// Queues are logical: an accepted group message is written once, to the group's
// log, and each member device's queue is the union of the group logs over the
// device's membership ranges plus the device's direct messages (Welcome). A
// device's position in its queue is a cursor: the service-wide id of the last
// message it has seen, which grows in commit order. See docs/storage.md.
package ds
