package search

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// Hit is one message found: the message as history shows it, where it
// is, and where the query's words are in its body.
type Hit struct {
	Message   party.MessageView `json:"message"`
	PartyName string            `json:"partyName"`
	TopicName string            `json:"topicName"`
	Direct    bool              `json:"direct,omitempty"`
	// Matches are [start, end) ranges of the body to highlight, in UTF-16
	// code units (JavaScript string indexes), in order.
	Matches [][2]int `json:"matches"`
}

// Results is a page of hits, newest first.
type Results struct {
	Hits []Hit `json:"results"`
	// Total is how many messages match in all — or, when Partial, at
	// least how many: counting the older months stopped at CountBudget.
	Total   uint64 `json:"total"`
	Partial bool   `json:"partial,omitempty"`
	// Indexing: the index is being rebuilt, so older messages may be missing.
	Indexing bool `json:"indexing"`
}

// Limits of one page.
const (
	DefaultLimit = 20
	MaxLimit     = 50
	MaxOffset    = 1000
)

// ErrLimit is a page size or offset out of range.
var ErrLimit = &QueryError{Reason: "limit must be 1 to 50 and offset 0 to 1000"}

// where is an account's readable world: its parties and direct
// conversations, with names.
type where struct {
	parties map[string]party.View // active parties and direct conversations
	direct  map[string]bool
	me      string
}

func (ix *Index) world(a party.Actor) (where, error) {
	w := where{parties: map[string]party.View{}, direct: map[string]bool{}, me: a.MemberID()}
	list, err := ix.parties.List(a)
	if err != nil {
		return w, err
	}
	for _, v := range list {
		if v.Status == "active" || v.Status == "frozen" {
			w.parties[v.ID] = v
		}
	}
	dms, err := ix.parties.Directs(a)
	if err != nil {
		return w, err
	}
	for _, d := range dms {
		w.parties[d.ID] = party.View{ID: d.ID, Name: d.With.Label, Direct: true,
			Members: []party.MemberView{d.With}, Topics: []*rules.Topic{{ID: d.TopicID, Name: d.With.Label}}}
		w.direct[d.ID] = true
	}
	return w, nil
}

// Search runs q for account a: only messages of the parties and direct
// conversations a is in now, newest first, limit hits from offset.
//
// Months are searched newest first, each sorted by history's order, until
// the page is full; the older months are then only counted for Total.
func (ix *Index) Search(a party.Actor, text string, limit, offset int) (Results, error) {
	res := Results{Hits: []Hit{}, Indexing: ix.rebuilding.Load()}
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit || offset < 0 || offset > MaxOffset {
		return res, ErrLimit
	}
	q, err := Parse(text)
	if err != nil {
		return res, err
	}
	w, err := ix.world(a)
	if err != nil {
		return res, err
	}
	// Two forms of the query: limited to w's parties, and not, for the
	// months that hold no other party's messages (the usual case: one
	// account on the node), where the limit would only cost time.
	limited, ok := w.compile(q, true)
	if !ok {
		return res, nil // a filter names nothing the account can read
	}
	open, _ := w.compile(q, false)
	dated := func(bq query.Query) query.Query {
		incl := true
		r := bleve.NewDateRangeInclusiveQuery(q.After, q.Before, &incl, new(bool))
		r.SetField("at")
		return bleve.NewConjunctionQuery(bq, r)
	}
	need := offset + limit
	var found []*bsearch.DocumentMatch
	var counts []count // the months after the page: only counted
	for _, s := range ix.newestFirst() {
		in, whole := q.covers(s.month)
		if !in {
			continue
		}
		bq := limited
		if s.within(w.parties) {
			bq = open
		}
		if !whole {
			bq = dated(bq)
		}
		size := need - len(found)
		if size == 0 {
			counts = append(counts, count{s, bq})
			continue
		}
		req := bleve.NewSearchRequestOptions(bq, size, 0, false)
		req.SortBy([]string{"-ord"})
		req.IncludeLocations = true
		req.Fields = []string{"party"}
		sr, err := s.bl.Search(req)
		if err != nil {
			return res, err
		}
		res.Total += sr.Total
		found = append(found, sr.Hits...)
	}
	n, complete, err := countAll(counts)
	if err != nil {
		return res, err
	}
	res.Total += n
	res.Partial = !complete
	if offset >= len(found) {
		return res, nil
	}
	for _, h := range found[offset:] {
		partyID, _ := h.Fields["party"].(string)
		pv, mine := w.parties[partyID]
		if !mine {
			continue // compile limits the query to w's parties; this is a second lock
		}
		v, err := ix.msgs.MessageByID(partyID, h.ID)
		if err != nil || v.Deleted {
			continue // gone since it was indexed
		}
		hit := Hit{Message: v, PartyName: pv.Name, Direct: w.direct[pv.ID]}
		for _, t := range pv.Topics {
			if t.ID == v.TopicID {
				hit.TopicName = t.Name
			}
		}
		if hit.TopicName == "" {
			continue // its topic was deleted
		}
		hit.Matches = matches(v.Body, h.Locations["body"])
		res.Hits = append(res.Hits, hit)
	}
	return res, nil
}

// count is a month to count a query's matches in.
type count struct {
	s *shard
	q query.Query
}

// CountBudget bounds the time spent counting the months after a page: a
// phrase of very common words costs far more to count over a year than to
// find a page of (BENCHMARKS.md "Search"), and a search box must answer
// at once. Past it, Total is a lower bound.
const CountBudget = 15 * time.Millisecond

var countBudget = CountBudget // tests shorten it

// countAll counts the matches of each month, on every core, within
// CountBudget: counting (no sorting, no scoring) the older months is most
// of a common word's cost. complete is false when the budget cut it.
func countAll(counts []count) (total uint64, complete bool, err error) {
	if len(counts) == 0 {
		return 0, true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), countBudget)
	defer cancel()
	var (
		sum   atomic.Uint64
		cut   atomic.Bool
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan count)
	for range min(runtime.GOMAXPROCS(0), len(counts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				if ctx.Err() != nil {
					cut.Store(true)
					continue
				}
				req := bleve.NewSearchRequestOptions(c.q, 0, 0, false)
				req.Score = "none"
				sr, err := c.s.bl.SearchInContext(ctx, req)
				if ctx.Err() != nil {
					cut.Store(true)
					continue
				}
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					continue
				}
				sum.Add(sr.Total)
			}
		}()
	}
	for _, c := range counts {
		next <- c
	}
	close(next)
	wg.Wait()
	return sum.Load(), !cut.Load(), first
}

// covers reports whether the month ("2006-01", UTC) may hold messages
// within q's dates, and whether all of it is within them.
func (q Query) covers(month string) (in, whole bool) {
	start, err := time.Parse("2006-01", month)
	if err != nil {
		return true, false
	}
	end := start.AddDate(0, 1, 0)
	in = (q.Before.IsZero() || start.Before(q.Before)) && (q.After.IsZero() || end.After(q.After))
	whole = (q.Before.IsZero() || !end.After(q.Before)) && (q.After.IsZero() || !start.Before(q.After))
	return in, whole
}

// compile turns q into a Bleve query, limited to w's parties if limit;
// false when a filter matches nothing w holds.
func (w where) compile(q Query, limit bool) (query.Query, bool) {
	var must []query.Query
	for _, word := range q.Words {
		m := bleve.NewMatchQuery(word)
		m.SetField("body")
		m.SetOperator(query.MatchQueryOperatorAnd)
		must = append(must, m)
	}
	for _, ph := range q.Phrases {
		m := bleve.NewMatchPhraseQuery(ph)
		m.SetField("body")
		must = append(must, m)
	}
	for field, on := range map[string]bool{"link": q.HasLink, "file": q.HasFile, "image": q.HasImg} {
		if on {
			b := bleve.NewBoolFieldQuery(true)
			b.SetField(field)
			must = append(must, b)
		}
	}
	if len(q.From) > 0 {
		var authors []string
		for _, name := range q.From {
			authors = append(authors, w.authors(name)...)
		}
		if len(authors) == 0 {
			return nil, false
		}
		must = append(must, terms("author", authors))
	}
	parties := make([]string, 0, len(w.parties))
	for id := range w.parties {
		parties = append(parties, id)
	}
	if len(parties) == 0 {
		return nil, false
	}
	if len(q.In) > 0 {
		var ps, ts []string
		for _, name := range q.In {
			p, t := w.places(name)
			ps, ts = append(ps, p...), append(ts, t...)
		}
		if len(ps)+len(ts) == 0 {
			return nil, false
		}
		var in []query.Query
		if len(ps) > 0 {
			in = append(in, terms("party", ps))
		}
		if len(ts) > 0 {
			in = append(in, terms("topic", ts))
		}
		must = append(must, bleve.NewDisjunctionQuery(in...))
	}
	if limit {
		must = append(must, terms("party", parties))
	}
	switch len(must) {
	case 0: // dates alone: Search adds them
		return bleve.NewMatchAllQuery(), true
	case 1:
		return must[0], true
	}
	return bleve.NewConjunctionQuery(must...), true
}

func terms(field string, values []string) query.Query {
	var qs []query.Query
	for _, v := range values {
		t := bleve.NewTermQuery(v)
		t.SetField(field)
		qs = append(qs, t)
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// authors are the member ids whose label or display name is name (case
// aside) in any of w's parties; "me" is the searcher. With no exact
// match, names that start with it count.
func (w where) authors(name string) []string {
	if strings.EqualFold(name, "me") {
		return []string{w.me}
	}
	name = strings.TrimPrefix(name, "@")
	var exact, prefix []string
	for _, p := range w.parties {
		for _, m := range p.Members {
			switch {
			case strings.EqualFold(m.Label, name) || strings.EqualFold(m.DisplayName, name):
				exact = append(exact, m.MemberID)
			case hasPrefixFold(m.Label, name):
				prefix = append(prefix, m.MemberID)
			}
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return prefix
}

// places are the parties (by name, or a direct conversation by the other
// member's label) and topics named name.
func (w where) places(name string) (parties, topics []string) {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "#"), "@")
	for _, p := range w.parties {
		if strings.EqualFold(p.Name, name) {
			parties = append(parties, p.ID)
			continue
		}
		if w.direct[p.ID] {
			continue
		}
		for _, t := range p.Topics {
			if strings.EqualFold(t.Name, name) {
				topics = append(topics, t.ID)
			}
		}
	}
	return parties, topics
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// matches turns Bleve's byte ranges of body into sorted, merged UTF-16
// ranges; ranges that do not fit body (the index lags an edit) are
// dropped.
func matches(body string, locs bsearch.TermLocationMap) [][2]int {
	var byteRanges [][2]int
	for _, ls := range locs {
		for _, l := range ls {
			s, e := int(l.Start), int(l.End)
			if s < 0 || e > len(body) || s >= e || !utf8.RuneStart(body[s]) {
				continue
			}
			byteRanges = append(byteRanges, [2]int{s, e})
		}
	}
	slices.SortFunc(byteRanges, func(a, b [2]int) int { return a[0] - b[0] })
	out := [][2]int{}
	for _, r := range byteRanges {
		u := [2]int{utf16Len(body[:r[0]]), utf16Len(body[:r[1]])}
		if n := len(out); n > 0 && u[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], u[1])
			continue
		}
		out = append(out, u)
	}
	return out
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += len(utf16.AppendRune(nil, r))
	}
	return n
}
