package rabbitsource

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkSource measures messages consumed per second from the local
// RabbitMQ into an Ingester that takes them at once: the cost of delivery,
// decoding and one acknowledgement per message.
func BenchmarkSource(b *testing.B) {
	for _, prefetch := range []int{64, 512} {
		b.Run(fmt.Sprintf("prefetch=%d", prefetch), func(b *testing.B) {
			conn := broker(b)
			exchange, queue := names(b, conn)
			options := map[string]string{"uri": testURI, "exchange.name": exchange, "routing.key": "k", "queue.name": queue,
				"prefetch.count": fmt.Sprint(prefetch)}
			// Declare and bind by starting a source that takes nothing yet.
			idle := &countIngester{want: -1}
			s, err := New(spec(options), idle, source.Env{})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			_ = s.Stop(context.Background())
			deadline := time.Now().Add(10 * time.Second)
			for {
				ch, err := conn.Channel()
				if err != nil {
					b.Fatal(err)
				}
				_, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil)
				if err == nil {
					_ = ch.Close()
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("the source never declared its queue")
				}
				time.Sleep(20 * time.Millisecond)
			}
			bodies := make([]string, 0, 1000)
			ids := make([]string, 0, 1000)
			for i := range b.N {
				bodies = append(bodies, fmt.Sprintf(`{"event":{"sym":"IBM","n":%d}}`, i))
				ids = append(ids, fmt.Sprint("m", i))
				if len(bodies) == cap(bodies) || i == b.N-1 {
					publish(b, conn, exchange, "k", bodies, ids)
					bodies, ids = bodies[:0], ids[:0]
				}
			}

			ing := &countIngester{want: int64(b.N), done: make(chan struct{})}
			if s, err = New(spec(options), ing, source.Env{}); err != nil {
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
				b.Fatalf("took %d of %d messages", ing.n.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.StopTimer()
			_ = s.Stop(context.Background())
		})
	}
}
