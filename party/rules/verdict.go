package rules

// Verdict is the judgement of a gossiped message, mapped by the network
// layer onto GossipSub's Accept / Reject / Ignore.
type Verdict int

// Verdicts.
const (
	Accept Verdict = iota // valid and new: deliver and forward
	Reject                // forged, malformed or invalid: drop and penalise the sender
	Ignore                // duplicate or not judgeable yet: drop quietly
)
