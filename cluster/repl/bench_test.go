package repl

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

const benchPayload = 40 // bytes of encoded values in a typical small event

func benchBatch(n int) *Entries {
	e := &Entries{Epoch: 7, App: "app", Entries: make([]Entry, n), Published: []SinkPos{{Sink: "out", Position: 1}}}
	payload := make([]byte, benchPayload)
	for i := range e.Entries {
		e.Entries[i] = Entry{LSN: uint64(i + 1), Kind: EventEntry, Stream: "In", Timestamp: 1700000000000 + int64(i), Payload: payload}
	}
	return e
}

func reportEntries(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkEncodeEntries(b *testing.B) {
	const n = 512
	e := benchBatch(n)
	buf, err := AppendFrame(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = AppendFrame(buf[:0], e); err != nil {
			b.Fatal(err)
		}
	}
	reportEntries(b, n)
}

func BenchmarkDecodeEntries(b *testing.B) {
	const n = 512
	frame, err := AppendFrame(nil, benchBatch(n))
	if err != nil {
		b.Fatal(err)
	}
	var d Decoder
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
	reportEntries(b, n)
}

// BenchmarkLoopbackSyncAck runs the replication hot path over 127.0.0.1: the
// active sends batches of entries and may have at most window entries
// unacknowledged (group commit: whatever became sendable while waiting goes
// out in the next batches, one flush for all); the passive copies each
// payload into its queue, and once it has drained what arrived acknowledges
// the highest contiguous LSN. An op is one entry.
func BenchmarkLoopbackSyncAck(b *testing.B) {
	for _, cfg := range []struct{ batch, window int }{
		{64, 256}, {256, 2048}, {512, 8192},
	} {
		b.Run(fmt.Sprintf("batch=%d/window=%d", cfg.batch, cfg.window), func(b *testing.B) {
			benchLoopback(b, cfg.batch, cfg.window)
		})
	}
}

func benchLoopback(b *testing.B, maxBatch, window int) {
	a, p := tcpPair(b)
	active, passive := NewConn(a, 0), NewConn(p, 0)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer active.Close()
	defer passive.Close()

	// The passive.
	passiveErr := make(chan error, 1)
	wg.Go(func() {
		var next uint64 = 1
		queue := make([]byte, 0, 1<<20)
		for {
			m, err := passive.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					err = nil
				}
				passiveErr <- err
				return
			}
			e := m.(*Entries)
			for i := range e.Entries {
				en := &e.Entries[i]
				if en.LSN != next {
					passiveErr <- fmt.Errorf("LSN %d, want %d", en.LSN, next)
					return
				}
				next++
				if len(queue)+len(en.Payload) > cap(queue) {
					queue = queue[:0] // a real queue is trimmed by checkpoints
				}
				queue = append(queue, en.Payload...)
			}
			if passive.Buffered() > 0 {
				continue // one ack covers everything that arrived together
			}
			if err := passive.Send(&Ack{Epoch: e.Epoch, App: e.App, LSN: next - 1}); err != nil {
				passiveErr <- err
				return
			}
			if err := passive.Flush(); err != nil {
				passiveErr <- err
				return
			}
		}
	})

	// The active's ack reader.
	var acked atomic.Uint64
	ackSignal := make(chan struct{}, 1)
	wg.Go(func() {
		for {
			m, err := active.Recv()
			if err != nil {
				close(ackSignal)
				return
			}
			acked.Store(m.(*Ack).LSN)
			select {
			case ackSignal <- struct{}{}:
			default:
			}
		}
	})

	// The active's sender.
	total := uint64(b.N)
	e := benchBatch(maxBatch)
	var lsn uint64
	b.SetBytes(benchPayload)
	b.ResetTimer()
	for lsn < total {
		room := uint64(window) - (lsn - acked.Load())
		if room == 0 {
			if _, ok := <-ackSignal; !ok {
				b.Fatal("ack reader stopped")
			}
			continue
		}
		for room > 0 && lsn < total {
			n := min(room, uint64(maxBatch), total-lsn)
			e.Entries = e.Entries[:n]
			for i := range e.Entries {
				lsn++
				e.Entries[i].LSN = lsn
			}
			room -= n
			if err := active.Send(e); err != nil {
				b.Fatal(err)
			}
		}
		if err := active.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	for acked.Load() < total {
		if _, ok := <-ackSignal; !ok {
			b.Fatal("ack reader stopped")
		}
	}
	b.StopTimer()
	reportEntries(b, 1)
	passive.Close()
	if err := <-passiveErr; err != nil {
		b.Fatalf("passive: %v", err)
	}
}
