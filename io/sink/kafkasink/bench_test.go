package kafkasink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tandem-stream/tandem/io/sink"
)

// BenchmarkPublish measures outputs published per second to a fake cluster
// in the publisher's batches of 256, each awaiting every acknowledgement.
func BenchmarkPublish(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "out"), kfake.BlackholeProduce())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := New(spec(map[string]string{"bootstrap.servers": strings.Join(c.ListenAddrs(), ","), "topic": "out"}), sink.Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 256
	outs := outputs(0, batch, 1)
	ctx := context.Background()
	if err := s.Publish(ctx, outs[:1]); err != nil { // connect
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; done += batch {
		if err := s.Publish(ctx, outs[:min(batch, b.N-done)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
