package jsonmap

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

var stockSchema = &event.Schema{Name: "StockStream", Attrs: []event.Attribute{
	{Name: "symbol", Type: event.String},
	{Name: "price", Type: event.Double},
	{Name: "volume", Type: event.Long},
	{Name: "qty", Type: event.Int},
	{Name: "ratio", Type: event.Float},
	{Name: "ok", Type: event.Bool},
}}

func stock(sym string, price float64, vol int64, qty int32, ratio float32, ok bool) []event.Value {
	return []event.Value{event.StringValue(sym), event.DoubleValue(price), event.LongValue(vol),
		event.IntValue(qty), event.FloatValue(ratio), event.BoolValue(ok)}
}

func mustDecoder(t testing.TB, s *event.Schema, opts map[string]string) *Decoder {
	t.Helper()
	d, err := NewDecoder(s, source.MapSpec{Type: "json", Options: opts})
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	return d
}

func TestDecode(t *testing.T) {
	const ibm = `"symbol":"IBM","price":75.5,"volume":10,"qty":-3,"ratio":0.25,"ok":false`
	tests := []struct {
		name string
		body string
		want [][]event.Value
	}{
		{"wrapped", `{"event":{"symbol":"WSO2","price":55.6,"volume":100,"qty":7,"ratio":1.5,"ok":true}}`,
			[][]event.Value{stock("WSO2", 55.6, 100, 7, 1.5, true)}},
		{"bare", `{` + ibm + `}`, [][]event.Value{stock("IBM", 75.5, 10, -3, 0.25, false)}},
		{"array mixed", " [ {\"event\":{" + ibm + "}} ,\n{" + ibm + "} ]\n",
			[][]event.Value{stock("IBM", 75.5, 10, -3, 0.25, false), stock("IBM", 75.5, 10, -3, 0.25, false)}},
		{"empty array", `[]`, [][]event.Value{}},
		{"empty array spaced", " [ \t\r\n] ", [][]event.Value{}},
		{"unknown keys ignored", `{"x":[1,{"y":null}],` + ibm + `,"z":"q"}`,
			[][]event.Value{stock("IBM", 75.5, 10, -3, 0.25, false)}},
		{"keys beside wrapper ignored", `{"symbol":"NO","meta":{"a":1},"event":{` + ibm + `},"price":"x"}`,
			[][]event.Value{stock("IBM", 75.5, 10, -3, 0.25, false)}},
		{"nulls", `{"symbol":null,"price":null,"volume":null,"qty":null,"ratio":null,"ok":null}`,
			[][]event.Value{make([]event.Value, 6)}},
		{"key order free", `{"ok":true,"ratio":2,"qty":1,"volume":-5,"price":-0.5,"symbol":""}`,
			[][]event.Value{stock("", -0.5, -5, 1, 2, true)}},
		{"integral forms", `{"symbol":"a","price":1E2,"volume":1.5e1,"qty":100e-2,"ratio":-0,"ok":true}`,
			[][]event.Value{stock("a", 100, 15, 1, float32(math.Copysign(0, -1)), true)}},
		{"zero forms", `{"symbol":"a","price":0.0,"volume":0e999999999,"qty":-0.000e-5,"ratio":0,"ok":true}`,
			[][]event.Value{stock("a", 0, 0, 0, 0, true)}},
		{"range edges", `{"symbol":"a","price":1.7976931348623157e308,"volume":-9223372036854775808,"qty":2147483647,"ratio":3.4028234e38,"ok":true}`,
			[][]event.Value{stock("a", math.MaxFloat64, math.MinInt64, math.MaxInt32, math.MaxFloat32, true)}},
		{"range edges 2", `{"symbol":"a","price":5e-324,"volume":9223372036854775807,"qty":-2147483648,"ratio":1e-50,"ok":true}`,
			[][]event.Value{stock("a", 5e-324, math.MaxInt64, math.MinInt32, 0, true)}},
		{"long as exponent", `{"symbol":"a","price":1,"volume":9.223372036854775807e18,"qty":21474836.47e2,"ratio":1,"ok":true}`,
			[][]event.Value{stock("a", 1, math.MaxInt64, math.MaxInt32, 1, true)}},
		{"escapes", `{"symbol":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00","price":1,"volume":1,"qty":1,"ratio":1,"ok":true}`,
			[][]event.Value{stock("a\"b\\c/d\b\f\n\r\té€😀", 1, 1, 1, 1, true)}},
		{"lone surrogates", `{"symbol":"\ud800x\udc00\ud800\u0041","price":1,"volume":1,"qty":1,"ratio":1,"ok":true}`,
			[][]event.Value{stock("\ufffdx\ufffd\ufffdA", 1, 1, 1, 1, true)}},
		{"utf8", `{"symbol":"日本語 ü","price":1,"volume":1,"qty":1,"ratio":1,"ok":true}`,
			[][]event.Value{stock("日本語 ü", 1, 1, 1, 1, true)}},
		{"escaped key", `{"sym\u0062ol":"k","price":1,"volume":1,"qty":1,"ratio":1,"ok":true}`,
			[][]event.Value{stock("k", 1, 1, 1, 1, true)}},
	}
	d := mustDecoder(t, stockSchema, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !rowsEqual(got, tc.want) {
				t.Errorf("Decode = %v, want %v", got, tc.want)
			}
		})
	}
}

func rowsEqual(a, b [][]event.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if !a[i][j].Equal(b[i][j]) {
				return false
			}
		}
	}
	return true
}

func TestDecodeErrors(t *testing.T) {
	const rest = `"price":1,"volume":1,"qty":1,"ratio":1,"ok":true`
	tests := []struct {
		name, body string
		want       string // substring of the error
		event      int
		attr       string
	}{
		{"empty", ``, "empty body", -1, ""},
		{"blank", " \n", "empty body", -1, ""},
		{"number", `1`, "expected a JSON object or an array of objects, found '1'", -1, ""},
		{"string top", `"x"`, "expected a JSON object or an array", -1, ""},
		{"array of numbers", `[1]`, "expected an event object, found '1'", 0, ""},
		{"trailing data", `{"symbol":"a",` + rest + `} {}`, "expected end of input after the top-level value, found '{'", -1, ""},
		{"trailing comma", `{"symbol":"a",` + rest + `,}`, "expected a string key, found '}'", 0, ""},
		{"array trailing comma", `[{"symbol":"a",` + rest + `},]`, "expected an event object, found ']'", 1, ""},
		{"unclosed array", `[{"symbol":"a",` + rest + `}`, "expected ',' or ']' after an event, found end of input", -1, ""},
		{"unclosed object", `{"symbol":"a",` + rest, "expected ',' or '}' after an object member, found end of input", 0, ""},
		{"missing colon", `{"symbol" "a"}`, "expected ':' after an object key", 0, ""},
		{"unquoted key", `{symbol:"a"}`, "expected a string key, found 's'", 0, ""},
		{"missing", `{"event":{"symbol":"a","price":1,"qty":1,"ratio":1}}`, `missing attributes "volume", "ok"`, 0, ""},
		{"missing one", `[{"symbol":"a",` + rest + `},{` + rest + `}]`, `event 1: missing attribute "symbol"`, 1, ""},
		{"empty object", `{}`, `missing attributes "symbol", "price"`, 0, ""},
		{"duplicate", `{"symbol":"a","symbol":"b",` + rest + `}`, `attribute "symbol": given twice`, 0, "symbol"},
		{"duplicate wrapper", `{"event":{"symbol":"a",` + rest + `},"event":{}}`, `key "event" given twice`, 0, ""},
		{"string for double", `{"symbol":"a","price":"55.6"}`, `attribute "price": expected double, got a string`, 0, "price"},
		{"number for string", `{"symbol":5}`, `attribute "symbol": expected string, got a number`, 0, "symbol"},
		{"string for bool", `{"ok":"true"}`, `attribute "ok": expected bool, got a string`, 0, "ok"},
		{"number for bool", `{"ok":1}`, `attribute "ok": expected bool, got a number`, 0, "ok"},
		{"object for long", `{"volume":{}}`, `attribute "volume": expected long, got an object`, 0, "volume"},
		{"array for int", `{"qty":[1]}`, `attribute "qty": expected int, got an array`, 0, "qty"},
		{"bool for float", `{"ratio":true}`, `attribute "ratio": expected float, got a boolean`, 0, "ratio"},
		{"fraction for long", `{"volume":1.5}`, `attribute "volume": expected long, got 1.5 (not an integer)`, 0, "volume"},
		{"small exponent for int", `{"qty":15e-1}`, `expected int, got 15e-1 (not an integer)`, 0, "qty"},
		{"int overflow", `{"qty":2147483648}`, `expected int, got 2147483648 (out of range)`, 0, "qty"},
		{"int underflow", `{"qty":-2147483649}`, `expected int, got -2147483649 (out of range)`, 0, "qty"},
		{"long overflow", `{"volume":9223372036854775808}`, `expected long, got 9223372036854775808 (out of range)`, 0, "volume"},
		{"long exponent overflow", `{"volume":1e19}`, `expected long, got 1e19 (out of range)`, 0, "volume"},
		{"long huge exponent", `{"volume":1e99999999999999999999}`, `(out of range)`, 0, "volume"},
		{"double overflow", `{"price":1e400}`, `expected double, got 1e400 (out of range)`, 0, "price"},
		{"float overflow", `{"ratio":3.5e38}`, `expected float, got 3.5e38 (out of range)`, 0, "ratio"},
		{"leading zero", `{"qty":01}`, `expected ',' or '}' after an object member, found '1'`, 0, ""},
		{"lone minus", `{"qty":-}`, `expected a digit, found '}'`, 0, ""},
		{"bare fraction", `{"price":1.}`, `expected a digit after the decimal point`, 0, ""},
		{"bare exponent", `{"price":1e+}`, `expected a digit in the exponent`, 0, ""},
		{"plus sign", `{"price":+1}`, `expected a value, found '+'`, 0, ""},
		{"NaN", `{"price":NaN}`, `expected a value, found 'N'`, 0, ""},
		{"bad literal", `{"ok":tru}`, `expected a value, found 't'`, 0, ""},
		{"bad null", `{"ok":nul}`, `expected a value, found 'n'`, 0, ""},
		{"unterminated string", `{"symbol":"abc`, "unterminated string", 0, ""},
		{"unterminated escape", `{"symbol":"abc\`, "unterminated string", 0, ""},
		{"bad escape", `{"symbol":"a\x"}`, `invalid escape 'x' in string`, 0, ""},
		{"bad unicode escape", `{"symbol":"a\u12G4"}`, `invalid \u escape`, 0, ""},
		{"control char", "{\"symbol\":\"a\tb\"}", "control character byte 0x09 in string", 0, ""},
		{"control char escaped path", "{\"symbol\":\"\\n\x01\"}", "control character byte 0x01 in string", 0, ""},
		{"invalid utf8", "{\"symbol\":\"a\xffb\"}", "invalid UTF-8 in string", 0, ""},
		{"invalid utf8 escaped path", "{\"symbol\":\"\\na\xc3\"}", "invalid UTF-8 in string", 0, ""},
		{"deep unknown", `{"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, "nested more than 512 deep", 0, ""},
		{"bad unknown", `{"x":[1,,2]}`, "expected a value, found ','", 0, ""},
		{"bad unknown object", `{"x":{"a" 1}}`, "expected ':' after an object key", 0, ""},
	}
	d := mustDecoder(t, stockSchema, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := d.Decode([]byte(tc.body))
			if err == nil {
				t.Fatalf("Decode(%q) = %v, want error containing %q", tc.body, rows, tc.want)
			}
			if rows != nil {
				t.Errorf("Decode returned rows %v with an error", rows)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *Error", err)
			}
			if de.Event != tc.event || de.Attr != tc.attr {
				t.Errorf("error event, attr = %d, %q; want %d, %q", de.Event, de.Attr, tc.event, tc.attr)
			}
			if de.Offset < 0 || de.Offset > len(tc.body) {
				t.Errorf("error offset %d outside body of %d bytes", de.Offset, len(tc.body))
			}
		})
	}
}

func TestDecodeErrorOffset(t *testing.T) {
	d := mustDecoder(t, stockSchema, nil)
	body := `{"symbol":"a","price":"x"}`
	_, err := d.Decode([]byte(body))
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("Decode error = %v, want *Error", err)
	}
	if want := strings.Index(body, `"x"`); de.Offset != want {
		t.Errorf("Offset = %d, want %d", de.Offset, want)
	}
	if want := `json: event 0: attribute "price": expected double, got a string (at byte 22)`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestDecodeMissingAllowed(t *testing.T) {
	d := mustDecoder(t, stockSchema, map[string]string{"fail.on.missing.attribute": "false"})
	got, err := d.Decode([]byte(`[{"event":{"symbol":"a","qty":3}},{}]`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := [][]event.Value{
		{event.StringValue("a"), {}, {}, event.IntValue(3), {}, {}},
		make([]event.Value, 6),
	}
	if !rowsEqual(got, want) {
		t.Errorf("Decode = %v, want %v", got, want)
	}
}

func TestDecodeEventAttribute(t *testing.T) {
	// A stream may have an attribute named "event": it takes the key's value
	// unless that is an object, which is always Siddhi's wrapper.
	s := &event.Schema{Name: "S", Attrs: []event.Attribute{
		{Name: "event", Type: event.String},
		{Name: "n", Type: event.Long},
	}}
	d := mustDecoder(t, s, nil)
	got, err := d.Decode([]byte(`[{"event":"x","n":2},{"n":3,"event":null},{"event":{"event":"y","n":4}},{"event":"z","event":{"event":"w","n":5}}]`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := [][]event.Value{
		{event.StringValue("x"), event.LongValue(2)},
		{{}, event.LongValue(3)},
		{event.StringValue("y"), event.LongValue(4)},
		{event.StringValue("w"), event.LongValue(5)},
	}
	if !rowsEqual(got, want) {
		t.Errorf("Decode = %v, want %v", got, want)
	}
	_, err = d.Decode([]byte(`{"event":{"event":{},"n":2}}`))
	if err == nil || !strings.Contains(err.Error(), `attribute "event": expected string, got an object`) {
		t.Errorf("object inside the wrapper: %v", err)
	}
}

func TestDecodeRowsIndependent(t *testing.T) {
	// Rows share backing chunks; writing one must not change another.
	d := mustDecoder(t, stockSchema, nil)
	body := `[` + strings.Repeat(`{"symbol":"a","price":1,"volume":1,"qty":1,"ratio":1,"ok":true},`, 99) +
		`{"symbol":"z","price":1,"volume":1,"qty":1,"ratio":1,"ok":true}]`
	rows, err := d.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 100 {
		t.Fatalf("got %d rows, want 100", len(rows))
	}
	rows[0] = append(rows[0], event.StringValue("extra"))
	if rows[1][0].Str() != "a" || rows[99][0].Str() != "z" {
		t.Errorf("appending to row 0 changed other rows: %v %v", rows[1], rows[99])
	}
}

func TestNewDecoderErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema *event.Schema
		ms     source.MapSpec
		want   string
	}{
		{"xml", stockSchema, source.MapSpec{Type: "xml"}, `unknown map type "xml" (known: json)`},
		{"unknown option", stockSchema, source.MapSpec{Type: "json", Options: map[string]string{"enclosing.element": "$.x"}},
			`unknown option "enclosing.element" (known: fail.on.missing.attribute)`},
		{"bad bool", stockSchema, source.MapSpec{Options: map[string]string{"fail.on.missing.attribute": "yes"}}, `"yes" is not true or false`},
		{"nil schema", nil, source.MapSpec{}, "no stream schema"},
		{"duplicate attr", &event.Schema{Name: "S", Attrs: []event.Attribute{{Name: "a", Type: event.Int}, {Name: "a", Type: event.Long}}}, source.MapSpec{}, `duplicate attribute "a"`},
		{"null type", &event.Schema{Name: "S", Attrs: []event.Attribute{{Name: "a", Type: event.Null}}}, source.MapSpec{}, `unsupported type null`},
		{"object type", &event.Schema{Name: "S", Attrs: []event.Attribute{{Name: "o", Type: event.Object}}}, source.MapSpec{}, `attribute "o" has type object, which a source cannot supply`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(tc.schema, tc.ms)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewDecoder error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewDecoder(stockSchema, source.MapSpec{Type: "JSON"}); err != nil {
		t.Errorf("map type JSON: %v", err)
	}
}

func TestParseSimpleFloat(t *testing.T) {
	tests := []struct {
		tok string
		ok  bool
	}{
		{"0", true}, {"-0", true}, {"-0.0", true}, {"25.00", true}, {"0.1", true}, {"0.3", true},
		{"123456789012345", true}, {"12345678901234.5", true}, {"0.00000000000001", true},
		{"999999999999999", true}, {"-99999999999999.9", true}, {"9007199254740993", false},
		{"1234567890123456", false}, {"0.000000000000001", false}, {"1e5", false}, {"1.5E-3", false},
	}
	for _, tc := range tests {
		f, ok := parseSimpleFloat([]byte(tc.tok))
		if ok != tc.ok {
			t.Errorf("parseSimpleFloat(%s) ok = %v, want %v", tc.tok, ok, tc.ok)
			continue
		}
		want, err := strconv.ParseFloat(tc.tok, 64)
		if err != nil {
			t.Fatal(err)
		}
		if ok && math.Float64bits(f) != math.Float64bits(want) {
			t.Errorf("parseSimpleFloat(%s) = %v, strconv says %v", tc.tok, f, want)
		}
	}
	// Every accepted number must match strconv bit for bit.
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		intDigits, fracDigits := 1+r.IntN(15), r.IntN(16)
		var b []byte
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		b = append(b, byte('1'+r.IntN(9)))
		for range intDigits - 1 {
			b = append(b, byte('0'+r.IntN(10)))
		}
		if r.IntN(4) == 0 {
			b = []byte("0")
		}
		if fracDigits > 0 {
			b = append(b, '.')
			for range fracDigits {
				b = append(b, byte('0'+r.IntN(10)))
			}
		}
		f, ok := parseSimpleFloat(b)
		if !ok {
			continue
		}
		want, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("parseSimpleFloat(%s) = %v, strconv says %v", b, f, want)
		}
	}
}

// TestDecodeBatchShapes checks arrays whose first event misleads the size
// estimate either way, and wrapped events after keys that set attributes.
func TestDecodeBatchShapes(t *testing.T) {
	d := mustDecoder(t, stockSchema, nil)
	ev := func(i int, pad int) string {
		return fmt.Sprintf(`{"event":{"symbol":"S%d%s","price":%d.5,"volume":%d,"qty":%d,"ratio":0.5,"ok":true}}`,
			i, strings.Repeat("x", pad), i, i*10, i)
	}
	want := func(i int, pad int) []event.Value {
		return stock(fmt.Sprintf("S%d%s", i, strings.Repeat("x", pad)), float64(i)+0.5, int64(i*10), int32(i), 0.5, true)
	}
	tests := []struct {
		name string
		n    int
		pad  func(i int) int
		sep  string
	}{
		{"alike", 300, func(int) int { return 0 }, ","},
		{"first short", 300, func(i int) int { return min(i, 1) * 40 }, ","},
		{"first long", 300, func(i int) int { return (1 - min(i, 1)) * 200 }, ","},
		{"growing", 2000, func(i int) int { return i / 100 }, ",\n  "},
		{"one", 1, func(int) int { return 0 }, ","},
		{"beyond the estimate cap", maxEstimate + 10, func(int) int { return 0 }, ","},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			var rows [][]event.Value
			b.WriteString("[")
			for i := range tc.n {
				if i > 0 {
					b.WriteString(tc.sep)
				}
				b.WriteString(ev(i, tc.pad(i)))
				rows = append(rows, want(i, tc.pad(i)))
			}
			b.WriteString("]")
			got, err := d.Decode([]byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			if !rowsEqual(got, rows) {
				t.Fatalf("Decode differs from the events sent")
			}
			for i := range got {
				if len(got[i]) != len(stockSchema.Attrs) || cap(got[i]) != len(got[i]) {
					t.Fatalf("row %d has len %d cap %d", i, len(got[i]), cap(got[i]))
				}
			}
		})
	}
	// Keys before the wrapper set attributes that the wrapper's event
	// must not inherit, in every row of a batch.
	body := `[{"qty":9,"symbol":"NO","event":{"symbol":"a","price":1,"volume":1,"ratio":1,"ok":true,"qty":1}},` +
		`{"event":{"symbol":"b","price":2,"volume":2,"qty":2,"ratio":2,"ok":false}},` +
		`{"ok":true,"event":{"symbol":"c","price":3,"volume":3,"qty":3,"ratio":3}}]`
	if _, err := d.Decode([]byte(body)); err == nil || !strings.Contains(err.Error(), `event 2: missing attribute "ok"`) {
		t.Errorf("attribute beside the wrapper leaked into the event: %v", err)
	}
	lenient := mustDecoder(t, stockSchema, map[string]string{"fail.on.missing.attribute": "false"})
	got, err := lenient.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	third := stock("c", 3, 3, 3, 3, false)
	third[5] = event.Value{}
	if w := [][]event.Value{stock("a", 1, 1, 1, 1, true), stock("b", 2, 2, 2, 2, false), third}; !rowsEqual(got, w) {
		t.Errorf("Decode = %v, want %v", got, w)
	}
}
