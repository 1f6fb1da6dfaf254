package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScripts runs the CLI scripts in testdata/*.txt, each against a fresh
// in-process server. Script lines:
//
//	# comment
//	> PROFILE ARGS...   run `daylight --home PROFILE ARGS...`; it must succeed
//	! PROFILE ARGS...   the same, but it must fail
//	stdout REGEXP       the last command's stdout matches
//	! stdout REGEXP     the last command's stdout does not match
//	err REGEXP          the last command's error (with its hint) matches
//
// Arguments split on spaces; "double quotes" group words.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

func runScript(t *testing.T, path string) {
	url := startServer(t)
	dir := t.TempDir()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, errText string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fail := func(f string, a ...any) { t.Helper(); t.Fatalf("%s:%d: %s: "+f, append([]any{path, n, line}, a...)...) }
		match := func(re, s string) bool {
			ok, err := regexp.MatchString(re, s)
			if err != nil {
				fail("bad regexp: %v", err)
			}
			return ok
		}
		switch {
		case strings.HasPrefix(line, "> "), strings.HasPrefix(line, "! ") && !strings.HasPrefix(line, "! stdout "):
			words, err := splitLine(line[2:])
			if err != nil || len(words) < 2 {
				fail("want PROFILE ARGS...")
			}
			var out, errb bytes.Buffer
			args := append([]string{"--home", filepath.Join(dir, words[0]), "--server", url}, words[1:]...)
			cerr := run(context.Background(), args, strings.NewReader(""), &out, &errb)
			stdout, errText = out.String(), ""
			if cerr != nil {
				errText = cerr.Error() + "\nhint: " + hint(cerr)
			}
			if line[0] == '>' && cerr != nil {
				fail("failed: %v\n%s", cerr, stdout)
			}
			if line[0] == '!' && cerr == nil {
				fail("succeeded, want an error; stdout:\n%s", stdout)
			}
		case strings.HasPrefix(line, "stdout "):
			if re := line[len("stdout "):]; !match(re, stdout) {
				fail("stdout does not match:\n%s", stdout)
			}
		case strings.HasPrefix(line, "! stdout "):
			if re := line[len("! stdout "):]; match(re, stdout) {
				fail("stdout matches:\n%s", stdout)
			}
		case strings.HasPrefix(line, "err "):
			if re := line[len("err "):]; !match(re, errText) {
				fail("error does not match: %s", errText)
			}
		default:
			fail("unknown script line")
		}
	}
}
