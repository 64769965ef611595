package party

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Parties are the use cases of parties, topics, invites and members, on
// behalf of local accounts.
type Parties struct {
	c      *core
	ledger *ledger
}

// Create makes a new party owned by the actor, with a first topic
// "general".
func (p *Parties) Create(ctx context.Context, a Actor, name string) (View, error) {
	c := p.c
	name, err := rules.CheckName(name)
	if err != nil {
		return View{}, err
	}
	if c.net == nil {
		return View{}, errors.New("party: service not started")
	}
	defer c.lock("acct:" + a.AccountID)()
	n, err := c.partyCount(a.AccountID)
	if err != nil {
		return View{}, err
	}
	if n >= rules.MaxPartiesPerUser {
		return View{}, rules.ErrPartyLimit
	}
	enc, ok := c.keys.EncKey(a.MemberID())
	if !ok {
		return View{}, errors.New("party: no encryption key for the account")
	}
	body, _ := json.Marshal(rules.CreateBody{
		Name: name, Owner: a.MemberID(), OwnerName: a.Name, OwnerPeer: c.net.SelfPeer(), Addrs: c.net.SelfAddrs(),
		OwnerEnc: rules.EncPublic(enc),
		Limits:   rules.DefaultLimits, Topic: rules.TopicRef{ID: randomID(), Name: "general"}, Nonce: randomID(),
	})
	sop, err := rules.SignOp(rules.Op{Seq: 1, Time: c.now().UnixMilli(), Kind: rules.KindCreate, Body: body}, a.Key)
	if err != nil {
		return View{}, err
	}
	st, err := rules.Genesis(sop)
	if err != nil {
		return View{}, err
	}
	err = c.store.Update(func(t *store.Txn) error {
		if err := t.PutOp(st.ID, 1, sop); err != nil {
			return err
		}
		if err := t.PutState(st); err != nil {
			return err
		}
		return t.PutMembership(store.Membership{Party: st.ID, PartyName: st.Name, Account: a.AccountID,
			Member: a.MemberID(), Status: store.StatusMember, Since: c.now().UnixMilli()})
	})
	if err != nil {
		return View{}, err
	}
	if err := c.net.JoinTopic(st.ID); err != nil {
		c.lg.Warn("join party topic", "party", st.ID, "err", err)
	}
	// Epoch 1 (the rekey loop starts it later if this fails).
	if next, err := p.ledger.Sequence(ctx, st.ID, rules.KindEpoch, func(*rules.State) (any, error) { return struct{}{}, nil }); err == nil {
		st = next
	} else {
		c.lg.Warn("start the first epoch", "party", st.ID, "err", err)
		c.wakeRekey()
	}
	c.lg.Info("party created", "party", st.ID, "name", st.Name)
	return c.view(st, a.MemberID()), nil
}

// ownerOp sequences an op the actor, who must own the party, asks for.
func (p *Parties) ownerOp(ctx context.Context, a Actor, party, kind string, build func(*rules.State) (any, error)) (View, error) {
	if _, err := p.ownedState(a, party); err != nil {
		return View{}, err
	}
	st, err := p.ledger.Sequence(ctx, party, kind, build)
	if err != nil {
		return View{}, err
	}
	if st.Deleted {
		return View{ID: party, Name: st.Name, Status: "deleted"}, nil
	}
	return p.c.view(st, a.MemberID()), nil
}

// ownedState returns the party's state if the actor is its owner.
func (p *Parties) ownedState(a Actor, party string) (*rules.State, error) {
	st, err := p.c.memberState(a, party)
	if err != nil {
		return nil, err
	}
	if st.Deleted {
		return nil, rules.ErrNotFound
	}
	if st.Direct {
		return nil, rules.ErrDirect
	}
	if st.Owner != a.MemberID() {
		if st.Members[a.MemberID()] == nil {
			return nil, rules.ErrNotMember
		}
		return nil, rules.ErrNotOwner
	}
	return st, nil
}

// Rename renames the party (owner only).
func (p *Parties) Rename(ctx context.Context, a Actor, party, name string) (View, error) {
	name, err := rules.CheckName(name)
	if err != nil {
		return View{}, err
	}
	return p.ownerOp(ctx, a, party, rules.KindRename, func(*rules.State) (any, error) { return rules.NameBody{Name: name}, nil })
}

// Delete deletes the party for everyone (owner only).
func (p *Parties) Delete(ctx context.Context, a Actor, party string) error {
	_, err := p.ownerOp(ctx, a, party, rules.KindDelete, func(*rules.State) (any, error) { return struct{}{}, nil })
	return err
}

// CreateTopic adds a topic (owner or admin).
func (p *Parties) CreateTopic(ctx context.Context, a Actor, party, name string) (*rules.Topic, error) {
	name, err := rules.CheckName(name)
	if err != nil {
		return nil, err
	}
	id := randomID()
	v, err := p.manageOp(ctx, a, party, rules.KindTopicCreate, func(st *rules.State) (any, error) {
		if len(st.Topics) >= st.Limits.Topics {
			return nil, rules.ErrTopicLimit
		}
		return rules.TopicRef{ID: id, Name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	return topicIn(v, id)
}

func topicIn(v View, id string) (*rules.Topic, error) {
	for _, t := range v.Topics {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not in the party after the change", rules.ErrTopicNotFound, id)
}

// RenameTopic renames a topic (owner or admin).
func (p *Parties) RenameTopic(ctx context.Context, a Actor, party, topic, name string) (*rules.Topic, error) {
	name, err := rules.CheckName(name)
	if err != nil {
		return nil, err
	}
	v, err := p.manageOp(ctx, a, party, rules.KindTopicRename, func(st *rules.State) (any, error) {
		if st.Topics[topic] == nil {
			return nil, rules.ErrTopicNotFound
		}
		return rules.TopicRef{ID: topic, Name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	return topicIn(v, topic)
}

// DeleteTopic deletes a topic (owner or admin).
func (p *Parties) DeleteTopic(ctx context.Context, a Actor, party, topic string) error {
	_, err := p.manageOp(ctx, a, party, rules.KindTopicDelete, func(st *rules.State) (any, error) {
		if st.Topics[topic] == nil {
			return nil, rules.ErrTopicNotFound
		}
		return rules.TopicRef{ID: topic}, nil
	})
	return err
}

// Kick removes a member; their node drops the party. The owner may
// remove anyone and bans their key; an admin may remove the members it
// let in (without a ban: only the owner bans).
func (p *Parties) Kick(ctx context.Context, a Actor, party, member string) error {
	_, err := p.manageOp(ctx, a, party, rules.KindMemberKick, func(st *rules.State) (any, error) {
		switch {
		case member == st.Owner:
			return nil, rules.ErrOwnerCannotGo
		case st.Members[member] == nil:
			return nil, rules.ErrMemberNotFound
		case !st.MayRemove(a.MemberID(), member):
			return nil, rules.ErrNotOwner
		case a.MemberID() == st.Owner:
			return st.Removal(member, true), nil
		}
		return rules.MemberBody{Member: member}, nil
	})
	return err
}

// Unban lets a kicked member join again with an invite (owner only).
func (p *Parties) Unban(ctx context.Context, a Actor, party, member string) error {
	_, err := p.ownerOp(ctx, a, party, rules.KindMemberUnban, func(st *rules.State) (any, error) {
		if _, ok := st.Banned[member]; !ok {
			return nil, rules.ErrNotBanned
		}
		return rules.MemberBody{Member: member}, nil
	})
	return err
}

// List returns the actor's parties, pending joins included.
func (p *Parties) List(a Actor) ([]View, error) {
	ms, err := p.c.memberships(a.AccountID)
	if err != nil {
		return nil, err
	}
	out := []View{}
	for _, m := range ms {
		if m.Direct {
			continue // listed by Parties.Directs
		}
		if m.Status != store.StatusMember {
			out = append(out, pendingView(m))
			continue
		}
		if st, err := p.c.store.State(m.Party); err == nil {
			out = append(out, p.c.view(st, m.Member))
		}
	}
	return out, nil
}

// Get returns one party of the actor's.
func (p *Parties) Get(a Actor, party string) (View, error) {
	m, err := p.c.membership(a.AccountID, party)
	if err != nil {
		return View{}, err
	}
	if m.Status != store.StatusMember {
		return pendingView(m), nil
	}
	st, err := p.c.store.State(party)
	if err != nil {
		return View{}, err
	}
	return p.c.view(st, m.Member), nil
}

// IsMember reports whether a local account is an active member of party
// (from memory: the WebSocket hub asks it for every client and event).
func (p *Parties) IsMember(accountID, party string) bool { return p.c.store.Member(accountID, party) }
