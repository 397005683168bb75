package conformance

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
)

// outEvent is an output event copied out of a callback.
type outEvent struct {
	vals    []event.Value
	expired bool
}

func copyEvent(e event.Event) outEvent {
	return outEvent{vals: slices.Clone(e.Data), expired: e.Expired}
}

func toValues(sch *event.Schema, data []any) ([]event.Value, error) {
	if len(data) != len(sch.Attrs) {
		return nil, fmt.Errorf("stream %s: %d values for %d attributes", sch.Name, len(data), len(sch.Attrs))
	}
	out := make([]event.Value, len(data))
	for i, d := range data {
		v, err := toValue(sch.Attrs[i].Type, d)
		if err != nil {
			return nil, fmt.Errorf("stream %s attribute %s: %w", sch.Name, sch.Attrs[i].Name, err)
		}
		out[i] = v
	}
	return out, nil
}

// lenientValues converts data to the stream's attributes the way Java's
// untyped arrays carried them: a value of another type keeps its own type
// (a JSON string stays a string in a bool attribute), missing values are
// null and extra values are dropped.
func lenientValues(sch *event.Schema, data []any) []event.Value {
	out := make([]event.Value, len(sch.Attrs))
	for i := range out {
		if i >= len(data) {
			continue
		}
		if v, err := toValue(sch.Attrs[i].Type, data[i]); err == nil {
			out[i] = v
			continue
		}
		switch d := data[i].(type) {
		case string:
			out[i] = event.StringValue(d)
		case bool:
			out[i] = event.BoolValue(d)
		case json.Number:
			if x, err := strconv.ParseInt(string(d), 10, 64); err == nil {
				out[i] = event.LongValue(x)
			} else if x, err := strconv.ParseFloat(string(d), 64); err == nil {
				out[i] = event.DoubleValue(x)
			}
		}
	}
	return out
}

// toValue converts a recorded JSON value to an attribute of type t. An
// object attribute holds the plain Go value (int64, float64, string, bool),
// which is what the engine's cast and instanceOf functions unwrap.
func toValue(t event.Type, d any) (event.Value, error) {
	if d == nil {
		return event.Value{}, nil
	}
	switch t {
	case event.String:
		if s, ok := d.(string); ok {
			return event.StringValue(s), nil
		}
	case event.Bool:
		if b, ok := d.(bool); ok {
			return event.BoolValue(b), nil
		}
	case event.Int, event.Long, event.Float, event.Double:
		n, ok := d.(json.Number)
		if !ok {
			break
		}
		switch t {
		case event.Int:
			x, err := strconv.ParseInt(string(n), 10, 32)
			if err != nil {
				return event.Value{}, err
			}
			return event.IntValue(int32(x)), nil
		case event.Long:
			x, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return event.Value{}, err
			}
			return event.LongValue(x), nil
		case event.Float:
			x, err := strconv.ParseFloat(string(n), 32)
			if err != nil {
				return event.Value{}, err
			}
			return event.FloatValue(float32(x)), nil
		default:
			x, err := strconv.ParseFloat(string(n), 64)
			if err != nil {
				return event.Value{}, err
			}
			return event.DoubleValue(x), nil
		}
	case event.Object:
		if n, ok := d.(json.Number); ok {
			// Java boxes an integral literal as Integer when it fits (the
			// tests write them as int literals) and a decimal as Double.
			if x, err := strconv.ParseInt(string(n), 10, 32); err == nil {
				return event.ObjectValue(int32(x)), nil
			}
			if x, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				return event.ObjectValue(x), nil
			}
			x, err := strconv.ParseFloat(string(n), 64)
			if err != nil {
				return event.Value{}, err
			}
			return event.ObjectValue(x), nil
		}
		return event.ObjectValue(d), nil
	}
	return event.Value{}, fmt.Errorf("cannot use %v (%T) as %s", d, d, t)
}

// matchValue compares an engine value with a recorded JSON value. Floats
// compare at 32-bit precision, since the recording holds Java's
// Float.toString.
func matchValue(v event.Value, d any) bool {
	if d == nil {
		return v.IsNull()
	}
	switch v.Type() {
	case event.String:
		s, ok := d.(string)
		return ok && s == v.Str()
	case event.Bool:
		b, ok := d.(bool)
		return ok && b == v.Bool()
	case event.Int, event.Long:
		n, ok := d.(json.Number)
		if !ok {
			return false
		}
		x, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil && x == v.Int()
	case event.Float:
		n, ok := d.(json.Number)
		if !ok {
			if s, ok := d.(string); ok { // NaN, Infinity
				return s == javaFloat(v.Float())
			}
			return false
		}
		x, err := strconv.ParseFloat(string(n), 32)
		return err == nil && float32(x) == float32(v.Float())
	case event.Double:
		n, ok := d.(json.Number)
		if !ok {
			if s, ok := d.(string); ok {
				return s == javaFloat(v.Float())
			}
			return false
		}
		x, err := strconv.ParseFloat(string(n), 64)
		return err == nil && x == v.Float()
	case event.Object:
		return matchObject(v.Obj(), d)
	}
	return false
}

func matchObject(o any, d any) bool {
	switch x := o.(type) {
	case int32:
		return matchValue(event.IntValue(x), d)
	case int64:
		return matchValue(event.LongValue(x), d)
	case float32:
		return matchValue(event.FloatValue(x), d)
	case float64:
		return matchValue(event.DoubleValue(x), d)
	case bool:
		return matchValue(event.BoolValue(x), d)
	case string:
		return matchValue(event.StringValue(x), d)
	}
	return fmt.Sprint(o) == fmt.Sprint(d)
}

// javaFloat spells the non-finite values as Java does.
func javaFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "Infinity"
	case math.IsInf(x, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func matchEvent(g outEvent, w OutEvent) bool {
	if g.expired != w.Expired || len(g.vals) != len(w.Data) {
		return false
	}
	for i := range g.vals {
		if !matchValue(g.vals[i], w.Data[i]) {
			return false
		}
	}
	return true
}

// compare checks what a callback received against the recording: in order
// when the recording is ordered, else as a multiset; by count alone when
// the recording is partial.
func compare(ex *Expect, got []outEvent) (Mismatch, bool) {
	ok := true
	switch {
	case ex.Partial:
		ok = len(got) == ex.Count
	case len(got) != len(ex.Events):
		ok = false
	case ex.Ordered:
		for i := range got {
			if !matchEvent(got[i], ex.Events[i]) {
				ok = false
				break
			}
		}
	default:
		used := make([]bool, len(got))
		for _, w := range ex.Events {
			found := false
			for i, g := range got {
				if !used[i] && matchEvent(g, w) {
					used[i], found = true, true
					break
				}
			}
			if !found {
				ok = false
				break
			}
		}
	}
	if ok {
		return Mismatch{}, true
	}
	m := Mismatch{Target: ex.Target, Want: []string{}, Got: []string{}}
	if ex.Partial {
		m.Count = ex.Count
	}
	for _, w := range ex.Events {
		m.Want = append(m.Want, renderWant(w))
	}
	for _, g := range got {
		m.Got = append(m.Got, renderGot(g))
	}
	return m, false
}

func renderGot(g outEvent) string {
	parts := make([]string, len(g.vals))
	for i, v := range g.vals {
		switch v.Type() {
		case event.String:
			parts[i] = strconv.Quote(v.Str())
		case event.Object:
			parts[i] = fmt.Sprintf("%v (object)", v.Obj())
		default:
			parts[i] = v.String()
		}
	}
	return renderRow(parts, g.expired)
}

func renderWant(w OutEvent) string {
	parts := make([]string, len(w.Data))
	for i, v := range w.Data {
		switch x := v.(type) {
		case nil:
			parts[i] = "null"
		case string:
			parts[i] = strconv.Quote(x)
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return renderRow(parts, w.Expired)
}

func renderRow(parts []string, expired bool) string {
	s := "[" + strings.Join(parts, ", ") + "]"
	if expired {
		s += " expired"
	}
	return s
}
