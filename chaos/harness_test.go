package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/cluster/node"
)

func postOutput(t *testing.T, url, id, epoch, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set("X-Tandem-Epoch", epoch)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCollector(t *testing.T) {
	c := NewCollector()
	srv := httptest.NewServer(c)
	defer srv.Close()
	body := func(seq int) string {
		return `{"event":{"seq":` + strings.Repeat("1", seq) + `,"symbol":"A","price":1,"total":5}}`
	}

	got := make(chan Output, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		o, err := c.Wait(ctx, 0, func(o Output) bool { return o.Epoch == 2 })
		if err != nil {
			t.Error(err)
		}
		got <- o
	}()

	if code := postOutput(t, srv.URL, "T/S/1", "1", body(1)); code != http.StatusOK {
		t.Fatalf("output 1: HTTP %d", code)
	}
	c.SetDown(true)
	if code := postOutput(t, srv.URL, "T/S/2", "1", body(2)); code != http.StatusServiceUnavailable {
		t.Fatalf("while down: HTTP %d, want 503", code)
	}
	c.SetDown(false)
	if code := postOutput(t, srv.URL, "T/S/2", "2", body(2)); code != http.StatusOK {
		t.Fatalf("output 2: HTTP %d", code)
	}
	if code := postOutput(t, srv.URL, "T/S/2", "2", body(2)); code != http.StatusOK {
		t.Fatalf("repeat of output 2: HTTP %d", code)
	}
	if code := postOutput(t, srv.URL, "", "2", body(3)); code != http.StatusBadRequest {
		t.Fatalf("output without id: HTTP %d, want 400", code)
	}
	if o := <-got; o.ID != "T/S/2" || o.Seq != 11 {
		t.Fatalf("Wait returned %+v", o)
	}
	if n := c.Len(); n != 3 {
		t.Errorf("Len %d, want 3", n)
	}
	if n := c.Distinct(); n != 2 {
		t.Errorf("Distinct %d, want 2", n)
	}
	if n := c.Refused(); n != 1 {
		t.Errorf("Refused %d, want 1", n)
	}
	if n, ex := c.Malformed(); n != 1 || !strings.Contains(ex, "Idempotency-Key") {
		t.Errorf("Malformed %d %q", n, ex)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer wcancel()
	if _, err := c.Wait(wctx, 0, func(o Output) bool { return o.Epoch == 9 }); err == nil {
		t.Error("Wait for an output that never comes returned no error")
	}
}

// fakeSource plays two nodes' HTTP sources: the first refuses everything,
// the second accepts, after failing each batch's first attempt.
type fakeSource struct {
	mu      sync.Mutex
	tries   map[string]int
	batches [][]int64 // seqs of each accepted batch, in order
	keys    []string
	reject  bool // answer 400 to everything
}

func (f *fakeSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reject {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	f.tries[key]++
	if f.tries[key] == 1 {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	var evs []struct {
		Event struct {
			Seq int64 `json:"seq"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &evs); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var seqs []int64
	for _, e := range evs {
		seqs = append(seqs, e.Event.Seq)
	}
	f.batches = append(f.batches, seqs)
	f.keys = append(f.keys, key)
}

func TestLoad(t *testing.T) {
	refuse, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refuseAddr := refuse.Addr().String()
	refuse.Close() // nothing listens there: connection refused
	src := &fakeSource{tries: map[string]int{}}
	srv := httptest.NewServer(src)
	defer srv.Close()
	c := &Cluster{Nodes: []*Node{{Source: refuseAddr}, {Source: strings.TrimPrefix(srv.URL, "http://")}}}

	l := c.StartLoad(context.Background(), LoadConfig{Rate: 5000, Batch: 5})
	deadline := time.Now().Add(5 * time.Second)
	for l.Sent() < 50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	sent := l.Sent()
	src.mu.Lock()
	defer src.mu.Unlock()
	if sent < 50 || int(sent) != 5*len(src.batches) {
		t.Fatalf("Sent %d after %d accepted batches of 5", sent, len(src.batches))
	}
	for i, b := range src.batches {
		for j, seq := range b {
			if seq != int64(5*i+j) {
				t.Fatalf("batch %d event %d has seq %d", i, j, seq)
			}
		}
		if src.tries[src.keys[i]] != 2 {
			t.Fatalf("batch %d (%s) accepted after %d tries, want 2 (same key again)", i, src.keys[i], src.tries[src.keys[i]])
		}
	}
	if l.MaxStall() <= 0 {
		t.Error("no stall measured")
	}
}

func TestLoadPermanentError(t *testing.T) {
	src := &fakeSource{tries: map[string]int{}, reject: true}
	srv := httptest.NewServer(src)
	defer srv.Close()
	c := &Cluster{Nodes: []*Node{{Source: strings.TrimPrefix(srv.URL, "http://")}}}
	l := c.StartLoad(context.Background(), LoadConfig{})
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a load refused with HTTP 400 did not end")
	}
	if err := l.Stop(); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("error %v, want the 400", err)
	}
	if l.Sent() != 0 {
		t.Fatalf("Sent %d", l.Sent())
	}
}

// TestClusterConfigs checks that the configs NewCluster writes are valid
// node configs with the scenario's settings.
func TestClusterConfigs(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCluster(context.Background(), ClusterConfig{Binary: "/bin/false", Dir: dir,
		Postgres: "postgres://u@db.invalid:6000/x?sslmode=disable", TablePrefix: "t_", CoordProxy: true, ReplProxy: true,
		Heartbeat: 100 * time.Millisecond, Lease: 400 * time.Millisecond, CheckpointInterval: 250 * time.Millisecond,
		Mode: "hot"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range c.Nodes {
		cfg, err := node.LoadConfig(n.Config)
		if err != nil {
			t.Fatal(err)
		}
		co := cfg.Coordination
		if co.Type != "postgres" || !strings.Contains(co.DSN, c.CoordProxy.Addr()) || co.Table != "t_" {
			t.Errorf("%s: coordination %+v, want postgres through %s", n.ID, co, c.CoordProxy.Addr())
		}
		if co.Heartbeat != 100*time.Millisecond || co.Lease != 400*time.Millisecond {
			t.Errorf("%s: heartbeat %v lease %v", n.ID, co.Heartbeat, co.Lease)
		}
		if cfg.Replication.Listen != n.Repl || cfg.Replication.Advertise != n.ReplProxy.Addr() {
			t.Errorf("%s: replication %+v, want listen %s advertise %s", n.ID, cfg.Replication, n.Repl, n.ReplProxy.Addr())
		}
		if cfg.Replication.Mode != "hot" || cfg.Replication.Ack != "sync" {
			t.Errorf("%s: replication mode %q ack %q", n.ID, cfg.Replication.Mode, cfg.Replication.Ack)
		}
		if cfg.Checkpoint.Interval != 250*time.Millisecond {
			t.Errorf("%s: checkpoint interval %v", n.ID, cfg.Checkpoint.Interval)
		}
		if cfg.Node.API != n.API || cfg.Sources.HTTPListen != n.Source || cfg.Node.Group != "chaos" {
			t.Errorf("%s: node %+v sources %+v", n.ID, cfg.Node, cfg.Sources)
		}
	}
	if _, err := NewCluster(context.Background(), ClusterConfig{Binary: "x", Dir: dir, CoordProxy: true}); err == nil {
		t.Error("a coordination proxy without PostgreSQL was accepted")
	}
	if _, err := NewCluster(context.Background(), ClusterConfig{Binary: "x", Dir: t.TempDir(),
		Postgres: "host=db user=u", CoordProxy: true}); err == nil {
		t.Error("a key=value DSN was accepted for proxying")
	}
}

// TestNodeProcess drives Node through a stand-in binary: a shell script
// that sleeps, or one that exits at once.
func TestNodeProcess(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sleeper := &Node{ID: "sleeper", binary: script("sleeper", "echo started; exec sleep 60"), Log: filepath.Join(dir, "s.log")}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Start(); err == nil {
		t.Fatal("a second Start of a running node succeeded")
	}
	waitLog := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(sleeper.LogTail(1000), "started") < n {
			if time.Now().After(deadline) {
				t.Fatalf("the script did not start: %q", sleeper.LogTail(1000))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitLog(1)
	if !sleeper.Running() || sleeper.Crashed() {
		t.Fatal("a started node is not running")
	}
	if err := sleeper.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Pause(); err != nil {
		t.Fatal(err)
	}
	// Terminate continues a paused process first, or SIGTERM would wait.
	if err := sleeper.Terminate(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if sleeper.Running() || sleeper.Crashed() {
		t.Fatal("a terminated node counts as running or crashed")
	}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(2)
	if err := sleeper.Kill(); err != nil {
		t.Fatal(err)
	}
	if sleeper.Crashed() {
		t.Fatal("a killed node counts as crashed")
	}
	if tail := sleeper.LogTail(1000); strings.Count(tail, "started") != 2 || !strings.Contains(tail, "start #2 of sleeper") {
		t.Fatalf("log %q", tail)
	}

	crasher := &Node{ID: "crasher", binary: script("crasher", "exit 3"), Log: filepath.Join(dir, "c.log")}
	if err := crasher.Start(); err != nil {
		t.Fatal(err)
	}
	<-crasher.Exited()
	if !crasher.Crashed() {
		t.Fatal("a node that exited on its own is not reported as crashed")
	}
	c := &Cluster{Nodes: []*Node{sleeper, crasher}}
	if err := c.crashCheck(); err == nil || !strings.Contains(err.Error(), "crasher exited") {
		t.Fatalf("crashCheck: %v", err)
	}
}

func TestScenarios(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Scenarios() {
		if seen[s.Name] {
			t.Errorf("two scenarios named %s", s.Name)
		}
		seen[s.Name] = true
		if s.fault == nil || s.Summary == "" || s.Recovery == "" {
			t.Errorf("%s: incomplete", s.Name)
		}
		if got, ok := Lookup(s.Name); !ok || got.Name != s.Name {
			t.Errorf("Lookup(%s) = %v, %t", s.Name, got.Name, ok)
		}
	}
	for _, want := range []string{"kill9-active", "kill9-passive", "sigstop-active", "restart-node", "coord-down",
		"repl-cut", "repl-stall", "sink-down", "kill9-active-sink-down", "handover", "passive-join-under-load"} {
		if !seen[want] {
			t.Errorf("no scenario %s", want)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an unknown scenario")
	}
	if _, err := Run(context.Background(), Options{Binary: "/bin/false"}, "kill9-active", "nope"); err == nil ||
		!strings.Contains(err.Error(), `unknown scenario "nope"`) {
		t.Errorf("Run with an unknown scenario: %v", err)
	}
	if _, err := Run(context.Background(), Options{}); err == nil {
		t.Error("Run without a binary gave no error")
	}
}

func TestRunScenarioSkipsWithoutPostgres(t *testing.T) {
	s, _ := Lookup("coord-down")
	rep := RunScenario(context.Background(), Options{Binary: "/bin/false"}, s)
	if rep.Skipped == "" || rep.Failed() || rep.Verdict() != "SKIP" {
		t.Fatalf("report %+v, want skipped", rep)
	}
	rep = RunScenario(context.Background(), Options{Binary: "/bin/false", Postgres: "postgres://u@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"}, s)
	if !strings.Contains(rep.Skipped, "unreachable") {
		t.Fatalf("report %+v, want skipped as unreachable", rep)
	}
	k, _ := Lookup("kill9-active")
	if rep := RunScenario(context.Background(), Options{Binary: "/bin/false", CoordPostgres: true}, k); rep.Skipped == "" {
		t.Fatalf("kill9-active on PostgreSQL without a DSN: %+v, want skipped", rep)
	}
}

// TestRunScenarioFailsCleanly runs a scenario with a binary that exits at
// once: the report must fail with the reason, not hang or panic.
func TestRunScenarioFailsCleanly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	s, _ := Lookup("sink-down")
	rep := RunScenario(context.Background(), Options{Binary: "/bin/false", Dir: dir}, s)
	if !rep.Failed() || !strings.Contains(strings.Join(rep.Failures, "\n"), "exited on its own") {
		t.Fatalf("failures %q", rep.Failures)
	}
	if rep.Dir == "" {
		t.Fatal("a failed scenario's directory was not kept")
	}
	if _, err := os.Stat(filepath.Join(rep.Dir, "node-a.log")); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReports(t *testing.T) {
	reps := []Report{
		{Scenario: "kill9-active", Summary: "kills", Sent: 100, Result: Result{Expected: 80, Received: 80, Duplicates: 2},
			RecoveryMs: []float64{1500, 1700}, P50Ms: 1500, P99Ms: 1700, MaxMs: 1700, MaxStallMs: 1720,
			Faults: []Fault{{What: "kill -9 node-a", AtS: 1.5, Seq: 40, RecoveryMs: 1500, Notes: []string{"rejoined | fast"}},
				{What: "kill -9 node-b", AtS: 5, Seq: 90, RecoveryMs: 1700}}},
		{Scenario: "coord-down", Summary: "store", Skipped: "needs PostgreSQL"},
		{Scenario: "sink-down", Summary: "sink", Result: Result{Expected: 10, Received: 9, Lost: 1},
			Failures: []string{"lost 1 outputs: ordinals 3-3"}, Dir: "/tmp/x"},
	}
	var text bytes.Buffer
	for _, r := range reps {
		if err := WriteText(&text, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"== kill9-active: PASS", "p50 1500 ms, p99 1700 ms", "== coord-down: SKIP (needs PostgreSQL)",
		"== sink-down: FAIL", "FAIL: lost 1 outputs", "/tmp/x", "#2 at 5.0s (seq 90): kill -9 node-b"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	var sum bytes.Buffer
	if err := WriteSummary(&sum, reps); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(sum.String(), "\n"); lines != 4 {
		t.Errorf("summary has %d lines:\n%s", lines, sum.String())
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, reps, Options{Binary: "tandem", Repeat: 2}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Tandem chaos report", "| kill9-active | PASS | 2 | 100 | 0 | 2 | 0 | 0 | 1500 | 1700 | 1700 | 1720 |",
		"| coord-down | SKIP |", "## sink-down: FAIL", "rejoined \\| fast", "2 fault(s) per scenario"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}
