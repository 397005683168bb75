package host

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// appState is everything a checkpoint of an app holds besides what the engine
// keeps: where the log stood, the sink ordinals and the recent idempotency keys.
type appState struct {
	LSN      uint64
	LastTs   int64
	Ordinals map[string]uint64 // sink id -> outputs produced so far
	Keys     []string
	KeyLSNs  []uint64
	Engine   []byte
}

const stateMagic = "TNDMst1\n"

func (s *appState) marshal() []byte {
	b := make([]byte, 0, len(stateMagic)+64+len(s.Engine))
	b = append(b, stateMagic...)
	b = binary.AppendUvarint(b, s.LSN)
	b = binary.AppendVarint(b, s.LastTs)
	b = binary.AppendUvarint(b, uint64(len(s.Ordinals)))
	for id, n := range s.Ordinals {
		b = appendString(b, id)
		b = binary.AppendUvarint(b, n)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Keys)))
	for i, k := range s.Keys {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, s.KeyLSNs[i])
	}
	b = binary.AppendUvarint(b, uint64(len(s.Engine)))
	return append(b, s.Engine...)
}

var errBadState = errors.New("host: malformed app state")

func unmarshalState(b []byte) (*appState, error) {
	if len(b) < len(stateMagic) || string(b[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%w: bad header", errBadState)
	}
	r := reader{b: b[len(stateMagic):]}
	s := &appState{Ordinals: map[string]uint64{}}
	s.LSN = r.uvarint()
	s.LastTs = r.varint()
	n := r.count()
	for i := 0; i < n && r.err == nil; i++ {
		id := r.string()
		s.Ordinals[id] = r.uvarint()
	}
	n = r.count()
	for i := 0; i < n && r.err == nil; i++ {
		s.Keys = append(s.Keys, r.string())
		s.KeyLSNs = append(s.KeyLSNs, r.uvarint())
	}
	s.Engine = r.bytes()
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes the state format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated", errBadState)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that must be plausible for the bytes left.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }
