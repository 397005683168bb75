package repl

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/persist"
)

// testMessages has one or more values of every message type, with every
// field set and the edge cases of the encodings.
func testMessages() []struct {
	name string
	msg  Message
} {
	state := []byte("engine state")
	sum := sha256.Sum256(state)
	return []struct {
		name string
		msg  Message
	}{
		{"challenge", &Challenge{Version: ProtocolVersion, Nonce: bytes.Repeat([]byte{7}, nonceSize), NodeID: "a", Group: "g1", Epoch: 42}},
		{"challenge/empty", &Challenge{}},
		{"hello", &Hello{Version: ProtocolVersion, NodeID: "b", Group: "g1", Epoch: 41, Auth: []byte{1, 2, 3}, Nonce: []byte{9, 9},
			Apps: []AppPos{{App: "fraud", AppHash: "h1", LastLSN: 100, CheckpointLSN: 90}, {App: "ünïcode", LastLSN: math.MaxUint64}}}},
		{"hello/no apps", &Hello{Version: ProtocolVersion, NodeID: "b", Group: "g1"}},
		{"welcome", &Welcome{NodeID: "a", Epoch: 42, Auth: []byte("mac")}},
		{"reject", &Reject{Epoch: 9, Code: RejectGroup, Reason: `peer is in group "x"`}},
		{"reject/unknown code", &Reject{Code: 200}},
		{"entries", &Entries{Epoch: 3, App: "fraud", Entries: []Entry{
			{LSN: 1, Kind: EventEntry, Stream: "In", Timestamp: 1700000000000, Payload: []byte{1, 2, 3}},
			{LSN: 2, Kind: EventEntry, Stream: "In", Timestamp: 1700000000001, Key: "batch-1", Payload: []byte{4}},
			{LSN: 3, Kind: EventEntry, Stream: "In", Timestamp: 1700000000001, Key: "batch-1", Payload: []byte{5}},
			{LSN: 4, Kind: TickEntry, Timestamp: 1700000000500},
			{LSN: 5, Kind: EventEntry, Stream: "Other", Timestamp: 1700000000400, Key: "batch-2"},
			{LSN: 6, Kind: EventEntry, Stream: "In", Timestamp: 1700000000400, Payload: []byte{6, 7}},
		}, Published: []SinkPos{{Sink: "out", Position: 17}, {Sink: "log", Position: 0}}}},
		{"entries/empty", &Entries{Epoch: 3, App: "fraud"}},
		{"entries/published only", &Entries{Epoch: 3, App: "fraud", Published: []SinkPos{{Sink: "out", Position: 18}}}},
		{"entries/extremes", &Entries{Entries: []Entry{
			{LSN: math.MaxUint64, Kind: TickEntry, Timestamp: math.MinInt64},
			{LSN: 0, Kind: EventEntry, Stream: "s", Timestamp: math.MaxInt64},
			{LSN: 5, Kind: TickEntry, Timestamp: -1},
		}}},
		{"ack", &Ack{Epoch: 3, App: "fraud", LSN: 1 << 40}},
		{"snapshot", &Snapshot{Epoch: 3, App: "fraud", AppHash: "h1", LSN: 99, State: []byte("state")}},
		{"snapshot/empty state", &Snapshot{Epoch: 3, App: "fraud", AppHash: "h1", LSN: 99}},
		{"checkpoint", &Checkpoint{Epoch: 4, State: state, Manifest: persist.Manifest{
			App: "fraud", AppHash: "h1", Epoch: 3, LSN: 98, Revision: 12, Checksum: hex.EncodeToString(sum[:]),
			Size: int64(len(state)), Created: time.Date(2025, 3, 1, 12, 30, 0, 123456789, time.UTC)}}},
		{"checkpoint/zero manifest", &Checkpoint{}},
		{"checkpoint/old time", &Checkpoint{Manifest: persist.Manifest{Created: time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC)}}},
		{"checkpoint ack", &CheckpointAck{Epoch: 4, App: "fraud", Revision: 12, LSN: 98}},
		{"ping", &Ping{Epoch: 4, Nanos: 1234567890}},
		{"pong", &Pong{Epoch: 4, Nanos: -5}},
		{"digest", &Digest{Epoch: 4, App: "a", LSN: 99, Hash: []byte{1, 2, 3}}},
	}
}

func testMessage(t *testing.T, name string) Message {
	t.Helper()
	for _, tc := range testMessages() {
		if tc.name == name {
			return tc.msg
		}
	}
	t.Fatalf("no test message %q", name)
	return nil
}

func TestRoundTrip(t *testing.T) {
	var d Decoder
	for _, tc := range testMessages() {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := AppendFrame([]byte("prefix"), tc.msg)
			if err != nil {
				t.Fatalf("AppendFrame: %v", err)
			}
			if string(frame[:6]) != "prefix" {
				t.Fatalf("AppendFrame overwrote dst")
			}
			frame = append(frame, "trailer"...)
			got, n, err := d.Decode(frame[6:])
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want := len(frame) - 6 - len("trailer"); n != want {
				t.Errorf("Decode took %d bytes, want %d", n, want)
			}
			if got.Type() != tc.msg.Type() {
				t.Fatalf("type %s, want %s", got.Type(), tc.msg.Type())
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, tc.msg)
			}
		})
	}
}

func TestEntriesEncoding(t *testing.T) {
	// A steady stream of events on one stream should cost about four bytes
	// plus the payload per entry: that is what keeps the hot path cheap.
	const n = 1000
	e := &Entries{App: "app", Entries: make([]Entry, n)}
	for i := range e.Entries {
		e.Entries[i] = Entry{LSN: uint64(i + 1), Kind: EventEntry, Stream: "In", Timestamp: 1700000000000 + int64(i), Payload: make([]byte, 40)}
	}
	frame, err := AppendFrame(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if perEntry := (len(frame) - headerSize) / n; perEntry > 45 {
		t.Errorf("%d bytes per entry with 40-byte payloads, want at most 45", perEntry)
	}
}

func TestEncodeBadKind(t *testing.T) {
	for _, kind := range []EntryKind{0, 4, 15, 255} {
		dst := []byte("keep")
		got, err := AppendFrame(dst, &Entries{Entries: []Entry{{LSN: 1, Kind: kind}}})
		if err == nil || !strings.Contains(err.Error(), "bad kind") {
			t.Errorf("kind %d: err = %v, want bad kind", kind, err)
		}
		if string(got) != "keep" {
			t.Errorf("kind %d: dst changed to %q", kind, got)
		}
	}
}

func TestDecoderReuse(t *testing.T) {
	e := testMessage(t, "entries").(*Entries)
	frame, err := AppendFrame(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	first, _, err := d.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	kept := first.(*Entries).Clone()
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := d.Decode(frame); err != nil {
			t.Fatal(err)
		}
	})
	// Only the idempotency keys that differ from the previous entry's are
	// allocated (two here); streams, the app and sinks are interned.
	if allocs > 2 {
		t.Errorf("Decode of a repeated Entries frame: %v allocations, want at most 2", allocs)
	}
	clear(frame) // the clone must not alias the frame
	if !reflect.DeepEqual(kept, e) {
		t.Errorf("clone changed with the frame:\n got %#v\nwant %#v", kept, e)
	}
}

// rawFrame builds a frame with a correct CRC around any body.
func rawFrame(typ Type, flags byte, body []byte) []byte {
	f := make([]byte, headerSize, headerSize+len(body))
	binary.LittleEndian.PutUint32(f, uint32(len(body)))
	f[4], f[5] = byte(typ), flags
	binary.LittleEndian.PutUint32(f[6:], frameCRC(byte(typ), flags, body))
	return append(f, body...)
}

func TestDecodeErrors(t *testing.T) {
	uv := func(xs ...uint64) []byte {
		var b []byte
		for _, x := range xs {
			b = binary.AppendUvarint(b, x)
		}
		return b
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	good, _ := AppendFrame(nil, &Ack{Epoch: 1, App: "a", LSN: 2})
	badCRC := bytes.Clone(good)
	badCRC[6] ^= 1
	tests := []struct {
		name  string
		frame []byte
		want  error
		text  string
	}{
		{"empty", nil, io.ErrUnexpectedEOF, "header"},
		{"short header", good[:headerSize-1], io.ErrUnexpectedEOF, "header"},
		{"short body", good[:len(good)-1], io.ErrUnexpectedEOF, "body bytes"},
		{"checksum", badCRC, ErrChecksum, "checksum"},
		{"type zero", rawFrame(0, 0, nil), ErrMalformed, "unknown frame type"},
		{"type unknown", rawFrame(typeEnd, 0, nil), ErrMalformed, "unknown frame type"},
		{"unknown flags", rawFrame(TypeAck, 0x80, uv(1, 0, 2)), ErrMalformed, "unknown flags"},
		{"trailing bytes", rawFrame(TypeAck, 0, uv(1, 0, 2, 3)), ErrMalformed, "1 trailing bytes"},
		{"truncated ack", rawFrame(TypeAck, 0, uv(1, 5)), ErrMalformed, "truncated"},
		{"bad varint", rawFrame(TypeAck, 0, bytes.Repeat([]byte{0xff}, 11)), ErrMalformed, "truncated"},
		{"version overflow", rawFrame(TypeChallenge, 0, uv(1<<33)), ErrMalformed, "out of range"},
		{"entry count", rawFrame(TypeEntries, 0, uv(1, 0, 1000)), ErrMalformed, "count 1000"},
		{"entry kind", rawFrame(TypeEntries, 0, cat(uv(1, 0, 1), []byte{0x14, 1, 0, 0}, uv(0))), ErrMalformed, "bad flags"},
		{"entry flag bit 7", rawFrame(TypeEntries, 0, cat(uv(1, 0, 1), []byte{0x91, 1, 0, 0}, uv(0))), ErrMalformed, "bad flags"},
		{"entry key flags", rawFrame(TypeEntries, 0, cat(uv(1, 0, 1), []byte{0x71, 1, 0, 1, 'k', 0}, uv(0))), ErrMalformed, "bad flags"},
		{"payload length", rawFrame(TypeEntries, 0, cat(uv(1, 0, 1), []byte{0x11, 1, 0, 9, 1}, uv(0))), ErrMalformed, "truncated"},
		{"published count", rawFrame(TypeEntries, 0, uv(1, 0, 0, 50)), ErrMalformed, "count 50"},
		{"hello apps count", rawFrame(TypeHello, 0, uv(1, 0, 0, 0, 0, 0, 9)), ErrMalformed, "count 9"},
		{"created nanos", rawFrame(TypeCheckpoint, 0, cat(uv(0, 0, 0, 0, 0, 0, 0), []byte{0, 0}, uv(1e9, 0))), ErrMalformed, "nanoseconds"},
		{"compressed ack", rawFrame(TypeAck, flagZstd, uv(3, 1, 0, 2)), ErrMalformed, "unexpected compression"},
		{"compressed garbage", rawFrame(TypeSnapshot, flagZstd, cat(uv(5), []byte("not zstd"))), ErrMalformed, "compressed body"},
		{"compressed no length", rawFrame(TypeSnapshot, flagZstd, nil), ErrMalformed, "bad length"},
		{"compressed too large", rawFrame(TypeSnapshot, flagZstd, uv(1<<40)), ErrFrameTooLarge, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			m, n, err := d.Decode(tc.frame)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %q, want it to mention %q", err, tc.text)
			}
			if m != nil || n != 0 {
				t.Errorf("Decode returned %v, %d with an error", m, n)
			}
		})
	}
}

func TestDecodeCompressedSizeMismatch(t *testing.T) {
	body, _ := (&Snapshot{State: bytes.Repeat([]byte("x"), 10000)}).appendBody(nil)
	z, err := zstdCompress(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, claim := range []int{len(body) - 1, len(body) + 1} {
		frame := rawFrame(TypeSnapshot, flagZstd, append(binary.AppendUvarint(nil, uint64(claim)), z...))
		var d Decoder
		if _, _, err := d.Decode(frame); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("claimed %d of %d bytes: err = %v, want an error", claim, len(body), err)
		}
	}
}

func TestFrameCRC(t *testing.T) {
	for _, body := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("body"), 100)} {
		want := crc32.Checksum(append([]byte{byte(TypeEntries), flagZstd}, body...), crc32.MakeTable(crc32.Castagnoli))
		if got := frameCRC(byte(TypeEntries), flagZstd, body); got != want {
			t.Errorf("frameCRC over %d body bytes = %#x, want %#x", len(body), got, want)
		}
	}
}

func TestTruncatedFrames(t *testing.T) {
	for _, tc := range testMessages() {
		frame, err := AppendFrame(nil, tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		for i := range len(frame) {
			if _, _, err := d.Decode(frame[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: %d of %d bytes: err = %v, want unexpected EOF", tc.name, i, len(frame), err)
			}
		}
	}
}

func TestCorruptFrames(t *testing.T) {
	// Every single-bit error in a frame must be detected: CRC-32C catches
	// it in the type, flags and body, the length check in the length.
	for _, tc := range testMessages() {
		frame, err := AppendFrame(nil, tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		d := Decoder{MaxFrame: 1 << 16}
		for i := range len(frame) * 8 {
			bad := bytes.Clone(frame)
			bad[i/8] ^= 1 << (i % 8)
			if m, _, err := d.Decode(bad); err == nil {
				t.Errorf("%s: bit %d flipped: decoded %#v, want an error", tc.name, i, m)
			}
		}
	}
}

func TestDecodeOversize(t *testing.T) {
	frame, err := AppendFrame(nil, &Snapshot{State: make([]byte, 2000)})
	if err != nil {
		t.Fatal(err)
	}
	d := Decoder{MaxFrame: 1000}
	if _, _, err := d.Decode(frame); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("err = %v, want ErrFrameTooLarge", err)
	}
	// The length is checked before the body is needed.
	if _, _, err := d.Decode(frame[:headerSize]); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("header only: err = %v, want ErrFrameTooLarge", err)
	}
}

func TestCompression(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name       string
		msg        Message
		compressed bool
	}{
		{"compressible snapshot", &Snapshot{App: "a", State: bytes.Repeat([]byte("abcdefgh"), 8<<10)}, true},
		{"compressible checkpoint", &Checkpoint{Manifest: persist.Manifest{App: "a"}, State: bytes.Repeat([]byte("abcdefgh"), 8<<10)}, true},
		{"random snapshot", &Snapshot{App: "a", State: random}, false},
		{"small snapshot", &Snapshot{App: "a", State: bytes.Repeat([]byte("a"), compressMin/2)}, false},
		{"entries never", &Entries{App: "a", Entries: []Entry{{LSN: 1, Kind: EventEntry, Payload: bytes.Repeat([]byte("a"), 64<<10)}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := appendFrame(nil, tc.msg, DefaultMaxFrame, tc.msg.Type() == TypeSnapshot || tc.msg.Type() == TypeCheckpoint)
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := AppendFrame(nil, tc.msg)
			if got := frame[5]&flagZstd != 0; got != tc.compressed {
				t.Fatalf("compressed = %v, want %v", got, tc.compressed)
			}
			if tc.compressed && len(frame) >= len(plain)/10 {
				t.Errorf("compressed frame is %d bytes, plain %d", len(frame), len(plain))
			}
			var d Decoder
			got, _, err := d.Decode(frame)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("round trip changed the message")
			}
		})
	}
}

func TestCheckpointVerify(t *testing.T) {
	good := testMessage(t, "checkpoint").(*Checkpoint)
	if err := good.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	bad := *good
	bad.State = []byte("engine statf")
	if err := bad.Verify(); !errors.Is(err, persist.ErrCorrupt) {
		t.Errorf("changed state: err = %v, want ErrCorrupt", err)
	}
	short := *good
	short.State = short.State[1:]
	if err := short.Verify(); err == nil || !strings.Contains(err.Error(), "manifest says") {
		t.Errorf("short state: err = %v, want a size error", err)
	}
	if err := (&Checkpoint{State: []byte("x")}).Verify(); err != nil {
		t.Errorf("unset manifest: err = %v, want nil", err)
	}
}

func TestTypeStrings(t *testing.T) {
	for typ := Type(1); typ < typeEnd; typ++ {
		if s := typ.String(); strings.HasPrefix(s, "Type(") || s == "" {
			t.Errorf("type %d has no name", typ)
		}
	}
	if s := Type(99).String(); s != "Type(99)" {
		t.Errorf("Type(99).String() = %q", s)
	}
	if s := EntryKind(9).String(); s != "EntryKind(9)" {
		t.Errorf("EntryKind(9).String() = %q", s)
	}
	if s := RejectCode(99).String(); s != "RejectCode(99)" {
		t.Errorf("RejectCode(99).String() = %q", s)
	}
}
