package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/party/rules"
)

// Messages is one party's messages in a transaction: each stored by id,
// indexed by feed slot (author, node, seq) and by topic in time order. It
// is also what the message judge reads (rules.MessageLookup).
type Messages struct {
	t     *Txn
	party string
}

var _ rules.MessageLookup = Messages{}

// Messages returns party's messages in t.
func (t *Txn) Messages(party string) Messages { return Messages{t: t, party: party} }

func feedID(author, node string) string { return author + "/" + node }

// FeedID names the feed of author on node, as version vectors (Heads) do.
func FeedID(author, node string) string { return feedID(author, node) }

func (m Messages) msgKey(id string) []byte { return []byte(pMsg + m.party + "/" + id) }

func (m Messages) feedKey(author, node string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%016x", pFeed, m.party, feedID(author, node), seq)
}

// Has reports whether the message with this id is stored.
func (m Messages) Has(id string) bool {
	_, err := m.t.txn.Get(m.msgKey(id))
	return err == nil
}

// Get returns the stored message with this id.
func (m Messages) Get(id string) (rules.StoredMessage, bool) {
	var sm rules.StoredMessage
	return sm, m.t.get(m.msgKey(id), &sm) == nil
}

// FeedSlot returns the id and HLC of the message in a feed slot; taken
// reports whether the slot holds one at all. The judge reads a stored
// message's neighbours on every message it sees, so the slot keeps the HLC
// beside the id ("<id> <hlc>") and no record is decoded. A slot written
// before the HLC was kept holds the id alone; its HLC is read from the
// record.
func (m Messages) FeedSlot(author, node string, seq uint64) (id string, hlc uint64, taken bool) {
	item, err := m.t.txn.Get(m.feedKey(author, node, seq))
	if err != nil {
		return "", 0, false
	}
	v, _ := item.ValueCopy(nil)
	idPart, hlcPart, ok := strings.Cut(string(v), " ")
	if ok {
		if hlc, err = strconv.ParseUint(hlcPart, 10, 64); err == nil {
			return idPart, hlc, true
		}
	}
	sm, _ := m.Get(idPart)
	return idPart, sm.Msg.HLC, true
}

// Head returns the contiguous head of a feed: the highest seq up to which
// every message of (author, node) is stored.
func (m Messages) Head(author, node string) (uint64, error) {
	item, err := m.t.txn.Get([]byte(pFHead + m.party + "/" + feedID(author, node)))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n uint64
	err = item.Value(func(v []byte) error {
		var err error
		n, err = strconv.ParseUint(string(v), 10, 64)
		return err
	})
	return n, err
}

// Heads is the party's version vector: every feed's contiguous head, by
// "author/node".
func (m Messages) Heads() (map[string]uint64, error) {
	heads := map[string]uint64{}
	prefix := pFHead + m.party + "/"
	err := m.t.list(prefix, func(k, v []byte) error {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return err
		}
		heads[string(k[len(prefix):])] = n
		return nil
	})
	return heads, err
}

// Each calls fn with every stored message of the party, in id order.
func (m Messages) Each(fn func(rules.StoredMessage) error) error {
	return m.t.list(pMsg+m.party+"/", func(_, raw []byte) error {
		var sm rules.StoredMessage
		if err := json.Unmarshal(raw, &sm); err != nil {
			return err
		}
		return fn(sm)
	})
}

// Put stores an accepted message, advances its feed's head and applies
// an edit or delete to its target. It returns the record clients see
// changed: the post itself, or the edited or deleted target.
func (m Messages) Put(sm rules.SignedMessage, msg rules.Message) (rules.StoredMessage, error) {
	id := sm.ID()
	rec := rules.StoredMessage{Signed: sm, Msg: msg, Body: msg.Body}
	if err := m.t.set(m.msgKey(id), rec); err != nil {
		return rec, err
	}
	if err := m.t.txn.Set(m.feedKey(msg.Author, msg.Node, msg.Seq), []byte(id+" "+strconv.FormatUint(msg.HLC, 10))); err != nil {
		return rec, err
	}
	head, err := m.Head(msg.Author, msg.Node)
	if err != nil {
		return rec, err
	}
	if msg.Seq == head+1 {
		for head++; ; head++ {
			if _, err := m.t.txn.Get(m.feedKey(msg.Author, msg.Node, head+1)); err != nil {
				break
			}
		}
		if err := m.t.txn.Set([]byte(pFHead+m.party+"/"+feedID(msg.Author, msg.Node)), []byte(strconv.FormatUint(head, 10))); err != nil {
			return rec, err
		}
	}
	if !msg.Readable() {
		// Sealed under an epoch whose key is not here: kept (it holds its
		// feed slot and is served to other nodes), shown to no one.
		return rec, m.t.txn.Set(m.unreadKey(msg.Epoch, id), nil)
	}
	return m.effect(id, rec, msg)
}

// effect indexes a readable message and applies it to its target.
func (m Messages) effect(id string, rec rules.StoredMessage, msg rules.Message) (rules.StoredMessage, error) {
	if msg.Kind == rules.MsgPost {
		for _, f := range msg.Files {
			if err := m.t.LinkFile(m.party, f); err != nil {
				return rec, err
			}
		}
		return rec, m.t.txn.Set(fmt.Appendf(nil, "%s%s/%s/%016x/%s", pTIdx, m.party, msg.Topic, msg.HLC, id), nil)
	}
	target, ok := m.Get(msg.Target)
	if !ok {
		return rec, fmt.Errorf("store: target %s of %s missing", msg.Target, id)
	}
	switch {
	case msg.Kind == rules.MsgReact || msg.Kind == rules.MsgUnreact:
		if !target.React(msg, id) {
			return target, nil
		}
	case target.Deleted:
		// A delete wins over every edit.
	case msg.Kind == rules.MsgDelete:
		target.Deleted, target.Body, target.EditedAt = true, "", msg.HLC
	case msg.HLC > target.EditedAt:
		target.Body, target.EditedAt = msg.Body, msg.HLC
	}
	return target, m.t.set(m.msgKey(msg.Target), target)
}

func (m Messages) unreadKey(epoch uint64, id string) []byte {
	return fmt.Appendf(nil, "%s%s/%016x/%s", pUnrd, m.party, epoch, id)
}

// EpochKey returns the secret of epoch of the party, if held here.
func (m Messages) EpochKey(epoch uint64) ([]byte, bool) {
	item, err := m.t.txn.Get(fmt.Appendf(nil, "%s%s/%016x", pEKey, m.party, epoch))
	if err != nil {
		return nil, false
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil
}

// PutEpochKey keeps the secret of an epoch of the party.
func (m Messages) PutEpochKey(epoch uint64, secret []byte) error {
	return m.t.txn.Set(fmt.Appendf(nil, "%s%s/%016x", pEKey, m.party, epoch), secret)
}

// EpochLink returns the link an epoch's op carried to the epoch before.
func (m Messages) EpochLink(epoch uint64) ([]byte, bool) {
	item, err := m.t.txn.Get(fmt.Appendf(nil, "%s%s/%016x", pELink, m.party, epoch))
	if err != nil {
		return nil, false
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil
}

// PutEpochLink keeps the link an epoch's op carried to the epoch before.
func (m Messages) PutEpochLink(epoch uint64, link []byte) error {
	return m.t.txn.Set(fmt.Appendf(nil, "%s%s/%016x", pELink, m.party, epoch), link)
}

// EpochKeys returns every epoch secret of the party held here.
func (m Messages) EpochKeys() (map[uint64][]byte, error) {
	out := map[uint64][]byte{}
	prefix := pEKey + m.party + "/"
	err := m.t.list(prefix, func(k, v []byte) error {
		e, err := strconv.ParseUint(string(k[len(prefix):]), 16, 64)
		if err != nil {
			return err
		}
		out[e] = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Unread returns the messages kept sealed under epoch, oldest first.
func (m Messages) Unread(epoch uint64) ([]rules.StoredMessage, error) {
	var out []rules.StoredMessage
	prefix := fmt.Sprintf("%s%s/%016x/", pUnrd, m.party, epoch)
	err := m.t.list(prefix, func(k, _ []byte) error {
		if rec, ok := m.Get(string(k[len(prefix):])); ok {
			out = append(out, rec)
		}
		return nil
	})
	SortStoredByHLC(out)
	return out, err
}

// Reveal stores the opened content msg of a message kept sealed, and
// indexes and applies it as Put does a readable one.
func (m Messages) Reveal(rec rules.StoredMessage, msg rules.Message) (rules.StoredMessage, error) {
	id := rec.Signed.ID()
	if err := m.t.txn.Delete(m.unreadKey(rec.Msg.Epoch, id)); err != nil {
		return rec, err
	}
	rec.Msg, rec.Body = msg, msg.Body
	if err := m.t.set(m.msgKey(id), rec); err != nil {
		return rec, err
	}
	return m.effect(id, rec, msg)
}

// After returns up to limit messages of the feeds beyond heads (a version
// vector), oldest first by HLC, and whether more remain.
func (m Messages) After(heads map[string]uint64, limit int) ([]rules.SignedMessage, bool, error) {
	mine, err := m.Heads()
	if err != nil {
		return nil, false, err
	}
	feeds := make([]string, 0, len(mine))
	for f := range mine {
		feeds = append(feeds, f)
	}
	sort.Strings(feeds)
	var out []rules.SignedMessage
	for _, f := range feeds {
		it := m.t.txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pFeed + m.party + "/" + f + "/")})
		for it.Seek(fmt.Appendf(nil, "%s%s/%s/%016x", pFeed, m.party, f, heads[f]+1)); it.Valid(); it.Next() {
			if len(out) == limit {
				it.Close()
				SortByHLC(out)
				return out, true, nil
			}
			v, _ := it.Item().ValueCopy(nil)
			id, _, _ := strings.Cut(string(v), " ") // "<id> <hlc>", or the id alone
			sm, ok := m.Get(id)
			if !ok {
				it.Close()
				return nil, false, fmt.Errorf("store: message %s of a feed missing", id)
			}
			out = append(out, sm.Signed)
		}
		it.Close()
	}
	SortByHLC(out)
	return out, false, nil
}

// SortByHLC orders messages by time, so edit and delete targets come first.
func SortByHLC(ms []rules.SignedMessage) {
	hlc := func(m rules.SignedMessage) uint64 { d, _ := m.Decode(); return d.HLC }
	sort.SliceStable(ms, func(i, j int) bool { return hlc(ms[i]) < hlc(ms[j]) })
}

// SortStoredByHLC sorts stored messages by time, oldest first.
func SortStoredByHLC(ms []rules.StoredMessage) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Msg.HLC < ms[j].Msg.HLC })
}

// Page returns up to limit posts of a topic, newest first, before the
// cursor (empty: the newest), and the cursor of the next page ("" at the
// end). Cursors are positions in time order, so paging visits every
// message once even while new ones arrive.
func (m Messages) Page(topic, cursor string, limit int) ([]rules.StoredMessage, string, error) {
	prefix := []byte(pTIdx + m.party + "/" + topic + "/")
	seek := append(append([]byte(nil), prefix...), 0xff)
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(raw) < 18 || strings.ContainsAny(string(raw), "\x00") {
			return nil, "", rules.ErrCursorInvalid
		}
		seek = append(append([]byte(nil), prefix...), raw...)
	}
	var out []rules.StoredMessage
	lastSuffix := ""
	it := m.t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	for it.Seek(seek); it.Valid(); it.Next() {
		key := it.Item().Key()
		if cursor != "" && string(key) == string(seek) {
			continue
		}
		if len(out) == limit {
			// More remain: the next page starts below the last one returned
			// (or where this one started, when it was asked for none).
			if len(out) == 0 {
				return out, cursor, nil
			}
			return out, base64.RawURLEncoding.EncodeToString([]byte(lastSuffix)), nil
		}
		id := string(key[len(prefix)+17:])
		sm, ok := m.Get(id)
		if !ok {
			return nil, "", fmt.Errorf("store: indexed message %s missing", id)
		}
		out = append(out, sm)
		lastSuffix = string(key[len(prefix):])
	}
	return out, "", nil
}

// PageAfter returns up to limit posts of a topic newer than the cursor,
// newest first, and the cursor of the next newer page ("" when the
// newest is in this one).
func (m Messages) PageAfter(topic, cursor string, limit int) ([]rules.StoredMessage, string, error) {
	prefix := []byte(pTIdx + m.party + "/" + topic + "/")
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 18 || strings.ContainsAny(string(raw), "\x00") {
		return nil, "", rules.ErrCursorInvalid
	}
	seek := append(append([]byte(nil), prefix...), raw...)
	var out []rules.StoredMessage
	more := false
	it := m.t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(seek); it.Valid(); it.Next() {
		key := it.Item().Key()
		if string(key) == string(seek) {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		sm, ok := m.Get(string(key[len(prefix)+17:]))
		if !ok {
			return nil, "", fmt.Errorf("store: indexed message %s missing", key[len(prefix)+17:])
		}
		out = append(out, sm)
	}
	newer := ""
	switch {
	case more && len(out) > 0:
		newer = Cursor(out[len(out)-1]) // the next newer page starts after the newest here
	case more:
		newer = cursor // none asked for: the next starts where this one did
	}
	slices.Reverse(out)
	return out, newer, nil
}

// Cursor is the position of a stored post, as a cursor: a page before it
// starts just below it, a page after it just above.
func Cursor(sm rules.StoredMessage) string {
	return base64.RawURLEncoding.EncodeToString([]byte(positionOf(sm)))
}

func positionOf(sm rules.StoredMessage) string {
	return fmt.Sprintf("%016x/%s", sm.Msg.HLC, sm.Signed.ID())
}

func (m Messages) cidKey(account, clientID string) []byte {
	return []byte(pCID + account + "/" + m.party + "/" + clientID)
}

// ByClientID returns the message an account posted with clientID in the
// last 24 hours.
func (m Messages) ByClientID(account, clientID string) (rules.StoredMessage, bool) {
	item, err := m.t.txn.Get(m.cidKey(account, clientID))
	if err != nil {
		return rules.StoredMessage{}, false
	}
	id, _ := item.ValueCopy(nil)
	return m.Get(string(id))
}

// PutClientID remembers for 24 hours which message an account posted with
// clientID, so a retry returns it instead of posting twice.
func (m Messages) PutClientID(account, clientID, id string) error {
	return m.t.txn.SetEntry(badger.NewEntry(m.cidKey(account, clientID), []byte(id)).WithTTL(24 * time.Hour))
}

// PutEquivocation keeps evidence of two messages in one feed slot.
func (m Messages) PutEquivocation(first, second rules.SignedMessage, msg rules.Message, seenAt int64) error {
	return m.t.set(fmt.Appendf(nil, "%s%s/%s/%016x", pEquiv, m.party, feedID(msg.Author, msg.Node), msg.Seq),
		map[string]any{"first": first, "second": second, "seenAt": seenAt})
}

// Equivocations counts the equivocations recorded.
func (m Messages) Equivocations() int {
	n := 0
	it := m.t.txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pEquiv + m.party + "/")})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}
