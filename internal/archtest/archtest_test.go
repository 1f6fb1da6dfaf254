// Package archtest keeps the picture in house-style.md true: imports point down
// only, the MLS engine stays pure, and the documentation tables that map
// security claims and RFC checks to tests name tests that exist.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

const module = "github.com/daylight-im/daylight"

type pkg struct {
	path    string // import path
	imports map[string]bool
	tests   map[string]bool // Test/Fuzz/Benchmark/Example functions in _test.go files
}

func loadTree(t *testing.T) map[string]*pkg {
	t.Helper()
	root := testkit.RepoRoot(t)
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "out" || name == "bench") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		ip := module
		if rel != "." {
			ip = module + "/" + filepath.ToSlash(rel)
		}
		pk := pkgs[ip]
		if pk == nil {
			pk = &pkg{path: ip, imports: map[string]bool{}, tests: map[string]bool{}}
			pkgs[ip] = pk
		}
		isTest := strings.HasSuffix(p, "_test.go")
		mode := parser.ImportsOnly
		if isTest {
			mode = parser.SkipObjectResolution
		}
		f, err := parser.ParseFile(fset, p, nil, mode)
		if err != nil {
			return err
		}
		if isTest {
			for _, decl := range f.Decls {
				if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
					pk.tests[fn.Name.Name] = true
				}
			}
			return nil
		}
		for _, im := range f.Imports {
			s, _ := strconv.Unquote(im.Path.Value)
			pk.imports[s] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the tree: %v", err)
	}
	return pkgs
}

func rel(ip string) string { return strings.TrimPrefix(strings.TrimPrefix(ip, module), "/") }

func under(ip string, prefixes ...string) bool {
	r := rel(ip)
	for _, p := range prefixes {
		if r == p || strings.HasPrefix(r, p+"/") {
			return true
		}
	}
	return false
}

func isStd(ip string) bool { return !strings.Contains(strings.SplitN(ip, "/", 2)[0], ".") }

// TestMLSIsPure: mls/... imports only the standard library, golang.org/x/crypto,
// cloudflare/circl and other mls packages; no network, database or logging.
func TestMLSIsPure(t *testing.T) {
	forbidden := []string{"net", "net/http", "database/sql", "log", "log/slog", "context", "os/exec"}
	for _, p := range loadTree(t) {
		if !under(p.path, "mls") {
			continue
		}
		for im := range p.imports {
			switch {
			case strings.HasPrefix(im, module+"/"):
				if !under(im, "mls") {
					t.Errorf("%s imports %s: mls/ may import only mls/ packages of this module", rel(p.path), rel(im))
				}
			case isStd(im):
				for _, f := range forbidden {
					if im == f {
						t.Errorf("%s imports %s: the MLS engine is pure computation", rel(p.path), im)
					}
				}
			case strings.HasPrefix(im, "golang.org/x/crypto"), strings.HasPrefix(im, "github.com/cloudflare/circl"):
			default:
				t.Errorf("%s imports %s: mls/ may use only the standard library, x/crypto and circl", rel(p.path), im)
			}
		}
	}
}

// TestImportsPointDown: cmd -> server/client/store/accesslog/tlog -> domain
// services -> pure packages. Lower layers never import higher ones.
func TestImportsPointDown(t *testing.T) {
	pure := []string{"mls", "shamir", "escrow", "franking", "policy", "warrant", "evidence", "api"}
	services := []string{"ds", "keydir", "trustee", "witness", "authority", "intake", "report", "accesslog", "moderation"}
	adapters := []string{"server", "client", "store", "cmd"}
	for _, p := range loadTree(t) {
		for im := range p.imports {
			if !strings.HasPrefix(im, module+"/") {
				if under(p.path, pure...) && !under(p.path, "mls") && (im == "database/sql" || im == "net/http" || strings.HasPrefix(im, "github.com/jackc/") || strings.HasPrefix(im, "modernc.org/")) {
					t.Errorf("%s imports %s: pure domain packages do no I/O", rel(p.path), im)
				}
				continue
			}
			switch {
			case under(im, "cmd"):
				t.Errorf("%s imports %s: nothing imports a binary", rel(p.path), rel(im))
			case under(p.path, pure...) && under(im, append(services, adapters...)...) && !under(im, "accesslog"):
				t.Errorf("%s imports %s: pure packages must not import services or adapters", rel(p.path), rel(im))
			case under(p.path, services...) && under(im, adapters...) && !under(p.path, "accesslog/tlog"):
				t.Errorf("%s imports %s: domain services must not import adapters", rel(p.path), rel(im))
			case under(p.path, "store") && under(im, "server", "client"):
				t.Errorf("%s imports %s: storage drivers must not import the transport", rel(p.path), rel(im))
			case under(p.path, "server") && under(im, "client"), under(p.path, "client") && under(im, "server"):
				t.Errorf("%s imports %s: server and client meet only in api/", rel(p.path), rel(im))
			}
		}
	}
}

var testName = regexp.MustCompile(`\b(Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*\b`)

// tableRows returns the cells of each row of the markdown tables in a docs file.
func tableRows(t *testing.T, name string) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", name))
	if err != nil {
		t.Fatalf("docs/%s: %v", name, err)
	}
	var rows [][]string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) > 0 {
		rows = rows[1:] // header
	}
	return rows
}

func allTests(t *testing.T) map[string]bool {
	all := map[string]bool{}
	for _, p := range loadTree(t) {
		for n := range p.tests {
			all[n] = true
		}
	}
	return all
}

// checkTable fails for every test named in the last column of a docs table that
// does not exist as a function in some _test.go file.
func checkTable(t *testing.T, name string) [][]string {
	all := allTests(t)
	rows := tableRows(t, name)
	for _, r := range rows {
		last := r[len(r)-1]
		names := testName.FindAllString(last, -1)
		if len(names) == 0 && !strings.Contains(strings.ToLower(last), "not yet") {
			t.Errorf("docs/%s row %q names no test (write \"not yet: <why>\" if none exists)", name, strings.Join(r, " | "))
		}
		for _, n := range names {
			if !all[n] {
				t.Errorf("docs/%s names %s, which is not a test function in the tree", name, n)
			}
		}
	}
	return rows
}

func TestValidationTableNamesRealTests(t *testing.T) {
	if rows := checkTable(t, "validation.md"); len(rows) == 0 {
		t.Errorf("docs/validation.md lists no checks")
	}
}

func TestAttackTableNamesRealTestsAndEveryThreat(t *testing.T) {
	rows := checkTable(t, "attacks.md")
	seen := map[string]bool{}
	threat := regexp.MustCompile(`\bT([0-9]+)\b`)
	for _, r := range rows {
		for _, m := range threat.FindAllStringSubmatch(r[0], -1) {
			seen["T"+m[1]] = true
		}
	}
	var missing []string
	for i := 1; i <= 17; i++ {
		if id := "T" + strconv.Itoa(i); !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/attacks.md has no row for threats %v of lawful-access.md", missing)
	}
}
