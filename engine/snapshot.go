package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/tandem-stream/tandem/event"
)

// The snapshot is, in order: the magic "TDE1", the plan fingerprint (8 bytes
// little-endian), the clock (varint), then for each query in plan order its
// window's stored events and its aggregation states. Values use event's codec.
const snapshotMagic = "TDE1"

func errCorrupt(msg string) error { return fmt.Errorf("engine: corrupt snapshot: %s", msg) }

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Snapshot returns the full state of the app: the clock, every window's
// contents and every aggregation state. Restore on a fresh Runtime of the
// same app continues exactly where this one stands.
func (r *Runtime) Snapshot() ([]byte, error) {
	b := append([]byte(nil), snapshotMagic...)
	b = binary.LittleEndian.AppendUint64(b, r.shape)
	b = appendVarint(b, r.clock)
	var err error
	for _, w := range r.windows {
		if b, err = w.win.appendState(b); err != nil {
			return nil, fmt.Errorf("engine: snapshot of %s: %w", w.label(), err)
		}
	}
	for _, q := range r.queries {
		if q.join != nil {
			for _, s := range q.join.sides {
				if s.win == nil {
					continue
				}
				if b, err = s.win.appendState(b); err != nil {
					return nil, fmt.Errorf("engine: snapshot of %s: %w", q.label(), err)
				}
			}
		}
		if q.win != nil {
			if b, err = q.win.appendState(b); err != nil {
				return nil, fmt.Errorf("engine: snapshot of %s: %w", q.label(), err)
			}
		}
		if b, err = q.sel.appendState(b); err != nil {
			return nil, fmt.Errorf("engine: snapshot of %s: %w", q.label(), err)
		}
		if q.rate != nil {
			if b, err = q.rate.appendState(b); err != nil {
				return nil, fmt.Errorf("engine: snapshot of %s: %w", q.label(), err)
			}
		}
	}
	for _, t := range r.triggers {
		b = t.appendState(b)
	}
	if r.uuids {
		b = appendUvarint(b, r.uuidSeq)
	}
	return b, nil
}

// Restore replaces the state with a snapshot taken from a Runtime of the same
// app. On error the Runtime is unchanged.
func (r *Runtime) Restore(state []byte) error {
	if len(state) < len(snapshotMagic)+8 || string(state[:len(snapshotMagic)]) != snapshotMagic {
		return errCorrupt("bad header")
	}
	if binary.LittleEndian.Uint64(state[len(snapshotMagic):]) != r.shape {
		return errors.New("engine: snapshot belongs to a different app")
	}
	// Decode into a fresh plan so that a failure leaves r untouched.
	fresh, err := plan(r.app)
	if err != nil {
		return fmt.Errorf("engine: restore: %w", err)
	}
	d := &decoder{b: state[len(snapshotMagic)+8:]}
	clock := d.varint()
	for _, w := range fresh.windows {
		if d.err != nil {
			break
		}
		if err := w.win.readState(d); err != nil {
			return err
		}
	}
	for _, q := range fresh.queries {
		if d.err != nil {
			break
		}
		if q.join != nil {
			for _, s := range q.join.sides {
				if s.win == nil {
					continue
				}
				if err := s.win.readState(d); err != nil {
					return err
				}
			}
		}
		if q.win != nil {
			if err := q.win.readState(d); err != nil {
				return err
			}
		}
		if err := q.sel.readState(d); err != nil {
			return err
		}
		if q.rate != nil {
			if err := q.rate.readState(d); err != nil {
				return err
			}
		}
	}
	for _, t := range fresh.triggers {
		t.readState(d)
	}
	var seq uint64
	if fresh.uuids {
		seq = d.uvarint()
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return errCorrupt("trailing bytes")
	}
	for i, w := range r.windows {
		w.win = fresh.windows[i].win
		rebind(w.win, r)
	}
	for i, q := range r.queries {
		f := fresh.queries[i]
		q.win = f.win
		rebind(q.win, r)
		if q.join != nil {
			for k, s := range q.join.sides {
				s.win = f.join.sides[k].win
				rebind(s.win, r)
			}
		}
		q.rate = f.rate
		q.sel.single, q.sel.groups = f.sel.single, f.sel.groups
	}
	for i, t := range r.triggers {
		f := fresh.triggers[i]
		t.started, t.done, t.next = f.started, f.done, f.next
	}
	r.clock = clock
	r.uuidSeq = seq
	return nil
}

// rebind points a window restored from a fresh plan at the runtime it now
// belongs to.
func rebind(w window, r *Runtime) {
	switch w := w.(type) {
	case *expressionWindow:
		w.src.rebind(r)
	case *expressionBatchWindow:
		w.src.rebind(r)
	}
}

func (s *selector) appendState(b []byte) ([]byte, error) {
	if len(s.aggs) == 0 {
		return b, nil
	}
	if s.groups == nil {
		return s.appendGroup(b, s.single)
	}
	keys := make([]string, 0, len(s.groups))
	for k := range s.groups {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic bytes for the same state
	b = appendUvarint(b, uint64(len(keys)))
	var err error
	for _, k := range keys {
		b = appendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		if b, err = s.appendGroup(b, s.groups[k]); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (s *selector) appendGroup(b []byte, g *group) ([]byte, error) {
	return appendAggStates(b, g.states)
}

// appendAggStates writes the states of a list of aggregators.
func appendAggStates(b []byte, states []aggState) ([]byte, error) {
	var err error
	for i := range states {
		st := &states[i]
		b = appendVarint(b, st.n)
		b = appendVarint(b, st.i)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.f))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.m))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.f2))
		if b, err = event.AppendValue(b, st.cur); err != nil {
			return b, err
		}
		if b, err = event.AppendValues(b, st.dq.buf[st.dq.head:]); err != nil {
			return b, err
		}
		keys := make([]string, 0, len(st.set))
		for k := range st.set {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = appendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = appendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = appendVarint(b, st.set[k])
		}
	}
	return b, nil
}

func (s *selector) readState(d *decoder) error {
	if len(s.aggs) == 0 {
		return d.err
	}
	if s.groups == nil {
		return s.readGroup(d, s.single)
	}
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		k := d.bytes()
		g := s.newGroup()
		if err := s.readGroup(d, g); err != nil {
			return err
		}
		if _, dup := s.groups[string(k)]; dup {
			return errCorrupt("duplicate group key")
		}
		s.groups[string(k)] = g
	}
	return d.err
}

func (s *selector) readGroup(d *decoder, g *group) error {
	return readAggStates(d, g.states)
}

// readAggStates reads what appendAggStates wrote into states.
func readAggStates(d *decoder, states []aggState) error {
	for i := range states {
		st := &states[i]
		st.n = d.varint()
		st.i = d.varint()
		st.f = math.Float64frombits(d.uint64())
		st.m = math.Float64frombits(d.uint64())
		st.f2 = math.Float64frombits(d.uint64())
		st.cur = d.value()
		st.dq.buf = d.values(nil, -1)
		st.dq.head = 0
		n := d.count()
		if n > 0 {
			st.set = make(map[string]int64, n)
		}
		for j := 0; j < n && d.err == nil; j++ {
			k := d.bytes()
			st.set[string(k)] = d.varint()
		}
		if d.err != nil {
			return d.err
		}
	}
	return nil
}

// decoder reads a snapshot; the first error sticks and later reads return
// zero values, so callers check d.err once at the end of a unit.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = errCorrupt(msg)
	}
	d.b = nil
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail("bad bool")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must be plausible for the bytes left: every
// element takes at least one byte.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("count larger than the data")
		return 0
	}
	return int(v)
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) value() event.Value {
	if d.err != nil {
		return event.Value{}
	}
	v, n, err := event.ReadValue(d.b)
	if err != nil {
		d.fail(err.Error())
		return event.Value{}
	}
	d.b = d.b[n:]
	return v
}

// values reads a count-prefixed list of values; width >= 0 requires exactly
// that many.
func (d *decoder) values(dst []event.Value, width int) []event.Value {
	if d.err != nil {
		return dst
	}
	start := len(dst)
	dst, n, err := event.ReadValues(d.b, dst)
	if err != nil {
		d.fail(err.Error())
		return dst
	}
	d.b = d.b[n:]
	if width >= 0 && len(dst)-start != width {
		d.fail("row has the wrong number of values")
	}
	return dst
}
