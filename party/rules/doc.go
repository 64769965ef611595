// Package rules is what a party is and what may happen to it, as pure
// code: the replicated State and the owner-signed Ops that change it
// (applied by State.Next), Messages and the one judge of them
// (JudgeMessage), Invites, typing notices, the one signed Envelope all of
// them travel in, the limits, and the error codes. It keeps nothing, runs
// no goroutine and touches no network: every node applies the same rules
// to the same bytes, and tests feed it plain values (see partytest).
package rules
