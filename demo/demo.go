// Package demo runs Tandem's failover demonstration: a local pair of real
// tandem processes on the embedded defaults, a steady load through the HTTP
// source, a SIGKILL of the active mid-stream, and a verdict that compares what
// the sink received with a single-node reference run of the same input.
// `tandem demo` and the end-to-end tests both use it.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tandem-stream/tandem/engine"
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Options configure a demo run. Zero values take the defaults.
type Options struct {
	Binary   string        // the tandem executable to start (required)
	Dir      string        // working directory; default a temporary one, removed afterwards
	Keep     bool          // keep Dir (logs, configs, checkpoints) after the run
	Before   time.Duration // load before the kill (default 3s)
	After    time.Duration // load after the new active's first output (default 3s)
	Rate     int           // events per second (default 2000)
	Batch    int           // events per HTTP request (default 20)
	Rounds   int           // how many times the active is killed (default 1); the killed node is restarted between rounds
	Progress io.Writer     // progress lines; nil for none
	// PostgresDSN, when set, coordinates through PostgreSQL instead of the
	// embedded SQLite file.
	PostgresDSN string
	TablePrefix string // coordination table prefix (PostgreSQL isolation)
}

// Verdict is the outcome of a run.
type Verdict struct {
	Sent       int     `json:"sent"`
	Expected   int     `json:"expected"`
	Received   int     `json:"received"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	Mismatched int     `json:"mismatched"`
	FailoverMs int64   `json:"failover_ms"`  // the slowest of Failovers
	Failovers  []int64 `json:"failovers_ms"` // one per kill, in order
	Killed     string  `json:"killed"`
	NewActive  string  `json:"new_active"`
	OldEpoch   uint64  `json:"old_epoch"`
	NewEpoch   uint64  `json:"new_epoch"`
}

// OK reports whether nothing was lost or wrong.
func (v Verdict) OK() bool { return v.Lost == 0 && v.Mismatched == 0 && v.Received > 0 }

// App is the demo's SiddhiQL app. The receiver and publisher addresses are
// placeholders the demo fills in.
const App = `@app:name('Trades')
-- Big trades per symbol, with the running volume of the last 10 of them.
@source(type='http', receiver.url='http://127.0.0.1:{{SOURCE_PORT}}/trades', @map(type='json'))
define stream Trades (seq long, symbol string, price double, volume long);

@sink(type='http', publisher.url='http://127.0.0.1:{{SINK_PORT}}/outputs', @map(type='json'))
define stream BigTrades (seq long, symbol string, price double, total long);

from Trades[price > 20.0]#window.length(10)
select seq, symbol, price, sum(volume) as total
group by symbol
insert into BigTrades;
`

var symbols = []string{"ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI"}

// tradeEvent is the demo's deterministic input number seq.
func tradeEvent(seq int64) (string, float64, int64) {
	return symbols[seq%int64(len(symbols))], float64((seq*37)%100) + 0.5, (seq * 13) % 1000
}

type nodeProc struct {
	id      string
	api     string
	source  string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	cfgPath string
}

type output struct {
	id    string
	ord   uint64
	epoch uint64
	at    time.Time
	key   string // seq|symbol|total, compared with the reference
}

// collector is the HTTP endpoint the demo app's sink publishes to.
type collector struct {
	mu   sync.Mutex
	outs []output
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg struct {
		Event struct {
			Seq    json.Number `json:"seq"`
			Symbol string      `json:"symbol"`
			Total  json.Number `json:"total"`
		} `json:"event"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil {
		http.Error(w, "bad output: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("Idempotency-Key")
	ord, _ := strconv.ParseUint(id[strings.LastIndexByte(id, '/')+1:], 10, 64)
	epoch, _ := strconv.ParseUint(r.Header.Get("X-Tandem-Epoch"), 10, 64)
	c.mu.Lock()
	c.outs = append(c.outs, output{id: id, ord: ord, epoch: epoch, at: time.Now(),
		key: string(msg.Event.Seq) + "|" + msg.Event.Symbol + "|" + string(msg.Event.Total)})
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (c *collector) snapshot() []output {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]output(nil), c.outs...)
}

// freePorts reserves n distinct loopback ports.
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
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type runner struct {
	opt   Options
	start time.Time
	nodes []*nodeProc
	col   *collector
	http  *http.Client
}

func (r *runner) progress(format string, args ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, "[%5.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// Run runs the demo and returns its verdict.
func Run(ctx context.Context, opt Options) (v Verdict, err error) {
	if opt.Binary == "" {
		return v, errors.New("demo: no tandem binary given")
	}
	if opt.Before == 0 {
		opt.Before = 3 * time.Second
	}
	if opt.After == 0 {
		opt.After = 3 * time.Second
	}
	if opt.Rate == 0 {
		opt.Rate = 2000
	}
	if opt.Batch == 0 {
		opt.Batch = 20
	}
	if opt.Rounds == 0 {
		opt.Rounds = 1
	}
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "tandem-demo-")
		if err != nil {
			return v, err
		}
		opt.Dir = d
		if !opt.Keep {
			defer os.RemoveAll(d)
		}
	}
	r := &runner{opt: opt, start: time.Now(), col: &collector{},
		http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	defer r.stopAll()
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) (Verdict, error) {
	var v Verdict
	ports, err := freePorts(7)
	if err != nil {
		return v, err
	}
	sinkPort := ports[6]
	sinkLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", sinkPort))
	if err != nil {
		return v, err
	}
	sinkSrv := &http.Server{Handler: r.col, ReadHeaderTimeout: 5 * time.Second}
	go sinkSrv.Serve(sinkLn)
	defer sinkSrv.Close()

	appText := strings.NewReplacer("{{SOURCE_PORT}}", strconv.Itoa(ports[4]), "{{SINK_PORT}}", strconv.Itoa(sinkPort)).Replace(App)
	appFile := filepath.Join(r.opt.Dir, "trades.siddhi")
	if err := os.WriteFile(appFile, []byte(appText), 0o644); err != nil {
		return v, err
	}
	for i, id := range []string{"node-a", "node-b"} {
		n := &nodeProc{id: id, api: fmt.Sprintf("127.0.0.1:%d", ports[i]), source: fmt.Sprintf("127.0.0.1:%d", ports[4+i])}
		cfg := r.nodeConfig(id, n.api, fmt.Sprintf("127.0.0.1:%d", ports[2+i]), n.source, appFile)
		cfgPath := filepath.Join(r.opt.Dir, id+".yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			return v, err
		}
		n.logPath = filepath.Join(r.opt.Dir, id+".log")
		n.cfgPath = cfgPath
		if err := r.startNode(n); err != nil {
			return v, err
		}
		r.nodes = append(r.nodes, n)
	}
	r.progress("started node-a and node-b (logs in %s)", r.opt.Dir)

	active, passive, epoch, err := r.waitForPair(ctx, 20*time.Second)
	if err != nil {
		return v, err
	}
	r.progress("%s is active (epoch %d), %s is its passive", active.id, epoch, passive.id)
	v.OldEpoch = epoch

	// The load runs in its own goroutine, one request at a time so the input
	// order is defined; a request that fails goes to the other node, with the
	// same idempotency key, until one accepts it.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var sent int64
	var sentMu sync.Mutex
	loadErr := make(chan error, 1)
	go func() {
		loadErr <- r.load(loadCtx, func(n int64) { sentMu.Lock(); sent = n; sentMu.Unlock() })
	}()
	sentNow := func() int64 { sentMu.Lock(); defer sentMu.Unlock(); return sent }

	fail := func(err error) (Verdict, error) {
		stopLoad()
		<-loadErr
		return v, err
	}
	for round := 1; round <= r.opt.Rounds; round++ {
		r.waitProgress(ctx, r.opt.Before, sentNow)
		killAt := time.Now()
		if err := active.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			return fail(fmt.Errorf("kill %s: %w", active.id, err))
		}
		<-active.exited
		r.progress("killed %s with SIGKILL after %d events; load continues", active.id, sentNow())

		// Wait for the first output of the new active.
		var firstNew time.Time
		deadline := time.Now().Add(30 * time.Second)
		for firstNew.IsZero() && time.Now().Before(deadline) && ctx.Err() == nil {
			for _, o := range r.col.snapshot() {
				if o.epoch > epoch {
					firstNew = o.at
					v.NewEpoch = o.epoch
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		if firstNew.IsZero() {
			return fail(fmt.Errorf("no output from a new active within 30s of the kill (see %s)", passive.logPath))
		}
		ms := firstNew.Sub(killAt).Milliseconds()
		v.Failovers = append(v.Failovers, ms)
		v.FailoverMs = max(v.FailoverMs, ms)
		v.Killed, v.NewActive = active.id, passive.id
		r.progress("%s is active (epoch %d): first output %d ms after the kill", passive.id, v.NewEpoch, ms)
		if round == r.opt.Rounds {
			break
		}
		// The killed node comes back, rejoins as passive and takes the state.
		if err := r.startNode(active); err != nil {
			return fail(err)
		}
		r.progress("restarted %s; waiting for it to rejoin as passive", active.id)
		if active, passive, epoch, err = r.waitForPair(ctx, 20*time.Second); err != nil {
			return fail(err)
		}
		r.progress("%s is active (epoch %d), %s is its passive again", active.id, epoch, passive.id)
	}

	r.waitProgress(ctx, r.opt.After, sentNow)
	stopLoad()
	if err := <-loadErr; err != nil {
		return v, err
	}
	v.Sent = int(sentNow())
	expected, err := Reference(v.Sent)
	if err != nil {
		return v, fmt.Errorf("reference run: %w", err)
	}
	v.Expected = len(expected)

	// Let the last outputs arrive.
	settle := time.Now().Add(15 * time.Second)
	for time.Now().Before(settle) && ctx.Err() == nil {
		if distinct(r.col.snapshot()) >= len(expected) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.compare(&v, expected)
	r.progress("sent %d events; %d outputs expected, %d received", v.Sent, v.Expected, v.Received)
	return v, nil
}

func (r *runner) nodeConfig(id, api, replAddr, source, app string) string {
	coordination := fmt.Sprintf("  type: sqlite\n  path: %s\n", filepath.Join(r.opt.Dir, "cluster.db"))
	if r.opt.PostgresDSN != "" {
		coordination = fmt.Sprintf("  type: postgres\n  dsn: %q\n  tablePrefix: %s\n", r.opt.PostgresDSN, r.opt.TablePrefix)
	}
	return fmt.Sprintf(`node:
  id: %s
  group: demo
  api: %s
dataDir: %s
apps: [%s]
coordination:
%sreplication:
  listen: %s
  ack: sync
  secret: demo-secret
checkpoint:
  interval: 1s
sources:
  httpListen: %s
`, id, api, filepath.Join(r.opt.Dir, id), app, coordination, replAddr, source)
}

func (r *runner) startNode(n *nodeProc) error {
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.cmd = exec.Command(r.opt.Binary, "node", "--config", n.cfgPath)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.id, err)
	}
	n.exited = make(chan struct{})
	go func() { n.cmd.Wait(); logf.Close(); close(n.exited) }()
	return nil
}

func (r *runner) stopAll() {
	for _, n := range r.nodes {
		select {
		case <-n.exited:
			continue
		default:
		}
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
	}
}

type haStatus struct {
	Role  string `json:"role"`
	Epoch uint64 `json:"epoch"`
	Peer  *struct {
		Node   string `json:"node"`
		Synced bool   `json:"synced"`
	} `json:"peer"`
}

func (r *runner) status(n *nodeProc) (haStatus, error) {
	var st haStatus
	resp, err := r.http.Get("http://" + n.api + "/api/v1/ha/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitForPair waits until one node is active and the other holds its state.
func (r *runner) waitForPair(ctx context.Context, limit time.Duration) (active, passive *nodeProc, epoch uint64, err error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for i, n := range r.nodes {
			select {
			case <-n.exited:
				return nil, nil, 0, fmt.Errorf("%s exited during start-up; see %s", n.id, n.logPath)
			default:
			}
			st, err := r.status(n)
			if err == nil && st.Role == "active" && st.Peer != nil && st.Peer.Synced {
				return n, r.nodes[1-i], st.Epoch, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, nil, 0, fmt.Errorf("no active with a connected passive within %v; see the logs in %s", limit, r.opt.Dir)
}

func (r *runner) waitProgress(ctx context.Context, d time.Duration, sent func() int64) {
	end := time.Now().Add(d)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(end)):
		case <-tick.C:
			r.progress("sent %d events, received %d outputs", sent(), len(r.col.snapshot()))
		}
	}
}

// load sends batches at the configured rate until ctx is done, reporting the
// number of events acknowledged so far. A batch counts as sent once a node
// answered 200 for it.
func (r *runner) load(ctx context.Context, report func(int64)) error {
	interval := time.Duration(float64(time.Second) * float64(r.opt.Batch) / float64(r.opt.Rate))
	next := time.Now()
	var seq int64
	target := 0
	for batch := 0; ; batch++ {
		if ctx.Err() != nil {
			return nil
		}
		var body bytes.Buffer
		body.WriteByte('[')
		for i := range r.opt.Batch {
			if i > 0 {
				body.WriteByte(',')
			}
			sym, price, vol := tradeEvent(seq + int64(i))
			fmt.Fprintf(&body, `{"event":{"seq":%d,"symbol":%q,"price":%s,"volume":%d}}`, seq+int64(i), sym,
				strconv.FormatFloat(price, 'f', -1, 64), vol)
		}
		body.WriteByte(']')
		key := fmt.Sprintf("demo-batch-%d", batch)
		giveUp := time.Now().Add(30 * time.Second)
		for {
			n := r.nodes[target]
			req, _ := http.NewRequest(http.MethodPost, "http://"+n.source+"/trades", bytes.NewReader(body.Bytes()))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := r.http.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				if resp.StatusCode == http.StatusBadRequest {
					return fmt.Errorf("node %s refused batch %d: HTTP 400", n.id, batch)
				}
			}
			if time.Now().After(giveUp) {
				return fmt.Errorf("batch %d: no node accepted it for 30s (last error: %v)", batch, err)
			}
			target = 1 - target
			// Even when the load is being stopped, this batch is retried until a
			// node takes it: it may already be logged, and the verdict must know.
			time.Sleep(20 * time.Millisecond)
		}
		seq += int64(r.opt.Batch)
		report(seq)
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil
			}
		} else {
			next = time.Now()
		}
	}
}

// Reference runs the demo app on the engine alone over the first n inputs and
// returns the expected outputs, in order, as seq|symbol|total keys.
func Reference(n int) ([]string, error) {
	tree, err := parser.Parse("trades.siddhi", []byte(strings.NewReplacer("{{SOURCE_PORT}}", "1", "{{SINK_PORT}}", "1").Replace(App)))
	if err != nil {
		return nil, err
	}
	rt, err := engine.New(tree)
	if err != nil {
		return nil, err
	}
	var out []string
	rt.OnOutput("BigTrades", func(evs []event.Event) {
		for _, e := range evs {
			out = append(out, e.Data[0].String()+"|"+e.Data[1].String()+"|"+e.Data[3].String())
		}
	})
	id, ok := rt.InputID("Trades")
	if !ok {
		return nil, errors.New("no Trades stream")
	}
	vals := make([]event.Value, 4)
	for seq := int64(0); seq < int64(n); seq++ {
		sym, price, vol := tradeEvent(seq)
		vals[0], vals[1], vals[2], vals[3] = event.LongValue(seq), event.StringValue(sym), event.DoubleValue(price), event.LongValue(vol)
		rt.Send(id, seq, vals)
	}
	return out, nil
}

func distinct(outs []output) int {
	seen := map[string]bool{}
	for _, o := range outs {
		seen[o.id] = true
	}
	return len(seen)
}

// compare fills in the verdict: each expected output must have arrived with
// the same ordinal and content; repeats of an id are duplicates.
func (r *runner) compare(v *Verdict, expected []string) {
	outs := r.col.snapshot()
	sort.SliceStable(outs, func(i, j int) bool { return outs[i].ord < outs[j].ord })
	byOrd := map[uint64]string{}
	for _, o := range outs {
		if prev, seen := byOrd[o.ord]; seen {
			v.Duplicates++
			if prev != o.key {
				v.Mismatched++
			}
			continue
		}
		byOrd[o.ord] = o.key
	}
	v.Received = len(byOrd)
	for i, want := range expected {
		got, ok := byOrd[uint64(i+1)]
		switch {
		case !ok:
			v.Lost++
		case got != want:
			v.Mismatched++
		}
	}
	// Outputs beyond the reference come from batches the nodes logged but the
	// load never saw acknowledged; they are not losses.
}
