package tcpproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// echoServer echoes lines until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(c, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func start(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Start(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg and reads the echo within d.
func roundTrip(c net.Conn, msg string, d time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

func mustEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	got, err := roundTrip(c, msg, 5*time.Second)
	if err != nil || got != msg+"\n" {
		t.Fatalf("echo of %q = %q, %v", msg, got, err)
	}
}

func TestForward(t *testing.T) {
	p := start(t, echoServer(t))
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	mustEcho(t, c1, "hello")
	mustEcho(t, c2, "world")
	if n := p.Conns(); n != 2 {
		t.Fatalf("Conns = %d, want 2", n)
	}
	c1.Close()
	waitConns(t, p, 1)
}

func waitConns(t *testing.T, p *Proxy, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Conns() != want {
		if time.Now().After(deadline) {
			t.Fatalf("Conns = %d, want %d", p.Conns(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCutRestore(t *testing.T) {
	p := start(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "before")
	p.Cut()
	if _, err := roundTrip(c, "during", 5*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("existing connection after Cut: %v, want a prompt error", err)
	}
	if n := p.Conns(); n != 0 {
		t.Fatalf("Conns after Cut = %d", n)
	}
	// New connections are accepted, then reset at once.
	if err := newConnErr(p.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("new connection while cut: %v, want a prompt error", err)
	}
	p.Restore()
	mustEcho(t, dial(t, p.Addr()), "after")
}

func TestStallRestore(t *testing.T) {
	p := start(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "before")
	p.Stall()
	p.Stall() // idempotent
	_, err := roundTrip(c, "held", 200*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("round trip while stalled: %v, want a timeout", err)
	}
	p.Restore()
	p.Restore() // idempotent
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("after Restore read %q, %v; want the held bytes", line, err)
	}
	mustEcho(t, c, "after")
}

func TestCutWhileStalled(t *testing.T) {
	p := start(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "before")
	p.Stall()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "held\n")
	waitConns(t, p, 1)
	p.Cut()
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("read after Cut of a stalled connection: %v, want a prompt error", err)
	}
	p.Restore()
	mustEcho(t, dial(t, p.Addr()), "after")
}

func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Close the target only after the proxy has its port, or the proxy
	// might get the same one and dial itself.
	p := start(t, ln.Addr().String())
	ln.Close()
	if err := newConnErr(p.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("round trip to a dead target: %v, want a prompt error", err)
	}
}

func TestBadTarget(t *testing.T) {
	for _, target := range []string{"", "localhost", "a:b:c"} {
		if p, err := Start(t.Context(), target); err == nil {
			p.Close()
			t.Errorf("Start(%q) succeeded", target)
		}
	}
}

func TestCloseAndContext(t *testing.T) {
	target := echoServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	p, err := Start(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	mustEcho(t, c, "x")
	cancel()
	// Closing by the context and by the test must both be safe.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("proxy still accepts after its context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Close after the context ended: %v", err)
	}
	if _, err := roundTrip(c, "y", 5*time.Second); err == nil {
		t.Fatal("connection survived Close")
	}
}

// TestConcurrent toggles the proxy while clients hammer it; run with -race.
func TestConcurrent(t *testing.T) {
	p := start(t, echoServer(t))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
				if err != nil {
					continue
				}
				roundTrip(c, "x", 50*time.Millisecond)
				c.Close()
			}
		})
	}
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			switch i % 3 {
			case 0:
				p.Cut()
			case 1:
				p.Stall()
			default:
				p.Restore()
			}
			time.Sleep(3 * time.Millisecond)
		}
	})
	wg.Wait()
	p.Restore()
	mustEcho(t, dial(t, p.Addr()), "still works")
}

// newConnErr opens a connection to addr and makes one round trip. The
// proxy's reset may arrive while the dial is still completing, so an error
// from either counts.
func newConnErr(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = roundTrip(c, "x", 5*time.Second)
	return err
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
