// Package party runs the parties of one node: the use cases the gateway
// calls (create, invite, join, leave, post, history), the durable log that
// applies the rules to what arrives, the topic validators GossipSub calls,
// and the events clients hear about.
//
// It is built from four parts, each in its own package:
//
//   - rules: what a party is and what may happen to it (State, Op,
//     Message, Invite, the judges, the limits, the error codes) — pure
//     code, no storage, no goroutines, no network;
//   - store: where parties are kept in Badger, with the key layout;
//   - replica: the request protocol between nodes (join, leave, op and
//     message sync) and its sync and retry loops;
//   - partytest: fixture builders of party logs for tests.
//
// The owner's node sequences every op, one request per party at a time,
// and stores it durably before it answers or publishes. Other nodes apply
// ops strictly in sequence. The package knows nothing of libp2p or HTTP:
// it declares the Network it needs and handles requests and gossip as
// bytes.
package party
