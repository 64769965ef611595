// Package search keeps a local full-text index of every message this node
// holds — every party, topic and direct conversation — and answers the
// search box's queries over it for one account at a time.
//
// The index is Bleve (scorch) in the data dir, one index per month of
// messages: a search reads the newest month first and stops once it has a
// page, so it costs what the matches of a month cost, not of all history
// (BENCHMARKS.md "Search"). It is fed by the party service's events
// (created, edited and deleted messages), in batches on one goroutine, so
// posting never waits on it. It is derived data: after a crash (the index
// was not closed cleanly) or on first start it is rebuilt from the store
// in the background, and searches meanwhile say so.
//
// What an account may read is decided when it searches, never when
// indexing: the query is limited to the parties and direct conversations
// the account is in now, and every hit is read back from the store (so a
// deleted or edited message never shows its old text, even before the
// index has caught up).
package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/chatterbox/chatterbox/party"
)

// Parties is what the index needs to know of an account's parties.
type Parties interface {
	List(a party.Actor) ([]party.View, error)
	Directs(a party.Actor) ([]party.DirectView, error)
}

// Messages reads the node's messages (party.Chat).
type Messages interface {
	MessageByID(party, id string) (party.MessageView, error)
	EachPost(fn func(party.MessageView) error) error
}

// Index is the node's message index. Open opens (or builds) it; Observe
// feeds it events; Search answers queries; Close stops it.
type Index struct {
	dir     string
	parties Parties
	msgs    Messages
	log     *slog.Logger

	// shards are the months' indexes, by "2006-01" (UTC). Only the
	// worker adds to them; searches read them.
	shardMu sync.RWMutex
	shards  map[string]*shard // guarded by shardMu

	mu      sync.Mutex
	pending []change // guarded by mu
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	rebuilding atomic.Bool
	dirty      atomic.Bool   // a rebuild failed or was cut short: rebuild at next open
	indexed    atomic.Uint64 // changes applied since start (tests wait on it)
	queued     atomic.Uint64 // changes queued since start
}

// shard is one month's index and the parties it has held messages of (a
// superset: a party whose messages were all deleted stays).
type shard struct {
	month string
	bl    bleve.Index
	mu    sync.Mutex
	held  map[string]bool // guarded by mu
}

func (s *shard) holds(partyID string) {
	s.mu.Lock()
	s.held[partyID] = true
	s.mu.Unlock()
}

// within reports whether every party s has held is in readable.
func (s *shard) within(readable map[string]party.View) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.held {
		if _, ok := readable[p]; !ok {
			return false
		}
	}
	return true
}

type change struct {
	id, month string
	doc       map[string]any // nil: delete id
	dropParty string
}

// batchSize bounds the changes applied in one Bleve batch.
const batchSize = 2000

// meta is the index's state on disk (meta.json).
type meta struct {
	Version string `json:"version"`
	Clean   bool   `json:"clean"`
}

// version changes whenever the mapping or the documents change, so an
// index made by an older version is rebuilt.
const version = "4"

// Open opens the index in dir, creating it if needed. An index that was
// not closed cleanly, or was made by another version, is thrown away and
// rebuilt from msgs in the background.
func Open(dir string, parties Parties, msgs Messages, log *slog.Logger) (*Index, error) {
	if log == nil {
		log = slog.Default()
	}
	ix := &Index{dir: dir, parties: parties, msgs: msgs, log: log, shards: map[string]*shard{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	var m meta
	raw, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	rebuild := err != nil || m.Version != version || !m.Clean
	if !rebuild {
		if err := ix.openShards(); err != nil {
			ix.closeShards()
			log.Info("rebuilding the search index", "reason", err.Error())
			rebuild = true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Info("rebuilding the search index", "reason", "not closed cleanly or made by another version")
	}
	if rebuild {
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Until Close marks it clean again, a crash leaves it to be rebuilt.
	if err := ix.writeMeta(false); err != nil {
		ix.closeShards()
		return nil, fmt.Errorf("search index: %w", err)
	}
	ix.rebuilding.Store(rebuild)
	go ix.run(rebuild)
	return ix, nil
}

func (ix *Index) writeMeta(clean bool) error {
	raw, _ := json.Marshal(meta{Version: version, Clean: clean})
	tmp := filepath.Join(ix.dir, "meta.json.tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(ix.dir, "meta.json"))
}

// openShards opens every month's index under dir.
func (ix *Index) openShards() error {
	entries, err := os.ReadDir(ix.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := time.Parse("2006-01", e.Name()); err != nil {
			continue
		}
		bl, err := bleve.Open(filepath.Join(ix.dir, e.Name()))
		if err != nil {
			return err
		}
		s := &shard{month: e.Name(), bl: bl, held: map[string]bool{}}
		ix.shards[s.month] = s
		d, err := bl.FieldDict("party")
		if err != nil {
			return err
		}
		for de, err := d.Next(); de != nil && err == nil; de, err = d.Next() {
			s.held[de.Term] = true
		}
		d.Close()
	}
	return nil
}

// shardFor returns month's index, creating it.
func (ix *Index) shardFor(month string) (*shard, error) {
	ix.shardMu.RLock()
	s := ix.shards[month]
	ix.shardMu.RUnlock()
	if s != nil {
		return s, nil
	}
	bl, err := bleve.New(filepath.Join(ix.dir, month), indexMapping())
	if err != nil {
		return nil, err
	}
	s = &shard{month: month, bl: bl, held: map[string]bool{}}
	ix.shardMu.Lock()
	ix.shards[month] = s
	ix.shardMu.Unlock()
	return s, nil
}

// newestFirst lists the shards, newest month first.
func (ix *Index) newestFirst() []*shard {
	ix.shardMu.RLock()
	defer ix.shardMu.RUnlock()
	out := make([]*shard, 0, len(ix.shards))
	for _, s := range ix.shards {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *shard) int {
		if a.month > b.month {
			return -1
		}
		if a.month < b.month {
			return 1
		}
		return 0
	})
	return out
}

func (ix *Index) closeShards() error {
	var first error
	for _, s := range ix.newestFirst() {
		if err := s.bl.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func indexMapping() mapping.IndexMapping {
	m := bleve.NewIndexMapping()
	doc := bleve.NewDocumentStaticMapping()
	body := bleve.NewTextFieldMapping()
	body.Analyzer = en.AnalyzerName
	body.Store = false
	body.IncludeInAll = false
	doc.AddFieldMappingsAt("body", body)
	// Keywords: one term each, so sorting by ord visits one value per hit
	// (a date field's several terms made sorting three times slower).
	for _, f := range []string{"party", "topic", "author", "ord"} {
		k := bleve.NewKeywordFieldMapping()
		// The party is stored: a hit is read back from its party.
		k.Store, k.IncludeInAll, k.IncludeTermVectors = f == "party", false, false
		doc.AddFieldMappingsAt(f, k)
	}
	// before: and after: are ranges on a date (cheap: a date is indexed
	// at several precisions); only the months they cut through ask.
	at := bleve.NewDateTimeFieldMapping()
	at.Store, at.IncludeInAll, at.DocValues = false, false, false
	doc.AddFieldMappingsAt("at", at)
	for _, f := range []string{"link", "file", "image"} {
		b := bleve.NewBooleanFieldMapping()
		b.Store, b.IncludeInAll = false, false
		doc.AddFieldMappingsAt(f, b)
	}
	m.DefaultMapping = doc
	m.DefaultAnalyzer = en.AnalyzerName
	m.StoreDynamic, m.IndexDynamic = false, false
	return m
}

var linkRE = regexp.MustCompile(`(?i)\b(https?://|www\.)\S`)

func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// docOf is what is indexed of a post. ord is history's order key (hybrid
// clock, then id), which sorts hits.
func docOf(v party.MessageView) map[string]any {
	image := false
	for _, f := range v.Files {
		image = image || strings.HasPrefix(f.Type, "image/")
	}
	return map[string]any{"body": v.Body, "party": v.PartyID, "topic": v.TopicID,
		"author": v.Author.MemberID, "ord": v.Order, "at": v.CreatedAt, "link": linkRE.MatchString(v.Body),
		"file": len(v.Files) > 0, "image": image}
}

// Observe takes the party service's events: created and edited posts are
// (re)indexed, deleted ones removed, a deleted party's messages dropped.
// It never blocks on the index.
func (ix *Index) Observe(ev party.Event) {
	var c change
	switch ev.Type {
	case party.EvMessageCreated, party.EvMessageEdited, party.EvMessageDeleted:
		v, ok := ev.Data.(party.MessageView)
		if !ok {
			return
		}
		c.id, c.month = v.ID, monthOf(v.CreatedAt)
		if !v.Deleted {
			c.doc = docOf(v)
		}
	case party.EvPartyDeleted:
		c.dropParty = ev.Party
	default:
		return
	}
	ix.mu.Lock()
	ix.pending = append(ix.pending, c)
	ix.mu.Unlock()
	ix.queued.Add(1)
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// run applies queued changes until Close; first it rebuilds the index
// from the store if asked to. Changes queued during the rebuild are
// applied after it, so the last word on a message wins.
func (ix *Index) run(rebuild bool) {
	defer close(ix.done)
	if rebuild {
		start := time.Now()
		n, err := ix.rebuild()
		if err != nil {
			ix.dirty.Store(true)
		}
		ix.rebuilding.Store(false)
		if errors.Is(err, errStopped) {
			return
		}
		if err != nil {
			ix.log.Error("rebuilding the search index failed; searches find only new messages until the next start", "err", err)
		} else {
			ix.log.Info("search index rebuilt", "messages", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	for {
		ix.apply()
		select {
		case <-ix.stop:
			ix.apply()
			return
		case <-ix.wake:
		}
	}
}

// batches holds one Bleve batch per month.
type batches struct {
	ix  *Index
	by  map[*shard]*bleve.Batch
	len int
}

func (b *batches) of(month string) (*shard, *bleve.Batch, error) {
	s, err := b.ix.shardFor(month)
	if err != nil {
		return nil, nil, err
	}
	if b.by[s] == nil {
		b.by[s] = s.bl.NewBatch()
	}
	return s, b.by[s], nil
}

func (b *batches) index(month, id string, doc map[string]any) error {
	s, bb, err := b.of(month)
	if err != nil {
		return err
	}
	s.holds(doc["party"].(string))
	b.len++
	return bb.Index(id, doc)
}

func (b *batches) delete(month, id string) {
	b.ix.shardMu.RLock()
	s := b.ix.shards[month]
	b.ix.shardMu.RUnlock()
	if s == nil {
		return // never indexed
	}
	if b.by[s] == nil {
		b.by[s] = s.bl.NewBatch()
	}
	b.by[s].Delete(id)
	b.len++
}

func (b *batches) flush() error {
	var first error
	for s, bb := range b.by {
		if err := s.bl.Batch(bb); err != nil && first == nil {
			first = err
		}
	}
	clear(b.by)
	b.len = 0
	return first
}

func (ix *Index) newBatches() *batches { return &batches{ix: ix, by: map[*shard]*bleve.Batch{}} }

func (ix *Index) rebuild() (int, error) {
	b := ix.newBatches()
	n := 0
	err := ix.msgs.EachPost(func(v party.MessageView) error {
		select {
		case <-ix.stop:
			return errStopped
		default:
		}
		if err := b.index(monthOf(v.CreatedAt), v.ID, docOf(v)); err != nil {
			return err
		}
		n++
		if b.len >= batchSize {
			return b.flush()
		}
		return nil
	})
	if err == nil {
		err = b.flush()
	}
	return n, err
}

var errStopped = errors.New("search: index closing")

// apply writes every queued change, in batches.
func (ix *Index) apply() {
	for {
		ix.mu.Lock()
		todo := ix.pending
		if len(todo) > batchSize {
			todo = todo[:batchSize]
		}
		ix.pending = ix.pending[len(todo):]
		ix.mu.Unlock()
		if len(todo) == 0 {
			return
		}
		b := ix.newBatches()
		for _, c := range todo {
			switch {
			case c.dropParty != "":
				if err := b.flush(); err != nil {
					ix.log.Error("writing to the search index failed", "err", err)
				}
				ix.dropParty(c.dropParty)
			case c.doc == nil:
				b.delete(c.month, c.id)
			default:
				if err := b.index(c.month, c.id, c.doc); err != nil {
					ix.log.Error("indexing a message failed", "id", c.id, "err", err)
				}
			}
		}
		if err := b.flush(); err != nil {
			ix.log.Error("writing to the search index failed", "err", err)
		}
		ix.indexed.Add(uint64(len(todo)))
	}
}

// dropParty deletes every indexed message of party.
func (ix *Index) dropParty(partyID string) {
	q := bleve.NewTermQuery(partyID)
	q.SetField("party")
	for _, s := range ix.newestFirst() {
		for {
			res, err := s.bl.Search(bleve.NewSearchRequestOptions(q, 1000, 0, false))
			if err != nil || len(res.Hits) == 0 {
				break
			}
			del := s.bl.NewBatch()
			for _, h := range res.Hits {
				del.Delete(h.ID)
			}
			if err := s.bl.Batch(del); err != nil {
				ix.log.Error("dropping a party from the search index failed", "party", partyID, "err", err)
				break
			}
		}
	}
}

// Settled reports whether every change observed so far is in the index
// (and any rebuild is over).
func (ix *Index) Settled() bool {
	return !ix.rebuilding.Load() && ix.indexed.Load() == ix.queued.Load()
}

// Count is how many messages the index holds.
func (ix *Index) Count() (uint64, error) {
	var n uint64
	for _, s := range ix.newestFirst() {
		c, err := s.bl.DocCount()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// Close applies what is queued, marks the index clean and closes it.
func (ix *Index) Close() error {
	var err error
	ix.once.Do(func() {
		close(ix.stop)
		<-ix.done
		err = ix.closeShards()
		if err == nil && !ix.dirty.Load() {
			err = ix.writeMeta(true)
		}
	})
	return err
}
