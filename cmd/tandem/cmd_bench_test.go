package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// fast are flags that make a run take a few tens of milliseconds over a
// small pool. The tests never assert timing, only the shape of the output.
var fast = []string{"--seconds", "0.02", "--warmup", "0.005", "--runs", "1", "--pool", "4096"}

func runBench(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := cmdBench(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func TestBenchText(t *testing.T) {
	args := append([]string{"engine", "--query", "Q1,q3"}, fast...)
	args[len(args)-3] = "2" // --runs 2
	status, out, errOut := runBench(t, args...)
	if status != 0 {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
	line := regexp.MustCompile(`^(Q1|Q3) events/s=[1-9][0-9]* outputs=[0-9]+ runs=2$`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Q1 ") || !strings.HasPrefix(lines[1], "Q3 ") {
		t.Fatalf("stdout:\n%s\nwant one line for Q1, then one for Q3", out)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("line %q does not match %s", l, line)
		}
	}
	for _, want := range []string{
		"Q1 run 1/2: building a pool of 4096 events",
		"Q1 run 1/2: warming up for 5ms",
		"Q1 run 2/2: measuring for 20ms",
		"Q3 run 2/2: measuring for 20ms",
		"allocs/event",
		"CPU-ns/event on",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// One pool serves both queries: S's shape is drawn once.
	if n := strings.Count(errOut, "building a pool"); n != 1 {
		t.Errorf("the pool was built %d times, want once", n)
	}
}

func TestBenchJSON(t *testing.T) {
	status, out, errOut := runBench(t, append([]string{"engine", "--json", "--query", "Q1p"}, fast...)...)
	if status != 0 {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if dec.More() {
		t.Errorf("more than one JSON object for one query:\n%s", out)
	}
	if got["query"] != "Q1p" || got["runs"] != 1.0 {
		t.Errorf("query/runs wrong in %v", got)
	}
	for _, k := range []string{"events_per_sec", "outputs", "allocs_per_event", "bytes_per_event", "cpu_ns_per_event"} {
		if _, ok := got[k].(float64); !ok {
			t.Errorf("key %s missing or not a number in %v", k, got)
		}
	}
	if eps, _ := got["events_per_sec"].(float64); eps <= 0 {
		t.Errorf("events_per_sec = %v", got["events_per_sec"])
	}
	if _, ok := got["error"]; ok {
		t.Errorf("error key on a query that ran: %v", got)
	}
}

// Q4 and Q5 are either measured or reported with the engine's error on
// their own line; either way the command succeeds when something ran.
func TestBenchUnsupported(t *testing.T) {
	status, out, errOut := runBench(t, append([]string{"engine", "--query", "Q1,Q4,Q5"}, fast...)...)
	if status != 0 {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("stdout:\n%s\nwant three lines", out)
	}
	for i, q := range []string{"Q4", "Q5"} {
		l := lines[i+1]
		ok := regexp.MustCompile(`^` + q + ` (events/s=[0-9]+ outputs=[0-9]+ runs=1|not supported yet: ` + q + `\.siddhi:\d+:\d+: .+)$`)
		if !ok.MatchString(l) {
			t.Errorf("line %q matches neither a result nor an unsupported report", l)
		}
	}

	status, out, _ = runBench(t, append([]string{"engine", "--json", "--query", "Q4"}, fast...)...)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if msg, isErr := got["error"].(string); isErr {
		if !strings.HasPrefix(msg, "not supported yet: ") || got["query"] != "Q4" {
			t.Errorf("JSON error line %v", got)
		}
		if status != 1 {
			t.Errorf("status %d with no query run, want 1", status)
		}
	} else if status != 0 || got["events_per_sec"] == nil {
		t.Errorf("status %d, JSON %v", status, got)
	}
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no subcommand", nil, 2, "Usage: tandem bench engine"},
		{"other subcommand", []string{"host"}, 2, "Usage: tandem bench engine"},
		{"unknown query", []string{"engine", "--query", "Q9"}, 2, `unknown query "Q9" (the queries are Q1, Q1p, Q2, Q3, Q4, Q5)`},
		{"zero runs", []string{"engine", "--runs", "0"}, 2, "need at least one"},
		{"zero window", []string{"engine", "--seconds", "0"}, 2, "must be positive"},
		{"negative warm-up", []string{"engine", "--warmup", "-1"}, 2, "must not be negative"},
		{"NaN", []string{"engine", "--seconds", "NaN"}, 2, "take numbers"},
		{"zero pool", []string{"engine", "--pool", "0"}, 2, "pool size 0"},
		{"bad flag", []string{"engine", "--fast"}, 2, "flag provided but not defined"},
		{"argument", []string{"engine", "Q1"}, 2, `unexpected argument "Q1"`},
		{"help", []string{"engine", "-h"}, 0, "-seconds float"},
	}
	for _, tt := range tests {
		status, out, errOut := runBench(t, tt.args...)
		if status != tt.status || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%s: status %d, stderr %q; want %d and %q", tt.name, status, errOut, tt.status, tt.stderr)
		}
		if out != "" {
			t.Errorf("%s: stdout %q, want nothing", tt.name, out)
		}
	}
}

func TestSecondsDuration(t *testing.T) {
	tests := []struct {
		in   float64
		want int64
	}{
		{0, 0},
		{1.5, 1_500_000_000},
		{-2, -2_000_000_000},
		{1e300, 1<<63 - 1},
		{-1e300, -1 << 63},
	}
	for _, tt := range tests {
		if got := int64(secondsDuration(tt.in)); got != tt.want {
			t.Errorf("secondsDuration(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
