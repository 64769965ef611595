package search

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// ordAt is history's order key of a message at t (hybrid clock: unix ms
// << 16, then the id).
func ordAt(t time.Time) string { return fmt.Sprintf("%016x", uint64(t.UnixMilli())<<16) }

// world is a node's parties and messages as the index sees them: what
// party.Parties and party.Chat would answer.
type world struct {
	mu      sync.Mutex
	views   map[string][]party.View // account → parties
	directs map[string][]party.DirectView
	msgs    map[string]party.MessageView // id → message
}

func (w *world) List(a party.Actor) ([]party.View, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.views[a.AccountID], nil
}

func (w *world) Directs(a party.Actor) ([]party.DirectView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.directs[a.AccountID], nil
}

func (w *world) MessageByID(partyID, id string) (party.MessageView, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.msgs[id]
	if !ok || v.PartyID != partyID {
		return v, rules.ErrMsgNotFound
	}
	return v, nil
}

func (w *world) EachPost(fn func(party.MessageView) error) error {
	w.mu.Lock()
	var all []party.MessageView
	for _, v := range w.msgs {
		if !v.Deleted {
			all = append(all, v)
		}
	}
	w.mu.Unlock()
	for _, v := range all {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

type fixture struct {
	t        *testing.T
	w        *world
	ix       *Index
	dir      string
	ann, bob party.Actor
	n        int
}

func actorNamed(name string) party.Actor {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, name)
	return party.Actor{AccountID: "acct-" + name, Name: name, Key: ed25519.NewKeyFromSeed(seed)}
}

// newFixture: Ann is in "Friends" (topics general, music) with Bob, and in
// a direct conversation with Bob; Bob is also in "Work" (topic general),
// which Ann is not in.
func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, w: &world{views: map[string][]party.View{}, directs: map[string][]party.DirectView{}, msgs: map[string]party.MessageView{}},
		dir: t.TempDir() + "/search", ann: actorNamed("Ann"), bob: actorNamed("Bob")}
	member := func(a party.Actor) party.MemberView {
		return party.MemberView{MemberID: a.MemberID(), DisplayName: a.Name, Label: a.Name}
	}
	friends := party.View{ID: "friends", Name: "Friends", Status: "active", Members: []party.MemberView{member(f.ann), member(f.bob)},
		Topics: []*rules.Topic{{ID: "fg", Name: "general"}, {ID: "fm", Name: "music"}}}
	work := party.View{ID: "work", Name: "Work", Status: "active", Members: []party.MemberView{member(f.bob)},
		Topics: []*rules.Topic{{ID: "wg", Name: "general"}}}
	f.w.views[f.ann.AccountID] = []party.View{friends}
	f.w.views[f.bob.AccountID] = []party.View{friends, work}
	f.w.directs[f.ann.AccountID] = []party.DirectView{{ID: "dm", TopicID: "dmt", With: member(f.bob), Status: "active"}}
	f.open()
	t.Cleanup(func() { f.ix.Close() })
	return f
}

func (f *fixture) open() {
	ix, err := Open(f.dir, f.w, f.w, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ix = ix
	f.settle()
}

func (f *fixture) settle() {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f.ix.Settled() {
		if time.Now().After(deadline) {
			f.t.Fatal("the index did not catch up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// post stores a message as the party service would and tells the index.
func (f *fixture) post(by party.Actor, partyID, topic, body string, at time.Time) party.MessageView {
	f.n++
	id := fmt.Sprintf("m%03d", f.n)
	v := party.MessageView{ID: id, PartyID: partyID, TopicID: topic, Body: body, CreatedAt: at, Order: ordAt(at) + "/" + id,
		Author: party.AuthorView{MemberID: by.MemberID(), DisplayName: by.Name, Label: by.Name}}
	f.w.mu.Lock()
	f.w.msgs[v.ID] = v
	f.w.mu.Unlock()
	f.ix.Observe(party.Event{Type: party.EvMessageCreated, Party: partyID, Data: v})
	return v
}

func (f *fixture) edit(v party.MessageView, body string) {
	v.Body = body
	f.w.mu.Lock()
	f.w.msgs[v.ID] = v
	f.w.mu.Unlock()
	f.ix.Observe(party.Event{Type: party.EvMessageEdited, Party: v.PartyID, Data: v})
}

func (f *fixture) remove(v party.MessageView) {
	v.Body, v.Deleted = "", true
	f.w.mu.Lock()
	f.w.msgs[v.ID] = v
	f.w.mu.Unlock()
	f.ix.Observe(party.Event{Type: party.EvMessageDeleted, Party: v.PartyID, Data: v})
}

// find runs q as a and returns the bodies found, newest first, and how
// many the index counted.
func (f *fixture) find(a party.Actor, q string) ([]string, uint64) {
	f.t.Helper()
	f.settle()
	res, err := f.ix.Search(a, q, 50, 0)
	if err != nil {
		f.t.Fatalf("search %q: %v", q, err)
	}
	out := []string{}
	for _, h := range res.Hits {
		out = append(out, h.Message.Body)
	}
	return out, res.Total
}

func (f *fixture) want(a party.Actor, q string, want ...string) {
	f.t.Helper()
	if want == nil {
		want = []string{}
	}
	got, total := f.find(a, q)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		f.t.Errorf("search %q as %s: got %q, want %q", q, a.Name, got, want)
	}
	if total != uint64(len(got)) {
		// Total is what the index matched: a message the account may not
		// read must not even be counted.
		f.t.Errorf("search %q as %s: total %d for %d hits", q, a.Name, total, len(got))
	}
}

// wantShown is want for the hits alone, where the index holds more than
// the store (Total counts those).
func (f *fixture) wantShown(a party.Actor, q string, want ...string) {
	f.t.Helper()
	got, _ := f.find(a, q)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		f.t.Errorf("search %q as %s: got %q, want %q", q, a.Name, got, want)
	}
}

var day = time.Date(2026, 11, 20, 12, 0, 0, 0, time.Local)

func TestSearchFindsWordsNewestFirstOnlyWhereTheAccountReads(t *testing.T) {
	f := newFixture(t)
	f.post(f.ann, "friends", "fg", "Pizza tonight?", day)
	f.post(f.bob, "friends", "fm", "pizzas are the best music", day.Add(time.Hour))
	f.post(f.bob, "work", "wg", "pizza budget for the offsite", day.Add(2*time.Hour))
	f.post(f.bob, "dm", "dmt", "secret pizza plan", day.Add(3*time.Hour))
	f.post(f.bob, "friends", "fg", "nothing to see", day.Add(4*time.Hour))
	// Stemming: "pizza" finds "pizzas"; Ann does not see Work.
	f.want(f.ann, "pizza", "secret pizza plan", "pizzas are the best music", "Pizza tonight?")
	f.want(f.bob, "pizza", "pizza budget for the offsite", "pizzas are the best music", "Pizza tonight?")
	f.want(f.ann, "budget")
	f.want(f.ann, "pizza plan", "secret pizza plan")
	f.want(f.ann, `"best music"`, "pizzas are the best music")
	f.want(f.ann, `"music best"`)
}

func TestSearchFilters(t *testing.T) {
	f := newFixture(t)
	f.post(f.ann, "friends", "fg", "see https://example.org/menu", day)
	f.post(f.bob, "friends", "fm", "new album out", day.AddDate(0, 0, 1))
	f.post(f.bob, "friends", "fg", "album link www.example.com", day.AddDate(0, 0, 2))
	f.post(f.bob, "dm", "dmt", "album for you", day.AddDate(0, 0, 3))
	f.want(f.ann, "from:Bob album", "album for you", "album link www.example.com", "new album out")
	f.want(f.ann, "from:bo", "album for you", "album link www.example.com", "new album out")
	f.want(f.ann, "from:me", "see https://example.org/menu")
	f.want(f.ann, "from:nobody album")
	f.want(f.ann, "in:music album", "new album out")
	f.want(f.ann, "in:#general", "album link www.example.com", "see https://example.org/menu")
	f.want(f.ann, "in:Friends album", "album link www.example.com", "new album out")
	f.want(f.ann, "in:@Bob", "album for you")
	f.want(f.ann, "in:Work")
	f.want(f.ann, "has:link", "album link www.example.com", "see https://example.org/menu")
	f.want(f.ann, "has:link from:Bob", "album link www.example.com")
	f.want(f.ann, "after:2026-11-20", "album for you", "album link www.example.com", "new album out")
	f.want(f.ann, "before:2026-11-21", "see https://example.org/menu")
	f.want(f.ann, "after:2026-11-20 before:2026-11-23 album", "album link www.example.com", "new album out")
	photo := f.post(f.bob, "friends", "fg", "the album cover", day.AddDate(0, 0, 4))
	photo.Files = []party.FileView{{Hash: strings.Repeat("a", 64), Name: "cover.jpg", Size: 10, Type: "image/jpeg"}}
	f.edit(photo, photo.Body) // the index takes the post as stored, files and all
	doc := f.post(f.bob, "friends", "fg", "the album notes", day.AddDate(0, 0, 5))
	doc.Files = []party.FileView{{Hash: strings.Repeat("b", 64), Name: "notes.pdf", Size: 10, Type: "application/pdf"}}
	f.edit(doc, doc.Body)
	f.want(f.ann, "has:file album", "the album notes", "the album cover")
	f.want(f.ann, "has:image", "the album cover")
}

func TestSearchFollowsEditsAndDeletes(t *testing.T) {
	f := newFixture(t)
	v := f.post(f.bob, "friends", "fg", "meet at the station", day)
	f.want(f.ann, "station", "meet at the station")
	f.edit(v, "meet at the harbour")
	f.want(f.ann, "station")
	f.want(f.ann, "harbour", "meet at the harbour")
	f.remove(v)
	f.want(f.ann, "harbour")
	if n, _ := f.ix.Count(); n != 0 {
		t.Fatalf("a deleted message is still in the index (%d documents)", n)
	}
}

func TestSearchHighlightsInUTF16(t *testing.T) {
	f := newFixture(t)
	f.post(f.bob, "friends", "fg", "😀 café and more cafés", day)
	f.settle()
	res, err := f.ix.Search(f.ann, "café", 10, 0)
	if err != nil || len(res.Hits) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	// "😀" is two UTF-16 units: "café" spans 3..7, "cafés" 17..22.
	if got := fmt.Sprint(res.Hits[0].Matches); got != "[[3 7] [17 22]]" {
		t.Fatalf("matches %s", got)
	}
	if res.Hits[0].PartyName != "Friends" || res.Hits[0].TopicName != "general" {
		t.Fatalf("hit place %q / %q", res.Hits[0].PartyName, res.Hits[0].TopicName)
	}
}

// A party the account left stops being searched at once, and the store
// is asked again for every hit: a message the index still holds but the
// store no longer has is not shown.
func TestSearchChecksEveryHitAgainstTheStore(t *testing.T) {
	f := newFixture(t)
	v := f.post(f.bob, "friends", "fg", "old plans", day)
	f.w.mu.Lock()
	delete(f.w.msgs, v.ID)
	f.w.mu.Unlock()
	f.wantShown(f.ann, "plans")
	// Deleted in the store, the event not yet indexed.
	gone := f.post(f.bob, "friends", "fg", "deleted plans", day)
	f.settle()
	f.w.mu.Lock()
	gone.Deleted = true
	f.w.msgs[gone.ID] = gone
	f.w.mu.Unlock()
	f.wantShown(f.ann, "plans")
	f.post(f.bob, "friends", "fg", "new plans", day)
	f.w.mu.Lock()
	f.w.views[f.ann.AccountID] = nil
	f.w.mu.Unlock()
	f.want(f.ann, "plans")
	f.wantShown(f.bob, "plans", "new plans")
}

func TestSearchRebuildsAfterACrash(t *testing.T) {
	f := newFixture(t)
	f.post(f.bob, "friends", "fg", "before the crash", day)
	f.settle()
	// A crash: the index is not closed; the store holds one more message
	// the index never heard of.
	f.w.mu.Lock()
	f.w.msgs["late"] = party.MessageView{ID: "late", PartyID: "friends", TopicID: "fg", Body: "arrived during the crash", CreatedAt: day, Order: ordAt(day) + "/late",
		Author: party.AuthorView{MemberID: f.bob.MemberID()}}
	f.w.mu.Unlock()
	crashed := f.ix
	close(crashed.stop)
	<-crashed.done
	crashed.closeShards()
	f.open()
	f.want(f.ann, "crash", "before the crash", "arrived during the crash")
	// A clean close is not rebuilt: what only the store holds stays out.
	f.w.mu.Lock()
	f.w.msgs["quiet"] = party.MessageView{ID: "quiet", PartyID: "friends", TopicID: "fg", Body: "crash site", CreatedAt: day}
	f.w.mu.Unlock()
	f.ix.Close()
	f.open()
	f.want(f.ann, "site")
}

func TestParseRefusesWhatItCannotRun(t *testing.T) {
	for _, q := range []string{"", "   ", "has:pony", "before:yesterday", `"open`, "from:", "after:2026-01-02 before:2026-01-02", "after:2999-01-01", strings.Repeat("a", 501)} {
		if _, err := Parse(q); err == nil {
			t.Errorf("Parse(%q) accepted", q)
		} else if _, ok := err.(*QueryError); !ok {
			t.Errorf("Parse(%q): %T", q, err)
		}
	}
	q, err := Parse(`from:"Ann Lee" in:#general re:lunch "big plans" has:link`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%q %q %q %q %v", q.From, q.In, q.Words, q.Phrases, q.HasLink); got != `["Ann Lee"] ["#general"] ["re:lunch"] ["big plans"] true` {
		t.Fatal(got)
	}
}

// Months are searched newest first and paged across: offset and limit
// cut the one newest-first list, and Total counts every month.
func TestSearchPagesAcrossMonths(t *testing.T) {
	f := newFixture(t)
	var want []string
	for m := range 5 {
		for i := range 3 {
			body := fmt.Sprintf("tide %d-%d", m, i)
			f.post(f.bob, "friends", "fg", body, day.AddDate(0, -m, 0).Add(time.Duration(i)*time.Minute))
		}
		for i := 2; i >= 0; i-- {
			want = append(want, fmt.Sprintf("tide %d-%d", m, i)) // newest first
		}
		f.post(f.bob, "work", "wg", fmt.Sprintf("tide at work %d", m), day.AddDate(0, -m, 0))
	}
	f.want(f.ann, "tide", want...)
	f.settle()
	for _, c := range []struct{ limit, offset int }{{2, 0}, {4, 1}, {3, 5}, {5, 13}, {2, 15}} {
		res, err := f.ix.Search(f.ann, "tide", c.limit, c.offset)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.Message.Body)
		}
		end := min(c.offset+c.limit, len(want))
		if strings.Join(got, "|") != strings.Join(want[min(c.offset, end):end], "|") || res.Total != 15 {
			t.Errorf("limit %d offset %d: %q (total %d), want %q (15)", c.limit, c.offset, got, res.Total, want[min(c.offset, end):end])
		}
	}
	f.want(f.ann, "tide before:2026-09-01", "tide 3-2", "tide 3-1", "tide 3-0", "tide 4-2", "tide 4-1", "tide 4-0")
}

// Past the counting budget, the page is whole and Total is a lower bound
// that says so.
func TestSearchTotalPastTheBudgetIsALowerBound(t *testing.T) {
	f := newFixture(t)
	for m := range 3 {
		f.post(f.bob, "friends", "fg", fmt.Sprintf("kite %d", m), day.AddDate(0, -m, 0))
	}
	f.settle()
	countBudget = 0
	defer func() { countBudget = CountBudget }()
	res, err := f.ix.Search(f.ann, "kite", 1, 0)
	if err != nil || len(res.Hits) != 1 || res.Hits[0].Message.Body != "kite 0" {
		t.Fatalf("%v %+v", err, res)
	}
	if !res.Partial || res.Total != 1 {
		t.Fatalf("total %d partial %v, want 1 and partial", res.Total, res.Partial)
	}
	countBudget = CountBudget
	if res, _ := f.ix.Search(f.ann, "kite", 1, 0); res.Partial || res.Total != 3 {
		t.Fatalf("within the budget: total %d partial %v", res.Total, res.Partial)
	}
}
