package party

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoded for thumbnails
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/draw"

	"github.com/chatterbox/chatterbox/party/replica"
	"github.com/chatterbox/chatterbox/party/rules"
	"github.com/chatterbox/chatterbox/party/store"
)

// Attached files: a local account uploads a file (Upload), then posts it
// (PostFiles); the file is stored here in chunks, and the post carries its
// reference. Any member node reads it (ReadFile): chunks it lacks are
// fetched from the party's other member nodes, each checked against the
// post's hash before it is kept, so a lying peer is passed over and a cut
// transfer resumes where it stopped.

// FileChoice is a file a post attaches: an uploaded file and the name the
// post shows.
type FileChoice struct {
	Hash string `json:"hash"`
	Name string `json:"name"`
}

// Upload stores a file a local account is about to post and returns its
// reference. The type is what the bytes are (sniffed), never what the
// client says; JPEG and PNG images are re-encoded, which drops their
// metadata (EXIF, GPS position, camera, comments) before they can leave
// this node.
func (ch *Chat) Upload(a Actor, name string, r io.Reader) (rules.FileRef, error) {
	data, err := io.ReadAll(io.LimitReader(r, rules.MaxFileBytes+1))
	if err != nil {
		return rules.FileRef{}, err
	}
	if len(data) > rules.MaxFileBytes {
		return rules.FileRef{}, fmt.Errorf("%w: a file is at most %d MiB", rules.ErrFileTooLarge, rules.MaxFileBytes>>20)
	}
	if len(data) == 0 {
		return rules.FileRef{}, fmt.Errorf("%w: the file is empty", rules.ErrFileInvalid)
	}
	typ, _, _ := strings.Cut(http.DetectContentType(data), ";")
	if data, err = stripMetadata(typ, data); err != nil {
		return rules.FileRef{}, err
	}
	sum := sha256.Sum256(data)
	rec := store.FileRecord{Hash: hex.EncodeToString(sum[:]), Size: int64(len(data)), Type: typ, Own: true, Thumb: thumbnail(typ, data)}
	for i := range rules.ChunkCount(rec.Size) {
		c := sha256.Sum256(chunkOf(data, i))
		rec.Chunks = append(rec.Chunks, hex.EncodeToString(c[:]))
	}
	err = ch.c.store.Update(func(t *store.Txn) error {
		old, err := t.File(rec.Hash)
		if err == nil {
			old.Own = true
			return t.PutFile(old)
		}
		return t.PutFile(rec)
	})
	if err != nil {
		return rules.FileRef{}, err
	}
	// One chunk per transaction: a whole file would pass Badger's
	// transaction size.
	for i := range rec.Chunks {
		if err := ch.c.store.Update(func(t *store.Txn) error { return t.PutChunk(rec.Hash, i, chunkOf(data, i)) }); err != nil {
			return rules.FileRef{}, err
		}
	}
	ref := rec.Ref(fileName(name))
	return ref, ref.Check()
}

func chunkOf(data []byte, i int) []byte {
	start := i * rules.FileChunkBytes
	return data[start:min(len(data), start+rules.FileChunkBytes)]
}

// fileName makes a name one plain file name: the last path element,
// without control characters, at most rules.MaxFileNameChars.
func fileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	for utf8.RuneCountInString(name) > rules.MaxFileNameChars {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name = strings.TrimSpace(name); name == "" || name == "." || name == ".." || name == "/" {
		name = "file"
	}
	return name
}

// stripMetadata re-encodes JPEG and PNG images (the standard library's
// encoders write pixels only); other types pass unchanged. An image that
// does not decode is refused: its metadata could not be removed.
func stripMetadata(typ string, data []byte) ([]byte, error) {
	var out bytes.Buffer
	switch typ {
	case "image/jpeg":
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%w: the JPEG image does not decode", rules.ErrFileInvalid)
		}
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 92})
		return out.Bytes(), err
	case "image/png":
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%w: the PNG image does not decode", rules.ErrFileInvalid)
		}
		err = png.Encode(&out, img)
		return out.Bytes(), err
	}
	return data, nil
}

// thumbnail is a small JPEG of a picture (at most thumbSide pixels on
// its longer side and rules.MaxThumbBytes), or nil for anything else or a
// picture that does not decode.
func thumbnail(typ string, data []byte) []byte {
	if typ != "image/jpeg" && typ != "image/png" && typ != "image/gif" {
		return nil
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	for _, side := range []int{thumbSide, thumbSide / 2} {
		b := img.Bounds()
		w, h := b.Dx(), b.Dy()
		if w == 0 || h == 0 {
			return nil
		}
		if w > side || h > side {
			if w >= h {
				w, h = side, max(1, h*side/w)
			} else {
				w, h = max(1, w*side/h), side
			}
		}
		small := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.CatmullRom.Scale(small, small.Bounds(), img, b, draw.Src, nil)
		for _, q := range []int{70, 45} {
			var out bytes.Buffer
			if jpeg.Encode(&out, small, &jpeg.Options{Quality: q}) == nil && out.Len() <= rules.MaxThumbBytes {
				return out.Bytes()
			}
		}
	}
	return nil
}

// thumbSide is a thumbnail's longer side, in pixels.
const thumbSide = 128

// PostFiles posts a message with attached files (uploaded on this node
// by a local account) and an optional body, as Post or, with replyTo,
// Reply.
func (ch *Chat) PostFiles(ctx context.Context, a Actor, party, topic, body, replyTo, clientID string, files []FileChoice) (MessageView, error) {
	if len(files) == 0 {
		if replyTo != "" {
			return ch.Reply(ctx, a, party, topic, replyTo, body, clientID)
		}
		return ch.Post(ctx, a, party, topic, body, clientID)
	}
	if len(files) > rules.MaxFilesPerMessage {
		return MessageView{}, fmt.Errorf("%w: at most %d files per message", rules.ErrFileTooMany, rules.MaxFilesPerMessage)
	}
	if body != "" {
		var err error
		if body, err = rules.CheckBody(body); err != nil {
			return MessageView{}, err
		}
	}
	if utf8.RuneCountInString(clientID) > 64 {
		return MessageView{}, fmt.Errorf("%w: clientId longer than 64 characters", rules.ErrMessageInvalid)
	}
	var refs []rules.FileRef
	err := ch.c.store.View(func(t *store.Txn) error {
		for _, f := range files {
			rec, err := t.File(f.Hash)
			if err != nil || !rec.Complete() {
				return fmt.Errorf("%w: upload the file first", rules.ErrFileNotFound)
			}
			refs = append(refs, rec.Ref(fileName(f.Name)))
		}
		return nil
	})
	if err != nil {
		return MessageView{}, err
	}
	if err := rules.CheckFiles(refs); err != nil {
		return MessageView{}, err
	}
	return ch.publish(ctx, a, party, rules.Message{Topic: topic, Kind: rules.MsgPost, Body: body, ReplyTo: replyTo, ClientID: clientID, Files: refs})
}

// FileInfo returns what is known of a file a post of the party attaches,
// for a member of it.
func (ch *Chat) FileInfo(a Actor, party, hash string) (store.FileRecord, error) {
	if err := ch.c.requireMember(a, party); err != nil {
		return store.FileRecord{}, err
	}
	return store.Read(ch.c.store, func(t *store.Txn) (store.FileRecord, error) {
		if !t.FileLinked(party, hash) {
			return store.FileRecord{}, rules.ErrFileNotFound
		}
		return t.File(hash)
	})
}

// ReadFile writes a file a post of the party attaches to w, chunk by
// chunk, for a member of the party: chunks held here, and the others
// fetched from the party's member nodes and kept (so an interrupted read
// resumes where it stopped). It fails with rules.ErrFileUnavailable when
// no reachable member node gives a chunk that matches its hash.
func (ch *Chat) ReadFile(ctx context.Context, a Actor, party, hash string, w io.Writer) error {
	rec, err := ch.FileInfo(a, party, hash)
	if err != nil {
		return err
	}
	ref := rec.Ref("file")
	fetched := false
	for i := range rec.Chunks {
		data, err := store.Read(ch.c.store, func(t *store.Txn) ([]byte, error) { return t.Chunk(hash, i) })
		if errors.Is(err, store.ErrMissing) {
			data, err = ch.fetchChunk(ctx, party, ref, i)
			fetched = true
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if rec.Own {
		return nil
	}
	err = ch.c.store.Update(func(t *store.Txn) error {
		f, err := t.File(hash)
		if err != nil {
			return err
		}
		f.Used = ch.c.now().UnixMilli()
		return t.PutFile(f)
	})
	if err == nil && fetched {
		err = ch.trimFileCache(hash)
	}
	return err
}

// trimFileCache drops the chunks of the least recently read files this
// node fetched (never its own accounts' uploads, never keep) until what
// it holds of them fits Config.FileCacheBytes. A dropped file is fetched
// again from the party's nodes if read.
func (ch *Chat) trimFileCache(keep string) error {
	budget := ch.c.cfg.FileCacheBytes
	if budget <= 0 {
		budget = DefaultFileCache
	}
	files, err := store.Read(ch.c.store, func(t *store.Txn) ([]store.FileRecord, error) { return t.Files() })
	if err != nil {
		return err
	}
	var held int64
	var fetched []store.FileRecord
	for _, f := range files {
		if !f.Own && f.Have > 0 {
			held += f.Held()
			fetched = append(fetched, f)
		}
	}
	slices.SortFunc(fetched, func(a, b store.FileRecord) int { return cmp.Compare(a.Used, b.Used) })
	for _, f := range fetched {
		if held <= budget {
			break
		}
		if f.Hash == keep {
			continue
		}
		if err := ch.c.store.Update(func(t *store.Txn) error { return t.DropChunks(f.Hash) }); err != nil {
			return err
		}
		held -= f.Held()
		ch.c.lg.Debug("dropped a fetched file from the cache", "file", f.Hash, "bytes", f.Held())
	}
	return nil
}

// fetchChunk asks the party's member nodes for chunk i, from a random one
// on (spreading the load), keeps the first that matches its hash, and
// passes over peers that send one that does not.
func (ch *Chat) fetchChunk(ctx context.Context, party string, ref rules.FileRef, i int) ([]byte, error) {
	st, err := ch.c.store.State(party)
	if err != nil {
		return nil, err
	}
	self := ch.c.net.SelfPeer()
	var peers []string
	for _, m := range st.Members {
		if m.Peer != self && !slices.Contains(peers, m.Peer) {
			peers = append(peers, m.Peer)
		}
	}
	slices.Sort(peers)
	if len(peers) > 0 {
		k := rand.IntN(len(peers))
		peers = append(peers[k:], peers[:k]...)
	}
	for _, p := range peers {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		data, err := ch.c.rep.FetchChunk(ctx, p, party, ref, i)
		if errors.Is(err, replica.ErrChunkMismatch) {
			ch.c.lg.Warn("refused a file chunk that does not match its hash", "party", party, "peer", p, "file", ref.Hash, "chunk", i)
			ch.c.cfg.Observer.Rejected("chunk_mismatch")
			continue
		}
		if err != nil {
			continue // not there, or not reachable: the next one
		}
		if err := ch.c.store.Update(func(t *store.Txn) error { return t.PutChunk(ref.Hash, i, data) }); err != nil {
			return nil, err
		}
		return data, nil
	}
	return nil, rules.ErrFileUnavailable
}

// Chunk serves chunk i of a file a post of party attaches (replica.Log).
func (l *ledger) Chunk(party, hash string, i int) ([]byte, error) {
	return store.Read(l.c.store, func(t *store.Txn) ([]byte, error) {
		if !t.FileLinked(party, hash) {
			return nil, rules.ErrFileNotFound
		}
		data, err := t.Chunk(hash, i)
		if errors.Is(err, store.ErrMissing) {
			return nil, rules.ErrFileNotFound
		}
		return data, err
	})
}
