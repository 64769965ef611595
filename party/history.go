package party

import (
	"encoding/base64"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// History pages of a topic, newest first, with opaque cursors.

// ErrCursorInvalid is returned for a cursor this node did not make.
var ErrCursorInvalid = newErr("cursor_invalid", "the page cursor is not valid")

// Messages returns a page of a topic's messages, newest first, before the
// cursor (empty: the newest), and the cursor of the next page ("" at the
// end). Cursors are positions in time order, so paging visits every
// message once even while new ones arrive.
func (s *Service) Messages(a Actor, party, topic, cursor string, limit int) ([]MessageView, string, error) {
	if err := s.requireMember(a, party); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	prefix := []byte(pTIdx + party + "/" + topic + "/")
	seek := append(append([]byte(nil), prefix...), 0xff)
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(raw) < 18 || strings.ContainsAny(string(raw), "\x00") {
			return nil, "", ErrCursorInvalid
		}
		seek = append(append([]byte(nil), prefix...), raw...)
	}
	out := []MessageView{}
	next, lastSuffix := "", ""
	err := s.db.View(func(txn *badger.Txn) error {
		st, err := s.loadState(txn, party)
		if err != nil {
			return err
		}
		if st.Topics[topic] == nil {
			return ErrTopicNotFound
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		for it.Seek(seek); it.Valid(); it.Next() {
			key := it.Item().Key()
			if cursor != "" && string(key) == string(seek) {
				continue
			}
			if len(out) == limit {
				// More remain: the next page starts below the last one returned.
				next = base64.RawURLEncoding.EncodeToString([]byte(lastSuffix))
				return nil
			}
			id := string(key[len(prefix)+17:])
			var sm storedMessage
			if err := getJSON(txn, []byte(pMsg+party+"/"+id), &sm); err != nil {
				return err
			}
			out = append(out, s.messageView(st, sm))
			lastSuffix = string(key[len(prefix):])
		}
		return nil
	})
	return out, next, err
}

// MessageByID returns one message of a party.
func (s *Service) MessageByID(party, id string) (MessageView, error) {
	var v MessageView
	err := s.db.View(func(txn *badger.Txn) error {
		st, err := s.loadState(txn, party)
		if err != nil {
			return err
		}
		var sm storedMessage
		if err := getJSON(txn, []byte(pMsg+party+"/"+id), &sm); err != nil {
			return ErrMsgNotFound
		}
		v = s.messageView(st, sm)
		return nil
	})
	return v, err
}
