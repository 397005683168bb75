package filesink

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
)

var schema = &event.Schema{Name: "Out", Attrs: []event.Attribute{
	{Name: "symbol", Type: event.String},
	{Name: "price", Type: event.Double},
}}

func out(n int, sym string, price float64) sink.Output {
	return sink.Output{ID: "app/Out/0/" + strconv.Itoa(n), Ordinal: uint64(n), Epoch: 1,
		Event: event.Event{Data: []event.Value{event.StringValue(sym), event.DoubleValue(price)}}}
}

func newSink(t *testing.T, options map[string]string) *Sink {
	t.Helper()
	s, err := New(sink.Spec{App: "app", ID: "Out/0", Stream: schema, Type: "file", Options: options, Map: source.MapSpec{Type: "json"}}, sink.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Errorf("line %q is not valid JSON", sc.Text())
		}
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestPublish(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "out.json")
	s := newSink(t, map[string]string{"file.uri": path})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file exists before the first Publish: %v", err)
	}
	ctx := context.Background()
	if err := s.Publish(ctx, []sink.Output{out(1, "WSO2", 55.6), out(2, `I"B\M`, 75)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, []sink.Output{out(3, "X", -1.5)}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"id":"app/Out/0/1","event":{"symbol":"WSO2","price":55.6}}`,
		`{"id":"app/Out/0/2","event":{"symbol":"I\"B\\M","price":75.0}}`,
		`{"id":"app/Out/0/3","event":{"symbol":"X","price":-1.5}}`,
	}
	if got := readLines(t, path); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("file =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, []sink.Output{out(4, "Y", 1)}); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A new sink on the same file appends by default ...
	s2 := newSink(t, map[string]string{"file.uri": "file://" + path})
	if err := s2.Publish(ctx, []sink.Output{out(4, "Y", 1)}); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if got := readLines(t, path); len(got) != 4 {
		t.Errorf("after append: %d lines, want 4", len(got))
	}
	// ... and truncates with append='false'.
	s3 := newSink(t, map[string]string{"file.uri": "file:" + path, "append": "false"})
	if err := s3.Publish(ctx, []sink.Output{out(5, "Z", 2)}); err != nil {
		t.Fatal(err)
	}
	s3.Close()
	if got := readLines(t, path); len(got) != 1 || !strings.Contains(got[0], `"app/Out/0/5"`) {
		t.Errorf("after truncate: %q", got)
	}
}

// shortFile writes only part of what it is given and then fails.
type shortFile struct {
	*os.File
}

func (f shortFile) Write(b []byte) (int, error) {
	n, _ := f.File.Write(b[:len(b)/2])
	return n, errors.New("disk full")
}

func TestPartialWriteRolledBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	s := newSink(t, map[string]string{"file.uri": path})
	ctx := context.Background()
	if err := s.Publish(ctx, []sink.Output{out(1, "A", 1)}); err != nil {
		t.Fatal(err)
	}
	good := s.f
	s.f = shortFile{good.(*os.File)}
	err := s.Publish(ctx, []sink.Output{out(2, "B", 2), out(3, "C", 3)})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Publish = %v, want disk full", err)
	}
	if got := readLines(t, path); len(got) != 1 {
		t.Fatalf("after a failed batch the file has %d lines %q, want the 1 before it", len(got), got)
	}
	s.f = good
	if err := s.Publish(ctx, []sink.Output{out(2, "B", 2), out(3, "C", 3)}); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 3 {
		t.Errorf("after the retry: %d lines, want 3", len(got))
	}
}

func TestPublishErrors(t *testing.T) {
	dir := t.TempDir()
	// The parent "directory" is a file, so the sink cannot create it.
	blocker := filepath.Join(dir, "f")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, map[string]string{"file.uri": filepath.Join(blocker, "out.json")})
	if err := s.Publish(context.Background(), []sink.Output{out(1, "A", 1)}); err == nil {
		t.Error("Publish under a file succeeded")
	}
	s2 := newSink(t, map[string]string{"file.uri": filepath.Join(dir, "ok.json")})
	bad := sink.Output{ID: "x", Event: event.Event{Data: []event.Value{event.IntValue(1)}}}
	if err := s2.Publish(context.Background(), []sink.Output{bad}); err == nil || !strings.Contains(err.Error(), "output x") {
		t.Errorf("Publish(short event) = %v", err)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct{ raw, want, err string }{
		{"/tmp/out.json", "/tmp/out.json", ""},
		{"out/x.json", "out/x.json", ""},
		{"file:///tmp/a%20b.json", "/tmp/a b.json", ""},
		{"FILE:/tmp/x.json", "/tmp/x.json", ""},
		{"file://localhost/tmp/x.json", "/tmp/x.json", ""},
		{"file:rel/x.json", "rel/x.json", ""},
		{"/tmp/a/../b.json", "/tmp/b.json", ""},
		{"file://host/tmp/x", "", "only local files"},
		{"http://h/x", "", `scheme "http" is not file`},
		{"/tmp/dir/", "", "names a directory"},
		{"file://", "", "has no path"},
		{"file:///x?y", "", "query or fragment"},
	}
	for _, tc := range tests {
		got, err := parsePath(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parsePath(%q) = %q, %v; want error %q", tc.raw, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parsePath(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		options map[string]string
		mp      source.MapSpec
		want    string
	}{
		{"no uri", nil, source.MapSpec{}, `option "file.uri" is required`},
		{"unknown option", map[string]string{"file.uri": "/x", "add.line.separator": "true"}, source.MapSpec{}, `unknown option "add.line.separator" (known: append, file.uri)`},
		{"bad append", map[string]string{"file.uri": "/x", "append": "maybe"}, source.MapSpec{}, `"maybe" is not true or false`},
		{"map type", map[string]string{"file.uri": "/x"}, source.MapSpec{Type: "csv"}, `unknown map type "csv"`},
		{"bad uri", map[string]string{"file.uri": "s3://bucket/x"}, source.MapSpec{}, `scheme "s3" is not file`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Factory(sink.Spec{App: "app", Stream: schema, Options: tc.options, Map: tc.mp}, sink.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Factory error = %v, want %q", err, tc.want)
			}
		})
	}
}
