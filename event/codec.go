package event

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The binary form of a value is one type byte followed by:
//
//	int, long: zig-zag varint; float, double: 8 bytes little-endian float64 bits;
//	bool: nothing (the type byte is Bool or boolTrue); string: uvarint length + bytes;
//	null: nothing. Objects cannot be encoded: they only exist inside a running engine.
const boolTrue = 0x80 | byte(Bool)

// ErrObject is returned when encoding an object value.
var ErrObject = errors.New("event: object values cannot be serialised")

// AppendValue appends the binary form of v to b.
func AppendValue(b []byte, v Value) ([]byte, error) {
	switch v.t {
	case Null:
		return append(b, byte(Null)), nil
	case Int, Long:
		b = append(b, byte(v.t))
		return binary.AppendVarint(b, int64(v.n)), nil
	case Float, Double:
		b = append(b, byte(v.t))
		return binary.LittleEndian.AppendUint64(b, v.n), nil
	case Bool:
		if v.n != 0 {
			return append(b, boolTrue), nil
		}
		return append(b, byte(Bool)), nil
	case String:
		b = append(b, byte(String))
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		return append(b, v.s...), nil
	}
	return b, ErrObject
}

// AppendValues appends a count followed by each value.
func AppendValues(b []byte, vs []Value) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	var err error
	for _, v := range vs {
		if b, err = AppendValue(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// ReadValue decodes one value from b, returning it and the number of bytes read.
func ReadValue(b []byte) (Value, int, error) {
	if len(b) == 0 {
		return Value{}, 0, errShort
	}
	switch b[0] {
	case byte(Null):
		return Value{}, 1, nil
	case byte(Int), byte(Long):
		x, n := binary.Varint(b[1:])
		if n <= 0 {
			return Value{}, 0, errShort
		}
		if b[0] == byte(Int) && x != int64(int32(x)) {
			return Value{}, 0, fmt.Errorf("event: int value %d out of range", x)
		}
		return Value{t: Type(b[0]), n: uint64(x)}, 1 + n, nil
	case byte(Float), byte(Double):
		if len(b) < 9 {
			return Value{}, 0, errShort
		}
		return Value{t: Type(b[0]), n: binary.LittleEndian.Uint64(b[1:])}, 9, nil
	case byte(Bool):
		return Value{t: Bool}, 1, nil
	case boolTrue:
		return Value{t: Bool, n: 1}, 1, nil
	case byte(String):
		l, n := binary.Uvarint(b[1:])
		if n <= 0 || l > uint64(len(b)-1-n) {
			return Value{}, 0, errShort
		}
		start := 1 + n
		return Value{t: String, s: string(b[start : start+int(l)])}, start + int(l), nil
	}
	return Value{}, 0, fmt.Errorf("event: unknown value tag 0x%02x", b[0])
}

// ReadValues decodes a count-prefixed list of values, appending to dst.
func ReadValues(b []byte, dst []Value) ([]Value, int, error) {
	cnt, n := binary.Uvarint(b)
	if n <= 0 {
		return dst, 0, errShort
	}
	if cnt > uint64(len(b)) { // every value takes at least one byte
		return dst, 0, errShort
	}
	off := n
	for i := uint64(0); i < cnt; i++ {
		v, m, err := ReadValue(b[off:])
		if err != nil {
			return dst, 0, err
		}
		dst = append(dst, v)
		off += m
	}
	return dst, off, nil
}

var errShort = errors.New("event: truncated value")
