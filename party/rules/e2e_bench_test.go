package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
)

// BenchmarkMessageCrypto is what encryption adds per message: the author
// encrypts once, each receiving node decrypts once (a 200-character body).
func BenchmarkMessageCrypto(b *testing.B) {
	secret := rules.NewEpochSecret()
	msg := rules.Message{Party: strings.Repeat("p", 64), Topic: "topic-id-xxxxxxxx", Author: strings.Repeat("a", 52), Node: strings.Repeat("n", 52),
		Seq: 7, HLC: uint64(time.Now().UnixMilli()) << 16, Kind: rules.MsgPost, Body: strings.Repeat("word ", 40)}
	b.Run("encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := rules.EncryptMessage(msg, 3, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	sealed, _ := rules.EncryptMessage(msg, 3, secret)
	b.Run("decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := rules.DecryptMessage(sealed, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRotation is one new epoch of a party of ten: on the owner's
// node a fresh secret sealed to ten members and linked to the previous
// one; on each member's node the op judged and its seal opened.
func BenchmarkRotation(b *testing.B) {
	p := partytest.NewEncryptedParty(b, rules.Limits{Members: 10, Topics: 1})
	for i := range 9 {
		p.Admit("m", "peer-"+string(rune('a'+i)))
	}
	op := rules.Op{Party: p.State.ID, Seq: p.State.Seq + 1, Prev: p.State.Head, Time: time.Now().UnixMilli(), Kind: rules.KindEpoch, Body: []byte(`{}`)}
	b.Run("seal for 10 (owner)", func(b *testing.B) {
		for b.Loop() {
			members, _ := p.State.Sealing(op)
			secret := rules.NewEpochSecret()
			k, err := rules.SealTo(p.State.ID, p.State.Epoch+1, members, secret)
			if err != nil {
				b.Fatal(err)
			}
			if k.Prev, err = rules.LinkEpoch(p.State.ID, k.Epoch, secret, p.Secrets[p.State.Epoch]); err != nil {
				b.Fatal(err)
			}
		}
	})
	op.Keys = p.Keys(op)
	sop := p.SignOp(op)
	me := p.State.Owner
	b.Run("judge and open (each member)", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := p.State.Next(sop); err != nil {
				b.Fatal(err)
			}
			if _, err := rules.OpenEpoch(p.Enc[me], p.State.ID, op.Keys.Epoch, me, op.Keys.Seals[me]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(sop.Payload)), "op-bytes")
	})
}
