package gateway

import (
	"context"
	"io"
	"time"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/search"
	"github.com/chatterbox/chatterbox/party/store"
)

// The party use cases the gateway calls, declared here by their consumer
// (party.Parties and party.Chat implement them).

// Parties runs parties, topics, invites and members for local accounts.
type Parties interface {
	List(a party.Actor) ([]party.View, error)
	Get(a party.Actor, party string) (party.View, error)
	IsMember(accountID, party string) bool
	Create(ctx context.Context, a party.Actor, name string) (party.View, error)
	Rename(ctx context.Context, a party.Actor, party, name string) (party.View, error)
	Delete(ctx context.Context, a party.Actor, party string) error
	Accept(ctx context.Context, a party.Actor, linkOrToken string) (party.View, error)
	Leave(ctx context.Context, a party.Actor, party string) error
	Kick(ctx context.Context, a party.Actor, party, member string) error
	Unban(ctx context.Context, a party.Actor, party, member string) error
	SetAdmin(ctx context.Context, a party.Actor, party, member string, seats int) (party.View, error)
	RemoveAdmin(ctx context.Context, a party.Actor, party, member string) (party.View, error)
	Transfer(ctx context.Context, a party.Actor, party, member string) (party.View, error)
	CreateInvite(a party.Actor, party string, ttl time.Duration, maxUses int) (party.InviteView, error)
	Invites(a party.Actor, party string) ([]party.InviteView, error)
	RevokeInvite(ctx context.Context, a party.Actor, party, invite string) error
	CreateTopic(ctx context.Context, a party.Actor, party, name string) (*rules.Topic, error)
	RenameTopic(ctx context.Context, a party.Actor, party, topic, name string) (*rules.Topic, error)
	DeleteTopic(ctx context.Context, a party.Actor, party, topic string) error
	Directs(a party.Actor) ([]party.DirectView, error)
	OpenDirect(ctx context.Context, a party.Actor, member string) (party.DirectView, error)
	CloseDirect(a party.Actor, id string) error
	InviteStatus(ctx context.Context, token string) (party.InviteStatus, error)
	Health(a party.Actor) ([]party.PartyHealth, error)
	ChangeKey(ctx context.Context, a party.Actor, enc []byte) (int, error)
}

// Chat runs messages for local accounts.
type Chat interface {
	Page(a party.Actor, party, topic string, q party.PageQuery) (party.Page, error)
	Post(ctx context.Context, a party.Actor, party, topic, body, clientID string) (party.MessageView, error)
	Reply(ctx context.Context, a party.Actor, party, topic, replyTo, body, clientID string) (party.MessageView, error)
	React(ctx context.Context, a party.Actor, party, topic, id, emoji string, on bool) (party.MessageView, error)
	Edit(ctx context.Context, a party.Actor, party, topic, id, body string) (party.MessageView, error)
	DeleteMessage(ctx context.Context, a party.Actor, party, topic, id string) error
	SendTyping(ctx context.Context, a party.Actor, party, topic string) error
	PostFiles(ctx context.Context, a party.Actor, party, topic, body, replyTo, clientID string, files []party.FileChoice) (party.MessageView, error)
	Upload(a party.Actor, name string, r io.Reader) (rules.FileRef, error)
	FileInfo(a party.Actor, party, hash string) (store.FileRecord, error)
	ReadFile(ctx context.Context, a party.Actor, party, hash string, w io.Writer) error
}

// Searcher runs the search box's queries for local accounts.
type Searcher interface {
	Search(a party.Actor, q string, limit, offset int) (search.Results, error)
}

var (
	_ Searcher = (*search.Index)(nil)
	_ Parties  = (*party.Parties)(nil)
	_ Chat     = (*party.Chat)(nil)
)
