package party

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Create makes a new party owned by the actor, with a first topic
// "general".
func (s *Service) Create(ctx context.Context, a Actor, name string) (View, error) {
	name, err := CheckName(name)
	if err != nil {
		return View{}, err
	}
	if s.net == nil {
		return View{}, errors.New("party: service not started")
	}
	defer s.lock("acct:" + a.AccountID)()
	ms, err := s.memberships(a.AccountID)
	if err != nil {
		return View{}, err
	}
	if len(ms) >= MaxPartiesPerUser {
		return View{}, ErrPartyLimit
	}
	body, _ := json.Marshal(CreateBody{
		Name: name, Owner: a.MemberID(), OwnerName: a.Name, OwnerPeer: s.net.SelfPeer(), Addrs: s.net.SelfAddrs(),
		Limits: DefaultLimits, Topic: TopicRef{ID: randomID(), Name: "general"}, Nonce: randomID(),
	})
	sop, err := signOp(Op{Seq: 1, Time: s.now().UnixMilli(), Kind: KindCreate, Body: body}, a.Key)
	if err != nil {
		return View{}, err
	}
	st, err := Genesis(sop)
	if err != nil {
		return View{}, err
	}
	err = update(s.db, func(txn *badger.Txn) error {
		if err := setJSON(txn, opKey(st.ID, 1), sop); err != nil {
			return err
		}
		if err := setJSON(txn, []byte(pState+st.ID), st); err != nil {
			return err
		}
		return setJSON(txn, mineKey(a.AccountID, st.ID), Membership{Party: st.ID, PartyName: st.Name, Account: a.AccountID,
			Member: a.MemberID(), Status: StatusMember, Since: s.now().UnixMilli()})
	})
	if err != nil {
		return View{}, err
	}
	if err := s.net.JoinTopic(st.ID); err != nil {
		s.log.Warn("join party topic", "party", st.ID, "err", err)
	}
	s.log.Info("party created", "party", st.ID, "name", st.Name)
	return s.view(st, a.MemberID()), nil
}

func (s *Service) ownerOp(ctx context.Context, a Actor, party, kind string, build func(*State) (any, error)) (View, error) {
	if err := s.requireMember(a, party); err != nil {
		return View{}, err
	}
	st, err := s.appendOp(ctx, party, &a, kind, build)
	if err != nil {
		return View{}, err
	}
	if st.Deleted {
		return View{ID: party, Name: st.Name, Status: "deleted"}, nil
	}
	return s.view(st, a.MemberID()), nil
}

// Rename renames the party (owner only).
func (s *Service) Rename(ctx context.Context, a Actor, party, name string) (View, error) {
	name, err := CheckName(name)
	if err != nil {
		return View{}, err
	}
	return s.ownerOp(ctx, a, party, KindRename, func(*State) (any, error) { return NameBody{Name: name}, nil })
}

// Delete deletes the party for everyone (owner only).
func (s *Service) Delete(ctx context.Context, a Actor, party string) error {
	_, err := s.ownerOp(ctx, a, party, KindDelete, func(*State) (any, error) { return struct{}{}, nil })
	return err
}

// CreateTopic adds a topic (owner only).
func (s *Service) CreateTopic(ctx context.Context, a Actor, party, name string) (*Topic, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	id := randomID()
	v, err := s.ownerOp(ctx, a, party, KindTopicCreate, func(st *State) (any, error) {
		if len(st.Topics) >= st.Limits.Topics {
			return nil, ErrTopicLimit
		}
		return TopicRef{ID: id, Name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range v.Topics {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, fmt.Errorf("party: created topic %s missing", id)
}

// RenameTopic renames a topic (owner only).
func (s *Service) RenameTopic(ctx context.Context, a Actor, party, topic, name string) (*Topic, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	v, err := s.ownerOp(ctx, a, party, KindTopicRename, func(st *State) (any, error) {
		if st.Topics[topic] == nil {
			return nil, ErrTopicNotFound
		}
		return TopicRef{ID: topic, Name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range v.Topics {
		if t.ID == topic {
			return t, nil
		}
	}
	return nil, ErrTopicNotFound
}

// DeleteTopic deletes a topic (owner only).
func (s *Service) DeleteTopic(ctx context.Context, a Actor, party, topic string) error {
	_, err := s.ownerOp(ctx, a, party, KindTopicDelete, func(st *State) (any, error) {
		if st.Topics[topic] == nil {
			return nil, ErrTopicNotFound
		}
		return TopicRef{ID: topic}, nil
	})
	return err
}

// ErrMemberNotFound is returned when kicking someone who is not a member.
var ErrMemberNotFound = newErr("not_found", "no such member")

// Kick removes a member (owner only). Their node drops the party.
func (s *Service) Kick(ctx context.Context, a Actor, party, member string) error {
	_, err := s.ownerOp(ctx, a, party, KindMemberKick, func(st *State) (any, error) {
		if member == st.Owner {
			return nil, ErrOwnerCannotGo
		}
		if st.Members[member] == nil {
			return nil, ErrMemberNotFound
		}
		return MemberBody{Member: member, Ban: true}, nil
	})
	return err
}

// ErrNotBanned is returned when lifting a ban nobody has.
var ErrNotBanned = newErr("not_found", "that member is not banned")

// Unban lets a kicked member join again with an invite (owner only).
func (s *Service) Unban(ctx context.Context, a Actor, party, member string) error {
	_, err := s.ownerOp(ctx, a, party, KindMemberUnban, func(st *State) (any, error) {
		if _, ok := st.Banned[member]; !ok {
			return nil, ErrNotBanned
		}
		return MemberBody{Member: member}, nil
	})
	return err
}
