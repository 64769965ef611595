package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
)

// upload sends data to u's node as a file and returns its reference.
func upload(t *testing.T, u *user, name string, data []byte) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", u.c.Base+"/api/files?name="+name, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+u.c.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := u.c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ref map[string]any
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &ref) != nil {
		t.Fatalf("upload: %d %s", res.StatusCode, raw)
	}
	return ref
}

// fileOf reads a file of a party as u: the status and the bytes.
func fileOf(t *testing.T, u *user, partyID, hash string) (int, []byte) {
	t.Helper()
	status, _, raw := getRaw(t, u, "/api/parties/"+partyID+"/files/"+hash)
	return status, raw
}

// A 20 MiB file posted on Ann's node is read on Bob's and Cat's; with
// Ann's node gone, Dan (whose node never read it) reads it from the others; a
// member node that sends chunks that do not match their hashes is passed
// over. A stranger to the party cannot read it, nor a file the party does
// not attach.
func TestFilesTravelBetweenMemberNodes(t *testing.T) {
	nodes := nodetest.Start(t, 4)
	bob, ann, cat := signUp(t, nodes[0], "Bob"), signUp(t, nodes[1], "Ann"), signUp(t, nodes[2], "Cat")
	eve := signUp(t, nodes[2], "Eve") // on Cat's node, in no party with them
	dan := signUp(t, nodes[3], "Dan")
	id, topic := partyOf(t, bob, ann, cat, dan)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"

	data := make([]byte, 20<<20)
	rand.Read(data)
	ref := upload(t, ann, "holiday.bin", data)
	hash := ref["hash"].(string)
	if ref["type"] != "application/octet-stream" || int(ref["size"].(float64)) != len(data) || len(ref["chunks"].([]any)) != 20 {
		t.Fatalf("reference %v", ref)
	}
	post := ann.c.Must(http.StatusCreated, "POST", base, map[string]any{"body": "the photos", "files": []map[string]string{{"hash": hash, "name": "holiday.bin"}}})
	if files := post.JSON["files"].([]any); len(files) != 1 || files[0].(map[string]any)["name"] != "holiday.bin" {
		t.Fatalf("posted %v", post.JSON)
	}
	for _, u := range []*user{bob, cat} {
		nodetest.Eventually(t, converge, u.name+" to see the post", func() bool { return messageOn(u, id, topic, post.String("id")) != nil })
		start := time.Now()
		if status, got := fileOf(t, u, id, hash); status != http.StatusOK || !bytes.Equal(got, data) {
			t.Fatalf("%s read %d: %d bytes, equal %v", u.name, status, len(got), bytes.Equal(got, data))
		}
		t.Logf("measured: %s's node read the 20 MiB file, fetching it, in %s", u.name, time.Since(start).Round(time.Millisecond))
	}
	start := time.Now()
	fileOf(t, bob, id, hash)
	t.Logf("measured: read again from Bob's node's own copy in %s", time.Since(start).Round(time.Millisecond))
	if status, _ := fileOf(t, eve, id, hash); status != http.StatusNotFound {
		t.Fatalf("a stranger's read: %d", status)
	}
	if status, _ := fileOf(t, bob, id, "00"+hash[2:]); status != http.StatusNotFound {
		t.Fatalf("a file the party does not attach: %d", status)
	}

	// A member node that lies: every chunk it sends is the right length
	// and the wrong bytes.
	rogue := nodetest.NewRogue(t)
	if err := rogue.Connect(nodes[0]); err != nil {
		t.Fatal(err)
	}
	if err := rogue.Join(nodes[0], invite(t, bob, id, nil).String("token"), "Rex"); err != nil {
		t.Fatal(err)
	}
	rogue.SetAnswer(func(_ context.Context, _ string, raw []byte) []byte {
		var req replica.Request
		var cr replica.ChunkRequest
		if json.Unmarshal(raw, &req) != nil || req.Type != "chunk" || json.Unmarshal(req.Payload, &cr) != nil {
			return []byte(`{"error":"bad_request"}`)
		}
		resp, _ := json.Marshal(replica.ChunkResponse{Data: bytes.Repeat([]byte{'x'}, rules.ChunkSize(int64(len(data)), cr.Index))})
		return resp
	})
	// Ann's and Cat's nodes go away; Dan reads it from Bob's node, passing
	// over the rogue's.
	for _, n := range []int{1, 2} {
		if err := nodes[n].Close(); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, converge, "Dan to see the post", func() bool { return messageOn(dan, id, topic, post.String("id")) != nil })
	if status, got := fileOf(t, dan, id, hash); status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("Dan read %d: %d bytes, equal %v", status, len(got), bytes.Equal(got, data))
	}
	if rogue.Requests() == 0 {
		t.Fatal("the rogue was never asked: the test proved nothing about lying peers")
	}
}

// Before an image leaves its author's node, its metadata is gone: a JPEG
// carrying an EXIF block with a GPS position is stored re-encoded. A
// file's type is what its bytes are, whatever its name says, and only
// images and videos are ever served for the page to show: HTML and SVG
// are downloads, sandboxed.
func TestFilesAreStrippedAndServedSafely(t *testing.T) {
	nodes := nodetest.Start(t, 1)
	ann := signUp(t, nodes[0], "Ann")
	id := createParty(t, ann, "Photos")
	topic := firstTopicOf(t, ann, id)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"

	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	var plain bytes.Buffer
	jpeg.Encode(&plain, img, nil)
	// An APP1 (EXIF) segment right after the start-of-image marker.
	exif := append([]byte("Exif\x00\x00GPSLatitude 48.8584 N; secret camera serial"), make([]byte, 16)...)
	seg := append([]byte{0xff, 0xe1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)
	tagged := append(append(append([]byte{}, plain.Bytes()[:2]...), seg...), plain.Bytes()[2:]...)
	if _, err := jpeg.Decode(bytes.NewReader(tagged)); err != nil {
		t.Fatalf("the test's JPEG does not decode: %v", err)
	}
	ref := upload(t, ann, "IMG_0001.jpg", tagged)
	svg := upload(t, ann, "cat.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	page := upload(t, ann, "photo.jpg", []byte("<!doctype html><html><script>alert(1)</script></html>"))
	if ref["type"] != "image/jpeg" || svg["type"] == "image/png" || page["type"] != "text/html" {
		t.Fatalf("types: %v %v %v", ref["type"], svg["type"], page["type"])
	}
	// A picture carries a thumbnail: a small JPEG, never more than 128
	// pixels a side; other files carry none.
	thumb, _ := base64.StdEncoding.DecodeString(ref["thumb"].(string))
	small, err := jpeg.Decode(bytes.NewReader(thumb))
	if err != nil || small.Bounds().Dx() != 32 || small.Bounds().Dy() != 32 || page["thumb"] != nil {
		t.Fatalf("thumbnail: %v %v, html file's %v", err, small, page["thumb"])
	}
	wide := image.NewRGBA(image.Rect(0, 0, 1000, 250))
	var wideJPEG bytes.Buffer
	jpeg.Encode(&wideJPEG, wide, nil)
	wthumb, _ := base64.StdEncoding.DecodeString(upload(t, ann, "wide.jpg", wideJPEG.Bytes())["thumb"].(string))
	if w, err := jpeg.Decode(bytes.NewReader(wthumb)); err != nil || w.Bounds().Dx() != 128 || w.Bounds().Dy() != 32 {
		t.Fatalf("a wide picture's thumbnail: %v %v", err, w)
	}
	files := []map[string]string{{"hash": ref["hash"].(string), "name": "IMG_0001.jpg"}, {"hash": svg["hash"].(string), "name": "cat.png"}, {"hash": page["hash"].(string), "name": "photo.jpg"}}
	ann.c.Must(http.StatusCreated, "POST", base, map[string]any{"files": files})

	status, got := fileOf(t, ann, id, ref["hash"].(string))
	if status != http.StatusOK || bytes.Contains(got, []byte("GPSLatitude")) || bytes.Contains(got, []byte("secret")) {
		t.Fatalf("the stored image still holds its metadata (%d)", status)
	}
	for _, f := range []map[string]any{svg, page} {
		_, header, _ := getRaw(t, ann, "/api/parties/"+id+"/files/"+f["hash"].(string))
		if ct, cd, csp := header.Get("Content-Type"), header.Get("Content-Disposition"), header.Get("Content-Security-Policy"); ct != "application/octet-stream" ||
			!strings.HasPrefix(cd, "attachment") || !strings.Contains(csp, "sandbox") {
			t.Fatalf("%v served as %q, %q, %q", f["type"], ct, cd, csp)
		}
	}
	// Limits and lies, each refused with its code.
	expectCode(t, ann.c.Do("POST", base, map[string]any{"files": []map[string]string{{"hash": strings.Repeat("ab", 32), "name": "x"}}}), http.StatusNotFound, "file_not_found")
	nine := make([]map[string]string, 9)
	for i := range nine {
		nine[i] = files[0]
	}
	expectCode(t, ann.c.Do("POST", base, map[string]any{"files": nine}), http.StatusUnprocessableEntity, "file_too_many")
	req, _ := http.NewRequest("POST", ann.c.Base+"/api/files?name=big", bytes.NewReader(make([]byte, rules.MaxFileBytes+1)))
	req.Header.Set("Authorization", "Bearer "+ann.c.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	if res, err := ann.c.HTTP.Do(req); err != nil || res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a file over the limit: %v %v", res, err)
	}
}

// A node keeps at most its file cache of files fetched from others: past
// it, the least recently read file is dropped and fetched again when read
// — from a node that still has it, else the read says no one online has
// it. Its own accounts' uploads are never dropped.
func TestFileCacheDropsTheLeastRecentlyRead(t *testing.T) {
	owner := nodetest.Start(t, 1)[0]
	cfg := nodetest.Config(t, t.TempDir())
	cfg.Party.FileCacheBytes = 3 << 20
	reader := nodetest.StartWith(t, cfg)
	ann, bob := signUp(t, owner, "Ann"), signUp(t, reader, "Bob")
	id, topic := partyOf(t, ann, bob)
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	var files [2][]byte
	var hashes [2]string
	for i := range files {
		files[i] = make([]byte, 2<<20)
		rand.Read(files[i])
		hashes[i] = upload(t, ann, "f.bin", files[i])["hash"].(string)
		post := ann.c.Must(http.StatusCreated, "POST", base, map[string]any{"files": []map[string]string{{"hash": hashes[i], "name": "f.bin"}}})
		nodetest.Eventually(t, converge, "Bob to see the post", func() bool { return messageOn(bob, id, topic, post.String("id")) != nil })
	}
	read := func(i int) int {
		status, got := fileOf(t, bob, id, hashes[i])
		if status == http.StatusOK && !bytes.Equal(got, files[i]) {
			t.Fatalf("file %d read back wrong", i)
		}
		return status
	}
	held := func(i int) int {
		rec, err := reader.Parties().Chat().FileInfo(bob.actor(t), id, hashes[i])
		if err != nil {
			t.Fatal(err)
		}
		return rec.Have
	}
	// The cache is trimmed once a read has been answered: wait for it.
	read(0)
	read(1) // 4 MiB fetched: the first, read longer ago, goes
	nodetest.Eventually(t, converge, "the first file dropped", func() bool { return held(0) == 0 && held(1) == 2 })
	if read(0) != http.StatusOK {
		t.Fatal("a dropped file was not fetched again")
	}
	nodetest.Eventually(t, converge, "the second file dropped", func() bool { return held(0) == 2 && held(1) == 0 })
	// Ann's node goes: what Bob's holds is readable, the dropped one is not.
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	if read(0) != http.StatusOK {
		t.Fatal("a cached file is not readable with its author's node away")
	}
	if status, _, raw := getRaw(t, bob, "/api/parties/"+id+"/files/"+hashes[1]); status != http.StatusServiceUnavailable || !strings.Contains(string(raw), "file_unavailable") {
		t.Fatalf("a dropped file with no node to fetch it from: %d %s", status, raw)
	}
}

// A read cut off by the reader keeps the chunks that had arrived: they
// are not fetched again, and the next read completes the file.
func TestFileReadResumesAfterACutConnection(t *testing.T) {
	nodes := nodetest.Start(t, 2)
	ann, bob := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob")
	id, topic := partyOf(t, ann, bob)
	data := make([]byte, 25<<20)
	rand.Read(data)
	hash := upload(t, ann, "big.bin", data)["hash"].(string)
	post := ann.c.Must(http.StatusCreated, "POST", "/api/parties/"+id+"/topics/"+topic+"/messages", map[string]any{"files": []map[string]string{{"hash": hash, "name": "big.bin"}}})
	nodetest.Eventually(t, converge, "Bob to see the post", func() bool { return messageOn(bob, id, topic, post.String("id")) != nil })
	held := func() int {
		rec, err := nodes[1].Parties().Chat().FileInfo(bob.actor(t), id, hash)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Have
	}
	// Read the first megabyte, then hang up.
	req, _ := http.NewRequest("GET", bob.c.Base+"/api/parties/"+id+"/files/"+hash, nil)
	req.Header.Set("Authorization", "Bearer "+bob.c.Token)
	res, err := bob.c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(res.Body, make([]byte, 1<<20))
	res.Body.Close()
	nodetest.Eventually(t, converge, "the read to stop", func() bool { h := held(); return h > 0 && h == held() })
	kept := held()
	if kept >= 25 {
		// Socket buffers hold far less than 24 MiB: the server cannot have
		// written the whole file to a reader that took 1 MiB.
		t.Fatalf("the whole file arrived before the reader hung up (%d chunks)", kept)
	}
	if status, got := fileOf(t, bob, id, hash); status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("the second read: %d, %d bytes", status, len(got))
	}
	if held() != 25 {
		t.Fatalf("%d chunks held after the second read", held())
	}
	t.Logf("%d of 25 chunks were kept from the cut read", kept)
}
