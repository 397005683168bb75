package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Status is a node's answer to GET /api/v1/ha/status. The client declares its
// own copy of the server's type so that programs that only send events do
// not link the server.
type Status struct {
	Node   string `json:"node"`
	Group  string `json:"group"`
	Role   string `json:"role"` // "active" or "passive"
	Epoch  uint64 `json:"epoch"`
	Fenced bool   `json:"fenced"` // active, but stopped publishing: its lease may have run out
	Leader string `json:"leader,omitempty"`
	// DataAddr is where the node's HTTP sources listen while it is active.
	DataAddr string      `json:"data_addr,omitempty"`
	Peer     *PeerStatus `json:"peer,omitempty"` // the connected passive, on the active
	Members  []Member    `json:"members"`
	Apps     []AppStatus `json:"apps"`
}

// PeerStatus describes the connected passive as the active sees it.
type PeerStatus struct {
	Node      string  `json:"node"`
	Synced    bool    `json:"synced"`     // holds every app's state: a failover now loses nothing
	LagEvents uint64  `json:"lag_events"` // logged by the active, not yet acknowledged by the passive
	RTTMillis float64 `json:"rtt_ms"`
}

// Member is a group member as the coordination store last reported it.
type Member struct {
	ID       string    `json:"id"`
	API      string    `json:"api"`
	Alive    bool      `json:"alive"`
	LastSeen time.Time `json:"last_seen"`
}

// AppStatus is the state of one app on a node.
type AppStatus struct {
	Name           string            `json:"name"`
	Role           string            `json:"role"`
	Epoch          uint64            `json:"epoch"`
	LastLSN        uint64            `json:"last_lsn"`
	Committed      uint64            `json:"committed_lsn"`
	Applied        uint64            `json:"applied_lsn"`
	PeerAttached   bool              `json:"peer_attached"`
	PeerAck        uint64            `json:"peer_ack_lsn"`
	Published      map[string]uint64 `json:"published"` // per sink, the highest output ordinal published
	Queued         int               `json:"queued"`
	SinkQueued     map[string]int    `json:"sink_queued,omitempty"`
	LastCheckpoint *Checkpoint       `json:"last_checkpoint,omitempty"`
	// Inactive says why the app is not running on the node, if it is not
	// (a passive that could get no state for it from the active, say).
	Inactive string `json:"inactive,omitempty"`
}

// Checkpoint is the manifest of an app's newest checkpoint.
type Checkpoint struct {
	App      string    `json:"app"`
	AppHash  string    `json:"app_hash"`
	Epoch    uint64    `json:"epoch"`
	LSN      uint64    `json:"lsn"`
	Revision uint64    `json:"revision"`
	Checksum string    `json:"checksum"`
	Size     int64     `json:"size"`
	Created  time.Time `json:"created"`
}

// Serving reports whether the node is the active and may publish.
func (s *Status) Serving() bool { return s.Role == "active" && !s.Fenced }

// NodeStatus is one node's status, or why it could not be had.
type NodeStatus struct {
	Addr   string  // the admin API address as configured
	Status *Status // nil when Err is set
	Err    error
}

// maxStatusSize bounds a status answer; it grows with the number of apps.
const maxStatusSize = 16 << 20

// Status asks every node for its status, at most Config.StatusTimeout each,
// and returns the answers in the order of Config.Nodes. The error is non-nil
// only when no node answered; the slice is complete either way.
func (c *Client) Status(ctx context.Context) ([]NodeStatus, error) {
	out := c.statusAll(ctx)
	var errs []error
	for _, ns := range out {
		if ns.Err == nil {
			return out, nil
		}
		errs = append(errs, ns.Err)
	}
	return out, fmt.Errorf("client: no node answered: %w", errors.Join(errs...))
}

// statusAll queries the nodes in parallel, so that one node that does not
// answer costs one timeout, not one per node.
func (c *Client) statusAll(ctx context.Context) []NodeStatus {
	out := make([]NodeStatus, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		out[i].Addr = n.addr
		wg.Go(func() {
			out[i].Status, out[i].Err = c.fetchStatus(ctx, n)
		})
	}
	wg.Wait()
	return out
}

func (c *Client) fetchStatus(ctx context.Context, n node) (*Status, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StatusTimeout)
	defer cancel()
	u := n.base + "/api/v1/ha/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.addr, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("node %s: %w", n.addr, newStatusError(http.MethodGet, u, resp))
	}
	var st Status
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxStatusSize))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("node %s: decoding status: %w", n.addr, err)
	}
	if st.Role == "" {
		return nil, fmt.Errorf("node %s: status has no role: is this a tandem node's admin API?", n.addr)
	}
	return &st, nil
}

// StatusError is an HTTP answer other than 2xx.
type StatusError struct {
	Method  string
	URL     string
	Code    int
	Message string // the server's error message, if it sent one

	retryAfter time.Duration // a 429's Retry-After
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Permanent reports whether sending the same request again cannot succeed:
// a 4xx other than 408 Request Timeout and 429 Too Many Requests.
func (e *StatusError) Permanent() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
}

// maxErrorBody bounds how much of an error answer is read for its message.
const maxErrorBody = 4 << 10

func newStatusError(method, url string, resp *http.Response) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &StatusError{Method: method, URL: url, Code: resp.StatusCode, Message: errorMessage(b)}
}

// errorMessage extracts the message of a Tandem error answer,
// {"error":"..."}, or else returns the body's first line.
func errorMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	const maxLen = 200
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
