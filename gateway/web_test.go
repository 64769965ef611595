package gateway

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// TestWebAppHasASentenceForEveryErrorCode keeps the web app's fallback
// sentences (web/src/errors.ts) in step with the codes the gateway can
// answer, so no user ever sees a raw code.
func TestWebAppHasASentenceForEveryErrorCode(t *testing.T) {
	ts, err := os.ReadFile("web/src/errors.ts")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+([a-z_]+): "`).FindAllSubmatch(ts, -1) {
		have[string(m[1])] = true
	}
	want := map[string]bool{}
	for code := range partyErrors {
		want[code] = true
	}
	files, _ := filepath.Glob("*.go")
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`Code:\s*"([a-z_]+)"`),
		regexp.MustCompile(`http\.Status\w+, "([a-z_]+)"`),
		regexp.MustCompile(`code := "([a-z_]+)"`),
		regexp.MustCompile(`code = "([a-z_]+)"`),
	}
	for _, f := range files {
		if filepath.Ext(f) != ".go" || f == "web_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range patterns {
			for _, m := range re.FindAllSubmatch(src, -1) {
				want[string(m[1])] = true
			}
		}
	}
	if len(want) < 40 {
		t.Fatalf("found only %d error codes in the gateway; the scan is broken", len(want))
	}
	var missing []string
	for code := range want {
		if !have[code] {
			missing = append(missing, code)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("web/src/errors.ts has no sentence for %v", missing)
	}
}
