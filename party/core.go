package party

import (
	"sync"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// lock takes the mutex of key and returns its unlock. Keys: a party id
// (sequencing and applying its ops), "acct:"+account (its memberships),
// "feed:"+party+"/"+member (one post at a time per feed).
func (c *core) lock(key string) func() {
	v, _ := c.locks.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func randomID() string { return rules.NewID() }

func (c *core) membership(account, party string) (store.Membership, error) {
	return store.Read(c.store, func(t *store.Txn) (store.Membership, error) { return t.Membership(account, party) })
}

func (c *core) memberships(account string) ([]store.Membership, error) {
	return store.Read(c.store, func(t *store.Txn) ([]store.Membership, error) { return t.Memberships(account) })
}

// partyCount is how many parties account is in or waits to join (an
// undone admission and a direct conversation do not count).
func (c *core) partyCount(account string) (int, error) {
	ms, err := c.memberships(account)
	n := 0
	for _, m := range ms {
		if m.Status != store.StatusUndone && !m.Direct { // direct conversations are not parties
			n++
		}
	}
	return n, err
}

// requireMember checks the actor is an active member of party.
func (c *core) requireMember(a Actor, party string) error {
	m, err := c.membership(a.AccountID, party)
	if err != nil {
		return err
	}
	if m.Status != store.StatusMember {
		return rules.ErrNotFound
	}
	return nil
}

// memberState returns the party's state if the actor is an active member.
func (c *core) memberState(a Actor, party string) (*rules.State, error) {
	if err := c.requireMember(a, party); err != nil {
		return nil, err
	}
	return c.store.State(party)
}

// eachLocalMember calls fn for every member of every party a local account
// is in.
func (c *core) eachLocalMember(fn func(st *rules.State, m *rules.Member)) {
	for _, st := range (&ledger{c}).Held() {
		for _, m := range st.Members {
			fn(st, m)
		}
	}
}
