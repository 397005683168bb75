package jsonmap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

var stockSpec = source.MapSpec{Type: "json"}

// batch100 is a 100-event body in Siddhi's default form.
func batch100() []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event":{"symbol":"SYM%d","price":%d.25,"volume":%d,"qty":%d,"ratio":0.5,"ok":%t}}`, i, 50+i, 1000*i, i, i%2 == 0)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func BenchmarkDecode(b *testing.B) {
	body := batch100()
	d := mustDecoder(b, stockSchema, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := d.Decode(body)
		if err != nil || len(rows) != 100 {
			b.Fatalf("Decode: %d rows, %v", len(rows), err)
		}
	}
}

// BenchmarkDecodeEncodingJSON is the same batch through encoding/json into
// generic maps, the obvious alternative, for comparison with BenchmarkDecode.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	body := batch100()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		jd := json.NewDecoder(bytes.NewReader(body))
		jd.UseNumber()
		var evs []struct {
			Event map[string]any `json:"event"`
		}
		if err := jd.Decode(&evs); err != nil || len(evs) != 100 {
			b.Fatalf("Decode: %d events, %v", len(evs), err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e, err := NewEncoder(stockSchema, stockSpec)
	if err != nil {
		b.Fatal(err)
	}
	row := []event.Value{event.StringValue("WSO2"), event.DoubleValue(55.6), event.LongValue(100),
		event.IntValue(7), event.FloatValue(1.5), event.BoolValue(true)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, err = e.AppendEvent(buf[:0], row)
		if err != nil {
			b.Fatal(err)
		}
	}
}
