package repl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (dialed, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		ch <- c
	}()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted = <-ch
	if accepted == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		dialed.Close()
		accepted.Close()
	})
	return dialed, accepted
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestConnRoundTrip(t *testing.T) {
	a, b := tcpPair(t)
	sender, receiver := NewConn(a, 0), NewConn(b, 0)
	var msgs []Message
	for _, tc := range testMessages() {
		msgs = append(msgs, tc.msg)
	}
	msgs = append(msgs,
		// Compressed, then plain through the reused body buffer, then plain
		// through a buffer of its own grown as the bytes arrive.
		&Snapshot{App: "big", State: bytes.Repeat([]byte("0123456789"), 200_000)},
		&Snapshot{App: "random", State: randomBytes(1, readBufSize+1)},
		&Checkpoint{State: randomBytes(2, retainMax+retainMax/2)},
		&Ack{App: "after", LSN: 1},
	)
	errc := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := sender.Send(m); err != nil {
				errc <- err
				return
			}
		}
		if err := sender.Flush(); err != nil {
			errc <- err
			return
		}
		errc <- sender.Close()
	}()
	for i, want := range msgs {
		got, err := receiver.Recv()
		if err != nil {
			t.Fatalf("Recv %d (%s): %v", i, want.Type(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Recv %d: got %s, want %s %#v", i, got.Type(), want.Type(), want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("sender: %v", err)
	}
	if _, err := receiver.Recv(); err != io.EOF {
		t.Errorf("Recv after the peer closed: %v, want io.EOF", err)
	}
	if _, err := receiver.Recv(); err != io.EOF {
		t.Errorf("second Recv after the peer closed: %v, want io.EOF again", err)
	}
}

func TestConnTruncatedStream(t *testing.T) {
	frame, err := AppendFrame(nil, &Ack{App: "a", LSN: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, headerSize - 1, headerSize, len(frame) - 1} {
		a, b := tcpPair(t)
		if _, err := a.Write(frame[:n]); err != nil {
			t.Fatal(err)
		}
		a.Close()
		c := NewConn(b, 0)
		if _, err := c.Recv(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of %d bytes: Recv = %v, want unexpected EOF", n, len(frame), err)
		}
	}
}

func TestConnCorruptIsSticky(t *testing.T) {
	a, b := tcpPair(t)
	frame, _ := AppendFrame(nil, &Ack{App: "a", LSN: 5})
	frame[len(frame)-1] ^= 0xff
	good, _ := AppendFrame(nil, &Ack{App: "a", LSN: 6})
	if _, err := a.Write(append(frame, good...)); err != nil {
		t.Fatal(err)
	}
	c := NewConn(b, 0)
	_, err := c.Recv()
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Recv = %v, want ErrChecksum", err)
	}
	// The stream cannot be trusted after a bad frame, even if the next one
	// happens to be good.
	if _, err2 := c.Recv(); err2 != err {
		t.Errorf("second Recv = %v, want the first error again", err2)
	}
}

// allocatedDuring reports how many bytes the process allocated while f ran.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestConnOversizeWithoutAllocation(t *testing.T) {
	tests := []struct {
		name     string
		length   uint32
		maxFrame int
		want     error
		maxAlloc uint64
	}{
		// Beyond the maximum: refused from the header alone.
		{"over default", DefaultMaxFrame + 1, 0, ErrFrameTooLarge, 64 << 10},
		{"over configured", 1 << 20, 1 << 16, ErrFrameTooLarge, 64 << 10},
		// Within the maximum but never sent: memory follows the bytes that
		// actually arrive, not the length the header claims.
		{"claimed, not sent", 200 << 20, 0, io.ErrUnexpectedEOF, 2 * retainMax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			c := NewConn(b, tc.maxFrame)
			var hdr [headerSize]byte
			binary.LittleEndian.PutUint32(hdr[:], tc.length)
			hdr[4] = byte(TypeSnapshot)
			if _, err := a.Write(append(hdr[:], make([]byte, 1000)...)); err != nil {
				t.Fatal(err)
			}
			a.Close()
			var err error
			alloc := allocatedDuring(func() { _, err = c.Recv() })
			if !errors.Is(err, tc.want) {
				t.Fatalf("Recv = %v, want %v", err, tc.want)
			}
			if alloc > tc.maxAlloc {
				t.Errorf("Recv allocated %d bytes for a %d-byte claim, want at most %d", alloc, tc.length, tc.maxAlloc)
			}
		})
	}
}

func TestSendTooLarge(t *testing.T) {
	a, b := tcpPair(t)
	sender, receiver := NewConn(a, 1024), NewConn(b, 1024)
	err := sender.Send(&Snapshot{State: randomBytes(3, 2000)})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Send = %v, want ErrFrameTooLarge", err)
	}
	if err := sender.Send(&Entries{Entries: []Entry{{Kind: 9}}}); err == nil {
		t.Fatal("Send of a bad entry kind succeeded")
	}
	// Refusing a message leaves nothing half-written: the connection goes on.
	want := &Ack{App: "a", LSN: 1}
	if err := sender.Send(want); err != nil {
		t.Fatal(err)
	}
	if err := sender.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := receiver.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestWriteErrorIsSticky(t *testing.T) {
	a, _ := tcpPair(t)
	c := NewConn(a, 0)
	c.Close()
	if err := c.Send(&Ping{}); err != nil {
		t.Fatalf("Send only buffers, got %v", err)
	}
	err := c.Flush()
	if err == nil {
		t.Fatal("Flush on a closed connection succeeded")
	}
	if err2 := c.Send(&Ping{}); err2 != err {
		t.Errorf("Send after a failed Flush = %v, want %v", err2, err)
	}
}

func TestConnDeadline(t *testing.T) {
	_, b := tcpPair(t)
	c := NewConn(b, 0)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := c.Recv(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Recv past the deadline = %v, want a timeout", err)
	}
}

// TestConnConcurrent runs the replication pattern under the race detector:
// one goroutine sends batches while another reads the acks on the same Conn.
func TestConnConcurrent(t *testing.T) {
	a, b := tcpPair(t)
	active, passive := NewConn(a, 0), NewConn(b, 0)
	const batches, perBatch = 200, 50
	var wg sync.WaitGroup
	defer wg.Wait()
	// Closing unblocks the goroutines if the test fails early.
	defer active.Close()
	defer passive.Close()

	// Passive: receive, check contiguity, ack when drained.
	passiveErr := make(chan error, 1)
	wg.Go(func() {
		var next uint64 = 1
		for next <= batches*perBatch {
			m, err := passive.Recv()
			if err != nil {
				passiveErr <- err
				return
			}
			for _, e := range m.(*Entries).Entries {
				if e.LSN != next {
					passiveErr <- errors.New("gap in LSNs")
					return
				}
				next++
			}
			if passive.Buffered() == 0 {
				if err := passive.Send(&Ack{App: "app", LSN: next - 1}); err != nil {
					passiveErr <- err
					return
				}
				if err := passive.Flush(); err != nil {
					passiveErr <- err
					return
				}
			}
		}
		passiveErr <- nil
	})

	// Active's reader: follow the acks.
	var acked atomic.Uint64
	ackErr := make(chan error, 1)
	wg.Go(func() {
		for acked.Load() < batches*perBatch {
			m, err := active.Recv()
			if err != nil {
				ackErr <- err
				return
			}
			acked.Store(m.(*Ack).LSN)
		}
		ackErr <- nil
	})

	// Active's writer: this goroutine.
	var lsn uint64
	e := &Entries{App: "app", Entries: make([]Entry, perBatch)}
	for range batches {
		for i := range e.Entries {
			lsn++
			e.Entries[i] = Entry{LSN: lsn, Kind: EventEntry, Stream: "In", Payload: []byte("payload")}
		}
		if err := active.Send(e); err != nil {
			t.Fatal(err)
		}
		if err := active.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-passiveErr; err != nil {
		t.Fatalf("passive: %v", err)
	}
	if err := <-ackErr; err != nil {
		t.Fatalf("ack reader: %v", err)
	}
	if got := acked.Load(); got != batches*perBatch {
		t.Errorf("acked %d, want %d", got, batches*perBatch)
	}
}
