package event

import (
	"math"
	"reflect"
	"testing"
	"unsafe"
)

func TestValueSize(t *testing.T) {
	// The engine's windows copy values by the million: keep them small.
	if got := unsafe.Sizeof(Value{}); got > 32 {
		t.Errorf("Value is %d bytes, want at most 32", got)
	}
}

func TestValueAccessors(t *testing.T) {
	obj := []int{1, 2}
	tests := []struct {
		name   string
		v      Value
		typ    Type
		i      int64
		f      float64
		b      bool
		str    string
		any    any
		format string
	}{
		{"null", NullValue(), Null, 0, 0, false, "", nil, "null"},
		{"int", IntValue(-7), Int, -7, -7, false, "", int32(-7), "-7"},
		{"long", LongValue(1 << 40), Long, 1 << 40, 1 << 40, false, "", int64(1 << 40), "1099511627776"},
		{"float", FloatValue(1.5), Float, 1, 1.5, false, "", float32(1.5), "1.5"},
		{"double", DoubleValue(2), Double, 2, 2, false, "", float64(2), "2.0"},
		{"double nan", DoubleValue(math.NaN()), Double, int64(math.NaN()), math.NaN(), false, "", math.NaN(), "NaN"},
		{"double -inf", DoubleValue(math.Inf(-1)), Double, int64(math.Inf(-1)), math.Inf(-1), false, "", math.Inf(-1), "-Infinity"},
		{"true", BoolValue(true), Bool, 1, 0, true, "", true, "true"},
		{"false", BoolValue(false), Bool, 0, 0, false, "", false, "false"},
		{"string", StringValue("IBM"), String, 0, 0, false, "IBM", "IBM", "IBM"},
		{"empty string", StringValue(""), String, 0, 0, false, "", "", ""},
		{"object", ObjectValue(obj), Object, 0, 0, false, "", obj, "[1 2]"},
		{"nil object", ObjectValue(nil), Null, 0, 0, false, "", nil, "null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v.Type() != tc.typ || v.IsNull() != (tc.typ == Null) {
				t.Errorf("Type() = %v, IsNull() = %v, want %v", v.Type(), v.IsNull(), tc.typ)
			}
			if v.Int() != tc.i {
				t.Errorf("Int() = %d, want %d", v.Int(), tc.i)
			}
			if f := v.Float(); f != tc.f && !(math.IsNaN(f) && math.IsNaN(tc.f)) {
				t.Errorf("Float() = %v, want %v", f, tc.f)
			}
			if v.Bool() != tc.b || v.Str() != tc.str {
				t.Errorf("Bool() = %v, Str() = %q, want %v, %q", v.Bool(), v.Str(), tc.b, tc.str)
			}
			if a := v.Any(); !reflect.DeepEqual(a, tc.any) && !(tc.name == "double nan" && math.IsNaN(a.(float64))) {
				t.Errorf("Any() = %#v, want %#v", a, tc.any)
			}
			if s := v.String(); s != tc.format {
				t.Errorf("String() = %q, want %q", s, tc.format)
			}
			if tc.typ == Object {
				if !reflect.DeepEqual(v.Obj(), obj) {
					t.Errorf("Obj() = %v, want %v", v.Obj(), obj)
				}
			} else if v.Obj() != nil {
				t.Errorf("Obj() = %v on a %v, want nil", v.Obj(), tc.typ)
			}
		})
	}
}

func TestValueEqual(t *testing.T) {
	a, b := new(int), new(int)
	tests := []struct {
		v, w Value
		want bool
	}{
		{NullValue(), NullValue(), true},
		{IntValue(1), IntValue(1), true},
		{IntValue(1), LongValue(1), false},
		{DoubleValue(1), FloatValue(1), false},
		{StringValue("ab"), StringValue(string([]byte{'a', 'b'})), true},
		{StringValue(""), NullValue(), false},
		{StringValue("a"), StringValue("b"), false},
		{ObjectValue(a), ObjectValue(a), true},
		{ObjectValue(a), ObjectValue(b), false},
		{ObjectValue("x"), StringValue("x"), false},
		{BoolValue(true), BoolValue(true), true},
		{BoolValue(true), BoolValue(false), false},
	}
	for _, tc := range tests {
		if got := tc.v.Equal(tc.w); got != tc.want {
			t.Errorf("%v(%v).Equal(%v(%v)) = %v, want %v", tc.v.Type(), tc.v, tc.w.Type(), tc.w, got, tc.want)
		}
		// Strings and numbers also compare by content with ==.
		if tc.v.Type() != Object && tc.w.Type() != Object && (tc.v == tc.w) != tc.want {
			t.Errorf("%v(%v) == %v(%v) is %v, want %v", tc.v.Type(), tc.v, tc.w.Type(), tc.w, tc.v == tc.w, tc.want)
		}
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		v    Value
		to   Type
		want Value
		ok   bool
	}{
		{IntValue(3), Long, LongValue(3), true},
		{LongValue(3), Int, IntValue(3), true},
		{LongValue(1 << 40), Int, LongValue(1 << 40), false},
		{LongValue(3), Double, DoubleValue(3), true},
		{FloatValue(0.5), Double, DoubleValue(0.5), true},
		{DoubleValue(0.5), Float, FloatValue(0.5), true},
		{NullValue(), Int, NullValue(), true},
		{StringValue("x"), Int, StringValue("x"), false},
		{StringValue("x"), Object, ObjectValue("x"), true},
	}
	for _, tc := range tests {
		got, ok := Convert(tc.v, tc.to)
		if ok != tc.ok || got.Type() != tc.want.Type() || got.Any() != tc.want.Any() {
			t.Errorf("Convert(%v %v, %v) = %v %v, %v; want %v %v, %v", tc.v.Type(), tc.v, tc.to,
				got.Type(), got, ok, tc.want.Type(), tc.want, tc.ok)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	vs := []Value{NullValue(), IntValue(-1 << 31), LongValue(math.MaxInt64), FloatValue(-0.25),
		DoubleValue(math.Inf(1)), BoolValue(true), BoolValue(false), StringValue(""), StringValue("héllo")}
	b, err := AppendValues(nil, vs)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := ReadValues(b, nil)
	if err != nil || n != len(b) {
		t.Fatalf("ReadValues: %d of %d bytes, %v", n, len(b), err)
	}
	if !reflect.DeepEqual(got, vs) {
		t.Errorf("round trip: got %v, want %v", got, vs)
	}
	if _, err := AppendValue(nil, ObjectValue(1)); err != ErrObject {
		t.Errorf("AppendValue(object) = %v, want ErrObject", err)
	}
}

func TestReadValueErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {byte(Int)}, {byte(Int), 0x80, 0x80, 0x80, 0x80, 0x10}, {byte(Double), 1},
		{byte(String), 5, 'a'}, {0x7f}, {byte(Object)}} {
		if _, _, err := ReadValue(b); err == nil {
			t.Errorf("ReadValue(%x) gave no error", b)
		}
	}
}

func FuzzReadValues(f *testing.F) {
	seed, _ := AppendValues(nil, []Value{IntValue(1), StringValue("SYM1"), DoubleValue(3.5), BoolValue(true), NullValue()})
	f.Add(seed)
	f.Add([]byte{3, byte(String), 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, n, err := ReadValues(b, nil)
		if err != nil {
			return
		}
		again, err := AppendValues(nil, vs)
		if err != nil {
			t.Fatalf("re-encoding decoded values: %v", err)
		}
		back, m, err := ReadValues(again, nil)
		if err != nil || m != len(again) || !reflect.DeepEqual(back, vs) || n > len(b) {
			t.Fatalf("decode(encode(%v)) = %v, %d, %v", vs, back, m, err)
		}
	})
}
