package rabbitsink

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/io/sink"
)

// BenchmarkPublish measures outputs published per second to the local
// RabbitMQ in the publisher's batches of 256, each awaiting every confirm.
func BenchmarkPublish(b *testing.B) {
	conn := broker(b)
	exchange, _ := boundQueue(b, conn, "")
	s, err := New(spec(map[string]string{"uri": testURI, "exchange.name": exchange}), sink.Env{})
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
