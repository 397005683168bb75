package logsink

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Out", Attrs: []event.Attribute{
	{Name: "symbol", Type: event.String},
	{Name: "price", Type: event.Double},
	{Name: "n", Type: event.Long},
}}

func outputs() []sink.Output {
	return []sink.Output{
		{ID: "app/Out/0/1", Ordinal: 1, Epoch: 3, Event: event.Event{Timestamp: 1000,
			Data: []event.Value{event.StringValue("WSO2"), event.DoubleValue(55.6), event.LongValue(100)}}},
		{ID: "app/Out/0/2", Ordinal: 2, Epoch: 3, Event: event.Event{Timestamp: 2000, Expired: true,
			Data: []event.Value{event.StringValue("IBM"), event.DoubleValue(75), event.NullValue()}}},
	}
}

// logRecords publishes outputs through a log sink configured by options and
// map, returning the JSON log records.
func logRecords(t *testing.T, options map[string]string, mp source.MapSpec, level slog.Level) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	s, err := Factory(sink.Spec{App: "app", ID: "Out/0", Stream: schema, Type: "log", Options: options, Map: mp}, sink.Env{Logger: logger})
	if err != nil {
		t.Fatalf("Factory: %v", err)
	}
	defer s.Close()
	if err := s.Publish(context.Background(), outputs()); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	var recs []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

func TestPassThrough(t *testing.T) {
	recs := logRecords(t, nil, source.MapSpec{}, slog.LevelInfo)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	r := recs[0]
	if r["msg"] != "app : Out" || r["level"] != "INFO" || r["id"] != "app/Out/0/1" || r["timestamp"] != 1000.0 {
		t.Errorf("record 0 = %v", r)
	}
	ev, _ := r["event"].(map[string]any)
	if ev["symbol"] != "WSO2" || ev["price"] != "55.6" || ev["n"] != 100.0 {
		t.Errorf("record 0 event = %v", ev)
	}
	if _, ok := r["expired"]; ok {
		t.Error("current event logged as expired")
	}
	ev, _ = recs[1]["event"].(map[string]any)
	if ev["price"] != "75.0" || ev["n"] != nil || recs[1]["expired"] != true {
		t.Errorf("record 1 = %v", recs[1])
	}
}

func TestJSONMap(t *testing.T) {
	recs := logRecords(t, map[string]string{"prefix": "Stocks", "priority": "warn"}, source.MapSpec{Type: "json"}, slog.LevelInfo)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	if recs[0]["msg"] != "Stocks" || recs[0]["level"] != "WARN" {
		t.Errorf("record 0 = %v", recs[0])
	}
	if want := `{"event":{"symbol":"WSO2","price":55.6,"n":100}}`; recs[0]["event"] != want {
		t.Errorf("event = %v, want %s", recs[0]["event"], want)
	}
	if want := `{"event":{"symbol":"IBM","price":75.0,"n":null}}`; recs[1]["event"] != want {
		t.Errorf("event = %v, want %s", recs[1]["event"], want)
	}
}

func TestPriorityFiltered(t *testing.T) {
	if recs := logRecords(t, map[string]string{"priority": "DEBUG"}, source.MapSpec{}, slog.LevelInfo); len(recs) != 0 {
		t.Errorf("DEBUG records logged at INFO level: %v", recs)
	}
	recs := logRecords(t, map[string]string{"priority": "ERROR"}, source.MapSpec{Type: "PassThrough"}, slog.LevelInfo)
	if len(recs) != 2 || recs[0]["level"] != "ERROR" {
		t.Errorf("records = %v, want 2 at ERROR", recs)
	}
}

func TestPublishErrors(t *testing.T) {
	s, err := New(sink.Spec{App: "app", Stream: schema}, sink.Env{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.logger = slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	bad := []sink.Output{{ID: "x", Event: event.Event{Data: []event.Value{event.IntValue(1)}}}}
	if err := s.Publish(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "output x: stream has 3 attributes, event has 1 values") {
		t.Errorf("Publish(short event) = %v", err)
	}
	s.Close()
	if err := s.Publish(context.Background(), outputs()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Publish after Close = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		options map[string]string
		mp      source.MapSpec
		want    string
	}{
		{"unknown option", map[string]string{"prefix": "p", "level": "INFO"}, source.MapSpec{}, `log sink: unknown option "level" (known: prefix, priority)`},
		{"priority", map[string]string{"priority": "LOUD"}, source.MapSpec{}, `"LOUD" is not one of DEBUG, INFO, WARN, ERROR`},
		{"map type", nil, source.MapSpec{Type: "xml"}, `unknown map type "xml" (known: json, passThrough)`},
		{"json option", nil, source.MapSpec{Type: "json", Options: map[string]string{"validate.json": "true"}}, `unknown option "validate.json"`},
		{"passThrough option", nil, source.MapSpec{Options: map[string]string{"x": "y"}}, `@map(type='passThrough'): unknown option "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(sink.Spec{App: "app", Stream: schema, Options: tc.options, Map: tc.mp}, sink.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(sink.Spec{App: "app"}, sink.Env{}); err == nil {
		t.Error("nil schema accepted")
	}
}
