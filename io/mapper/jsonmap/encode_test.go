package jsonmap

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

func TestAppendValue(t *testing.T) {
	tests := []struct {
		v    event.Value
		want string
	}{
		{event.NullValue(), `null`},
		{event.IntValue(-7), `-7`},
		{event.LongValue(math.MinInt64), `-9223372036854775808`},
		{event.DoubleValue(55.6), `55.6`},
		{event.DoubleValue(100), `100.0`},
		{event.DoubleValue(-0.5), `-0.5`},
		{event.DoubleValue(1e10), `10000000000.0`},
		{event.DoubleValue(1e-7), `0.0000001`},
		{event.FloatValue(55.6), `55.6`},
		{event.FloatValue(0.1), `0.1`},
		{event.FloatValue(3), `3.0`},
		{event.DoubleValue(math.NaN()), `null`},
		{event.DoubleValue(math.Inf(1)), `null`},
		{event.FloatValue(float32(math.Inf(-1))), `null`},
		{event.BoolValue(true), `true`},
		{event.BoolValue(false), `false`},
		{event.StringValue(""), `""`},
		{event.StringValue("a\"b\\c\n\r\t\x01\x1f/<>&é"), `"a\"b\\c\n\r\t\u0001\u001f/<>&é"`},
		{event.StringValue("bad\xff utf8\xc3"), `"bad\ufffd utf8\ufffd"`},
		{event.StringValue("line\u2028para\u2029"), `"line\u2028para\u2029"`},
		{event.ObjectValue(map[string]any{"k": []int{1, 2}}), `{"k":[1,2]}`},
		{event.ObjectValue(make(chan int)), ``}, // checked below: a quoted string
	}
	for _, tc := range tests {
		got := string(AppendValue(nil, tc.v))
		if tc.want == "" {
			if !strings.HasPrefix(got, `"0x`) {
				t.Errorf("AppendValue(chan) = %s, want its quoted string form", got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("AppendValue(%v) = %s, want %s", tc.v, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendValue(%v) = %s is not valid JSON", tc.v, got)
		}
	}
}

func TestAppendValueMatchesValueString(t *testing.T) {
	// Finite floats must print exactly as event.Value.String does.
	for _, f := range []float64{0, 1, -1, 55.6, 0.1, 1.0 / 3, 123456789.125, 1e21, 5e-324, math.MaxFloat64} {
		for _, v := range []event.Value{event.DoubleValue(f), event.FloatValue(float32(f))} {
			if math.IsInf(v.Float(), 0) {
				continue
			}
			if got, want := string(AppendValue(nil, v)), v.String(); got != want {
				t.Errorf("AppendValue(%s %v) = %s, want %s", v.Type(), f, got, want)
			}
		}
	}
}

func TestEncoder(t *testing.T) {
	s := &event.Schema{Name: "Out", Attrs: []event.Attribute{
		{Name: "symbol", Type: event.String},
		{Name: "price", Type: event.Double},
		{Name: "volume", Type: event.Long},
		{Name: "we\"ird", Type: event.Int},
	}}
	e, err := NewEncoder(s, source.MapSpec{})
	if err != nil {
		t.Fatal(err)
	}
	row := []event.Value{event.StringValue("WSO2"), event.DoubleValue(55.6), event.LongValue(100), event.NullValue()}
	got, err := e.AppendEvent([]byte("x"), row)
	if err != nil {
		t.Fatal(err)
	}
	if want := `x{"event":{"symbol":"WSO2","price":55.6,"volume":100,"we\"ird":null}}`; string(got) != want {
		t.Errorf("AppendEvent = %s, want %s", got, want)
	}
	if _, err := e.AppendEvent(nil, row[:2]); err == nil || !strings.Contains(err.Error(), "stream Out has 4 attributes, event has 2 values") {
		t.Errorf("AppendEvent(short row) error = %v", err)
	}

	// The encoder's output decodes back to the same row.
	d := mustDecoder(t, s, nil)
	back, err := d.Decode(got[1:])
	if err != nil {
		t.Fatal(err)
	}
	if !rowsEqual(back, [][]event.Value{row}) {
		t.Errorf("round trip = %v, want %v", back, row)
	}
}

func TestNewEncoderErrors(t *testing.T) {
	if _, err := NewEncoder(stockSchema, source.MapSpec{Type: "text"}); err == nil || !strings.Contains(err.Error(), `unknown map type "text"`) {
		t.Errorf("map type text: %v", err)
	}
	_, err := NewEncoder(stockSchema, source.MapSpec{Type: "json", Options: map[string]string{"validate.json": "true"}})
	if err == nil || !strings.Contains(err.Error(), `unknown option "validate.json" (known: none)`) {
		t.Errorf("unknown option: %v", err)
	}
	if _, err := NewEncoder(nil, source.MapSpec{}); err == nil {
		t.Error("nil schema: no error")
	}
}
