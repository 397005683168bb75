package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
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
	// Pending holds, per sink, the outputs produced but not yet published:
	// a checkpoint lets the passive drop the entries that produced them, so
	// the outputs themselves must travel with it.
	Pending map[string][]sink.Output
}

const stateMagic = "TNDMst2\n"

func (s *appState) marshal() ([]byte, error) {
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
	b = append(b, s.Engine...)
	ids := make([]string, 0, len(s.Pending))
	for id := range s.Pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		outs := s.Pending[id]
		b = appendString(b, id)
		b = binary.AppendUvarint(b, uint64(len(outs)))
		for _, o := range outs {
			b = binary.AppendUvarint(b, o.Ordinal)
			b = binary.AppendUvarint(b, o.Epoch)
			b = binary.AppendVarint(b, o.Event.Timestamp)
			if o.Event.Expired {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			var err error
			if b, err = event.AppendValues(b, o.Event.Data); err != nil {
				return nil, fmt.Errorf("output %s: %w", o.ID, err)
			}
		}
	}
	return b, nil
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
	if r.err == nil {
		s.Pending = map[string][]sink.Output{}
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			id := r.string()
			m := r.count()
			outs := make([]sink.Output, 0, m)
			for j := 0; j < m && r.err == nil; j++ {
				o := sink.Output{Ordinal: r.uvarint(), Epoch: r.uvarint()}
				o.Event.Timestamp = r.varint()
				o.Event.Expired = r.byte() == 1
				o.Event.Data = r.values()
				outs = append(outs, o)
			}
			s.Pending[id] = outs
		}
	}
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

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) values() []event.Value {
	if r.err != nil {
		return nil
	}
	vs, n, err := event.ReadValues(r.b, nil)
	if err != nil {
		r.err = fmt.Errorf("%w: %v", errBadState, err)
		r.b = nil
		return nil
	}
	r.b = r.b[n:]
	return vs
}
