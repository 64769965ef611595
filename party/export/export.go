// Package export writes what one account can read — its parties and
// direct conversations, or one of them — as a single zip archive: the
// messages as JSON (messages.json, its schema in docs/EXPORT.md), a
// readable page (index.html) that needs no network and runs no script,
// and the attached files beside them (files/<hash>/<name>).
//
// An export reads through the same use cases the gateway does (party
// views and history pages for an actor), so it holds exactly what the
// account could read in the app: no party it is not in, no deleted
// message, no other account's direct conversations.
package export

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// Parties is what an export reads of an account's parties (party.Parties).
type Parties interface {
	List(a party.Actor) ([]party.View, error)
	Get(a party.Actor, id string) (party.View, error)
	Directs(a party.Actor) ([]party.DirectView, error)
}

// History reads a topic's pages (party.Chat).
type History interface {
	Page(a party.Actor, party, topic string, q party.PageQuery) (party.Page, error)
}

// Format names the archive's format; it changes when messages.json does.
const Format = "chatterbox-export/v1"

// Archive is messages.json.
type Archive struct {
	Format     string      `json:"format"`
	ExportedAt time.Time   `json:"exportedAt"`
	Account    AccountRef  `json:"account"`
	Parties    []PartyDump `json:"parties"`
	// Missing lists the attached files that could not be read (no member
	// node holding them was reachable); the others are under files/.
	Missing []string `json:"missingFiles,omitempty"`
}

// Files reads attached files (party.Chat.ReadFile).
type Files interface {
	ReadFile(ctx context.Context, a party.Actor, party, hash string, w io.Writer) error
}

// FilePath is where an attached file is in the archive, beside
// messages.json: files/<hash>/<name>.
func FilePath(f party.FileView) string { return "files/" + f.Hash + "/" + f.Name }

// AccountRef is whose export it is.
type AccountRef struct {
	MemberID    string `json:"memberId"`
	DisplayName string `json:"displayName"`
}

// PartyDump is one party (or direct conversation) with its topics.
type PartyDump struct {
	ID      string             `json:"id"`
	Name    string             `json:"name"`
	Direct  bool               `json:"direct,omitempty"`
	Members []party.MemberView `json:"members"`
	Topics  []TopicDump        `json:"topics"`
}

// TopicDump is one topic and its messages, oldest first.
type TopicDump struct {
	ID       string              `json:"id"`
	Name     string              `json:"name"`
	Messages []party.MessageView `json:"messages"`
}

// Collect gathers the archive for a: every party and direct conversation
// it is in (only == ""), or the one named only. Pending, undone and
// deleted parties have nothing to read and are left out.
func Collect(a party.Actor, ps Parties, h History, only string, now time.Time) (Archive, error) {
	ar := Archive{Format: Format, ExportedAt: now.UTC(), Account: AccountRef{MemberID: a.MemberID(), DisplayName: a.Name}, Parties: []PartyDump{}}
	var views []party.View
	if only != "" {
		v, err := ps.Get(a, only)
		if err != nil {
			return ar, err
		}
		if v.Direct {
			// A direct conversation's view is named for the other member.
			dms, err := ps.Directs(a)
			if err != nil {
				return ar, err
			}
			for _, d := range dms {
				if d.ID == v.ID {
					v.Name = d.With.Label
				}
			}
		}
		views = append(views, v)
	} else {
		list, err := ps.List(a)
		if err != nil {
			return ar, err
		}
		views = list
		dms, err := ps.Directs(a)
		if err != nil {
			return ar, err
		}
		for _, d := range dms {
			v, err := ps.Get(a, d.ID)
			if errors.Is(err, rules.ErrNotFound) {
				continue
			}
			if err != nil {
				return ar, err
			}
			v.Name, v.Direct = d.With.Label, true
			views = append(views, v)
		}
	}
	for _, v := range views {
		if v.Status != "active" && v.Status != "frozen" {
			continue
		}
		pd := PartyDump{ID: v.ID, Name: v.Name, Direct: v.Direct, Members: v.Members, Topics: []TopicDump{}}
		for _, t := range v.Topics {
			td := TopicDump{ID: t.ID, Name: t.Name, Messages: []party.MessageView{}}
			cursor := ""
			for {
				page, err := h.Page(a, v.ID, t.ID, party.PageQuery{Before: cursor, Limit: 100})
				if err != nil {
					return ar, fmt.Errorf("export %s/%s: %w", v.Name, t.Name, err)
				}
				for _, m := range page.Messages {
					if !m.Deleted {
						td.Messages = append(td.Messages, m)
					}
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			slices.Reverse(td.Messages) // oldest first
			pd.Topics = append(pd.Topics, td)
		}
		ar.Parties = append(ar.Parties, pd)
	}
	return ar, nil
}

// FileName is the archive's file name: chatterbox-<name>-<date>.zip, the
// name cut to letters, digits and dashes.
func FileName(name string, now time.Time) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		slug = "party"
	}
	return "chatterbox-" + slug + "-" + now.Format("2006-01-02") + ".zip"
}

// Write writes ar as a zip archive to w: the attached files a reads
// (files nil: none), chatterbox-export/messages.json and
// chatterbox-export/index.html.
func Write(ctx context.Context, w io.Writer, ar Archive, a party.Actor, files Files) error {
	z := zip.NewWriter(w)
	if files != nil {
		seen := map[string]bool{}
		for _, p := range ar.Parties {
			for _, t := range p.Topics {
				for _, m := range t.Messages {
					for _, fv := range m.Files {
						if seen[fv.Hash+"/"+fv.Name] {
							continue
						}
						seen[fv.Hash+"/"+fv.Name] = true
						var buf bytes.Buffer
						if err := files.ReadFile(ctx, a, p.ID, fv.Hash, &buf); err != nil {
							if ctx.Err() != nil {
								return ctx.Err()
							}
							ar.Missing = append(ar.Missing, fv.Hash)
							continue
						}
						f, err := z.Create("chatterbox-export/" + FilePath(fv))
						if err != nil {
							return err
						}
						if _, err := f.Write(buf.Bytes()); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	f, err := z.Create("chatterbox-export/messages.json")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ar); err != nil {
		return err
	}
	f, err = z.Create("chatterbox-export/index.html")
	if err != nil {
		return err
	}
	if err := page.Execute(f, ar); err != nil {
		return err
	}
	return z.Close()
}

// page is the readable view. html/template escapes every body and name;
// the policy forbids scripts and loads, so nothing in it can run or call
// out even if opened from a web server.
var page = template.Must(template.New("export").Funcs(template.FuncMap{
	"when":     func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
	"filePath": FilePath,
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>ChatterBox export for {{.Account.DisplayName}}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #1a1b1e; }
h1 { font-size: 1.4em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { color: #555; }
.m { margin: .4em 0; } .who { font-weight: 600; } .at { color: #868e96; font-size: .85em; margin-left: .5em; }
.body { white-space: pre-wrap; word-break: break-word; } .reply { color: #868e96; font-size: .85em; border-left: 3px solid #ddd; padding-left: .5em; }
.edited { color: #868e96; font-size: .8em; }
</style>
</head>
<body>
<h1>ChatterBox export for {{.Account.DisplayName}}</h1>
<p>Exported {{when .ExportedAt}}. The same messages, with their ids, are in messages.json beside this page.</p>
{{range $p := .Parties}}
<h2>{{if .Direct}}Direct messages with {{.Name}}{{else}}{{.Name}}{{end}}</h2>
{{range .Topics}}{{if not $p.Direct}}<h3>#{{.Name}}</h3>{{end}}
{{range .Messages}}<div class="m" id="m-{{.ID}}">
{{with .ReplyTo}}<div class="reply">↪ {{.Author}}: {{.Excerpt}}</div>{{end}}
<span class="who">{{.Author.Label}}</span><span class="at">{{when .CreatedAt}}</span>{{if .EditedAt}} <span class="edited">(edited)</span>{{end}}
<div class="body">{{.Body}}</div>
{{range .Files}}<div class="file">📎 <a href="{{filePath .}}">{{.Name}}</a> <span class="at">{{.Type}}, {{.Size}} bytes</span></div>
{{end}}</div>
{{else}}<p>No messages.</p>
{{end}}{{end}}{{end}}
</body>
</html>
`))
