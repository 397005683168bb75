package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChaosFlags(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // stdout must contain it
		err  string // stderr must contain it
	}{
		{args: []string{"--list"}, code: 0, out: "sigstop-active"},
		{args: []string{"--scenario", "nope"}, code: 2, err: `unknown scenario "nope"`},
		{args: []string{"--scenario", "kill9-active,nope"}, code: 2, err: `unknown scenario "nope"`},
		{args: []string{"kill9-active"}, code: 2, err: "unexpected argument"},
		{args: []string{"--repeat", "0"}, code: 2, err: "--repeat"},
		{args: []string{"--outage", "0s"}, code: 2, err: "must be positive"},
		{args: []string{"--lease", "-1s"}, code: 2, err: "must not be negative"},
		{args: []string{"--mode", "lukewarm"}, code: 2, err: "want warm or hot"},
		{args: []string{"--coord", "etcd"}, code: 2, err: "want sqlite or postgres"},
		{args: []string{"--coord", "postgres", "--postgres", ""}, code: 2, err: "needs --postgres"},
		{args: []string{"--no-such-flag"}, code: 2, err: "no-such-flag"},
		{args: []string{"-h"}, code: 2, err: "Usage: tandem chaos"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cmdChaos(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.err) {
				t.Fatalf("stdout %q, stderr %q; want %q and %q", stdout.String(), stderr.String(), tt.out, tt.err)
			}
		})
	}
}

func TestChaosListNamesEveryScenario(t *testing.T) {
	var stdout bytes.Buffer
	cmdChaos([]string{"--list"}, &stdout, &bytes.Buffer{})
	for _, want := range []string{"kill9-active", "kill9-passive", "sigstop-active", "restart-node", "coord-down",
		"repl-cut", "repl-stall", "sink-down", "kill9-active-sink-down", "handover", "passive-join-under-load"} {
		if !strings.Contains(stdout.String(), want+" ") {
			t.Errorf("--list lacks %s:\n%s", want, stdout.String())
		}
	}
}

// TestChaosReportsFailure runs a scenario with nodes that cannot start: the
// command must fail, say why, and still write the report and the JSON.
func TestChaosReportsFailure(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.md")
	var stdout, stderr bytes.Buffer
	code := cmdChaos([]string{"--binary", "/bin/false", "--scenario", "sink-down", "--dir", dir, "--report", report,
		"--json", "--quiet"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "== sink-down: FAIL") || !strings.Contains(out, "exited on its own") {
		t.Fatalf("stdout lacks the failure:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var reps []struct {
		Scenario string   `json:"scenario"`
		Failures []string `json:"failures"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &reps); err != nil {
		t.Fatalf("last line is not the JSON reports: %v", err)
	}
	if len(reps) != 1 || reps[0].Scenario != "sink-down" || len(reps[0].Failures) == 0 {
		t.Fatalf("JSON reports %+v", reps)
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| sink-down | FAIL |") {
		t.Fatalf("report:\n%s", md)
	}
	if stderr.Len() != 0 {
		t.Errorf("--quiet wrote to stderr: %s", stderr.String())
	}
}
