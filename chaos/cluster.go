package chaos

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, to drop a run's coordination tables

	"github.com/tandem-stream/tandem/internal/tcpproxy"
)

// ClusterConfig configures a Cluster. Zero values take the node's defaults.
type ClusterConfig struct {
	Binary string // the tandem executable (required)
	Dir    string // working directory for configs, logs and data (required)
	// Postgres, when set, is a URL DSN (postgres://user@host:port/db?...) of
	// the coordination store; otherwise the nodes share an SQLite file in Dir.
	Postgres string
	// TablePrefix isolates the run's coordination tables in a shared
	// database. Empty: a unique prefix whose tables Close drops.
	TablePrefix string
	// CoordProxy routes the nodes' connections to PostgreSQL through a
	// tcpproxy (Cluster.CoordProxy), so a scenario can take the store away.
	CoordProxy bool
	// ReplProxy puts a tcpproxy (Node.ReplProxy) in front of each node's
	// replication listener and advertises it, so the passive dials through it.
	ReplProxy          bool
	Heartbeat, Lease   time.Duration
	CheckpointInterval time.Duration
	Ack                string // replication.ack: sync (default) or async
	Mode               string // replication.mode: warm (default) or hot
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a pair of tandem node processes, the collector their sink
// publishes to, and the proxies a scenario may cut.
type Cluster struct {
	cfg       ClusterConfig
	Nodes     []*Node
	Collector *Collector
	// CoordProxy is the proxy in front of PostgreSQL (ClusterConfig.CoordProxy).
	CoordProxy *tcpproxy.Proxy

	start      time.Time
	http       *http.Client
	sink       *http.Server
	sinkDone   chan struct{}
	dropPrefix string // coordination tables to drop on Close
	closeOnce  sync.Once
}

// Node is one tandem node process of a Cluster.
type Node struct {
	ID     string
	API    string // admin API, host:port
	Source string // where its HTTP source listens, host:port
	Repl   string // replication listener, host:port
	// ReplProxy is the proxy its passive dials (ClusterConfig.ReplProxy).
	ReplProxy *tcpproxy.Proxy
	Config    string // config file
	Log       string // stdout and stderr of every start, appended

	binary string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	want   bool // the harness wants it running: an exit now is a crash
	paused bool
	starts int
}

// NewCluster writes the configs of a pair and starts the collector and the
// proxies; Start starts the node processes.
func NewCluster(ctx context.Context, cfg ClusterConfig) (_ *Cluster, err error) {
	if cfg.Binary == "" {
		return nil, errors.New("chaos: no tandem binary given")
	}
	if cfg.Dir == "" {
		return nil, errors.New("chaos: no working directory given")
	}
	if cfg.CoordProxy && cfg.Postgres == "" {
		return nil, errors.New("chaos: a coordination proxy needs PostgreSQL coordination")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	c := &Cluster{cfg: cfg, Collector: NewCollector(), start: time.Now(), sinkDone: make(chan struct{}),
		http: &http.Client{Timeout: 2 * time.Second}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()

	sinkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		close(c.sinkDone)
		return nil, fmt.Errorf("chaos: collector: %w", err)
	}
	c.sink = &http.Server{Handler: c.Collector, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(c.sinkDone)
		c.sink.Serve(sinkLn)
	}()

	coordination := fmt.Sprintf("  type: sqlite\n  path: %s\n", filepath.Join(cfg.Dir, "cluster.db"))
	if cfg.Postgres != "" {
		dsn := cfg.Postgres
		if cfg.CoordProxy {
			u, err := url.Parse(cfg.Postgres)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
				return nil, fmt.Errorf("chaos: PostgreSQL DSN must be a postgres://user@host:port/db URL to be proxied")
			}
			target := u.Host
			if u.Port() == "" {
				target = net.JoinHostPort(u.Hostname(), "5432")
			}
			if c.CoordProxy, err = tcpproxy.Start(ctx, target); err != nil {
				return nil, fmt.Errorf("chaos: coordination proxy: %w", err)
			}
			u.Host = c.CoordProxy.Addr()
			dsn = u.String()
		}
		prefix := cfg.TablePrefix
		if prefix == "" {
			prefix = fmt.Sprintf("chaos_%d_", time.Now().UnixNano())
			c.dropPrefix = prefix
		}
		coordination = fmt.Sprintf("  type: postgres\n  dsn: %q\n  tablePrefix: %s\n", dsn, prefix)
	}
	if cfg.Heartbeat > 0 {
		coordination += fmt.Sprintf("  heartbeat: %s\n", cfg.Heartbeat)
	}
	if cfg.Lease > 0 {
		coordination += fmt.Sprintf("  lease: %s\n", cfg.Lease)
	}
	checkpoint := ""
	if cfg.CheckpointInterval > 0 {
		checkpoint = fmt.Sprintf("checkpoint:\n  interval: %s\n", cfg.CheckpointInterval)
	}
	ack := cfg.Ack
	if ack == "" {
		ack = "sync"
	}
	if cfg.Mode != "" {
		ack += "\n  mode: " + cfg.Mode
	}

	ports, err := freePorts(6)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	sinkPort := sinkLn.Addr().(*net.TCPAddr).Port
	appFile := filepath.Join(cfg.Dir, "trades.siddhi")
	// The source port in the app is a placeholder: sources.httpListen
	// gives each node its own.
	if err := os.WriteFile(appFile, []byte(AppText(ports[4], sinkPort)), 0o644); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	for i, id := range []string{"node-a", "node-b"} {
		n := &Node{ID: id, binary: cfg.Binary,
			API:    fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Repl:   fmt.Sprintf("127.0.0.1:%d", ports[2+i]),
			Source: fmt.Sprintf("127.0.0.1:%d", ports[4+i]),
			Config: filepath.Join(cfg.Dir, id+".yaml"),
			Log:    filepath.Join(cfg.Dir, id+".log")}
		advertise := ""
		if cfg.ReplProxy {
			if n.ReplProxy, err = tcpproxy.Start(ctx, n.Repl); err != nil {
				return nil, fmt.Errorf("chaos: replication proxy: %w", err)
			}
			advertise = fmt.Sprintf("  advertise: %s\n", n.ReplProxy.Addr())
		}
		text := fmt.Sprintf(`node:
  id: %s
  group: chaos
  api: %s
dataDir: %s
apps: [%s]
coordination:
%sreplication:
  listen: %s
%s  ack: %s
  secret: chaos-secret
%ssources:
  httpListen: %s
`, id, n.API, filepath.Join(cfg.Dir, id), appFile, coordination, n.Repl, advertise, ack, checkpoint, n.Source)
		if err := os.WriteFile(n.Config, []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("chaos: %w", err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	return c, nil
}

// Dir is the cluster's working directory.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Elapsed is the time since the cluster was made.
func (c *Cluster) Elapsed() time.Duration { return time.Since(c.start) }

// Event reports a step of a scenario to the progress output and writes it
// into every node's log, so that the logs read as a timeline.
func (c *Cluster) Event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.cfg.Logf("%s", msg)
	line := fmt.Sprintf("=== chaos %s t=%.3fs: %s\n", time.Now().Format(time.RFC3339Nano), c.Elapsed().Seconds(), msg)
	for _, n := range c.Nodes {
		// O_APPEND writes of one short line do not interleave with the
		// node's own lines.
		if f, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			f.WriteString(line)
			f.Close()
		}
	}
}

// Other returns the node of the pair that is not n.
func (c *Cluster) Other(n *Node) *Node {
	if c.Nodes[0] == n {
		return c.Nodes[1]
	}
	return c.Nodes[0]
}

// Close stops the nodes (SIGTERM, then SIGKILL after 5s), the proxies and the
// collector, and drops coordination tables the cluster made.
func (c *Cluster) Close() error {
	var errs []error
	c.closeOnce.Do(func() {
		stopErrs := make([]error, len(c.Nodes))
		var wg sync.WaitGroup
		for i, n := range c.Nodes {
			wg.Go(func() { stopErrs[i] = n.Terminate(5 * time.Second) })
		}
		wg.Wait()
		errs = append(errs, stopErrs...)
		for _, n := range c.Nodes {
			if n.ReplProxy != nil {
				n.ReplProxy.Close()
			}
		}
		if c.CoordProxy != nil {
			c.CoordProxy.Close()
		}
		if c.sink != nil {
			c.sink.Close()
			<-c.sinkDone
		}
		if c.dropPrefix != "" {
			if err := dropTables(c.cfg.Postgres, c.dropPrefix); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// dropTables removes the coordination tables with the given prefix.
func dropTables(dsn, prefix string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("chaos: drop coordination tables: %w", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, t := range []string{"lease", "members"} {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+prefix+t); err != nil {
			return fmt.Errorf("chaos: drop %s%s: %w", prefix, t, err)
		}
	}
	return nil
}

// PingPostgres checks that a PostgreSQL DSN is reachable.
func PingPostgres(ctx context.Context, dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// freePorts reserves n distinct loopback ports. They are free when it
// returns; a process that takes one before the node does makes the node
// fail to start, with a clear error in its log.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Start starts every node that is not running.
func (c *Cluster) Start() error {
	for _, n := range c.Nodes {
		if !n.Running() {
			if err := n.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Start starts the node process; its output is appended to n.Log.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && !isClosed(n.exited) {
		return fmt.Errorf("chaos: %s is already running", n.ID)
	}
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	n.starts++
	fmt.Fprintf(logf, "=== chaos %s: start #%d of %s\n", time.Now().Format(time.RFC3339Nano), n.starts, n.ID)
	cmd := exec.Command(n.binary, "node", "--config", n.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", n.ID, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	n.cmd, n.exited, n.want, n.paused = cmd, exited, true, false
	return nil
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Running reports whether the node's process is alive (possibly paused).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !isClosed(n.exited)
}

// Crashed reports whether the node exited while the harness wanted it up.
func (n *Node) Crashed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.want && n.cmd != nil && isClosed(n.exited)
}

// Kill sends SIGKILL and waits for the process to exit.
func (n *Node) Kill() error {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.want, n.paused = false, false
	n.mu.Unlock()
	if cmd == nil || isClosed(exited) {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("chaos: kill %s: %w", n.ID, err)
	}
	<-exited
	return nil
}

// Terminate sends SIGTERM (after SIGCONT, if paused) and waits up to limit for
// a graceful exit; after that it kills the process and says so.
func (n *Node) Terminate(limit time.Duration) error {
	n.mu.Lock()
	cmd, exited, paused := n.cmd, n.exited, n.paused
	n.want, n.paused = false, false
	n.mu.Unlock()
	if cmd == nil || isClosed(exited) {
		return nil
	}
	if paused {
		resumeProcess(cmd.Process)
	}
	if err := terminateProcess(cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("chaos: terminate %s: %w", n.ID, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(limit):
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("chaos: %s did not stop within %v of SIGTERM; killed it", n.ID, limit)
}

// Pause stops the process with SIGSTOP: it holds its sockets and its lease
// but runs no code, as a machine that froze would.
func (n *Node) Pause() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || isClosed(n.exited) {
		return fmt.Errorf("chaos: pause %s: not running", n.ID)
	}
	if err := pauseProcess(n.cmd.Process); err != nil {
		return fmt.Errorf("chaos: pause %s: %w", n.ID, err)
	}
	n.paused = true
	return nil
}

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || isClosed(n.exited) {
		return fmt.Errorf("chaos: resume %s: not running", n.ID)
	}
	if err := resumeProcess(n.cmd.Process); err != nil {
		return fmt.Errorf("chaos: resume %s: %w", n.ID, err)
	}
	n.paused = false
	return nil
}

// Exited is closed when the current process exits.
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return n.exited
}

// LogTail returns the last lines of the node's log, at most max bytes.
func (n *Node) LogTail(max int) string {
	f, err := os.Open(n.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > int64(max) {
		f.Seek(st.Size()-int64(max), io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	if i := bytes.IndexByte(b, '\n'); i >= 0 && len(b) == max {
		b = b[i+1:]
	}
	return string(b)
}

// Status is what a node's GET /api/v1/ha/status says, as far as the
// scenarios need it.
type Status struct {
	Node   string `json:"node"`
	Role   string `json:"role"`
	Epoch  uint64 `json:"epoch"`
	Fenced bool   `json:"fenced"`
	Peer   *struct {
		Node      string `json:"node"`
		Synced    bool   `json:"synced"`
		LagEvents uint64 `json:"lag_events"`
	} `json:"peer"`
	Apps []AppStatus `json:"apps"`
}

// AppStatus is one app in a Status.
type AppStatus struct {
	Name           string            `json:"name"`
	LastLSN        uint64            `json:"last_lsn"`
	Applied        uint64            `json:"applied_lsn"`
	Published      map[string]uint64 `json:"published"`
	LastCheckpoint *struct {
		Revision uint64 `json:"revision"`
		LSN      uint64 `json:"lsn"`
	} `json:"last_checkpoint"`
}

// Active reports whether the node is an active that may publish.
func (s Status) Active() bool { return s.Role == "active" && !s.Fenced }

// Status asks the node for its status.
func (c *Cluster) Status(ctx context.Context, n *Node) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.API+"/api/v1/ha/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: status: %s", n.ID, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("%s: status: %w", n.ID, err)
	}
	return st, nil
}

// ErrNoHandover is returned by Handover when the node has no handover API.
var ErrNoHandover = errors.New("the node has no POST /api/v1/ha/handover")

// Handover asks node n to hand its role over to its passive.
func (c *Cluster) Handover(ctx context.Context, n *Node) error {
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.API+"/api/v1/ha/handover", nil)
	if err != nil {
		return err
	}
	// The handover drains the passive first, which takes longer than a
	// status request may.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: handover: %w", n.ID, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return ErrNoHandover
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: handover: %s: %s", n.ID, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// crashCheck returns an error naming a node that exited on its own.
func (c *Cluster) crashCheck() error {
	for _, n := range c.Nodes {
		if n.Crashed() {
			return fmt.Errorf("%s exited on its own; the end of its log (%s):\n%s", n.ID, n.Log, n.LogTail(2000))
		}
	}
	return nil
}

// WaitPair waits until one node is an active that may publish, with the
// other connected as a passive that holds the state, and returns them.
func (c *Cluster) WaitPair(ctx context.Context, limit time.Duration) (active, passive *Node, epoch uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if err := c.crashCheck(); err != nil {
			return nil, nil, 0, err
		}
		var sts [2]Status
		var errs [2]error
		for i, n := range c.Nodes {
			sts[i], errs[i] = c.Status(ctx, n)
		}
		for i, n := range c.Nodes {
			o := 1 - i
			if errs[i] == nil && errs[o] == nil && sts[i].Active() && sts[i].Peer != nil && sts[i].Peer.Synced &&
				sts[i].Peer.Node == c.Nodes[o].ID && sts[o].Role == "passive" {
				return n, c.Nodes[o], sts[i].Epoch, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, 0, fmt.Errorf("no active with a synced passive within %v (a: %s; b: %s); logs in %s",
				limit, describe(sts[0], errs[0]), describe(sts[1], errs[1]), c.cfg.Dir)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// WaitActive waits until node n (or, for nil, any node) is an active that
// may publish, with or without a passive, and returns it with its epoch.
func (c *Cluster) WaitActive(ctx context.Context, n *Node, limit time.Duration) (*Node, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last []string
	for {
		if err := c.crashCheck(); err != nil {
			return nil, 0, err
		}
		last = last[:0]
		for _, m := range c.Nodes {
			if n != nil && m != n {
				continue
			}
			st, err := c.Status(ctx, m)
			if err == nil && st.Active() {
				return m, st.Epoch, nil
			}
			last = append(last, m.ID+": "+describe(st, err))
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("no active within %v (%s); logs in %s", limit, strings.Join(last, "; "), c.cfg.Dir)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// WaitRole waits until node n reports the role.
func (c *Cluster) WaitRole(ctx context.Context, n *Node, role string, limit time.Duration) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		st, err := c.Status(ctx, n)
		if err == nil && st.Role == role {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("%s is not %s within %v (%s); see %s", n.ID, role, limit, describe(st, err), n.Log)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func describe(st Status, err error) string {
	if err != nil {
		return err.Error()
	}
	s := fmt.Sprintf("%s epoch %d", st.Role, st.Epoch)
	if st.Fenced {
		s += " fenced"
	}
	if st.Peer != nil {
		s += fmt.Sprintf(" peer %s synced=%t lag=%d", st.Peer.Node, st.Peer.Synced, st.Peer.LagEvents)
	}
	return s
}
