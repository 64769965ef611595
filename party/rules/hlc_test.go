package rules_test

import (
	"github.com/chatterbox/chatterbox/party/rules"

	"testing"
	"time"
)

// A node whose clock is behind follows a peer's time up to MaxClockDrift,
// so its replies sort after what they answer; a time further ahead does
// not drag it along.
func TestHLCFollowsPeersWithinDrift(t *testing.T) {
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	slow := rules.NewHLC(func() time.Time { return base.Add(-5 * time.Minute) })
	peer := uint64(base.UnixMilli()) << 16
	slow.Observe(peer)
	if reply := slow.Now(); reply <= peer {
		t.Fatalf("a reply from a clock 5 minutes behind sorts before the message it answers: %d <= %d", reply, peer)
	}
	liar := uint64(base.Add(time.Hour).UnixMilli()) << 16
	slow.Observe(liar)
	if next := slow.Now(); next >= liar || rules.HLCTime(next).After(base.Add(rules.MaxClockDrift)) {
		t.Fatalf("a time an hour ahead dragged the clock to %v", rules.HLCTime(next))
	}
}
