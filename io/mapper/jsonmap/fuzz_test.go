package jsonmap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/event"
)

// FuzzDecode checks the hand-written decoder against encoding/json: whatever
// it accepts must be valid JSON that a reference mapping built on
// encoding/json decodes to the same rows, and those rows must survive a round
// trip through the encoder.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"event":{"symbol":"WSO2","price":55.6,"volume":100,"qty":7,"ratio":1.5,"ok":true}}`,
		`[{"symbol":"IBM","price":75.5,"volume":10,"qty":-3,"ratio":0.25,"ok":false},{"event":{"symbol":null,"price":1e2,"volume":1.5e1,"qty":0,"ratio":-0,"ok":null}}]`,
		`{"x":[1,{"y":null}],"symbol":"a\"\u00e9\ud83d\ude00","price":1,"volume":1,"qty":1,"ratio":1,"ok":true,"event":5}`,
		`{"meta":{},"event":{"symbol":"","price":-1.7976931348623157e308,"volume":-9223372036854775808,"qty":2147483647,"ratio":3.4028234e38,"ok":false}}`,
		`[]`, `{}`, `[{}]`, `{"qty":1.0e0}`, `{"qty":2147483648}`, `{"symbol":"\ud800"}`, "{\"symbol\":\"\xff\"}",
		`{"price":"1"}`, `[{"ok":true},]`, `{"a":[[[[]]]]}`, ` {"event":{}} `, `{"event":{},"event":{}}`,
		`{"event":"x","symbol":"y"}`, `{"event":"x","event":{"event":"y","symbol":"z"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	d := mustDecoder(f, stockSchema, nil)
	lenient := mustDecoder(f, stockSchema, map[string]string{"fail.on.missing.attribute": "false"})
	// A stream with an "event" attribute.
	evSchema := &event.Schema{Name: "E", Attrs: []event.Attribute{{Name: "event", Type: event.String}, {Name: "symbol", Type: event.String}}}
	evDec := mustDecoder(f, evSchema, map[string]string{"fail.on.missing.attribute": "false"})
	encs := map[*Decoder]*Encoder{}
	for _, dec := range []*Decoder{d, lenient, evDec} {
		enc, err := NewEncoder(dec.schema, stockSpec)
		if err != nil {
			f.Fatal(err)
		}
		encs[dec] = enc
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dec := range []*Decoder{d, lenient, evDec} {
			rows, err := dec.Decode(body)
			if err != nil {
				if rows != nil {
					t.Fatalf("rows %v returned with error %v", rows, err)
				}
				continue
			}
			if !json.Valid(body) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			want, err := referenceDecode(dec, body)
			if err != nil {
				t.Fatalf("accepted %q, reference decoder says %v", body, err)
			}
			if !rowsEqual(rows, want) {
				t.Fatalf("Decode(%q) = %v, reference %v", body, rows, want)
			}
			var out []byte
			out = append(out, '[')
			for i, r := range rows {
				if i > 0 {
					out = append(out, ',')
				}
				if out, err = encs[dec].AppendEvent(out, r); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, ']')
			back, err := dec.Decode(out)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
			if !rowsEqual(back, rows) {
				t.Fatalf("round trip %s = %v, want %v", out, back, rows)
			}
		}
	})
}

// referenceDecode is the mapping rebuilt on encoding/json, for FuzzDecode.
// It only needs to agree on inputs the fast decoder accepts.
func referenceDecode(d *Decoder, body []byte) ([][]event.Value, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("invalid UTF-8")
	}
	jd := json.NewDecoder(bytes.NewReader(body))
	jd.UseNumber()
	var top any
	if err := jd.Decode(&top); err != nil {
		return nil, err
	}
	var elems []any
	switch v := top.(type) {
	case map[string]any:
		elems = []any{v}
	case []any:
		elems = v
	default:
		return nil, fmt.Errorf("top-level %T", top)
	}
	rows := [][]event.Value{}
	for _, el := range elems {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("element %T", el)
		}
		if inner, ok := m["event"].(map[string]any); ok {
			m = inner
		}
		row := make([]event.Value, len(d.types))
		for i, a := range d.schema.Attrs {
			raw, ok := m[a.Name]
			if !ok {
				if d.failOnMissing {
					return nil, fmt.Errorf("missing %s", a.Name)
				}
				continue
			}
			v, err := referenceValue(raw, a.Type)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.Name, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func referenceValue(raw any, t event.Type) (event.Value, error) {
	if raw == nil {
		return event.Value{}, nil
	}
	switch t {
	case event.Int, event.Long:
		n, ok := raw.(json.Number)
		if !ok {
			return event.Value{}, fmt.Errorf("want number, got %T", raw)
		}
		r, ok := new(big.Rat).SetString(n.String())
		if !ok || !r.IsInt() || !r.Num().IsInt64() {
			return event.Value{}, fmt.Errorf("%s not an int64", n)
		}
		x := r.Num().Int64()
		if t == event.Int {
			if x != int64(int32(x)) {
				return event.Value{}, fmt.Errorf("%s not an int32", n)
			}
			return event.IntValue(int32(x)), nil
		}
		return event.LongValue(x), nil
	case event.Float, event.Double:
		n, ok := raw.(json.Number)
		if !ok {
			return event.Value{}, fmt.Errorf("want number, got %T", raw)
		}
		bits := 64
		if t == event.Float {
			bits = 32
		}
		x, err := strconv.ParseFloat(n.String(), bits)
		if err != nil {
			return event.Value{}, err
		}
		if t == event.Float {
			return event.FloatValue(float32(x)), nil
		}
		return event.DoubleValue(x), nil
	case event.Bool:
		b, ok := raw.(bool)
		if !ok {
			return event.Value{}, fmt.Errorf("want bool, got %T", raw)
		}
		return event.BoolValue(b), nil
	case event.String:
		s, ok := raw.(string)
		if !ok {
			return event.Value{}, fmt.Errorf("want string, got %T", raw)
		}
		return event.StringValue(s), nil
	}
	return event.Value{}, fmt.Errorf("unexpected type %s", t)
}
