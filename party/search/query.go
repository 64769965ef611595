package search

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Query is a parsed search: the words and phrases to find in message
// bodies and the filters chat users know.
type Query struct {
	Words   []string // each must occur (after stemming)
	Phrases []string // each must occur as written
	From    []string // author names ("me": the searcher)
	In      []string // party, topic or direct-conversation names
	HasLink bool
	HasFile bool      // any attached file
	HasImg  bool      // an attached picture
	Before  time.Time // zero: no bound; exclusive, at the day's start
	After   time.Time // zero: no bound; inclusive from the next day's start
}

// QueryError is a query the index cannot run; Reason says why, for the user.
type QueryError struct{ Reason string }

func (e *QueryError) Error() string { return "search: " + e.Reason }

// ErrorCode is the gateway's code for it.
func (e *QueryError) ErrorCode() string { return "search_invalid" }

// ErrorDetail is the sentence added to the code's.
func (e *QueryError) ErrorDetail() string { return e.Reason }

func bad(format string, args ...any) error {
	return &QueryError{Reason: fmt.Sprintf(format, args...)}
}

// MaxQueryChars bounds a query.
const MaxQueryChars = 500

// Parse reads a query as typed in the search box: words, "quoted
// phrases", and the filters from:, in:, has:link, before: and after:
// (dates as YYYY-MM-DD; a filter's value may be quoted: from:"Ann Lee").
// A query needs at least one word, phrase or filter.
func Parse(s string) (Query, error) {
	var q Query
	if len([]rune(s)) > MaxQueryChars {
		return q, bad("a search is at most %d characters", MaxQueryChars)
	}
	toks, err := tokens(s)
	if err != nil {
		return q, err
	}
	for _, t := range toks {
		if t.quoted && t.key == "" {
			q.Phrases = append(q.Phrases, t.val)
			continue
		}
		switch t.key {
		case "":
			q.Words = append(q.Words, t.val)
		case "from":
			q.From = append(q.From, t.val)
		case "in":
			q.In = append(q.In, t.val)
		case "has":
			switch strings.ToLower(t.val) {
			case "link":
				q.HasLink = true
			case "file":
				q.HasFile = true
			case "image":
				q.HasImg = true
			default:
				return q, bad("has: takes link, file or image, not %q", t.val)
			}
		case "before", "after":
			d, err := time.ParseInLocation(time.DateOnly, t.val, time.Local)
			if err != nil {
				return q, bad("%s: takes a date like 2026-01-31, not %q", t.key, t.val)
			}
			if d.Year() < 1971 || d.Year() > 2200 {
				return q, bad("%s: takes a date from 1971 to 2200", t.key)
			}
			if t.key == "before" {
				q.Before = d
			} else {
				q.After = d.AddDate(0, 0, 1)
			}
		default:
			// An unknown "key:" is a word with a colon (e.g. "re:").
			q.Words = append(q.Words, t.key+":"+t.val)
		}
	}
	if len(q.Words)+len(q.Phrases)+len(q.From)+len(q.In) == 0 && !q.HasLink && !q.HasFile && !q.HasImg && q.Before.IsZero() && q.After.IsZero() {
		return q, bad("type something to search for")
	}
	if !q.Before.IsZero() && !q.After.IsZero() && !q.After.Before(q.Before) {
		return q, bad("after: must be a day before before:")
	}
	return q, nil
}

type token struct {
	key, val string
	quoted   bool
}

// tokens splits s at spaces outside quotes; "key:value" and key:"a b"
// carry a key.
func tokens(s string) ([]token, error) {
	var out []token
	r := []rune(s)
	for i := 0; i < len(r); {
		if unicode.IsSpace(r[i]) {
			i++
			continue
		}
		var t token
		start := i
		for i < len(r) && !unicode.IsSpace(r[i]) && r[i] != ':' && (r[i] != '"' || i > start) {
			i++
		}
		if i < len(r) && r[i] == ':' {
			key := strings.ToLower(string(r[start:i]))
			switch key {
			case "from", "in", "has", "before", "after":
				t.key = key
				i++
				start = i
			default:
				for i < len(r) && !unicode.IsSpace(r[i]) {
					i++
				}
				out = append(out, token{val: string(r[start:i])})
				continue
			}
		}
		if i < len(r) && r[i] == '"' {
			end := i + 1
			for end < len(r) && r[end] != '"' {
				end++
			}
			if end == len(r) {
				return nil, bad("a quote is not closed")
			}
			t.val, t.quoted = strings.TrimSpace(string(r[i+1:end])), true
			i = end + 1
		} else {
			for i < len(r) && !unicode.IsSpace(r[i]) {
				i++
			}
			t.val = string(r[start:i])
		}
		if t.val == "" {
			if t.key != "" {
				return nil, bad("%s: needs a value", t.key)
			}
			continue
		}
		out = append(out, t)
	}
	return out, nil
}
