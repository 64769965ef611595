package search

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// The benchmarks' corpus: an account in 10 parties of 10 topics and 10
// members, messages of 3–30 words drawn from a 5,000-word vocabulary
// with Zipf frequencies (a few words everywhere, most rare), one in
// twenty with a link, spread over a year.
const (
	benchParties = 10
	benchVocab   = 5000
)

// The ten most frequent words are English stop words, as in real chat:
// the analyzer drops them, so nobody finds anything by them.
var stopWords = []string{"the", "to", "a", "and", "i", "you", "it", "is", "of", "that"}

func benchWord(i uint64) string {
	if i < uint64(len(stopWords)) {
		return stopWords[i]
	}
	return "w" + strconv.FormatUint(i, 36)
}

// corpus is the benchmarks' node: n messages made on demand from their
// index (each from its own random stream), so the benchmark's heap holds
// no corpus — a node's messages are in Badger, not on its heap, and a
// heap of a million messages made the collector the slowest part.
type corpus struct {
	n       int
	me      party.Actor
	views   []party.View
	authors []party.MemberView
}

var benchStart = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)

func (c *corpus) message(i int) party.MessageView {
	r := rand.New(rand.NewPCG(uint64(i), uint64(c.n)))
	zipf := rand.NewZipf(r, 1.1, 1, benchVocab-1)
	var sb strings.Builder
	for j := range 3 + r.IntN(28) {
		if j > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(benchWord(zipf.Uint64()))
	}
	if i%20 == 0 {
		sb.WriteString(" https://example.org/" + strconv.Itoa(i))
	}
	p := r.IntN(benchParties)
	id, at := fmt.Sprintf("%064x", i), benchStart.Add(time.Duration(i)*(365*24*time.Hour/time.Duration(c.n)))
	return party.MessageView{ID: id, PartyID: fmt.Sprintf("p%02d", p), TopicID: fmt.Sprintf("p%02dt%d", p, r.IntN(10)),
		Body: sb.String(), Author: party.AuthorView{MemberID: c.authors[r.IntN(10)].MemberID}, CreatedAt: at, Order: ordAt(at) + "/" + id}
}

func (c *corpus) List(a party.Actor) ([]party.View, error) { return c.views, nil }

func (c *corpus) Directs(a party.Actor) ([]party.DirectView, error) { return nil, nil }

func (c *corpus) MessageByID(partyID, id string) (party.MessageView, error) {
	i, err := strconv.ParseUint(id, 16, 64)
	if err != nil || int(i) >= c.n {
		return party.MessageView{}, rules.ErrMsgNotFound
	}
	v := c.message(int(i))
	if v.PartyID != partyID {
		return party.MessageView{}, rules.ErrMsgNotFound
	}
	return v, nil
}

func (c *corpus) EachPost(fn func(party.MessageView) error) error {
	for i := range c.n {
		if err := fn(c.message(i)); err != nil {
			return err
		}
	}
	return nil
}

// benchWorld builds an index of n messages in dir (kept between runs of
// the benchmark: CHATTERBOX_BENCH_DIR, else a temp dir).
func benchWorld(b *testing.B, n int) (*Index, party.Actor) {
	b.Helper()
	c := &corpus{n: n, me: actorNamed("Me")}
	for i := range 10 {
		a := actorNamed(fmt.Sprintf("M%d", i))
		c.authors = append(c.authors, party.MemberView{MemberID: a.MemberID(), DisplayName: a.Name, Label: a.Name})
	}
	for p := range benchParties {
		v := party.View{ID: fmt.Sprintf("p%02d", p), Name: fmt.Sprintf("Party %d", p), Status: "active", Members: c.authors}
		for t := range 10 {
			v.Topics = append(v.Topics, &rules.Topic{ID: fmt.Sprintf("p%02dt%d", p, t), Name: fmt.Sprintf("topic%d", t)})
		}
		c.views = append(c.views, v)
	}
	dir := os.Getenv("CHATTERBOX_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dir += fmt.Sprintf("/search-v2-%d", n)
	t0 := time.Now()
	ix, err := Open(dir, c, c, nil)
	if err != nil {
		b.Fatal(err)
	}
	for !ix.Settled() {
		time.Sleep(50 * time.Millisecond)
	}
	if got, _ := ix.Count(); int(got) != n {
		b.Fatalf("index holds %d of %d", got, n)
	}
	b.Logf("index of %d messages ready in %s", n, time.Since(t0).Round(time.Millisecond))
	return ix, c.me
}

// The queries, each over words of a given frequency: benchWord(10), the
// most frequent word that is not a stop word, is in about 16% of
// messages; benchWord(40) in 5%; benchWord(900) in 0.3%.
var benchQueries = []string{
	benchWord(10),
	benchWord(40),
	benchWord(900),
	benchWord(12) + " " + benchWord(60), // two words
	`"` + benchWord(10) + " " + benchWord(11) + `"`, // a phrase of the two most frequent
	"from:M3 " + benchWord(30),                      // an author
	"in:topic4 " + benchWord(20),                    // a topic name in every party
	"has:link " + benchWord(15),                     // links
	"after:2026-06-01 " + benchWord(17),             // a date range
	"before:2026-03-15 after:2026-01-20 " + benchWord(25),
}

// BenchmarkSearch runs the search box's queries over an index of
// CHATTERBOX_BENCH_MESSAGES messages (default 100,000; BENCHMARKS.md has
// 1,000,000) and reports the p50 and p99 of all of them.
func BenchmarkSearch(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CHATTERBOX_BENCH_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	ix, me := benchWorld(b, n)
	defer ix.Close()
	var took []time.Duration
	per := map[string][]time.Duration{}
	partial := 0
	i := 0
	for b.Loop() {
		q := benchQueries[i%len(benchQueries)]
		i++
		t := time.Now()
		res, err := ix.Search(me, q, DefaultLimit, 0)
		took = append(took, time.Since(t))
		per[q] = append(per[q], time.Since(t))
		if res.Partial {
			partial++
		}
		if err != nil || len(res.Hits) == 0 {
			b.Fatalf("%q: %v, %d hits", q, err, len(res.Hits))
		}
	}
	slices.Sort(took)
	for _, q := range benchQueries {
		d := per[q]
		slices.Sort(d)
		if len(d) > 0 {
			b.Logf("%-28s median %s, max %s", q, d[len(d)/2].Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond))
		}
	}
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(100*float64(partial)/float64(len(took)), "%partial-total")
}

// BenchmarkIndexLive measures how fast posts that arrive are indexed:
// Observe as the party service calls it, until the index has them all.
func BenchmarkIndexLive(b *testing.B) {
	ix, err := Open(b.TempDir()+"/search", &world{msgs: map[string]party.MessageView{}}, &world{msgs: map[string]party.MessageView{}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	for !ix.Settled() {
		time.Sleep(time.Millisecond)
	}
	r := rand.New(rand.NewPCG(2, 2))
	zipf := rand.NewZipf(r, 1.1, 1, benchVocab-1)
	start := time.Now()
	n := 0
	for b.Loop() {
		var sb strings.Builder
		for j := range 3 + r.IntN(28) {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(benchWord(zipf.Uint64()))
		}
		now := time.Now()
		ix.Observe(party.Event{Type: party.EvMessageCreated, Party: "p", Data: party.MessageView{ID: strconv.Itoa(n), PartyID: "p", TopicID: "t", Body: sb.String(), CreatedAt: now, Order: ordAt(now) + "/" + strconv.Itoa(n)}})
		n++
	}
	for !ix.Settled() {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}
