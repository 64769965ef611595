// Package node is the composition root of a ChatterBox node. It owns the
// data directory (and its lock), opens the Badger store, loads the node key,
// starts the libp2p host and discovery, the identity service and the HTTP
// gateway — in that order — and stops them in reverse.
//
// A zero Config runs a node with the documented defaults; New starts
// nothing; Start starts everything or nothing; Close runs once.
package node
