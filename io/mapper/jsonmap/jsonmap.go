// Package jsonmap implements Siddhi's JSON mapping between events and JSON
// text.
//
// Input (@source ... @map(type='json')): a body is one JSON object or an array
// of them. Each object is either Siddhi's default form, {"event": {"a": 1}},
// or the bare attribute object {"a": 1}. Values must match the stream's
// attribute types exactly: int and long take integral JSON numbers in range,
// float and double take any JSON number, string takes strings, bool takes
// true and false, and null is null for every type. Streams with object
// attributes cannot be decoded: the app's input log cannot store objects.
// Keys that are not attributes are ignored; a missing attribute is an error
// unless @map(fail.on.missing.attribute='false') makes it null.
//
// An object is read as the {"event": ...} wrapper when it has an "event" key
// whose value is an object (no attribute can take an object, so this is never
// ambiguous); its other keys are then ignored.
//
// Output (@sink ... @map(type='json')): an event becomes {"event":{"a":1,...}}
// with the attributes in stream order and floats printed as Siddhi prints them
// (55.6, 1.0). JSON has no NaN or infinities, so those are written as null.
package jsonmap

import (
	"fmt"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/source"
)

// IsJSON reports whether a @map type selects this mapper; "" selects it too,
// since JSON is the default mapping of Tandem's connectors.
func IsJSON(mapType string) bool {
	return mapType == "" || strings.EqualFold(mapType, "json")
}

// checkSpec validates the parts of a @map annotation common to both directions.
func checkSpec(ms source.MapSpec, allowed ...string) error {
	if !IsJSON(ms.Type) {
		return fmt.Errorf("@map: unknown map type %q (known: json)", ms.Type)
	}
	return opts.Check("@map(type='json')", ms.Options, allowed...)
}

func checkSchema(s *event.Schema) error {
	if s == nil {
		return fmt.Errorf("jsonmap: no stream schema")
	}
	seen := make(map[string]bool, len(s.Attrs))
	for _, a := range s.Attrs {
		if seen[a.Name] {
			return fmt.Errorf("jsonmap: stream %s: duplicate attribute %q", s.Name, a.Name)
		}
		seen[a.Name] = true
		switch a.Type {
		case event.Int, event.Long, event.Float, event.Double, event.Bool, event.String, event.Object:
		default:
			return fmt.Errorf("jsonmap: stream %s: attribute %q has unsupported type %s", s.Name, a.Name, a.Type)
		}
	}
	return nil
}
