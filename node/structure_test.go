package node_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/chatterbox/chatterbox"

// packages returns every package directory of the module (relative to its
// root) with the imports of its non-test files.
func packages(t *testing.T) map[string]map[string]bool {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if pkgs[rel] == nil {
			pkgs[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			pkgs[rel][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// TestEveryPackageHasADocComment keeps `go doc` useful for every package.
func TestEveryPackageHasADocComment(t *testing.T) {
	for dir := range packages(t) {
		fset := token.NewFileSet()
		matches, _ := filepath.Glob(filepath.Join("..", dir, "*.go"))
		documented := false
		for _, m := range matches {
			if strings.HasSuffix(m, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, m, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				documented = true
			}
		}
		if !documented {
			t.Errorf("package %s has no doc comment", dir)
		}
	}
}

// TestLayering enforces DESIGN.md §1: which package may not import which.
func TestLayering(t *testing.T) {
	forbidden := map[string][]string{
		"identity": {module + "/party", module + "/gossip", module + "/gateway", module + "/node"},
		"party":    {module + "/gossip", module + "/gateway", module + "/node", "github.com/libp2p/"},
		"gossip":   {module + "/gateway", module + "/party", module + "/node"},
		"gateway":  {module + "/gossip", module + "/node"},
	}
	for dir, imports := range packages(t) {
		top := strings.Split(filepath.ToSlash(dir), "/")[0]
		for imp := range imports {
			for _, bad := range forbidden[top] {
				if strings.HasPrefix(imp, bad) {
					t.Errorf("%s imports %s, which DESIGN.md forbids", dir, imp)
				}
			}
		}
	}
}

// TestDependenciesPointDownTransitively: the party domain pulls in no
// networking, session, OAuth, mail or password-hashing code, not even
// through a package it imports (`go list -deps`); its rules are pure
// (no storage, no network, no other module); its replication protocol
// knows no storage.
func TestDependenciesPointDownTransitively(t *testing.T) {
	forbidden := map[string][]string{
		"./party/...":           {"github.com/libp2p/", "github.com/golang-jwt/", "golang.org/x/oauth2", "github.com/wneessen/go-mail", "golang.org/x/crypto/argon2", module + "/identity\n"},
		"./identity/member/...": {"github.com/", "golang.org/x/", module + "/"},
		"./party/rules/...":     {"github.com/", "golang.org/x/", "net\n", "net/http\n", module + "/party/store", module + "/party/replica", module + "/identity\n", module + "/identity/kv"},
		"./party/replica/...":   {"github.com/", "golang.org/x/", "net/http\n", module + "/party/store", module + "/identity\n", module + "/identity/kv"},
	}
	for pattern, bad := range forbidden {
		cmd := exec.Command("go", "list", "-deps", pattern)
		cmd.Dir = ".."
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pattern, err)
		}
		deps := string(out)
		for _, b := range bad {
			for _, line := range strings.Split(deps, "\n") {
				ours := strings.HasPrefix(line, module+"/")
				if ours && !strings.HasPrefix(b, module) {
					continue // "github.com/" means other modules
				}
				if strings.HasPrefix(line+"\n", b) && !strings.HasPrefix(line, module+"/identity/member") {
					t.Errorf("%s depends on %s", pattern, line)
				}
			}
		}
	}
}
