package kafkasource

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

// countIngester takes everything at once, like an app with no passive.
type countIngester struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *countIngester) Ingest(_ context.Context, _ string, _ [][]event.Value, _ string) error {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
	return nil
}

// BenchmarkSource measures records consumed per second from a fake cluster
// into an Ingester that takes them at once: the cost of polling, decoding,
// keying and committing, one record per Ingest.
func BenchmarkSource(b *testing.B) {
	for _, tc := range []struct {
		threading string
		async     string
	}{{"single.thread", "false"}, {"single.thread", "true"}, {"partition.wise", "false"}} {
		b.Run(tc.threading+"/async="+tc.async, func(b *testing.B) {
			const partitions = 4
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "bench"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			addrs := c.ListenAddrs()
			cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
			if err != nil {
				b.Fatal(err)
			}
			recs := make([]*kgo.Record, 0, 1000)
			flush := func() {
				if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
			for i := range b.N {
				recs = append(recs, &kgo.Record{Topic: "bench", Value: fmt.Appendf(nil, `{"event":{"sym":"IBM","n":%d}}`, i)})
				if len(recs) == cap(recs) {
					flush()
				}
			}
			flush()
			cl.Close()

			ing := &countIngester{want: int64(b.N), done: make(chan struct{})}
			s, err := New(spec(map[string]string{"bootstrap.servers": strings.Join(addrs, ","), "topic.list": "bench", "group.id": "g",
				"threading.option": tc.threading, "enable.async.commit": tc.async}), ing, source.Env{})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			select {
			case <-ing.done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("took %d of %d records", ing.n.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.StopTimer()
			_ = s.Stop(context.Background())
		})
	}
}
