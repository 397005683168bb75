package repl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"time"
)

func fuzzSeeds(f *testing.F) {
	var frames [][]byte
	for _, tc := range testMessages() {
		frame, err := AppendFrame(nil, tc.msg)
		if err != nil {
			f.Fatal(err)
		}
		frames = append(frames, frame)
	}
	z, err := appendFrame(nil, &Snapshot{App: "a", State: bytes.Repeat([]byte("state"), 2000)}, DefaultMaxFrame, true)
	if err != nil {
		f.Fatal(err)
	}
	frames = append(frames, z, []byte{}, rawFrame(TypeEntries, 0, []byte{1, 0, 1, 0x11, 1, 0, 0, 0}))
	for _, frame := range frames {
		f.Add(frame, false)
		f.Add(frame, true)
	}
}

// fixCRC makes data's header claim the bytes that follow it and carry their
// CRC, so that mutations of a body reach the body decoders instead of
// stopping at the checksum.
func fixCRC(data []byte) {
	if len(data) < headerSize {
		return
	}
	body := data[headerSize:]
	if n := int(binary.LittleEndian.Uint32(data)); n < len(body) {
		body = body[:n]
	}
	binary.LittleEndian.PutUint32(data, uint32(len(body)))
	binary.LittleEndian.PutUint32(data[6:], frameCRC(data[4], data[5], body))
}

// FuzzDecode checks that no input makes Decode panic, and that whatever it
// accepts survives encoding and decoding again unchanged.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			fixCRC(data)
		}
		d := Decoder{MaxFrame: 1 << 20}
		m, n, err := d.Decode(data)
		if err != nil {
			if m != nil || n != 0 {
				t.Fatalf("Decode returned %v, %d with error %v", m, n, err)
			}
			return
		}
		if n < headerSize || n > len(data) {
			t.Fatalf("Decode took %d of %d bytes", n, len(data))
		}
		if e, ok := m.(*Entries); ok {
			m = e.Clone() // the next Decode reuses e
		}
		frame, err := AppendFrame(nil, m)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", m, err)
		}
		again, _, err := d.Decode(frame)
		if err != nil {
			t.Fatalf("decoding the re-encoded %s: %v", m.Type(), err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encoding changed the message:\n got %#v\nwant %#v", again, m)
		}
	})
}

// FuzzConnRecv feeds arbitrary bytes to a Conn: Recv must return messages or
// an error, never panic, and stop at the end of the input.
func FuzzConnRecv(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			fixCRC(data)
		}
		c := NewConn(readConn{bytes.NewReader(data)}, 1<<20)
		for range len(data) + 1 {
			if _, err := c.Recv(); err != nil {
				if len(data) == 0 && err != io.EOF {
					t.Fatalf("empty input: %v, want io.EOF", err)
				}
				return
			}
		}
		t.Fatalf("Recv did not stop on %d bytes", len(data))
	})
}

// readConn is a net.Conn that reads from r and discards writes.
type readConn struct{ r io.Reader }

var errNoDeadlines = errors.New("readConn: no deadlines")

func (c readConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (readConn) Write(p []byte) (int, error)        { return len(p), nil }
func (readConn) Close() error                       { return nil }
func (readConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (readConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (readConn) SetDeadline(time.Time) error        { return errNoDeadlines }
func (readConn) SetReadDeadline(time.Time) error    { return errNoDeadlines }
func (readConn) SetWriteDeadline(t time.Time) error { return errNoDeadlines }
