package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party/rules"
)

// TestErrorTableCoversEveryCode keeps the one error table complete: every
// code identity and party produce, and every code the gateway names, has
// a status and a sentence, so no user ever sees a raw code.
func TestErrorTableCoversEveryCode(t *testing.T) {
	want := map[string]string{}
	for _, c := range rules.Codes() {
		want[c] = "party"
	}
	for _, c := range identity.Codes() {
		want[c] = "identity"
	}
	files, _ := filepath.Glob("*.go")
	named := regexp.MustCompile(`apiErr\("([a-z_]+)"\)|code (?::?= )"([a-z_]+)"`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range named.FindAllSubmatch(src, -1) {
			want[string(append(m[1], m[2]...))] = f
		}
	}
	if len(want) < 60 {
		t.Fatalf("found only %d error codes; the scan is broken", len(want))
	}
	var missing []string
	for code, from := range want {
		if _, ok := errorTable[code]; !ok {
			missing = append(missing, code+" ("+from+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("the error table has no status and sentence for %v", missing)
	}
}

// TestGeneratedFilesAreCurrent fails when web/src/api/errors.gen.ts no
// longer matches the error table: run `go generate ./gateway`.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	have, err := os.ReadFile("web/src/api/errors.gen.ts")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, ErrorsTS()) {
		t.Fatal("web/src/api/errors.gen.ts is out of date: run `go generate ./gateway`")
	}
}
