// Package event defines Tandem's in-memory event representation: typed values,
// events, stream schemas, and the compact binary codec used by the replication
// log and by state snapshots.
//
// A Value is a small tagged union passed by value. Its fields are private so the
// engine can change the layout for speed without touching its users.
package event

import (
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// Type is a SiddhiQL attribute type. The zero Type is Null, the type of the null
// literal; schemas never use it.
type Type uint8

const (
	Null Type = iota
	Int
	Long
	Float
	Double
	Bool
	String
	Object
)

var typeNames = [...]string{Null: "null", Int: "int", Long: "long", Float: "float", Double: "double", Bool: "bool", String: "string", Object: "object"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType maps a SiddhiQL type keyword (case-insensitive) to a Type.
func ParseType(s string) (Type, bool) {
	switch lower(s) {
	case "int":
		return Int, true
	case "long":
		return Long, true
	case "float":
		return Float, true
	case "double":
		return Double, true
	case "bool":
		return Bool, true
	case "string":
		return String, true
	case "object":
		return Object, true
	}
	return Null, false
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// IsNumeric reports whether t is int, long, float or double.
func (t Type) IsNumeric() bool { return t >= Int && t <= Double }

// Value is one attribute value. The zero Value is null.
//
// A Value is 32 bytes with a single pointer word, because windows copy
// values by the million and every pointer word copied into the heap costs a
// write barrier while the collector runs. An object lives in a box the
// string's data pointer refers to, with length 0: the pointer keeps the box
// alive, and Str still gives "" for it. Strings stay strings, so values
// compare by content with == and reflect.DeepEqual as before.
type Value struct {
	n uint64 // int/long as int64 bits, float/double as float64 bits, bool as 0/1
	s string // the string; for an object, a zero-length view of its *objectBox
	t Type
}

// objectBox holds an object value's contents.
type objectBox struct{ v any }

func (v Value) box() *objectBox {
	return (*objectBox)(unsafe.Pointer(unsafe.StringData(v.s)))
}

func NullValue() Value           { return Value{} }
func IntValue(v int32) Value     { return Value{t: Int, n: uint64(int64(v))} }
func LongValue(v int64) Value    { return Value{t: Long, n: uint64(v)} }
func FloatValue(v float32) Value { return Value{t: Float, n: math.Float64bits(float64(v))} }
func DoubleValue(v float64) Value {
	return Value{t: Double, n: math.Float64bits(v)}
}
func StringValue(v string) Value { return Value{t: String, s: v} }
func ObjectValue(v any) Value {
	if v == nil {
		return Value{}
	}
	b := &objectBox{v: v}
	return Value{t: Object, s: unsafe.String((*byte)(unsafe.Pointer(b)), 0)}
}
func BoolValue(v bool) Value {
	if v {
		return Value{t: Bool, n: 1}
	}
	return Value{t: Bool}
}

// Type returns the value's type; Null for null.
func (v Value) Type() Type   { return v.t }
func (v Value) IsNull() bool { return v.t == Null }

// Int returns an int or long value as int64 (truncating floats). Null gives 0.
func (v Value) Int() int64 {
	switch v.t {
	case Int, Long:
		return int64(v.n)
	case Float, Double:
		return int64(math.Float64frombits(v.n))
	case Bool:
		return int64(v.n)
	}
	return 0
}

// Float returns a numeric value as float64. Null gives 0.
func (v Value) Float() float64 {
	switch v.t {
	case Int, Long:
		return float64(int64(v.n))
	case Float, Double:
		return math.Float64frombits(v.n)
	}
	return 0
}

func (v Value) Bool() bool  { return v.t == Bool && v.n != 0 }
func (v Value) Str() string { return v.s }

// Obj returns an object value's contents, and nil for any other type.
func (v Value) Obj() any {
	if v.t != Object {
		return nil
	}
	return v.box().v
}

// Equal reports whether two values have the same type and contents.
func (v Value) Equal(w Value) bool {
	if v.t != w.t {
		return false
	}
	if v.t == Object {
		return v.box().v == w.box().v
	}
	return v.n == w.n && v.s == w.s
}

// Any returns the value as a plain Go value: nil, int32, int64, float32, float64,
// bool, string or the object.
func (v Value) Any() any {
	switch v.t {
	case Int:
		return int32(int64(v.n))
	case Long:
		return int64(v.n)
	case Float:
		return float32(math.Float64frombits(v.n))
	case Double:
		return math.Float64frombits(v.n)
	case Bool:
		return v.n != 0
	case String:
		return v.s
	case Object:
		return v.box().v
	}
	return nil
}

// String formats the value the way Siddhi's Java toString would.
func (v Value) String() string {
	switch v.t {
	case Null:
		return "null"
	case Int, Long:
		return strconv.FormatInt(int64(v.n), 10)
	case Float:
		return formatJavaFloat(math.Float64frombits(v.n), 32)
	case Double:
		return formatJavaFloat(math.Float64frombits(v.n), 64)
	case Bool:
		return strconv.FormatBool(v.n != 0)
	case String:
		return v.s
	default:
		return fmt.Sprint(v.Obj())
	}
}

func formatJavaFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s
		}
	}
	return s + ".0"
}

// Convert coerces v to type t following SiddhiQL's numeric widening rules
// (int -> long -> float -> double); it reports false when the value cannot be
// represented as t. Null converts to null of any type.
func Convert(v Value, t Type) (Value, bool) {
	if v.t == t || v.t == Null {
		return v, true
	}
	switch t {
	case Long:
		if v.t == Int {
			return LongValue(int64(v.n)), true
		}
	case Float:
		if v.t == Int || v.t == Long {
			return FloatValue(float32(int64(v.n))), true
		}
		if v.t == Double {
			return FloatValue(float32(math.Float64frombits(v.n))), true
		}
	case Double:
		if v.t == Int || v.t == Long {
			return DoubleValue(float64(int64(v.n))), true
		}
		if v.t == Float {
			return DoubleValue(math.Float64frombits(v.n)), true
		}
	case Int:
		if v.t == Long && int64(v.n) == int64(int32(int64(v.n))) {
			return IntValue(int32(int64(v.n))), true
		}
	case Object:
		return ObjectValue(v.Any()), true
	}
	return v, false
}

// Event is one event: a timestamp in milliseconds and its attribute values.
// Expired marks events that leave a window (Siddhi's EXPIRED events).
type Event struct {
	Timestamp int64
	Data      []Value
	Expired   bool
}

// Attribute is one named, typed field of a stream.
type Attribute struct {
	Name string
	Type Type
}

// Schema describes a stream: its name and ordered attributes.
type Schema struct {
	Name  string
	Attrs []Attribute
}

// Index returns the position of the named attribute, or -1.
func (s *Schema) Index(name string) int {
	for i, a := range s.Attrs {
		if a.Name == name {
			return i
		}
	}
	return -1
}
