package rules

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Attachments: a post may carry files. A file is content-addressed (the
// SHA-256 of its bytes) and cut into chunks, each named by its own hash;
// the post carries each file's FileRef, so every node can check a chunk
// it is given against the author's signed word before keeping it.
const (
	MaxFilesPerMessage = 8
	MaxFileBytes       = 25 << 20
	FileChunkBytes     = 1 << 20
	MaxFileNameChars   = 200
	maxFileTypeLen     = 100
	// MaxThumbBytes bounds a picture's thumbnail (a small JPEG the post
	// carries, shown while the picture itself is fetched).
	MaxThumbBytes = 6 << 10
)

// FileRef is what a post says of one attached file.
type FileRef struct {
	Hash   string   `json:"hash"` // hex SHA-256 of the whole file
	Size   int64    `json:"size"`
	Type   string   `json:"type"` // media type, as the author's node sniffed it
	Name   string   `json:"name"`
	Chunks []string `json:"chunks"` // hex SHA-256 of each FileChunkBytes piece, in order
	// Thumb (pictures only) is a small JPEG of the picture.
	Thumb []byte `json:"thumb,omitempty"`
}

// ChunkCount is how many chunks a file of size bytes has.
func ChunkCount(size int64) int { return int((size + FileChunkBytes - 1) / FileChunkBytes) }

// ChunkSize is the size of chunk i of a file of size bytes.
func ChunkSize(size int64, i int) int {
	return int(min(FileChunkBytes, size-int64(i)*FileChunkBytes))
}

// Check validates a file reference's shape: the limits, the hashes, a
// name that is one plain file name, a media type.
func (f FileRef) Check() error {
	bad := func(what string) error { return fmt.Errorf("%w: file %s", ErrFileInvalid, what) }
	switch {
	case !isHexHash(f.Hash):
		return bad("hash")
	case f.Size < 1 || f.Size > MaxFileBytes:
		return fmt.Errorf("%w: a file is 1 byte to %d MiB", ErrFileTooLarge, MaxFileBytes>>20)
	case len(f.Chunks) != ChunkCount(f.Size):
		return bad("chunks")
	case !validFileName(f.Name):
		return bad("name")
	case !validMediaType(f.Type):
		return bad("type")
	case len(f.Thumb) > 0 && (len(f.Thumb) > MaxThumbBytes || !strings.HasPrefix(f.Type, "image/") || !bytes.HasPrefix(f.Thumb, []byte{0xff, 0xd8, 0xff})):
		return bad("thumbnail")
	}
	for _, c := range f.Chunks {
		if !isHexHash(c) {
			return bad("chunk hash")
		}
	}
	return nil
}

// CheckFiles validates a post's files: at most MaxFilesPerMessage, each
// well formed, none twice.
func CheckFiles(files []FileRef) error {
	if len(files) > MaxFilesPerMessage {
		return fmt.Errorf("%w: at most %d files per message", ErrFileTooMany, MaxFilesPerMessage)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if err := f.Check(); err != nil {
			return err
		}
		if seen[f.Hash] {
			return fmt.Errorf("%w: the same file twice", ErrFileInvalid)
		}
		seen[f.Hash] = true
	}
	return nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validFileName(name string) bool {
	if name == "" || name == "." || name == ".." || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxFileNameChars ||
		strings.TrimSpace(name) != name || strings.ContainsAny(name, `/\`) {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func validMediaType(t string) bool {
	main, sub, ok := strings.Cut(t, "/")
	if !ok || len(t) > maxFileTypeLen || main == "" || sub == "" {
		return false
	}
	for _, r := range main + sub {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(".+-", r)) {
			return false
		}
	}
	return true
}
