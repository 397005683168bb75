package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Three cases: one that passes, one whose recorded output differs from the
// engine's, one the engine does not run (a table).
const confCases = `[
 {"id": "t/Case#pass", "app": "define stream S (a int); @info(name='q') from S[a > 1] select a insert into O;",
  "inputs": [{"stream": "S", "data": [1]}, {"stream": "S", "data": [2]}], "final_sleep_ms": 0,
  "expect": {"stream_or_query": "q", "kind": "query_callback", "events": [{"data": [2], "expired": false}],
   "count": 1, "ordered": true, "partial": false}, "expect_error": null},
 {"id": "t/Case#fail", "app": "define stream S (a int); from S select a * 2 as b insert into O;",
  "inputs": [{"stream": "S", "data": [3]}], "final_sleep_ms": 0,
  "expect": {"stream_or_query": "O", "kind": "stream", "events": [{"data": [7], "expired": false}],
   "count": 1, "ordered": true, "partial": false}, "expect_error": null},
 {"id": "t/Other#table", "app": "define stream S (a int); define table T (a int); from S insert into T;",
  "inputs": [], "final_sleep_ms": 0, "expect": null, "expect_error": null}
]`

// A case whose timer fires only when its sleep advances the virtual clock.
const confTimed = `[
 {"id": "t/Timed#batch", "timing": true,
  "app": "define stream S (a int); @info(name='q') from S#window.timeBatch(1 sec) select sum(a) as s insert into O;",
  "inputs": [{"stream": "S", "data": [1]}, {"stream": "S", "data": [2]}, {"stream": "S", "data": [4], "sleep_ms": 1100}],
  "final_sleep_ms": 1000,
  "expect": {"stream_or_query": "q", "kind": "query_callback",
   "events": [{"data": [3], "expired": false}, {"data": [4], "expired": false}],
   "count": 2, "ordered": true, "partial": false}, "expect_error": null}
]`

func TestConformanceCommand(t *testing.T) {
	dir := t.TempDir()
	cases := filepath.Join(dir, "cases.json")
	timed := filepath.Join(dir, "timed.json")
	for f, s := range map[string]string{cases: confCases, timed: confTimed,
		filepath.Join(dir, "index.json"): `{"cases": 3, "timed": 1}`} {
		if err := os.WriteFile(f, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		args     []string
		status   int
		last     string   // the last line of stdout
		contains []string // substrings of stdout
		absent   []string
	}{
		{name: "all", args: []string{cases}, status: 1, last: "1 passed, 1 failed, 1 skipped",
			contains: []string{"FAIL t/Case#fail (cases.json)", "O: got 1 events, want 1", "want:\n      [7]", "got:\n      [6]"},
			absent:   []string{"t/Case#pass", "t/Other#table"}},
		{name: "verbose", args: []string{"-v", cases}, status: 1, last: "1 passed, 1 failed, 1 skipped",
			contains: []string{"ok   t/Case#pass", "skip t/Other#table: ", "define table (T) is not supported"}},
		{name: "run selects ids", args: []string{"-run", "#pass$", cases}, status: 0, last: "1 passed, 0 failed"},
		{name: "timed case on the virtual clock", args: []string{timed}, status: 0, last: "1 passed, 0 failed"},
		{name: "directory", args: []string{"-run", "pass|Timed", dir}, status: 0, last: "2 passed, 0 failed"},
		{name: "no files", args: nil, status: 2},
		{name: "bad regexp", args: []string{"-run", "(", cases}, status: 2},
		{name: "missing file", args: []string{filepath.Join(dir, "nope.json")}, status: 2},
		{name: "not a case file", args: []string{filepath.Join(dir, "index.json")}, status: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := cmdConformance(tc.args, &out, &errb); got != tc.status {
				t.Fatalf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.status, out.String(), errb.String())
			}
			if tc.last != "" {
				lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
				if last := lines[len(lines)-1]; last != tc.last {
					t.Errorf("last line %q, want %q\n%s", last, tc.last, out.String())
				}
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out.String(), s) {
					t.Errorf("stdout has %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestConformanceCommandJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, []byte(confCases), 0o640); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if got := cmdConformance([]string{"--json", file}, &out, &errb); got != 1 {
		t.Fatalf("status %d, want 1\n%s%s", got, out.String(), errb.String())
	}
	var rep struct {
		Cases []struct {
			ID         string `json:"id"`
			File       string `json:"file"`
			Status     string `json:"status"`
			Reason     string `json:"reason"`
			Mismatches []struct {
				Target string   `json:"target"`
				Want   []string `json:"want"`
				Got    []string `json:"got"`
			} `json:"mismatches"`
		} `json:"cases"`
		Passed, Failed, Skipped int
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if rep.Passed != 1 || rep.Failed != 1 || rep.Skipped != 1 || len(rep.Cases) != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := []string{"passed", "failed", "unsupported"}
	for i, c := range rep.Cases {
		if c.Status != want[i] || c.File != file {
			t.Errorf("case %d (%s): status %q file %q, want %q %q", i, c.ID, c.Status, c.File, want[i], file)
		}
	}
	if m := rep.Cases[1].Mismatches; len(m) != 1 || m[0].Target != "O" {
		t.Errorf("mismatches %+v", m)
	}
	if !strings.Contains(rep.Cases[2].Reason, "table") {
		t.Errorf("unsupported reason %q", rep.Cases[2].Reason)
	}
	if got := strings.TrimSpace(errb.String()); got != "1 passed, 1 failed, 1 skipped" {
		t.Errorf("stderr %q", got)
	}
}
