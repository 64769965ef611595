// Package identity owns who is who on a node: the node's libp2p key, the
// local accounts (argon2id password hashes, per-account Ed25519 member keys),
// and sessions (short-lived JWT access tokens plus rotating, hashed refresh
// tokens, revocable at once).
//
// It stores everything in the node's Badger database under the "id/" key
// prefix and knows nothing of parties, gossip or HTTP.
package identity
