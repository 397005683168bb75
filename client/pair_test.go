package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakePair plays a Tandem pair: two nodes with an admin API each, and the
// HTTP source of whichever is active. The pair's log of idempotency keys is
// shared, as replication makes it in a real pair: a batch logged by one node
// is known to the other after a failover.
type fakePair struct {
	t *testing.T

	mu       sync.Mutex
	keys     map[string]bool   // idempotency keys logged
	seqs     []int             // the "seq" attribute of every event logged, in log order
	requests map[string]int    // data requests per idempotency key
	byNode   map[string]int    // batches logged per node
	bodies   map[string]string // the body of each key's last request
	release  chan struct{}     // closed at cleanup: frees handlers that hang
}

type fakeNode struct {
	pair  *fakePair
	id    string
	admin *httptest.Server

	mu          sync.Mutex
	dead        bool // killed: every connection is dropped until the ports are closed
	role        string
	epoch       uint64
	fenced      bool
	dataAddr    string // reported as data_addr; "" reports the data server's
	data        *httptest.Server
	statusCalls int
	// hook, if set, runs for each data request before the batch is logged;
	// it returns true when it has answered the request (or dropped it).
	hook func(w http.ResponseWriter, r *http.Request, key string) bool
	// after, if set, runs after the batch is logged instead of answering 200.
	after func(w http.ResponseWriter, r *http.Request, key string)
	// adminHook, if set, may take over a status request.
	adminHook func(w http.ResponseWriter, r *http.Request) bool
}

func newFakePair(t *testing.T) (*fakePair, *fakeNode, *fakeNode) {
	t.Helper()
	p := &fakePair{t: t, keys: map[string]bool{}, requests: map[string]int{}, byNode: map[string]int{},
		bodies: map[string]string{}, release: make(chan struct{})}
	a := p.node("node-a", "active", 1)
	b := p.node("node-b", "passive", 1)
	// Registered last, so it runs first: hanging handlers return before
	// the servers' Close waits for them.
	t.Cleanup(func() { close(p.release) })
	return p, a, b
}

func (p *fakePair) node(id, role string, epoch uint64) *fakeNode {
	n := &fakeNode{pair: p, id: id, role: role, epoch: epoch}
	n.admin = httptest.NewServer(http.HandlerFunc(n.serveAdmin))
	p.t.Cleanup(n.kill)
	if role == "active" {
		n.startData()
	}
	return n
}

func (n *fakeNode) addr() string { return strings.TrimPrefix(n.admin.URL, "http://") }

func (n *fakeNode) serveAdmin(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.statusCalls++
	hook, dead := n.adminHook, n.dead
	n.mu.Unlock()
	if dead {
		dropConn(n.pair.t, w)
		return
	}
	if hook != nil && hook(w, r) {
		return
	}
	if r.URL.Path != "/api/v1/ha/status" {
		http.NotFound(w, r)
		return
	}
	n.mu.Lock()
	st := Status{Node: n.id, Group: "g", Role: n.role, Epoch: n.epoch, Fenced: n.fenced, DataAddr: n.dataAddr,
		Members: []Member{{ID: "node-a", Alive: true}, {ID: "node-b", Alive: true}},
		Apps:    []AppStatus{{Name: "trades", Role: n.role, Epoch: n.epoch}}}
	if st.DataAddr == "" && n.data != nil {
		st.DataAddr = n.data.Listener.Addr().String()
	}
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// startData opens the node's HTTP source, as a node does when it becomes
// active.
func (n *fakeNode) startData() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.data == nil {
		n.data = httptest.NewServer(http.HandlerFunc(n.serveData))
	}
}

func (n *fakeNode) serveData(w http.ResponseWriter, r *http.Request) {
	p := n.pair
	n.mu.Lock()
	dead := n.dead
	n.mu.Unlock()
	if dead {
		dropConn(p.t, w)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.requests[key]++
	p.bodies[key] = string(body)
	p.mu.Unlock()
	n.mu.Lock()
	hook, after := n.hook, n.after
	n.mu.Unlock()
	if hook != nil && hook(w, r, key) {
		return
	}
	var batch []struct {
		Event struct {
			Seq *int `json:"seq"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, "bad batch: "+err.Error())
		return
	}
	p.mu.Lock()
	if !p.keys[key] {
		p.keys[key] = true
		p.byNode[n.id]++
		for _, e := range batch {
			if e.Event.Seq == nil {
				p.t.Errorf("event without seq in batch %s", key)
				continue
			}
			p.seqs = append(p.seqs, *e.Event.Seq)
		}
	}
	p.mu.Unlock()
	if after != nil {
		after(w, r, key)
		return
	}
	fmt.Fprintf(w, `{"accepted":%d}`, len(batch))
}

// kill stops the node as SIGKILL would: its ports close. From a handler,
// call it in a goroutine (Close waits for handlers) after die.
func (n *fakeNode) kill() {
	n.mu.Lock()
	n.dead = true
	data := n.data
	n.data = nil
	n.mu.Unlock()
	n.admin.Close()
	if data != nil {
		data.Close()
	}
}

// die makes the node drop every request at once, until kill closes its
// ports.
func (n *fakeNode) die() {
	n.mu.Lock()
	n.dead = true
	n.mu.Unlock()
}

func (n *fakeNode) set(role string, epoch uint64) {
	if role == "active" {
		n.startData()
	}
	n.mu.Lock()
	n.role, n.epoch = role, epoch
	n.mu.Unlock()
}

func (n *fakeNode) setHook(h func(w http.ResponseWriter, r *http.Request, key string) bool) {
	n.mu.Lock()
	n.hook = h
	n.mu.Unlock()
}

func (n *fakeNode) calls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.statusCalls
}

// dropConn closes the request's connection without an answer: the node
// logged (or did not log) the batch, and the sender never hears of it.
func dropConn(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func (p *fakePair) snapshot() (seqs []int, requests map[string]int, byNode map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	requests = make(map[string]int, len(p.requests))
	for k, v := range p.requests {
		requests[k] = v
	}
	byNode = make(map[string]int, len(p.byNode))
	for k, v := range p.byNode {
		byNode[k] = v
	}
	return append([]int(nil), p.seqs...), requests, byNode
}

// batchOf returns the body of a batch of events seq from..to-1.
func batchOf(from, to int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for s := from; s < to; s++ {
		if s > from {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event":{"seq":%d,"symbol":"IBM"}}`, s)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// checkSeqs asserts that the pair logged exactly 0..n-1, in order.
func checkSeqs(t *testing.T, got []int, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("logged %d events, want %d", len(got), n)
	}
	for i, s := range got {
		if s != i {
			t.Errorf("event %d has seq %d: lost, repeated or out of order", i, s)
			return
		}
	}
}
