package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
)

// DefaultPoolSize is the number of pre-built events per input stream in the
// standard workload.
const DefaultPoolSize = 1 << 20

// symbols is how many distinct strings a string attribute takes: "SYM0" to
// "SYM99".
const symbols = 100

// pools builds and keeps one event pool per stream shape, so that every query
// and run over S shares one pool and the pools are built outside the
// measurement.
type pools struct {
	size  int
	byKey map[string][][]event.Value
}

func newPools(size int) *pools {
	return &pools{size: size, byKey: map[string][][]event.Value{}}
}

// get returns the pool for streams of schema's attribute types, building it
// on first use.
func (p *pools) get(schema *event.Schema) ([][]event.Value, error) {
	key := shapeKey(schema)
	if pool, ok := p.byKey[key]; ok {
		return pool, nil
	}
	pool, err := buildPool(schema, p.size, seedFor(key))
	if err != nil {
		return nil, err
	}
	p.byKey[key] = pool
	return pool, nil
}

// has reports whether the pool for schema's shape is built.
func (p *pools) has(schema *event.Schema) bool {
	_, ok := p.byKey[shapeKey(schema)]
	return ok
}

// shapeKey names a stream's shape: its attribute types in order.
func shapeKey(schema *event.Schema) string {
	types := make([]string, len(schema.Attrs))
	for i, a := range schema.Attrs {
		types[i] = a.Type.String()
	}
	return strings.Join(types, ",")
}

// seedFor gives every stream shape its own fixed seed, so runs are
// repeatable and S2's events are not S's.
func seedFor(key string) uint64 {
	var h uint64 = 14695981039346656037 // FNV-1a
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h
}

// buildPool draws size events for schema the way BENCHMARKS.md says: strings
// uniform over "SYM0".."SYM99", doubles (and floats) uniform in [0, 100),
// longs (and ints) uniform in [0, 1000). The rows share one backing array and
// the strings are interned, as a sender reusing its objects would have them.
func buildPool(schema *event.Schema, size int, seed uint64) ([][]event.Value, error) {
	if size <= 0 {
		return nil, fmt.Errorf("bench: pool size %d: must be positive", size)
	}
	width := len(schema.Attrs)
	for _, a := range schema.Attrs {
		switch a.Type {
		case event.String, event.Double, event.Float, event.Long, event.Int, event.Bool:
		default:
			return nil, fmt.Errorf("bench: stream %s: no generator for attribute %s of type %s", schema.Name, a.Name, a.Type)
		}
	}
	syms := make([]event.Value, symbols)
	for i := range syms {
		syms[i] = event.StringValue("SYM" + strconv.Itoa(i))
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	backing := make([]event.Value, width*size)
	pool := make([][]event.Value, size)
	for i := range pool {
		row := backing[i*width : (i+1)*width : (i+1)*width]
		for j, a := range schema.Attrs {
			switch a.Type {
			case event.String:
				row[j] = syms[rng.IntN(symbols)]
			case event.Double:
				row[j] = event.DoubleValue(rng.Float64() * 100)
			case event.Float:
				// Rounding to float32 can reach 100 itself: keep below it.
				row[j] = event.FloatValue(min(float32(rng.Float64()*100), math.Nextafter32(100, 0)))
			case event.Long:
				row[j] = event.LongValue(rng.Int64N(1000))
			case event.Int:
				row[j] = event.IntValue(rng.Int32N(1000))
			case event.Bool:
				row[j] = event.BoolValue(rng.IntN(2) == 1)
			}
		}
		pool[i] = row
	}
	return pool, nil
}
