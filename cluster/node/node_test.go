package node

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tandem-stream/tandem/cluster/coord/zkcoord/zktest"
	"github.com/tandem-stream/tandem/deploy"
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/registry"
	"github.com/tandem-stream/tandem/io/source/httpsource"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type testNode struct {
	n      *Node
	cfg    *Config
	cancel context.CancelFunc
	done   chan error
}

// startNode runs a node in this process; the pair shares an SQLite file.
func startNode(t testing.TB, dir, id, appFile string, tune ...func(*Config)) *testNode {
	t.Helper()
	cfg := &Config{DataDir: filepath.Join(dir, id), Apps: []string{appFile}}
	cfg.Node.ID, cfg.Node.Group, cfg.Node.API = id, "test", freeAddr(t)
	cfg.Coordination = CoordinationConfig{Type: "sqlite", Path: filepath.Join(dir, "cluster.db"),
		Heartbeat: 250 * time.Millisecond, Lease: 2 * time.Second}
	cfg.Replication = ReplicationConfig{Listen: freeAddr(t), Secret: "s"}
	cfg.Checkpoint.Interval = 200 * time.Millisecond
	cfg.Sources.HTTPListen = freeAddr(t)
	for _, f := range tune {
		f(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	level := slog.LevelInfo
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(testLogWriter{t, id}, &slog.HandlerOptions{Level: level}))
	servers := httpsource.NewServers(log)
	var plans []*deploy.Plan
	for _, f := range cfg.Apps {
		plan, err := deploy.LoadFile(f, registry.Default(servers))
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, plan)
	}
	ctx, cancel := context.WithCancel(context.Background())
	co, err := OpenCoordinator(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	store, closeStore, err := OpenStore(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, Deps{Coord: co, Store: store, Plans: plans, Logger: log, Connectors: registry.Default(servers)})
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{n: n, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := tn.n.Run(ctx)
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		servers.Close(sctx)
		c()
		co.Close()
		closeStore.Close()
		tn.done <- err
	}()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	<-tn.done
	tn.cancel = nil
}

type testLogWriter struct {
	t  testing.TB
	id string
}

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(w.id + ": " + strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitLimit bounds every wait: generous, because CI runs these tests under
// -race beside the rest of the suite on two cores.
const waitLimit = 20 * time.Second

func waitUntil(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func send(t *testing.T, addr string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		body := fmt.Sprintf(`{"event":{"seq":%d}}`, i)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/in", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", fmt.Sprint("k", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("send %d: HTTP %d", i, resp.StatusCode)
		}
	}
}

// TestPairHandoverAndShutdown runs two nodes in one process (under -race in
// CI): the active replicates and checkpoints, hands over to the passive, and
// the outputs of both terms form one gap-free, repeat-free sequence.
func TestPairHandoverAndShutdown(t *testing.T) {
	for _, mode := range []string{"warm", "hot"} {
		t.Run(mode, func(t *testing.T) {
			testPairHandover(t, func(c *Config) { c.Replication.Mode = mode })
		})
	}
}

// TestPairOnServerDatabases runs the same pair with MySQL coordination and a
// PostgreSQL checkpoint store both nodes share.
func TestPairOnServerDatabases(t *testing.T) {
	pg := serviceDSN(t, "pgx", "TANDEM_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	my := serviceDSN(t, "mysql", "TANDEM_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/test")
	prefix := fmt.Sprintf("nodetest_%d_", time.Now().UnixNano())
	testPairHandover(t, func(c *Config) {
		c.Coordination.Type, c.Coordination.DSN, c.Coordination.Table = "mysql", my, prefix
		c.Checkpoint.Store, c.Checkpoint.DSN, c.Checkpoint.TablePrefix = "postgres", pg, prefix
	})
	dropTables(t, "pgx", pg, prefix)
	dropTables(t, "mysql", my, prefix)
}

func testPairHandover(t *testing.T, setMode func(*Config)) {
	dir := t.TempDir()
	appFile, out := writePassApp(t, dir)
	a := startNode(t, dir, "a", appFile, setMode)
	waitActive(t, a)
	b := startNode(t, dir, "b", appFile, setMode)
	waitUntil(t, "b synced", waitLimit, func() bool {
		p := a.n.Status().Peer
		return p != nil && p.Synced
	})
	send(t, a.cfg.Sources.HTTPListen, 0, 30)
	waitUntil(t, "a checkpoint shipped to b", waitLimit, func() bool {
		st := b.n.Status()
		return len(st.Apps) == 1 && st.Apps[0].LastCheckpoint != nil && st.Apps[0].LastCheckpoint.LSN > 0
	})
	if err := b.n.Handover(context.Background()); err != ErrNotActive {
		t.Fatalf("handover on the passive: %v, want ErrNotActive", err)
	}
	if err := a.n.Handover(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitActive(t, b)
	if st := a.n.Status(); st.Role != "passive" {
		t.Fatalf("a is %s after handing over", st.Role)
	}
	waitUntil(t, "a synced as b's passive", waitLimit, func() bool {
		p := b.n.Status().Peer
		return p != nil && p.Synced && p.Node == "a"
	})
	send(t, b.cfg.Sources.HTTPListen, 30, 30)
	// The first 30 keys are already logged: resending them changes nothing.
	send(t, b.cfg.Sources.HTTPListen, 0, 30)
	waitUntil(t, "b idle", waitLimit, func() bool { return b.n.units[0].app.Idle() })
	b.stop()
	a.stop()
	checkSequence(t, out, 60)
}

// TestChangedAppNeedsClearedState restarts a node with a new version of its
// app: the old checkpoint must not be restored into it; the app is inactive
// with the reason until its state is cleared through the API.
func TestChangedAppNeedsClearedState(t *testing.T) {
	dir := t.TempDir()
	appFile := filepath.Join(dir, "app.siddhi")
	v1 := "@app:name('Ver')\ndefine stream In (seq long);\nfrom In select seq insert into Out;\n"
	if err := os.WriteFile(appFile, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, dir, "a", appFile)
	waitActive(t, a)
	if err := a.n.units[0].app.Ingest(context.Background(), "In", nil, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.n.units[0].app.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.stop()

	v2 := strings.Replace(v1, "select seq", "select seq * 10 as seq", 1)
	if err := os.WriteFile(appFile, []byte(v2), 0o644); err != nil {
		t.Fatal(err)
	}
	a = startNode(t, dir, "a", appFile, func(c *Config) { c.Node.API = a.cfg.Node.API })
	waitActive(t, a)
	waitUntil(t, "the app inactive because of the version change", waitLimit, func() bool {
		return strings.Contains(a.n.Status().Apps[0].Inactive, "different version")
	})
	api := "http://" + a.cfg.Node.API
	if resp, err := http.Get(api + "/api/v1/ha/state/Ver"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("state of an inactive app: %v %v", resp.StatusCode, err)
	}
	resp, err := http.Post(api+"/api/v1/apps/Nope/clear-state", "", nil)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("clear-state of an unknown app: %v %v", resp.StatusCode, err)
	}
	resp, err = http.Post(api+"/api/v1/apps/Ver/clear-state", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("clear-state: %v %v", resp.StatusCode, err)
	}
	if st := a.n.Status().Apps[0]; st.Inactive != "" || st.Role != "active" {
		t.Fatalf("after clear-state: %+v", st)
	}
	resp, err = http.Get(api + "/api/v1/ha/state/Ver")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("state: %v %v", resp.StatusCode, err)
	}
	if resp.Header.Get("Content-Encoding") != "zstd" || resp.Header.Get("X-Tandem-LSN") == "" {
		t.Fatalf("state headers: %v", resp.Header)
	}
}

// serviceDSN returns a reachable database's DSN, or skips (fails when
// TANDEM_REQUIRE_SERVICES=1).
func serviceDSN(t *testing.T, driver, env, def string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		dsn = def
	}
	db, err := sql.Open(driver, dsn)
	if err == nil {
		err = db.Ping()
		db.Close()
	}
	if err != nil {
		if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s unreachable: %v", driver, err)
		}
		t.Skipf("%s unreachable: %v", driver, err)
	}
	return dsn
}

// dropTables removes the tables a test created under its prefix.
func dropTables(t *testing.T, driver, dsn, prefix string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer db.Close()
	q := "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '" + prefix + "%'"
	rows, err := db.Query(q)
	if err != nil {
		t.Error(err)
		return
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.Exec("DROP TABLE " + n); err != nil {
			t.Errorf("drop %s: %v", n, err)
		}
	}
}

// TestAppMissingOnActive: the passive runs an app the active does not; it asks
// again a few times, then shows the app inactive with the reason, while the
// other app replicates normally.
func TestAppMissingOnActive(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	common := write("common.siddhi", "@app:name('Common')\ndefine stream In (x int);\nfrom In select x insert into Out;\n")
	extra := write("extra.siddhi", "@app:name('Extra')\ndefine stream In (x int);\nfrom In select x insert into Out;\n")
	fast := func(c *Config) {
		c.Replication.RetryAppSyncPeriod = 100 * time.Millisecond
		c.Replication.AppSyncRetries = 2
	}
	a := startNode(t, dir, "a", common, fast)
	waitActive(t, a)
	b := startNode(t, dir, "b", common, fast, func(c *Config) { c.Apps = append(c.Apps, extra) })
	_ = b
	waitUntil(t, "Extra inactive on b", waitLimit, func() bool {
		for _, app := range b.n.Status().Apps {
			if app.Name == "Extra" {
				return strings.Contains(app.Inactive, "no state from the active a after 3 tries")
			}
		}
		return false
	})
	for _, app := range b.n.Status().Apps {
		if app.Name == "Common" && app.Inactive != "" {
			t.Fatalf("Common is inactive on b: %s", app.Inactive)
		}
	}
	waitUntil(t, "b synced for Common", waitLimit, func() bool {
		p := a.n.Status().Peer
		return p != nil && p.Synced
	})
}

// TestDeployThroughAPI deploys an app through the passive's API: both nodes
// take it up from the coordination store, the active runs it, the passive
// holds its state; a bad app is refused with its errors; undeploy removes it.
func TestDeployThroughAPI(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.siddhi")
	if err := os.WriteFile(base, []byte("@app:name('Base')\ndefine stream In (x int);\nfrom In select x insert into Out;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, dir, "a", base)
	waitActive(t, a)
	b := startNode(t, dir, "b", base)
	waitUntil(t, "b synced", waitLimit, func() bool { p := a.n.Status().Peer; return p != nil && p.Synced })

	post := func(node *testNode, body string) (int, string) {
		resp, err := http.Post("http://"+node.cfg.Node.API+"/api/v1/apps", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(b, "@app:name('Bad')\ndefine stream In (x int);\nfrom In select y insert into Out;\n"); code != http.StatusBadRequest || !strings.Contains(body, "api:Bad:3:") {
		t.Fatalf("bad app: %d %s", code, body)
	}
	if code, body := post(b, "@app:name('Base')\ndefine stream In (x int);\nfrom In select x insert into Out2;\n"); code != http.StatusConflict {
		t.Fatalf("app named like a config app: %d %s", code, body)
	}
	if code, body := post(b, "@app:name('Dyn')\ndefine stream In (x int);\nfrom In select x * 2 as y insert into Out;\n"); code != http.StatusCreated {
		t.Fatalf("deploy: %d %s", code, body)
	}
	hasApp := func(tn *testNode, role string) bool {
		for _, app := range tn.n.Apps() {
			if app.Name == "Dyn" && app.Role == role && app.Inactive == "" {
				return true
			}
		}
		return false
	}
	waitUntil(t, "Dyn active on a", waitLimit, func() bool { return hasApp(a, "active") })
	waitUntil(t, "Dyn passive on b", waitLimit, func() bool { return hasApp(b, "passive") })
	var dyn *unit
	for _, u := range a.n.unitList() {
		if u.plan.Name == "Dyn" {
			dyn = u
		}
	}
	if err := dyn.app.Ingest(context.Background(), "In", [][]event.Value{{event.IntValue(21)}}, ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b holds Dyn's entry", waitLimit, func() bool {
		for _, st := range b.n.Status().Apps {
			if st.Name == "Dyn" && st.LastLSN >= 2 { // the first tick, then the event
				return true
			}
		}
		return false
	})
	req, _ := http.NewRequest(http.MethodDelete, "http://"+a.cfg.Node.API+"/api/v1/apps/Dyn", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("undeploy: %v %v", resp.StatusCode, err)
	}
	waitUntil(t, "Dyn gone from both", waitLimit, func() bool { return !hasApp(a, "active") && !hasApp(b, "passive") })
}

// TestStoreBasedSync: with liveSync off and a checkpoint store both nodes
// share, a joining passive restores the newest checkpoint from the store and
// the active sends only the entries after it: no snapshot crosses the link.
// A passive whose link drops resumes from its own position the same way.
func TestStoreBasedSync(t *testing.T) {
	dir := t.TempDir()
	appFile, out := writePassApp(t, dir)
	off := false
	storeSync := func(c *Config) {
		c.Replication.LiveSync = &off
		c.Checkpoint.Store, c.Checkpoint.Path = "sqlite", filepath.Join(dir, "checkpoints.db")
		c.Checkpoint.Interval = time.Hour // only the checkpoints this test asks for
	}
	a := startNode(t, dir, "a", appFile, storeSync)
	waitActive(t, a)
	send(t, a.cfg.Sources.HTTPListen, 0, 20)
	if _, err := a.n.unitList()[0].app.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	send(t, a.cfg.Sources.HTTPListen, 20, 10)

	b := startNode(t, dir, "b", appFile, storeSync)
	waitUntil(t, "b synced", waitLimit, func() bool { p := a.n.Status().Peer; return p != nil && p.Synced })
	if got := a.n.resumes.Load(); got != 1 {
		t.Fatalf("active resumed %d passives, want 1", got)
	}
	if got := b.n.snapshotsIn.Load(); got != 0 {
		t.Fatalf("passive installed %d snapshots, want none", got)
	}
	send(t, a.cfg.Sources.HTTPListen, 30, 10)

	// A dropped link: the passive reconnects and resumes where it stood.
	b.n.resync()
	waitUntil(t, "b resumed", waitLimit, func() bool {
		p := a.n.Status().Peer
		return a.n.resumes.Load() == 2 && p != nil && p.Synced
	})
	if got := b.n.snapshotsIn.Load(); got != 0 {
		t.Fatalf("passive installed %d snapshots after a reconnect, want none", got)
	}
	send(t, a.cfg.Sources.HTTPListen, 40, 10)

	if err := a.n.Handover(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitActive(t, b)
	send(t, b.cfg.Sources.HTTPListen, 50, 10)
	waitUntil(t, "b idle", waitLimit, func() bool { return b.n.unitList()[0].app.Idle() })
	b.stop()
	a.stop()
	checkSequence(t, out, 60)
}

// checkSequence reads the file sink's output and checks it holds seq 0..n-1
// once each, in order.
func checkSequence(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seqs []int
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			ID    string `json:"id"`
			Event struct {
				Seq    int `json:"seq"`
				Double int `json:"double"`
			} `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		if ids[line.ID] {
			t.Errorf("output %s published twice", line.ID)
		}
		ids[line.ID] = true
		if line.Event.Double != 2*line.Event.Seq {
			t.Errorf("output %s: %+v", line.ID, line.Event)
		}
		seqs = append(seqs, line.Event.Seq)
	}
	if len(seqs) != n {
		t.Fatalf("%d outputs, want %d: %v", len(seqs), n, seqs)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("output %d has seq %d: %v", i, s, seqs)
		}
	}
}

// TestThirdNodeRefused: a group has two nodes; a third gets a clear error and
// stops, and the pair carries on.
func TestThirdNodeRefused(t *testing.T) {
	dir := t.TempDir()
	appFile := filepath.Join(dir, "app.siddhi")
	if err := os.WriteFile(appFile, []byte("@app:name('P')\ndefine stream In (x int);\nfrom In select x insert into Out;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, dir, "a", appFile)
	waitActive(t, a)
	b := startNode(t, dir, "b", appFile)
	waitUntil(t, "b synced", waitLimit, func() bool { p := a.n.Status().Peer; return p != nil && p.Synced })
	c := startNode(t, dir, "c", appFile)
	select {
	case err := <-c.done:
		c.cancel() // it stopped on its own; release its context
		c.cancel = nil
		if err == nil || !strings.Contains(err.Error(), "cannot join group") {
			t.Fatalf("third node stopped with %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("third node still running")
	}
	if st := a.n.Status(); st.Role != "active" || st.Peer == nil || st.Peer.Node != "b" {
		t.Fatalf("pair disturbed: %+v", st)
	}
	_ = b
}

// waitActive waits until tn is the active and has started (or given up on)
// each of its apps.
func waitActive(t testing.TB, tn *testNode) {
	t.Helper()
	waitUntil(t, tn.cfg.Node.ID+" active", waitLimit, func() bool {
		st := tn.n.Status()
		if st.Role != "active" {
			return false
		}
		for _, a := range st.Apps {
			if a.Role != "active" && a.Inactive == "" {
				return false
			}
		}
		return true
	})
}

// writePassApp writes an app that takes {"seq": n} over HTTP at /in and writes
// (seq, 2*seq) to a file sink; it returns the app file and the output file.
func writePassApp(t *testing.T, dir string) (appFile, out string) {
	t.Helper()
	out = filepath.Join(dir, "out.jsonl")
	appFile = filepath.Join(dir, "app.siddhi")
	app := fmt.Sprintf(`@app:name('Pass')
@source(type='http', receiver.url='http://127.0.0.1:1/in', @map(type='json'))
define stream In (seq long);
@sink(type='file', file.uri='%s', @map(type='json'))
define stream Out (seq long, double long);
from In select seq, seq * 2 as double insert into Out;
`, out)
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	return appFile, out
}

// TestPairOnZooKeeper runs the pair with ZooKeeper coordination, on a private
// ZooKeeper server.
func TestPairOnZooKeeper(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	zk, err := zktest.Start(ctx, t.TempDir(), zktest.Options{})
	if errors.Is(err, zktest.ErrNotInstalled) && os.Getenv("TANDEM_REQUIRE_SERVICES") != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer zk.Stop()
	root := fmt.Sprintf("/nodetest-%d", time.Now().UnixNano())
	testPairHandover(t, func(c *Config) {
		c.Coordination.Type, c.Coordination.Servers, c.Coordination.Root = "zookeeper", []string{zk.Addr()}, root
	})
}

// TestDashboardMounted: the admin port serves the dashboard at / beside the
// API, and the status allows the peer's dashboard to read it.
func TestDashboardMounted(t *testing.T) {
	dir := t.TempDir()
	appFile, _ := writePassApp(t, dir)
	a := startNode(t, dir, "a", appFile)
	waitActive(t, a)
	resp, err := http.Get("http://" + a.cfg.Node.API + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Get("http://" + a.cfg.Node.API + "/api/v1/ha/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status CORS header %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
