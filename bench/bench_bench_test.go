package bench

import (
	"context"
	"testing"
	"time"
)

// BenchmarkEngine runs the standard queries under go test -bench, for
// profiling (-cpuprofile, -memprofile) rather than for the quoted figures,
// which come from Runner's fixed windows. Each query keeps one runtime
// across the benchmark's rounds, warmed up for a second first so that Q2's
// one-second window is full.
func BenchmarkEngine(b *testing.B) {
	cfg := DefaultConfig()
	r, err := NewRunner(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range Queries() {
		var d *driver
		b.Run(q.Name, func(b *testing.B) {
			if d == nil {
				var err error
				d, err = r.newDriver(q, func(Progress) {})
				if IsUnsupported(err) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := d.sendFor(context.Background(), time.Second); err != nil {
					b.Fatal(err)
				}
			}
			d.outputs = 0
			b.ReportAllocs()
			b.ResetTimer()
			d.send(b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(d.outputs)/float64(b.N), "outputs/event")
			if n, first := d.errs.count(); n > 0 {
				b.Fatalf("the engine reported %d errors, the first: %s", n, first)
			}
		})
	}
}

// BenchmarkWallClock is the cost of the sender's clock read, which every
// non-playback event pays (Q1 against Q1p shows it too).
func BenchmarkWallClock(b *testing.B) {
	var sum int64
	for b.Loop() {
		sum += time.Now().UnixMilli()
	}
	if sum == 0 {
		b.Fatal("the wall clock read 0")
	}
}
