package jsonmap

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

// Encoder turns events of one stream into JSON. It is immutable after
// NewEncoder and safe for concurrent use.
type Encoder struct {
	schema *event.Schema
	keys   [][]byte // `"name":` per attribute, escaped once
}

// NewEncoder returns an encoder for schema configured by a @sink's @map
// annotation. The JSON sink mapping has no options.
func NewEncoder(schema *event.Schema, ms source.MapSpec) (*Encoder, error) {
	if err := checkSpec(ms); err != nil {
		return nil, err
	}
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	e := &Encoder{schema: schema, keys: make([][]byte, len(schema.Attrs))}
	for i, a := range schema.Attrs {
		e.keys[i] = append(AppendString(nil, a.Name), ':')
	}
	return e, nil
}

// AppendEvent appends Siddhi's JSON form of an event, {"event":{...}}.
func (e *Encoder) AppendEvent(dst []byte, data []event.Value) ([]byte, error) {
	dst = append(dst, `{"event":`...)
	dst, err := e.AppendAttrs(dst, data)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// AppendAttrs appends the attribute object of an event, {"a":1,...}.
func (e *Encoder) AppendAttrs(dst []byte, data []event.Value) ([]byte, error) {
	if len(data) != len(e.keys) {
		return dst, fmt.Errorf("json: stream %s has %d attributes, event has %d values", e.schema.Name, len(e.keys), len(data))
	}
	dst = append(dst, '{')
	for i, v := range data {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.keys[i]...)
		dst = AppendValue(dst, v)
	}
	return append(dst, '}'), nil
}

// AppendValue appends v as a JSON value. Numbers print as Siddhi prints them
// (event.Value.String); NaN and infinities, which JSON cannot hold, become null.
// Object values are marshalled with encoding/json, or written as their string
// form when that fails.
func AppendValue(dst []byte, v event.Value) []byte {
	switch v.Type() {
	case event.Null:
		return append(dst, "null"...)
	case event.Int, event.Long:
		return strconv.AppendInt(dst, v.Int(), 10)
	case event.Float, event.Double:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		bits := 64
		if v.Type() == event.Float {
			bits = 32
		}
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'f', -1, bits)
		for _, c := range dst[start:] {
			if c == '.' {
				return dst
			}
		}
		return append(dst, ".0"...)
	case event.Bool:
		return strconv.AppendBool(dst, v.Bool())
	case event.String:
		return AppendString(dst, v.Str())
	}
	b, err := json.Marshal(v.Obj())
	if err != nil {
		return AppendString(dst, fmt.Sprint(v.Obj()))
	}
	return append(dst, b...)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped so the output is also valid JavaScript.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
