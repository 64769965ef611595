package node_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/export"
)

// unzip reads an export archive: messages.json decoded, index.html raw,
// the attached files by path.
func unzip(t *testing.T, raw []byte) (export.Archive, string, map[string][]byte) {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("not a zip archive: %v (%q)", err, raw[:min(len(raw), 200)])
	}
	var ar export.Archive
	var page string
	files := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		switch f.Name {
		case "chatterbox-export/messages.json":
			if err := json.Unmarshal(data, &ar); err != nil {
				t.Fatal(err)
			}
		case "chatterbox-export/index.html":
			page = string(data)
		default:
			if !strings.HasPrefix(f.Name, "chatterbox-export/files/") {
				t.Errorf("unexpected file %s in the archive", f.Name)
			}
			files[strings.TrimPrefix(f.Name, "chatterbox-export/")] = data
		}
	}
	return ar, page, files
}

// archiveBodies lists an archive's message bodies, party/topic by party/topic.
func archiveBodies(ar export.Archive) map[string][]string {
	out := map[string][]string{}
	for _, p := range ar.Parties {
		for _, tp := range p.Topics {
			for _, m := range tp.Messages {
				out[p.Name+"/"+tp.Name] = append(out[p.Name+"/"+tp.Name], m.Body)
			}
		}
	}
	return out
}

// Ann exports what she can read: her party with Bob (messages from both
// nodes, oldest first, a deleted one left out) and her direct conversation
// with him, never the party of another account of her node; a message's
// markup is text on the readable page. One party exports alone; a party
// the account is not in is refused.
func TestExportHoldsWhatTheAccountCanRead(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	a, b := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	eve := signUp(t, nodes[0], "Eve")
	eveParty := createParty(t, eve, "Eve's secrets")
	id, topic := partyOf(t, a, b)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	a.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "first, from Ann"})
	notes := []byte("minutes of the meeting\n")
	ref := upload(t, b, "minutes.txt", notes)
	b.c.Must(http.StatusCreated, "POST", base, map[string]any{"files": []map[string]string{{"hash": ref["hash"].(string), "name": "minutes.txt"}}})
	b.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": `<script>alert("x")</script> from Bob`})
	gone := b.c.Must(http.StatusCreated, "POST", base, map[string]string{"body": "regretted"}).String("id")
	b.c.Must(http.StatusNoContent, "DELETE", base+"/"+gone, nil)
	dm := a.c.Must(http.StatusOK, "POST", "/api/dms", map[string]string{"memberId": b.memberID})
	a.c.Must(http.StatusCreated, "POST", "/api/parties/"+dm.String("id")+"/topics/"+dm.String("topicId")+"/messages", map[string]string{"body": "just us"})
	eve.c.Must(http.StatusCreated, "POST", "/api/parties/"+eveParty+"/topics/"+firstTopicOf(t, eve, eveParty)+"/messages", map[string]string{"body": "Eve's own"})
	nodetest.Eventually(t, converge, "Ann's node to hold Bob's messages and delete", func() bool {
		msgs := a.c.Must(http.StatusOK, "GET", base, nil).JSON["messages"].([]any)
		return len(msgs) == 4 && msgs[0].(map[string]any)["deleted"] == true
	})

	r := download(t, a, "/api/export")
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); ct != "application/zip" || !strings.HasPrefix(cd, `attachment; filename=chatterbox-all-`) {
		t.Fatalf("headers %q %q", ct, cd)
	}
	ar, page, files := unzip(t, r.Raw)
	got := archiveBodies(ar)
	want := map[string][]string{"Chat/general": {"first, from Ann", "", `<script>alert("x")</script> from Bob`}, "Bob/direct": {"just us"}}
	if len(got) != len(want) || strings.Join(got["Chat/general"], "|") != strings.Join(want["Chat/general"], "|") || strings.Join(got["Bob/direct"], "|") != "just us" {
		t.Fatalf("exported %q, want %q", got, want)
	}
	if ar.Format != export.Format || ar.Account.MemberID != a.memberID {
		t.Fatalf("archive head %+v", ar)
	}
	path := "files/" + ref["hash"].(string) + "/minutes.txt"
	if !bytes.Equal(files[path], notes) || len(ar.Missing) != 0 || !strings.Contains(page, `href="`+path+`"`) {
		t.Fatalf("the attached file in the archive: %q (missing %v)", files[path], ar.Missing)
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "Direct messages with Bob") {
		t.Fatalf("the readable page does not hold the messages as text:\n%s", page)
	}

	one, _, _ := unzip(t, download(t, a, "/api/parties/"+id+"/export").Raw)
	if len(one.Parties) != 1 || one.Parties[0].ID != id {
		t.Fatalf("exporting one party gave %d", len(one.Parties))
	}
	expectCode(t, eve.c.Do("GET", "/api/parties/"+id+"/export", nil), http.StatusNotFound, "party_not_found")
	expectCode(t, nodetest.NewClient(t, nodes[0].GatewayURL()).Do("GET", "/api/export", nil), http.StatusUnauthorized, "unauthorized")
}

// download GETs a file as u; anything but 200 fails the test.
func download(t *testing.T, u *user, path string) nodetest.Response {
	t.Helper()
	status, header, raw := getRaw(t, u, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, raw)
	}
	return nodetest.Response{Status: status, Header: header, Raw: raw}
}

// getRaw GETs path as u and returns the answer as it came (status 0 when
// the body was cut short).
func getRaw(t *testing.T, u *user, path string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u.c.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+u.c.Token)
	res, err := u.c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, res.Header, nil
	}
	return res.StatusCode, res.Header, raw
}

// firstTopicOf is the id of a party's first topic, as u sees it.
func firstTopicOf(t *testing.T, u *user, partyID string) string {
	t.Helper()
	return u.c.Must(http.StatusOK, "GET", "/api/parties/"+partyID, nil).JSON["topics"].([]any)[0].(map[string]any)["id"].(string)
}
