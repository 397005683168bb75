//go:build unix

package node

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHTTPIngestSyncAck measures the whole ingest path of an HA pair with
// replication.ack: sync, as senders see it: concurrent HTTP senders post JSON
// arrays to the active's http source, each answered 200 only once the passive
// holds the batch. It is the in-process counterpart of the measurements in
// docs/benchmarks.md (two processes there; here both nodes share one
// process, its scheduler and its collector). An op is one event.
func BenchmarkHTTPIngestSyncAck(b *testing.B) {
	dir := b.TempDir()
	appFile := filepath.Join(dir, "trades.siddhi")
	app := `@app:name('Trades')
@source(type='http', receiver.url='http://127.0.0.1:8280/trades', @map(type='json'))
define stream Trades (seq long, symbol string, price double, volume long);
define stream BigTrades (seq long, symbol string, price double, total long);
from Trades[price > 20.0]#window.length(10)
select seq, symbol, price, sum(volume) as total
group by symbol
insert into BigTrades;
`
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		b.Fatal(err)
	}
	// Default timings: the senders saturate both cores, and the tuned
	// heartbeat of the tests leaves the lease loop no slack under that load.
	defaults := func(c *Config) { c.Coordination.Heartbeat, c.Coordination.Lease = 0, 0 }
	a := startNode(b, dir, "a", appFile, defaults)
	waitActive(b, a)
	startNode(b, dir, "b", appFile, defaults)
	waitUntil(b, "b synced", waitLimit, func() bool {
		st := a.n.Status().Peer
		return st != nil && st.Synced
	})
	url := "http://" + a.cfg.Sources.HTTPListen + "/trades"

	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d/senders=8", batch), func(b *testing.B) {
			benchHTTPSenders(b, url, batch, 8)
		})
	}
	st := a.n.Status()
	if st.Peer == nil || !st.Peer.Synced {
		b.Fatal("the passive dropped out during the benchmark")
	}
	b.Logf("last LSN %d", st.Apps[0].LastLSN)
}

// benchHTTPSenders posts b.N events in batches from concurrent senders, each
// with its own Idempotency-Key, and fails on any answer but 200.
func benchHTTPSenders(b *testing.B, url string, batch, senders int) {
	body := tradesBody(batch)
	tr := &http.Transport{MaxIdleConnsPerHost: senders}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	requests := (b.N + batch - 1) / batch
	// Keys unique across the runs of a sub-benchmark: a repeated key would be
	// dropped as a retry, not logged.
	prefix := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	var next, keys atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(body) / batch))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	for range senders {
		wg.Go(func() {
			for next.Add(1) <= int64(requests) {
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Idempotency-Key", prefix+strconv.FormatInt(keys.Add(1), 10))
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %s", resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	events := float64(requests * batch)
	b.ReportMetric(events/time.Since(start).Seconds(), "events/s")
	// CPU time moves less than wall time with the load of a shared
	// machine; it covers both nodes and the senders.
	b.ReportMetric(float64(processCPU()-cpu0)/events, "cpu-ns/event")
}

// processCPU is the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tradesBody is a JSON array of n trades in Siddhi's {"event": ...} form.
func tradesBody(n int) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"event":{"seq":%d,"symbol":"SYM%02d","price":%.2f,"volume":%d}}`,
			1000000+i, i%50, 10+float64(i%37)*1.25, 100+i%900)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}
