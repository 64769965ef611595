package rules_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Reactions merge the same way whatever order their adds and removes
// arrive in: per (emoji, member), the greatest (HLC, id) wins.
func TestReactionsMergeInAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	members := []string{"ann", "bob", "cat"}
	emojis := []string{"👍", "🎉", "❤️"}
	for run := range 200 {
		type op struct {
			msg rules.Message
			id  string
		}
		var ops []op
		clock := map[string]uint64{}
		for i := range 30 {
			m := members[rng.IntN(len(members))]
			clock[m] += uint64(1 + rng.IntN(3)) // each author's feed moves forward
			kind := rules.MsgReact
			if rng.IntN(2) == 0 {
				kind = rules.MsgUnreact
			}
			ops = append(ops, op{rules.Message{Author: m, Kind: kind, Body: emojis[rng.IntN(len(emojis))], HLC: clock[m]}, fmt.Sprintf("%03d", i)})
		}
		var want string
		for k := range 5 {
			var sm rules.StoredMessage
			for _, i := range rng.Perm(len(ops)) {
				sm.React(ops[i].msg, ops[i].id)
			}
			// The judge of the result is independent of React: each
			// (emoji, member) is on iff its last op in its author's own
			// order (HLC) was a react.
			for _, e := range emojis {
				for _, m := range members {
					var last *op
					for i := range ops {
						if ops[i].msg.Author == m && ops[i].msg.Body == e && (last == nil || ops[i].msg.HLC > last.msg.HLC) {
							last = &ops[i]
						}
					}
					on := sm.Reactions[e][m].On
					if last == nil && on || last != nil && on != (last.msg.Kind == rules.MsgReact) {
						t.Fatalf("run %d order %d: %s %s is %v, want the last op's", run, k, m, e, on)
					}
				}
			}
			got, _ := json.Marshal(sm.Reactions)
			if k == 0 {
				want = string(got)
			} else if string(got) != want {
				t.Fatalf("run %d: order %d gives %s, the first gave %s", run, k, got, want)
			}
		}
	}
}

func TestEmojiAreOneEmoji(t *testing.T) {
	for _, ok := range []string{"👍", "🎉", "❤️", "👍🏽", "🇫🇷", "1️⃣", "👨‍👩‍👧"} {
		if err := rules.CheckEmoji(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "ok", "<script>", "hi 👍", "👍 ", "1", "\u202e👍", "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍"} {
		if rules.CheckEmoji(bad) == nil {
			t.Errorf("%q accepted as a reaction", bad)
		}
	}
}
