package repl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/tandem-stream/tandem/persist"
)

// DefaultMaxFrame is the largest frame body a reader accepts unless
// configured otherwise. The limit applies to the plain body, before
// compression, so it also bounds what decompression may produce.
const DefaultMaxFrame = 256 << 20

const (
	headerSize = 10
	flagZstd   = 1 << 0
	knownFlags = flagZstd
	// Smaller bodies are not worth a compressor.
	compressMin = 4 << 10
	// An entry is at least a flags byte, an LSN delta, a timestamp delta and
	// a payload length; the decoder uses this to bound a count before
	// allocating for it.
	minEntrySize = 4
	// Interned names (streams, apps, sinks) are few in practice; the table is
	// cleared when a peer sends more, so it cannot grow without bound.
	maxInterned = 1024
)

var (
	// ErrFrameTooLarge is returned for a frame whose body exceeds the maximum.
	ErrFrameTooLarge = errors.New("repl: frame too large")
	// ErrChecksum is returned for a frame whose CRC does not match.
	ErrChecksum = errors.New("repl: frame checksum mismatch")
	// ErrMalformed is returned for a frame that cannot be decoded.
	ErrMalformed = errors.New("repl: malformed frame")
)

// The table is computed once and only read afterwards.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendFrame appends m as one uncompressed frame to dst and returns the
// extended buffer. It does not allocate beyond growing dst.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	return appendFrame(dst, m, math.MaxUint32, false)
}

// appendFrame appends m as a frame, compressing the body if allowed and
// worthwhile. On error dst is returned unchanged.
func appendFrame(dst []byte, m Message, maxFrame int, compress bool) ([]byte, error) {
	start := len(dst)
	var hdr [headerSize]byte
	dst = append(dst, hdr[:]...)
	dst, err := m.appendBody(dst)
	if err != nil {
		return dst[:start], fmt.Errorf("repl: encode %s: %w", m.Type(), err)
	}
	bodyStart := start + headerSize
	n := len(dst) - bodyStart
	if n > maxFrame {
		return dst[:start], fmt.Errorf("repl: encode %s: body of %d bytes exceeds %d: %w",
			m.Type(), n, maxFrame, ErrFrameTooLarge)
	}
	var flags byte
	if compress && n >= compressMin {
		z, err := zstdCompress(dst[bodyStart:])
		if err != nil {
			return dst[:start], fmt.Errorf("repl: encode %s: %w", m.Type(), err)
		}
		if uvarintLen(uint64(n))+len(z) < n {
			dst = binary.AppendUvarint(dst[:bodyStart], uint64(n))
			dst = append(dst, z...)
			flags |= flagZstd
			n = len(dst) - bodyStart
		}
	}
	h := dst[start:bodyStart]
	binary.LittleEndian.PutUint32(h[0:4], uint32(n))
	h[4] = byte(m.Type())
	h[5] = flags
	binary.LittleEndian.PutUint32(h[6:10], frameCRC(h[4], h[5], dst[bodyStart:]))
	return dst, nil
}

// frameCRC is the CRC-32C of typ, flags and body. The two header bytes are
// folded in by hand, bytewise as crc32 itself does for short inputs, because
// passing them to crc32.Update as a slice would allocate it on the heap.
func frameCRC(typ, flags byte, body []byte) uint32 {
	crc := ^uint32(0)
	crc = castagnoli[byte(crc)^typ] ^ crc>>8
	crc = castagnoli[byte(crc)^flags] ^ crc>>8
	return crc32.Update(^crc, castagnoli, body)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func zstdCompress(src []byte) ([]byte, error) {
	// A compressor per frame: state frames are rare and large, so its setup
	// cost does not matter, and nothing outlives the call.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(src, make([]byte, 0, len(src)/2)), nil
}

func zstdDecompress(body []byte, maxFrame int) ([]byte, error) {
	raw, n := binary.Uvarint(body)
	if n <= 0 {
		return nil, fmt.Errorf("compressed body: bad length: %w", ErrMalformed)
	}
	if raw > uint64(maxFrame) {
		return nil, fmt.Errorf("compressed body of %d bytes exceeds %d: %w", raw, maxFrame, ErrFrameTooLarge)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(max(raw, 1)))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(body[n:], nil)
	if err != nil {
		return nil, fmt.Errorf("compressed body: %w: %w", err, ErrMalformed)
	}
	if uint64(len(out)) != raw {
		return nil, fmt.Errorf("compressed body: %d bytes, header says %d: %w", len(out), raw, ErrMalformed)
	}
	return out, nil
}

// header is a parsed frame header.
type header struct {
	n     int
	typ   Type
	flags byte
	crc   uint32
}

func parseHeader(b []byte, maxFrame int) (header, error) {
	h := header{
		typ:   Type(b[4]),
		flags: b[5],
		crc:   binary.LittleEndian.Uint32(b[6:10]),
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if uint64(n) > uint64(maxFrame) {
		return h, fmt.Errorf("repl: %s frame of %d bytes exceeds %d: %w", h.typ, n, maxFrame, ErrFrameTooLarge)
	}
	h.n = int(n)
	if h.typ == 0 || h.typ >= typeEnd {
		return h, fmt.Errorf("repl: unknown frame type %d: %w", uint8(h.typ), ErrMalformed)
	}
	if h.flags&^knownFlags != 0 {
		return h, fmt.Errorf("repl: %s frame: unknown flags %#x: %w", h.typ, h.flags, ErrMalformed)
	}
	return h, nil
}

// Decoder decodes frames. It keeps buffers between calls so that decoding a
// stream of Entries frames does not allocate per entry; see the package
// comment for what a caller may keep. The zero value is ready to use. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	// MaxFrame is the largest body accepted; 0 means DefaultMaxFrame.
	MaxFrame int

	entries  Entries
	entryBuf []Entry
	pubBuf   []SinkPos
	names    map[string]string
}

func (d *Decoder) maxFrame() int {
	if d.MaxFrame <= 0 {
		return DefaultMaxFrame
	}
	return d.MaxFrame
}

// Decode decodes the frame at the start of b and returns it with the number
// of bytes it took. A b that holds less than one frame gives an error
// wrapping io.ErrUnexpectedEOF. An *Entries result aliases b and the
// Decoder's buffers until the next Decode; other messages do not.
func (d *Decoder) Decode(b []byte) (Message, int, error) {
	if len(b) < headerSize {
		return nil, 0, fmt.Errorf("repl: frame header: %w", io.ErrUnexpectedEOF)
	}
	h, err := parseHeader(b, d.maxFrame())
	if err != nil {
		return nil, 0, err
	}
	if len(b)-headerSize < h.n {
		return nil, 0, fmt.Errorf("repl: %s frame: %d of %d body bytes: %w",
			h.typ, len(b)-headerSize, h.n, io.ErrUnexpectedEOF)
	}
	m, err := d.decode(h, b[headerSize:headerSize+h.n], false)
	if err != nil {
		return nil, 0, err
	}
	return m, headerSize + h.n, nil
}

// decode checks and decodes one body. owned says that body is not reused by
// anyone, so that decoded byte fields may alias it.
func (d *Decoder) decode(h header, body []byte, owned bool) (Message, error) {
	if frameCRC(byte(h.typ), h.flags, body) != h.crc {
		return nil, fmt.Errorf("repl: %s frame of %d bytes: %w", h.typ, len(body), ErrChecksum)
	}
	if h.flags&flagZstd != 0 {
		if h.typ != TypeSnapshot && h.typ != TypeCheckpoint {
			return nil, fmt.Errorf("repl: %s frame: unexpected compression: %w", h.typ, ErrMalformed)
		}
		plain, err := zstdDecompress(body, d.maxFrame())
		if err != nil {
			return nil, fmt.Errorf("repl: %s frame: %w", h.typ, err)
		}
		body, owned = plain, true
	}
	r := reader{b: body, owned: owned}
	var m Message
	switch h.typ {
	case TypeChallenge:
		m = r.challenge()
	case TypeHello:
		m = r.hello()
	case TypeWelcome:
		m = &Welcome{NodeID: r.str(), Epoch: r.uvarint(), Auth: r.blob()}
	case TypeReject:
		m = &Reject{Epoch: r.uvarint(), Code: RejectCode(r.u8()), Reason: r.str()}
	case TypeEntries:
		m = d.decodeEntries(&r)
	case TypeAck:
		m = &Ack{Epoch: r.uvarint(), App: r.str(), LSN: r.uvarint()}
	case TypeSnapshot:
		m = &Snapshot{Epoch: r.uvarint(), App: r.str(), AppHash: r.str(), LSN: r.uvarint(), State: r.blob()}
	case TypeCheckpoint:
		m = &Checkpoint{Epoch: r.uvarint(), Manifest: r.manifest(), State: r.blob()}
	case TypeCheckpointAck:
		m = &CheckpointAck{Epoch: r.uvarint(), App: r.str(), Revision: r.uvarint(), LSN: r.uvarint()}
	case TypePing:
		m = &Ping{Epoch: r.uvarint(), Nanos: r.varint()}
	case TypePong:
		m = &Pong{Epoch: r.uvarint(), Nanos: r.varint()}
	case TypeDigest:
		m = &Digest{Epoch: r.uvarint(), App: r.str(), LSN: r.uvarint(), Hash: r.blob()}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Errorf("%d trailing bytes", len(r.b)))
	}
	if r.err != nil {
		return nil, fmt.Errorf("repl: decode %s: %w", h.typ, r.err)
	}
	return m, nil
}

// Bits of an entry's flags byte, after the kind in the low four bits.
const (
	entryKindMask   = 0x0f
	entrySameStream = 0x10 // Stream equals the previous entry's (initially "")
	entryHasKey     = 0x20 // a Key follows
	entrySameKey    = 0x40 // Key equals the previous entry's
	entryKnownBits  = entryKindMask | entrySameStream | entryHasKey | entrySameKey
)

func (e *Entries) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, e.Epoch)
	b = appendString(b, e.App)
	b = binary.AppendUvarint(b, uint64(len(e.Entries)))
	var prevLSN uint64
	var prevTS int64
	var prevStream, prevKey string
	for i := range e.Entries {
		en := &e.Entries[i]
		if !en.Kind.Valid() {
			return b, fmt.Errorf("entry with LSN %d: bad kind %d", en.LSN, uint8(en.Kind))
		}
		flags := byte(en.Kind)
		if en.Stream == prevStream {
			flags |= entrySameStream
		}
		if en.Key != "" {
			if en.Key == prevKey {
				flags |= entrySameKey
			} else {
				flags |= entryHasKey
			}
		}
		b = append(b, flags)
		// Wrapping differences round-trip exactly, whatever the order.
		b = binary.AppendUvarint(b, en.LSN-prevLSN)
		b = binary.AppendVarint(b, en.Timestamp-prevTS)
		if flags&entrySameStream == 0 {
			b = appendString(b, en.Stream)
		}
		if flags&entryHasKey != 0 {
			b = appendString(b, en.Key)
		}
		b = appendBlob(b, en.Payload)
		prevLSN, prevTS, prevStream, prevKey = en.LSN, en.Timestamp, en.Stream, en.Key
	}
	b = binary.AppendUvarint(b, uint64(len(e.Published)))
	for _, p := range e.Published {
		b = appendString(b, p.Sink)
		b = binary.AppendUvarint(b, p.Position)
	}
	return b, nil
}

func (d *Decoder) decodeEntries(r *reader) *Entries {
	e := &d.entries
	*e = Entries{Epoch: r.uvarint(), App: d.intern(r.blobRef())}
	cnt := r.count(minEntrySize)
	if cnt > 0 {
		if cap(d.entryBuf) < cnt {
			d.entryBuf = make([]Entry, cnt)
		}
		e.Entries = d.entryBuf[:cnt]
	}
	var prevLSN uint64
	var prevTS int64
	var prevStream, prevKey string
	for i := 0; i < cnt && r.err == nil; i++ {
		flags := r.u8()
		kind := EntryKind(flags & entryKindMask)
		if r.err == nil && (flags&^entryKnownBits != 0 || !kind.Valid() ||
			flags&(entryHasKey|entrySameKey) == entryHasKey|entrySameKey) {
			r.fail(fmt.Errorf("entry %d: bad flags %#x", i, flags))
			break
		}
		en := Entry{Kind: kind, LSN: prevLSN + r.uvarint(), Timestamp: prevTS + r.varint(), Stream: prevStream}
		if flags&entrySameStream == 0 {
			en.Stream = d.intern(r.blobRef())
		}
		switch {
		case flags&entrySameKey != 0:
			en.Key = prevKey
		case flags&entryHasKey != 0:
			if k := r.blobRef(); string(k) == prevKey {
				en.Key = prevKey
			} else {
				en.Key = string(k)
			}
		}
		// Payloads alias the frame: that is the point of the reuse rule.
		if p := r.blobRef(); len(p) > 0 {
			en.Payload = p
		}
		e.Entries[i] = en
		prevLSN, prevTS, prevStream, prevKey = en.LSN, en.Timestamp, en.Stream, en.Key
	}
	if n := r.count(2); n > 0 {
		if cap(d.pubBuf) < n {
			d.pubBuf = make([]SinkPos, n)
		}
		e.Published = d.pubBuf[:n]
		for i := 0; i < n && r.err == nil; i++ {
			e.Published[i] = SinkPos{Sink: d.intern(r.blobRef()), Position: r.uvarint()}
		}
	}
	if r.err != nil {
		// Do not leave half-decoded entries that alias the frame behind.
		*e = Entries{}
		return nil
	}
	return e
}

// intern returns b as a string, without allocating when the same name was
// seen before.
func (d *Decoder) intern(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	if d.names == nil || len(d.names) >= maxInterned {
		d.names = make(map[string]string)
	}
	s := string(b)
	d.names[s] = s
	return s
}

func (c *Challenge) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(c.Version))
	b = appendBlob(b, c.Nonce)
	b = appendString(b, c.NodeID)
	b = appendString(b, c.Group)
	return binary.AppendUvarint(b, c.Epoch), nil
}

func (r *reader) challenge() *Challenge {
	return &Challenge{Version: r.u32(), Nonce: r.blob(), NodeID: r.str(), Group: r.str(), Epoch: r.uvarint()}
}

func (h *Hello) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(h.Version))
	b = appendString(b, h.NodeID)
	b = appendString(b, h.Group)
	b = binary.AppendUvarint(b, h.Epoch)
	b = appendBlob(b, h.Auth)
	b = appendBlob(b, h.Nonce)
	b = binary.AppendUvarint(b, uint64(len(h.Apps)))
	for _, a := range h.Apps {
		b = appendString(b, a.App)
		b = appendString(b, a.AppHash)
		b = binary.AppendUvarint(b, a.LastLSN)
		b = binary.AppendUvarint(b, a.CheckpointLSN)
		b = binary.AppendUvarint(b, a.Epoch)
	}
	return b, nil
}

func (r *reader) hello() *Hello {
	h := &Hello{Version: r.u32(), NodeID: r.str(), Group: r.str(), Epoch: r.uvarint(), Auth: r.blob(), Nonce: r.blob()}
	if n := r.count(4); n > 0 {
		h.Apps = make([]AppPos, n)
		for i := 0; i < n && r.err == nil; i++ {
			h.Apps[i] = AppPos{App: r.str(), AppHash: r.str(), LastLSN: r.uvarint(), CheckpointLSN: r.uvarint(), Epoch: r.uvarint()}
		}
	}
	return h
}

func (w *Welcome) appendBody(b []byte) ([]byte, error) {
	b = appendString(b, w.NodeID)
	b = binary.AppendUvarint(b, w.Epoch)
	return appendBlob(b, w.Auth), nil
}

func (r *Reject) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, r.Epoch)
	b = append(b, byte(r.Code))
	return appendString(b, r.Reason), nil
}

func (a *Ack) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, a.Epoch)
	b = appendString(b, a.App)
	return binary.AppendUvarint(b, a.LSN), nil
}

func (s *Snapshot) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, s.Epoch)
	b = appendString(b, s.App)
	b = appendString(b, s.AppHash)
	b = binary.AppendUvarint(b, s.LSN)
	return appendBlob(b, s.State), nil
}

func (c *Checkpoint) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, c.Epoch)
	m := &c.Manifest
	b = appendString(b, m.App)
	b = appendString(b, m.AppHash)
	b = binary.AppendUvarint(b, m.Epoch)
	b = binary.AppendUvarint(b, m.LSN)
	b = binary.AppendUvarint(b, m.Revision)
	b = appendString(b, m.Checksum)
	b = binary.AppendVarint(b, m.Size)
	// Seconds and nanoseconds cover every time.Time, the zero time included.
	b = binary.AppendVarint(b, m.Created.Unix())
	b = binary.AppendUvarint(b, uint64(m.Created.Nanosecond()))
	return appendBlob(b, c.State), nil
}

func (r *reader) manifest() persist.Manifest {
	m := persist.Manifest{App: r.str(), AppHash: r.str(), Epoch: r.uvarint(), LSN: r.uvarint(),
		Revision: r.uvarint(), Checksum: r.str(), Size: r.varint()}
	sec, nsec := r.varint(), r.uvarint()
	if r.err != nil {
		return m
	}
	if nsec >= uint64(time.Second) {
		r.fail(fmt.Errorf("manifest created: %d nanoseconds", nsec))
		return m
	}
	if t := time.Unix(sec, int64(nsec)); !t.IsZero() {
		m.Created = t.UTC()
	}
	return m
}

func (c *CheckpointAck) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, c.Epoch)
	b = appendString(b, c.App)
	b = binary.AppendUvarint(b, c.Revision)
	return binary.AppendUvarint(b, c.LSN), nil
}

func (d *Digest) appendBody(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, d.Epoch)
	b = appendString(b, d.App)
	b = binary.AppendUvarint(b, d.LSN)
	return appendBlob(b, d.Hash), nil
}

func (p *Ping) appendBody(b []byte) ([]byte, error) {
	return binary.AppendVarint(binary.AppendUvarint(b, p.Epoch), p.Nanos), nil
}

func (p *Pong) appendBody(b []byte) ([]byte, error) {
	return binary.AppendVarint(binary.AppendUvarint(b, p.Epoch), p.Nanos), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBlob(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// reader decodes a body field by field. The first error sticks: later reads
// return zero values, so decoders can read a whole struct and check once.
type reader struct {
	b     []byte
	owned bool // b may be aliased by decoded blobs
	err   error
}

var errTruncated = fmt.Errorf("truncated body: %w", ErrMalformed)

func (r *reader) fail(err error) {
	if r.err == nil {
		if !errors.Is(err, ErrMalformed) {
			err = fmt.Errorf("%w: %w", err, ErrMalformed)
		}
		r.err = err
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	if len(r.b) > 0 && r.b[0] < 0x80 {
		// Most values on the hot path (deltas, lengths) take one byte.
		x := uint64(r.b[0])
		r.b = r.b[1:]
		return x
	}
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) varint() int64 {
	if len(r.b) > 0 && r.b[0] < 0x80 {
		ux := int64(r.b[0])
		r.b = r.b[1:]
		return ux>>1 ^ -(ux & 1) // zig-zag
	}
	if r.err != nil {
		return 0
	}
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) u32() uint32 {
	x := r.uvarint()
	if x > math.MaxUint32 {
		r.fail(fmt.Errorf("value %d out of range", x))
		return 0
	}
	return uint32(x)
}

func (r *reader) u8() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// blobRef returns a length-prefixed byte string aliasing the body.
func (r *reader) blobRef() []byte {
	l := r.uvarint()
	if r.err != nil {
		return nil
	}
	if l > uint64(len(r.b)) {
		r.fail(errTruncated)
		return nil
	}
	p := r.b[:l:l]
	r.b = r.b[l:]
	return p
}

// blob returns a length-prefixed byte string the caller may keep; empty is nil.
func (r *reader) blob() []byte {
	p := r.blobRef()
	if len(p) == 0 {
		return nil
	}
	if r.owned {
		return p
	}
	return append([]byte(nil), p...)
}

func (r *reader) str() string { return string(r.blobRef()) }

// count reads an element count and checks it against the bytes left, given
// that each element takes at least minSize bytes, so that a corrupt count
// cannot make the caller allocate more than the body could describe.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minSize) {
		r.fail(fmt.Errorf("count %d exceeds the %d bytes left", n, len(r.b)))
		return 0
	}
	return int(n)
}
