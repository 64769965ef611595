// Package party is the domain of ChatterBox groups: each party's
// single-writer, hash-chained log of ops signed by the owner's member key;
// applying ops in order with validation of signature, chain, limits and
// seats on every node; fork detection; signed invite tokens; join and leave
// requests; and the Badger storage of all of it.
//
// The owner's node sequences every op, one request per party at a time, and
// stores it durably before it answers or publishes. Other nodes apply ops
// strictly in sequence. The package knows nothing of libp2p or HTTP: it
// declares the Network it needs and handles requests and gossip as bytes.
package party
