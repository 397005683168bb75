package engine

import (
	"slices"

	"github.com/tandem-stream/tandem/event"
)

// row is a stored event of the windows that keep events in lists they
// reorder or edit in the middle (sort, session, expression, ...), where a
// ring does not fit. Each row owns its values.
type stored struct {
	ts      int64
	vals    []event.Value
	expired bool
}

func newStored(e *event.Event) stored {
	return stored{ts: e.Timestamp, vals: slices.Clone(e.Data)}
}

func (r stored) event() event.Event {
	return event.Event{Timestamp: r.ts, Data: r.vals, Expired: r.expired}
}

// at returns the row as an event stamped with ts and marked expired or not.
func (r stored) at(ts int64, expired bool) event.Event {
	return event.Event{Timestamp: ts, Data: r.vals, Expired: expired}
}

func appendRows(b []byte, rows []stored) ([]byte, error) {
	b = appendUvarint(b, uint64(len(rows)))
	var err error
	for _, r := range rows {
		b = appendVarint(b, r.ts)
		b = appendBool(b, r.expired)
		if b, err = event.AppendValues(b, r.vals); err != nil {
			return b, err
		}
	}
	return b, nil
}

// rows reads a list written by appendRows whose rows must match types.
func (d *decoder) rows(types []event.Type) []stored {
	n := d.count()
	var out []stored
	for i := 0; i < n && d.err == nil; i++ {
		r := stored{ts: d.varint(), expired: d.bool()}
		r.vals = d.values(nil, len(types))
		for j, v := range r.vals {
			if d.err == nil && !v.IsNull() && v.Type() != types[j] {
				d.fail("stored value of the wrong type")
			}
		}
		out = append(out, r)
	}
	return out
}

func schemaTypes(s *event.Schema) []event.Type {
	t := make([]event.Type, len(s.Attrs))
	for i, a := range s.Attrs {
		t[i] = a.Type
	}
	return t
}
