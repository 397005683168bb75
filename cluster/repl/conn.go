package repl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

const (
	// Frames up to the read buffer's size are decoded in place, without a
	// copy; a batch of a few thousand small entries fits.
	readBufSize = 256 << 10
	// Send writes to the network once this much is buffered, so a caller
	// that never flushes still streams.
	writeThreshold = 256 << 10
	// Buffers grown past this for one large frame are dropped afterwards
	// rather than kept for the life of the connection.
	retainMax = 4 << 20
)

// Conn is a framed replication connection. It is safe for one goroutine
// calling Recv concurrently with one goroutine calling Send and Flush; Close
// and the deadline setters may be called from any goroutine.
//
// After Send, Flush or Recv returns an error that is not about the message
// itself (ErrFrameTooLarge or a bad entry on Send), that direction of the
// connection is broken and keeps returning the error: close the Conn and
// reconnect.
type Conn struct {
	nc       net.Conn
	maxFrame int

	// Read side: owned by the goroutine calling Recv.
	br   *bufio.Reader
	rbuf []byte
	dec  Decoder
	rerr error

	// Write side: owned by the goroutine calling Send and Flush.
	wbuf []byte
	werr error
}

// NewConn wraps nc, which must already be past any handshake, as a Conn
// accepting frames up to maxFrame bytes (0 means DefaultMaxFrame). Accept and
// Dial return Conns; NewConn is for callers with their own handshake.
func NewConn(nc net.Conn, maxFrame int) *Conn {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	c := &Conn{nc: nc, br: bufio.NewReaderSize(nc, readBufSize)}
	c.setMaxFrame(maxFrame)
	return c
}

func (c *Conn) setMaxFrame(n int) {
	c.maxFrame = n
	c.dec.MaxFrame = n
}

// Send encodes m into the connection's write buffer. It writes to the network
// only when the buffer is full; call Flush to send what is buffered. Snapshot
// and Checkpoint states are compressed when that makes them smaller. m is not
// retained.
func (c *Conn) Send(m Message) error {
	if c.werr != nil {
		return c.werr
	}
	t := m.Type()
	b, err := appendFrame(c.wbuf, m, c.maxFrame, t == TypeSnapshot || t == TypeCheckpoint)
	c.wbuf = b
	if err != nil {
		return err
	}
	if len(c.wbuf) >= writeThreshold {
		return c.Flush()
	}
	return nil
}

// Flush writes every buffered frame to the network.
func (c *Conn) Flush() error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > retainMax {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
	if err != nil {
		c.werr = fmt.Errorf("repl: write: %w", err)
		return c.werr
	}
	return nil
}

// Recv reads and decodes the next frame. It returns io.EOF when the peer
// closed the connection between frames. An *Entries it returns, with its
// slices and payloads, is valid only until the next Recv; every other
// message belongs to the caller.
func (c *Conn) Recv() (Message, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	m, err := c.recv()
	if err != nil {
		c.rerr = err
		return nil, err
	}
	return m, nil
}

func (c *Conn) recv() (Message, error) {
	hb, err := c.br.Peek(headerSize)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(hb) == 0 {
				return nil, io.EOF
			}
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("repl: read frame header: %w", err)
	}
	h, err := parseHeader(hb, c.maxFrame)
	if err != nil {
		return nil, err
	}
	if _, err := c.br.Discard(headerSize); err != nil {
		return nil, fmt.Errorf("repl: read frame header: %w", err)
	}
	if h.n <= c.br.Size() {
		// Decode in place. Discarding only advances the read position; the
		// bytes stay put until the next Recv reads more.
		body, err := c.br.Peek(h.n)
		if err != nil {
			return nil, fmt.Errorf("repl: read %s frame body: %w", h.typ, eofUnexpected(err))
		}
		m, err := c.dec.decode(h, body, false)
		if _, derr := c.br.Discard(h.n); derr != nil && err == nil {
			err = fmt.Errorf("repl: read %s frame body: %w", h.typ, derr)
		}
		return m, err
	}
	body, owned, err := c.readBody(h.n)
	if err != nil {
		return nil, fmt.Errorf("repl: read %s frame body: %w", h.typ, err)
	}
	return c.dec.decode(h, body, owned)
}

// readBody reads a body too large for the read buffer. Bodies up to
// retainMax go into a buffer reused between frames. Larger ones get their
// own buffer, grown as bytes arrive, so that a length the peer never fills
// costs no more memory than the bytes actually sent.
func (c *Conn) readBody(n int) (body []byte, owned bool, err error) {
	if n <= retainMax {
		if cap(c.rbuf) < n {
			c.rbuf = make([]byte, n)
		}
		b := c.rbuf[:n]
		if _, err := io.ReadFull(c.br, b); err != nil {
			return nil, false, eofUnexpected(err)
		}
		return b, false, nil
	}
	b := make([]byte, 0, retainMax)
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), n-len(b)))
		}
		m, err := io.ReadFull(c.br, b[len(b):min(cap(b), n)])
		b = b[:len(b)+m]
		if err != nil {
			return nil, false, eofUnexpected(err)
		}
	}
	return b, true, nil
}

func eofUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Buffered returns the number of received bytes not yet returned by Recv. A
// receiver can acknowledge once this reaches zero, so that one Ack covers
// every frame that arrived together (group commit).
func (c *Conn) Buffered() int { return c.br.Buffered() }

// Close closes the underlying connection; a blocked Recv or Flush returns.
func (c *Conn) Close() error { return c.nc.Close() }

// SetDeadline sets the read and write deadlines of the underlying connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline sets the deadline for Recv.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for the network writes of Send and Flush.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
