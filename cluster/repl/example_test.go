package repl_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/tandem-stream/tandem/cluster/repl"
)

// The active listens and streams entries; the passive dials, holds them and
// acknowledges. A real node runs the sender and the ack reader on two
// goroutines of one Conn, keeps a bounded window of unacked entries, and
// sends snapshots, checkpoints and pings the same way.
func Example() {
	ctx := context.Background()
	secret := []byte("group secret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	done := make(chan struct{})
	go func() { // the active
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		c, hello, err := repl.Accept(ctx, nc, repl.Config{NodeID: "node-a", Group: "g", Epoch: 3, Secret: secret}, nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		fmt.Printf("active: %s holds %s up to LSN %d\n", hello.NodeID, hello.Apps[0].App, hello.Apps[0].LastLSN)
		batch := &repl.Entries{Epoch: 3, App: "fraud", Entries: []repl.Entry{
			{LSN: 11, Kind: repl.EventEntry, Stream: "In", Timestamp: 1000, Payload: []byte{1}},
			{LSN: 12, Kind: repl.TickEntry, Timestamp: 1500},
		}, Published: []repl.SinkPos{{Sink: "out", Position: 7}}}
		if err := c.Send(batch); err != nil {
			log.Fatal(err)
		}
		if err := c.Flush(); err != nil { // one flush per batch of frames
			log.Fatal(err)
		}
		m, err := c.Recv()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("active: %s acked LSN %d: committed\n", m.(*repl.Ack).App, m.(*repl.Ack).LSN)
	}()

	// The passive.
	apps := []repl.AppPos{{App: "fraud", AppHash: "h", LastLSN: 10, CheckpointLSN: 8}}
	c, welcome, err := repl.Dial(ctx, ln.Addr().String(), repl.Config{NodeID: "node-b", Group: "g", Epoch: 3, Secret: secret}, apps)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Printf("passive: welcomed by %s at epoch %d\n", welcome.NodeID, welcome.Epoch)
	m, err := c.Recv()
	if err != nil {
		log.Fatal(err)
	}
	e := m.(*repl.Entries) // valid until the next Recv: copy what you keep
	last := e.Entries[len(e.Entries)-1].LSN
	fmt.Printf("passive: %d entries of %s, sink out published to %d\n", len(e.Entries), e.App, e.Published[0].Position)
	if err := c.Send(&repl.Ack{Epoch: e.Epoch, App: e.App, LSN: last}); err != nil {
		log.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		log.Fatal(err)
	}
	<-done
	// Unordered output:
	// active: node-b holds fraud up to LSN 10
	// passive: welcomed by node-a at epoch 3
	// passive: 2 entries of fraud, sink out published to 7
	// active: fraud acked LSN 12: committed
}
