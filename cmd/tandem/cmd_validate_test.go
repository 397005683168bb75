package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeApps writes name -> content files into a temporary directory and
// returns their paths in the order given by names.
func writeApps(t *testing.T, files map[string]string, names ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(files[n]), 0o640); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

const goodApp = `@app:name('Good')
@source(type='http', receiver.url='http://localhost:8080/in', @map(type='json'))
define stream In (sym string, price double);
@sink(type='log')
define stream Out (sym string, total double);
from In#window.length(10) select sym, sum(price) as total group by sym insert into Out;
`

func TestValidate(t *testing.T) {
	files := map[string]string{
		"good.siddhi":   goodApp,
		"syntax.siddhi": "define stream S (a int);\nfrom S[a >] select a insert into T;\nfrom S select a + 1 insert into U;\n",
		"types.siddhi":  "define stream S (sym string, price float);\nfrom S[sym > 1] select prize insert into T;\n",
		"conn.siddhi":   "@sink(type='inMemory', topic='x') define stream S (a int);\n",
		"dup.siddhi":    "@app:name('Good') define stream S (a int);\n",
		"engine.siddhi": "define stream S (a int);\ndefine table T (a int);\nfrom S select a insert into T;\n",
	}
	tests := []struct {
		name       string
		args       []string
		status     int
		stdout     []string // substrings that must appear
		stderr     []string
		noStderrOf []string
	}{
		{name: "valid", args: []string{"good.siddhi"}, status: 0, stdout: []string{"good.siddhi: ok"}},
		{name: "syntax errors, several, with excerpts", args: []string{"syntax.siddhi"}, status: 1, stderr: []string{
			"syntax.siddhi:2:11: expected expression, found ']'",
			"  2 | from S[a >] select a insert into T;\n    |           ^\n",
			"syntax.siddhi:3:21: expected 'as', found 'insert'",
		}},
		{name: "type errors with hints", args: []string{"types.siddhi"}, status: 1, stderr: []string{
			"types.siddhi:2:12: '>' cannot compare string values",
			"types.siddhi:2:24: attribute 'prize' is not defined in stream S",
			"= hint: did you mean 'price'?",
		}},
		{name: "connectors are those tandem run has", args: []string{"conn.siddhi"}, status: 1, stderr: []string{
			"conn.siddhi:1:7: unknown sink type 'inMemory'",
		}},
		{name: "brief", args: []string{"-brief", "types.siddhi"}, status: 1, stderr: []string{
			"types.siddhi:2:12: '>' cannot compare string values: it needs numbers, but found string and int\n",
		}, noStderrOf: []string{"hint", "^"}},
		{name: "several files, duplicate app name", args: []string{"good.siddhi", "dup.siddhi"}, status: 1,
			stdout: []string{"good.siddhi: ok"}, stderr: []string{"dup.siddhi:1:1: app name \"Good\" is already used by"}},
		{name: "what the engine does not run", args: []string{"engine.siddhi"}, status: 1, stderr: []string{"engine.siddhi:2:1:", "define table (T) is not supported"}},
		{name: "missing file", args: []string{"nope.siddhi"}, status: 1, stderr: []string{"tandem validate:", "nope.siddhi"}},
		{name: "no files", args: nil, status: 2, stderr: []string{"Usage: tandem validate"}},
		{name: "bad flag", args: []string{"-x"}, status: 2},
		{name: "help", args: []string{"-h"}, status: 0, stderr: []string{"Usage: tandem validate"}},
	}
	names := []string{"good.siddhi", "syntax.siddhi", "types.siddhi", "conn.siddhi", "dup.siddhi", "engine.siddhi"}
	paths := writeApps(t, files, names...)
	dir := filepath.Dir(paths[0])
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			for _, a := range tt.args {
				if strings.HasSuffix(a, ".siddhi") {
					a = filepath.Join(dir, a)
				}
				args = append(args, a)
			}
			var stdout, stderr bytes.Buffer
			if got := cmdValidate(args, &stdout, &stderr); got != tt.status {
				t.Errorf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.status, stdout.String(), stderr.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			for _, s := range tt.noStderrOf {
				if strings.Contains(stderr.String(), s) {
					t.Errorf("stderr has %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

func TestFmt(t *testing.T) {
	messy := "@App:name('M') DEFINE STREAM S (a INT, b STRING);\nFROM S[a>1 AND (b=='x')] SELECT a, b INSERT INTO T;"
	canonical := "@App:name('M')\n\ndefine stream S (a int, b string);\n\nfrom S[a > 1 and b == 'x']\nselect a, b\ninsert into T;\n"
	files := map[string]string{
		"messy.siddhi":     messy,
		"canonical.siddhi": canonical,
		"comment.siddhi":   "-- keep me\n" + messy,
		"broken.siddhi":    "define stream S (a int)\nfrom S select a insert into;",
	}
	paths := writeApps(t, files, "messy.siddhi", "canonical.siddhi", "comment.siddhi", "broken.siddhi")
	messyP, canonP, commentP, brokenP := paths[0], paths[1], paths[2], paths[3]

	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := cmdFmt(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	if code, out, errOut := run(messyP); code != 0 || out != canonical {
		t.Errorf("fmt messy: status %d, stderr %q\ngot:\n%s\nwant:\n%s", code, errOut, out, canonical)
	}
	// Formatting is idempotent.
	if code, out, _ := run(canonP); code != 0 || out != canonical {
		t.Errorf("fmt canonical changed it:\n%s", out)
	}
	if code, out, _ := run("-l", messyP, canonP); code != 0 || out != messyP+"\n" {
		t.Errorf("fmt -l: status %d, output %q", code, out)
	}
	code, out, _ := run(messyP, canonP)
	if code != 0 || !strings.HasPrefix(out, "-- "+messyP+"\n") || !strings.Contains(out, "\n\n-- "+canonP+"\n") {
		t.Errorf("fmt of two files: status %d\n%s", code, out)
	}
	if code, _, errOut := run(brokenP); code != 1 || !strings.Contains(errOut, "broken.siddhi:2:1: expected ';', found 'from'") {
		t.Errorf("fmt broken: status %d, stderr:\n%s", code, errOut)
	}
	if code, _, errOut := run("-w", commentP); code != 1 || !strings.Contains(errOut, "has comments") {
		t.Errorf("fmt -w with comments: status %d, stderr %q", code, errOut)
	}
	if b, _ := os.ReadFile(commentP); string(b) != files["comment.siddhi"] {
		t.Errorf("fmt -w rewrote a file with comments")
	}
	if code, out, errOut := run("-w", messyP); code != 0 || out != "" {
		t.Errorf("fmt -w: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(messyP); string(b) != canonical {
		t.Errorf("fmt -w wrote:\n%s", b)
	}
	if info, err := os.Stat(messyP); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("fmt -w changed permissions: %v %v", info.Mode(), err)
	}
	if code, _, _ := run(); code != 2 {
		t.Errorf("fmt without files: status %d, want 2", code)
	}
	if code, _, errOut := run(filepath.Join(t.TempDir(), "missing.siddhi")); code != 1 || !strings.Contains(errOut, "tandem fmt:") {
		t.Errorf("fmt of a missing file: status %d, %q", code, errOut)
	}
}
