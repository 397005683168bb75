package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/client"
)

// pairFake plays the two nodes of a pair for the send and status commands:
// admin APIs with a settable status, and the active's HTTP source. The
// idempotency keys logged are shared by both nodes, as replication makes
// them in a real pair.
type pairFake struct {
	mu     sync.Mutex
	keys   map[string]bool
	events []string // event objects logged, in order
	reqs   map[string]int
}

type pairFakeNode struct {
	pair  *pairFake
	admin *httptest.Server

	mu     sync.Mutex
	status client.Status
	data   *httptest.Server
	dead   bool
	// onLogged, if set, runs after a batch is logged and may drop the
	// answer (return false).
	onLogged func(w http.ResponseWriter, key string) bool
	// refuse, if set, answers data requests with this status and message.
	refuse int
}

func newPairFake() *pairFake {
	return &pairFake{keys: map[string]bool{}, reqs: map[string]int{}}
}

func (p *pairFake) node(t *testing.T, st client.Status) *pairFakeNode {
	n := &pairFakeNode{pair: p, status: st}
	n.admin = httptest.NewServer(http.HandlerFunc(n.serveAdmin))
	t.Cleanup(n.close)
	if st.Role == "active" {
		n.openData()
	}
	return n
}

func (n *pairFakeNode) addr() string { return strings.TrimPrefix(n.admin.URL, "http://") }

func (n *pairFakeNode) close() {
	n.mu.Lock()
	n.dead = true
	d := n.data
	n.data = nil
	n.mu.Unlock()
	n.admin.Close()
	if d != nil {
		d.Close()
	}
}

func (n *pairFakeNode) openData() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.data == nil {
		n.data = httptest.NewServer(http.HandlerFunc(n.serveData))
		n.status.DataAddr = n.data.Listener.Addr().String()
	}
}

func (n *pairFakeNode) setRole(role string, epoch uint64) {
	if role == "active" {
		n.openData()
	}
	n.mu.Lock()
	n.status.Role, n.status.Epoch = role, epoch
	n.mu.Unlock()
}

func (n *pairFakeNode) serveAdmin(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	st, dead := n.status, n.dead
	n.mu.Unlock()
	if dead {
		pairFakeDrop(w)
		return
	}
	if r.URL.Path != "/api/v1/ha/status" {
		http.NotFound(w, r)
		return
	}
	json.NewEncoder(w).Encode(st)
}

func (n *pairFakeNode) serveData(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	dead, refuse, onLogged := n.dead, n.refuse, n.onLogged
	n.mu.Unlock()
	if dead {
		pairFakeDrop(w)
		return
	}
	if refuse != 0 {
		w.WriteHeader(refuse)
		fmt.Fprint(w, `{"error":"attribute \"price\" is missing"}`)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	body, _ := io.ReadAll(r.Body)
	var batch []json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	p := n.pair
	p.mu.Lock()
	p.reqs[key]++
	if !p.keys[key] {
		p.keys[key] = true
		for _, e := range batch {
			p.events = append(p.events, string(e))
		}
	}
	p.mu.Unlock()
	if onLogged != nil && !onLogged(w, key) {
		return
	}
	fmt.Fprintf(w, `{"accepted":%d}`, len(batch))
}

// die makes the node drop every connection at once, as a killed process's
// closed ports do.
func (n *pairFakeNode) die() {
	n.mu.Lock()
	n.dead = true
	n.mu.Unlock()
}

func pairFakeDrop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

func (p *pairFake) logged() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

var statusTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func activeStatus() client.Status {
	return client.Status{
		Node: "node-a", Group: "g", Role: "active", Epoch: 3,
		Peer: &client.PeerStatus{Node: "node-b", Synced: true, LagEvents: 7, RTTMillis: 0.42},
		Apps: []client.AppStatus{{Name: "trades", Role: "active", Epoch: 3, LastLSN: 1234, Committed: 1230, Applied: 1229,
			LastCheckpoint: &client.Checkpoint{App: "trades", LSN: 1200, Revision: 5, Created: statusTime.Add(-12 * time.Second)}}},
	}
}

func passiveStatus() client.Status {
	return client.Status{
		Node: "node-b", Group: "g", Role: "passive", Epoch: 3, Leader: "node-a",
		Apps: []client.AppStatus{{Name: "trades", Role: "passive", Epoch: 3, LastLSN: 1227, Applied: 1200}},
	}
}

func runStatus(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = statusMain(t.Context(), args, &out, &errb, statusTime)
	return code, out.String(), errb.String()
}

func TestStatusCommand(t *testing.T) {
	p := newPairFake()
	a := p.node(t, activeStatus())
	b := p.node(t, passiveStatus())
	code, out, errs := runStatus(t, "--nodes", a.addr()+","+b.addr())
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := []struct {
		line   int
		fields []string
	}{
		{0, []string{"NODE", "ADDRESS", "ROLE", "EPOCH", "FENCED", "PEER", "LAG (EVENTS)", "RTT"}},
		{1, []string{"node-a", a.addr(), "active", "3", "no", "node-b (synced)", "7", "0.42ms"}},
		{2, []string{"node-b", b.addr(), "passive", "3", "no", "-", "-", "-"}},
		{4, []string{"APP", "NODE", "ROLE", "LAST LSN", "APPLIED LSN", "CHECKPOINT"}},
		{5, []string{"trades", "node-a", "active", "1234", "1229", "rev 5 at LSN 1200, 12s ago"}},
		{6, []string{"trades", "node-b", "passive", "1227", "1200", "none"}},
	}
	if len(lines) != 7 {
		t.Fatalf("output has %d lines, want 7:\n%s", len(lines), out)
	}
	for _, w := range want {
		if got := splitColumns(lines[w.line]); !equalStrings(got, w.fields) {
			t.Errorf("line %d = %q, want columns %q", w.line, lines[w.line], w.fields)
		}
	}
}

// splitColumns splits a tabwriter line at runs of two or more spaces.
func splitColumns(line string) []string {
	var out []string
	for _, f := range strings.Split(line, "  ") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStatusCommandUnreachable(t *testing.T) {
	p := newPairFake()
	a := p.node(t, activeStatus())
	b := p.node(t, passiveStatus())
	b.close()
	code, out, errs := runStatus(t, "--nodes", a.addr()+","+b.addr(), "--timeout", "500ms")
	if code != 0 {
		t.Fatalf("exit %d with an active node; stderr %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 4 {
		t.Fatalf("output:\n%s", out)
	}
	// The table keeps its columns; the error follows it.
	if got, want := splitColumns(lines[2]), []string{"-", b.addr(), "unreachable", "-", "-", "-", "-", "-"}; !equalStrings(got, want) {
		t.Errorf("node-b's line %q, want columns %q", lines[2], want)
	}
	if strings.Index(lines[0], "ROLE") != strings.Index(lines[2], "unreachable") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	if !strings.HasPrefix(lines[3], "node "+b.addr()+": ") || !strings.Contains(lines[3], "connect") {
		t.Errorf("line 4 = %q, want node-b's error", lines[3])
	}
	if !strings.Contains(out, "trades  node-a") || strings.Contains(out, "trades  node-b") {
		t.Errorf("apps table should hold node-a's app only:\n%s", out)
	}
}

func TestStatusCommandNoActive(t *testing.T) {
	tests := []struct {
		name  string
		a, b  func() client.Status
		close bool
	}{
		{"both passive", passiveStatus, passiveStatus, false},
		{"fenced active", func() client.Status { s := activeStatus(); s.Fenced = true; return s }, passiveStatus, false},
		{"both down", activeStatus, passiveStatus, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPairFake()
			a, b := p.node(t, tc.a()), p.node(t, tc.b())
			if tc.close {
				a.close()
				b.close()
			}
			code, out, errs := runStatus(t, "--nodes", a.addr()+","+b.addr())
			if code != 1 || !strings.Contains(errs, "no node is active") {
				t.Errorf("exit %d, stderr %q; want 1 and 'no node is active'", code, errs)
			}
			if !strings.HasPrefix(out, "NODE") {
				t.Errorf("the table must still be shown:\n%s", out)
			}
			if tc.close && strings.Count(out, "unreachable") != 2 {
				t.Errorf("want both unreachable:\n%s", out)
			}
		})
	}
}

func TestStatusCommandInactiveApp(t *testing.T) {
	p := newPairFake()
	b := passiveStatus()
	b.Apps[0].Inactive = "no state from the active node-a after 5 tries"
	na, nb := p.node(t, activeStatus()), p.node(t, b)
	code, out, errs := runStatus(t, "--nodes", na.addr()+","+nb.addr())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("want 8 lines:\n%s", out)
	}
	if got := splitColumns(lines[6]); len(got) < 3 || got[2] != "inactive" {
		t.Errorf("line %q, want role inactive", lines[6])
	}
	if want := "trades on node-b is inactive: no state from the active node-a after 5 tries"; lines[7] != want {
		t.Errorf("last line %q, want %q", lines[7], want)
	}
}

func TestStatusCommandTwoActives(t *testing.T) {
	p := newPairFake()
	b := passiveStatus()
	b.Role, b.Epoch = "active", 4
	na, nb := p.node(t, activeStatus()), p.node(t, b)
	code, _, errs := runStatus(t, "--nodes", na.addr()+","+nb.addr())
	if code != 0 || !strings.Contains(errs, "2 nodes report active") {
		t.Errorf("exit %d, stderr %q; want a warning", code, errs)
	}
}

func TestStatusCommandJSON(t *testing.T) {
	p := newPairFake()
	a := p.node(t, activeStatus())
	b := p.node(t, passiveStatus())
	b.close()
	code, out, errs := runStatus(t, "--json", "--nodes", a.addr()+","+b.addr())
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var got statusJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if got.Active != "node-a" || len(got.Nodes) != 2 {
		t.Fatalf("got %+v", got)
	}
	n0, n1 := got.Nodes[0], got.Nodes[1]
	if n0.Addr != a.addr() || n0.Status == nil || n0.Status.Peer == nil || n0.Status.Peer.LagEvents != 7 ||
		n0.Status.Apps[0].LastCheckpoint.Revision != 5 || n0.Error != "" {
		t.Errorf("node-a: %+v", n0)
	}
	if n1.Addr != b.addr() || n1.Status != nil || n1.Error == "" {
		t.Errorf("node-b: %+v", n1)
	}
}

func TestStatusCommandUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--nodes is required"},
		{[]string{"--nodes", "a:1", "extra"}, "unexpected arguments"},
		{[]string{"--nodes", "a"}, "want host:port"},
		{[]string{"--nodes", "a:1", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	}
	var out, errb bytes.Buffer
	if code := cmdStatus(nil, &out, &errb); code != 2 {
		t.Errorf("cmdStatus with no flags: exit %d", code)
	}
	for _, tc := range tests {
		code, _, errs := runStatus(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("status %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestStatusCheckpointText(t *testing.T) {
	now := statusTime
	tests := []struct {
		ck   *client.Checkpoint
		want string
	}{
		{nil, "none"},
		{&client.Checkpoint{Revision: 2, LSN: 10}, "rev 2 at LSN 10"},
		{&client.Checkpoint{Revision: 2, LSN: 10, Created: now.Add(-90 * time.Second)}, "rev 2 at LSN 10, 1m30s ago"},
		{&client.Checkpoint{Revision: 2, LSN: 10, Created: now.Add(time.Second)}, "rev 2 at LSN 10, 0s ago"},
	}
	for _, tc := range tests {
		if got := statusCheckpoint(tc.ck, now); got != tc.want {
			t.Errorf("statusCheckpoint(%+v) = %q, want %q", tc.ck, got, tc.want)
		}
	}
}
