package node

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/event"
)

// BenchmarkReplicationSyncAck measures events/s through the active's log to
// the passive and back with replication.ack: sync: concurrent senders ingest
// batches of 100 events, each returning only once the passive holds it (group
// commit). Two nodes run in this process over loopback TCP.
func BenchmarkReplicationSyncAck(b *testing.B) {
	dir := b.TempDir()
	appFile := filepath.Join(dir, "app.siddhi")
	app := `@app:name('Bench')
define stream In (symbol string, price double, volume long);
from In[price > 50.0] select symbol, price insert into Out;
`
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		b.Fatal(err)
	}
	// Default timings: the senders saturate both cores, and the tuned 100 ms
	// heartbeat of the tests leaves the lease loop no slack under that load.
	defaults := func(c *Config) { c.Coordination.Heartbeat, c.Coordination.Lease = 0, 0 }
	a := startNode(b, dir, "a", appFile, defaults)
	waitActive(b, a)
	p := startNode(b, dir, "b", appFile, defaults)
	waitUntil(b, "b synced", 5*time.Second, func() bool {
		st := a.n.Status().Peer
		return st != nil && st.Synced
	})
	_ = p
	host := a.n.units[0].app
	const batch, senders = 100, 16
	rows := make([][]event.Value, batch)
	for i := range rows {
		rows[i] = []event.Value{event.StringValue("SYM42"), event.DoubleValue(float64(i)), event.LongValue(int64(i))}
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N/batch)/senders + 1
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := host.Ingest(ctx, "In", rows, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	events := float64(per * senders * batch)
	b.ReportMetric(events/time.Since(start).Seconds(), "events/s")
	if st := a.n.Status(); st.Peer == nil || !st.Peer.Synced {
		b.Fatal("the passive dropped out during the benchmark")
	}
}
