package party

import (
	"crypto/hpke"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party/partytest"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"

	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// stubNet is a network with no peers: these benchmarks measure storage.
type stubNet struct{}

func (stubNet) SelfPeer() string    { return "peer-self" }
func (stubNet) SelfAddrs() []string { return nil }
func (stubNet) Request(context.Context, string, []string, []byte) ([]byte, error) {
	return nil, errors.New("no network")
}
func (stubNet) Publish(context.Context, string, []byte) error { return nil }
func (stubNet) JoinTopic(string) error                        { return nil }
func (stubNet) LeaveTopic(string) error                       { return nil }
func (stubNet) Connected(string) bool                         { return false }
func (stubNet) PeersChanged()                                 {}
func (stubNet) MembersChanged(string)                         {}
func (stubNet) Relayed(string) bool                           { return false }
func (stubNet) ObservedAddrs(string) []string                 { return nil }

type oneKey struct{ key ed25519.PrivateKey }

func (k oneKey) MemberKey(string) (ed25519.PrivateKey, bool) { return k.key, true }

func (k oneKey) EncKey(string) (hpke.PrivateKey, bool) {
	enc, err := identity.EncKey(k.key, 0)
	return enc, err == nil
}

func (k oneKey) EncKeys(id string) []hpke.PrivateKey {
	enc, _ := k.EncKey(id)
	return []hpke.PrivateKey{enc}
}

// benchService is a party service on a real Badger (synced writes, as in a
// node) with one party owned by the returned actor.
func benchService(b *testing.B, dir string) (*Service, Actor, string, string) {
	b.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).
		WithMemTableSize(16 << 20).WithNumMemtables(2).WithBlockCacheSize(32 << 20).WithValueLogFileSize(64 << 20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	a := Actor{AccountID: "acct", Name: "Bench", Key: partytest.NewKey(b)}
	s, err := New(Config{DB: db, Keys: oneKey{a.Key}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background(), stubNet{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	v, err := s.Parties().Create(context.Background(), a, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	return s, a, v.ID, v.Topics[0].ID
}

// BenchmarkDurableWrites posts messages that are synced to disk before
// Post returns: one writer (one fsync per message) against 64 concurrent
// writers, whose commits Badger groups into shared fsyncs.
func BenchmarkDurableWrites(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, a, p, topic := benchService(b, b.TempDir())
			// Distinct authors: one feed lock each, as many users would be.
			actors := make([]Actor, writers)
			for i := range actors {
				actors[i] = a
				if i > 0 {
					actors[i] = joinBenchMember(b, s, a, p, i)
				}
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < b.N; i += writers {
						if _, err := s.Chat().Post(context.Background(), actors[w], p, topic, "durable", ""); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// joinBenchMember admits a new local member (seat i) through the owner's
// sequencing, with a raised member limit so 64 writers fit.
func joinBenchMember(b *testing.B, s *Service, owner Actor, p string, i int) Actor {
	b.Helper()
	a := Actor{AccountID: fmt.Sprintf("acct%d", i), Name: "w", Key: partytest.NewKey(b)}
	err := s.c.store.Update(func(t *store.Txn) error {
		st, err := t.State(p)
		if err != nil {
			return err
		}
		st = st.Clone()
		st.Members[a.MemberID()] = &rules.Member{ID: a.MemberID(), Name: "w", Peer: "peer-self", Seat: i}
		// A holder of the current epoch, as a member it was sealed to is.
		st.KeyFrom[a.MemberID()], st.Holders[a.MemberID()] = st.Epoch, true
		if err := t.PutState(st); err != nil {
			return err
		}
		return t.PutMembership(store.Membership{Party: p, Account: a.AccountID, Member: a.MemberID(), Status: store.StatusMember})
	})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkHistoryPage reads pages of 50 from a topic holding 1,000,000
// messages: the newest page, and a page 900,000 messages deep.
func BenchmarkHistoryPage(b *testing.B) {
	const total = 1_000_000
	s, a, p, topic := benchService(b, b.TempDir())
	base := uint64(time.Now().Add(-24*time.Hour).UnixMilli()) << 16
	var deepCursor string
	const perTxn = 5000
	for start := 0; start < total; start += perTxn {
		err := s.c.store.Update(func(t *store.Txn) error {
			msgs := t.Messages(p)
			for i := start; i < start+perTxn; i++ {
				hlc := base + uint64(i)
				msg := rules.Message{Party: p, Topic: topic, Author: a.MemberID(), Node: "peer-self", Seq: uint64(i + 1), HLC: hlc, Kind: rules.MsgPost, Body: fmt.Sprintf("message %d", i)}
				sm := rules.SignedMessage{Payload: fmt.Appendf(nil, "message %d", i)}
				if _, err := msgs.Put(sm, msg); err != nil {
					return err
				}
				if i == total-900_000 {
					deepCursor = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%016x/%s", hlc, sm.ID()))
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, cursor string }{{"newest", ""}, {"deep", deepCursor}} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				t0 := time.Now()
				msgs, _, err := s.Chat().Messages(a, p, topic, c.cursor, 50)
				lat = append(lat, time.Since(t0))
				if err != nil || len(msgs) != 50 {
					b.Fatalf("page: %d messages, %v", len(msgs), err)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
