// Package gossip is the node's network layer: the libp2p host (TCP and
// QUIC), local peer discovery over mDNS, and — as parties arrive — one
// GossipSub topic per party with its validators and the join and sync
// stream protocols.
//
// It declares what it needs from the party domain as interfaces and never
// imports the party or gateway packages.
package gossip
