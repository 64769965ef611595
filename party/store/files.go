package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatterbox/chatterbox/identity/kv"
	"github.com/chatterbox/chatterbox/party/rules"
)

// FileRecord is what this node knows of an attached file: its reference
// (name aside: each post names it), how many of its chunks are here, and
// whether a local account uploaded it (kept for good, never evicted).
type FileRecord struct {
	Hash   string   `json:"hash"`
	Size   int64    `json:"size"`
	Type   string   `json:"type"`
	Chunks []string `json:"chunks"`
	Have   int      `json:"have"`
	Own    bool     `json:"own,omitempty"`
	Thumb  []byte   `json:"thumb,omitempty"`
	// Used is when a local account last read the file (unix ms); the
	// file cache drops the least recently read first.
	Used int64 `json:"used,omitempty"`
}

// Held is how many bytes of the file are here.
func (f FileRecord) Held() int64 {
	var n int64
	for i := range f.Have {
		n += int64(rules.ChunkSize(f.Size, i))
	}
	return n
}

// Complete reports whether every chunk is here.
func (f FileRecord) Complete() bool { return f.Have == len(f.Chunks) }

// Ref is the file's reference with a name.
func (f FileRecord) Ref(name string) rules.FileRef {
	return rules.FileRef{Hash: f.Hash, Size: f.Size, Type: f.Type, Name: name, Chunks: f.Chunks, Thumb: f.Thumb}
}

func chunkKey(hash string, i int) []byte { return fmt.Appendf(nil, "%s%s/%04x", pChunk, hash, i) }

// File returns the record of a file (ErrMissing if unknown).
func (t *Txn) File(hash string) (FileRecord, error) {
	var f FileRecord
	err := t.get([]byte(pFile+hash), &f)
	return f, err
}

// PutFile writes a file's record.
func (t *Txn) PutFile(f FileRecord) error { return t.set([]byte(pFile+f.Hash), f) }

// Chunk returns chunk i of a file (ErrMissing if not here).
func (t *Txn) Chunk(hash string, i int) ([]byte, error) {
	item, err := t.txn.Get(chunkKey(hash, i))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrMissing
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// PutChunk stores chunk i of a file, verified by the caller, and counts
// it in the file's record (which must exist).
func (t *Txn) PutChunk(hash string, i int, data []byte) error {
	f, err := t.File(hash)
	if err != nil {
		return err
	}
	if _, err := t.txn.Get(chunkKey(hash, i)); err == nil {
		return nil // here already
	}
	if err := t.txn.Set(chunkKey(hash, i), data); err != nil {
		return err
	}
	f.Have++
	return t.PutFile(f)
}

// LinkFile records that a post of party attaches the file, and its
// record, so the file may be served to and fetched for that party.
func (t *Txn) LinkFile(party string, ref rules.FileRef) error {
	if _, err := t.File(ref.Hash); errors.Is(err, ErrMissing) {
		if err := t.PutFile(FileRecord{Hash: ref.Hash, Size: ref.Size, Type: ref.Type, Chunks: ref.Chunks, Thumb: ref.Thumb}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	return t.txn.Set([]byte(pFRef+party+"/"+ref.Hash), nil)
}

// FileLinked reports whether a post of party attaches the file.
func (t *Txn) FileLinked(party, hash string) bool {
	_, err := t.txn.Get([]byte(pFRef + party + "/" + hash))
	return err == nil
}

// Files lists every file record.
func (t *Txn) Files() ([]FileRecord, error) { return listAll[FileRecord](t, pFile) }

// DropChunks deletes every chunk of a file held here (the record stays,
// with none held: the file is fetched again when read).
func (t *Txn) DropChunks(hash string) error {
	f, err := t.File(hash)
	if err != nil {
		return err
	}
	if err := kv.DeletePrefix(t.txn, []byte(pChunk+hash+"/")); err != nil {
		return err
	}
	f.Have = 0
	return t.PutFile(f)
}
