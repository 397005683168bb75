package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/event"
)

func mustDecode(t *testing.T, s string) []*Case {
	t.Helper()
	cases, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestRun(t *testing.T) {
	const stream = `"app": "define stream S (sym string, price float, n long); @info(name='q') `
	tests := []struct {
		name   string
		cas    string
		status Status
		reason string // substring of Reason
		note   string // substring of Note
		want   []string
		got    []string
	}{
		{name: "pass", status: Passed, cas: `{"id": "a#1", ` + stream + `from S[n > 1] select sym, price insert into O;",
			"inputs": [{"stream": "S", "data": ["A", 55.6, 1]}, {"stream": "S", "data": ["B", 1.5, 2]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true,
			 "events": [{"data": ["B", 1.5], "expired": false}], "count": 1}}`},
		{name: "float compares as float32", status: Passed, cas: `{"id": "a#2", ` + stream + `from S select price insert into O;",
			"inputs": [{"stream": "S", "data": ["A", 55.6, 1]}],
			"expect": {"stream_or_query": "O", "kind": "stream", "ordered": true,
			 "events": [{"data": [55.6], "expired": false}], "count": 1}}`},
		{name: "mismatch", status: Failed, want: []string{`["B", 1.5]`}, got: []string{`["A", 55.6]`, `["B", 1.5]`},
			cas: `{"id": "a#3", ` + stream + `from S select sym, price insert into O;",
			"inputs": [{"stream": "S", "data": ["A", 55.6, 1]}, {"stream": "S", "data": ["B", 1.5, 2]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true,
			 "events": [{"data": ["B", 1.5], "expired": false}], "count": 1}}`},
		{name: "unordered", status: Passed, cas: `{"id": "a#4", ` + stream + `from S select sym insert into O;",
			"inputs": [{"stream": "S", "data": ["A", 1, 1]}, {"stream": "S", "data": ["B", 2, 2]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": false,
			 "events": [{"data": ["B"], "expired": false}, {"data": ["A"], "expired": false}], "count": 2}}`},
		{name: "expired flag", status: Failed, want: []string{`["A"] expired`}, got: []string{`["A"]`},
			cas: `{"id": "a#5", ` + stream + `from S select sym insert into O;",
			"inputs": [{"stream": "S", "data": ["A", 1, 1]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true,
			 "events": [{"data": ["A"], "expired": true}], "count": 1}}`},
		{name: "partial counts only", status: Passed, cas: `{"id": "a#6", ` + stream + `from S select sym insert into O;",
			"inputs": [{"stream": "S", "data": ["A", 1, 1]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "partial": true, "events": [], "count": 1}}`},
		{name: "expected error", status: Passed, cas: `{"id": "a#7", "app": "define stream S (a int); from S select b insert into O;",
			"inputs": [], "expect": null, "expect_error": "SiddhiAppCreationException: b"}`},
		{name: "accepted but should fail", status: Failed, reason: "was accepted",
			cas: `{"id": "a#8", "app": "define stream S (a int); from S select a insert into O;",
			"inputs": [], "expect": null, "expect_error": "SiddhiAppCreationException: x"}`},
		{name: "unsupported", status: Unsupported, reason: "pattern",
			cas: `{"id": "a#9", "app": "define stream S (a int); from e1=S -> e2=S select e1.a insert into O;",
			"inputs": [], "expect": null}`},
		{name: "on-demand query", status: Unsupported, reason: "on-demand",
			cas: `{"id": "a#10", "app": "define stream S (a int);", "inputs": [{"query": "from T select *"}], "expect": null}`},
		{name: "unknown query", status: Failed, reason: "no query nope",
			cas: `{"id": "a#11", "app": "define stream S (a int); from S select a insert into O;", "inputs": [],
			"expect": {"stream_or_query": "nope", "kind": "query_callback", "events": [], "count": 0}}`},
		{name: "untyped input neither way", status: Unsupported, reason: "do not match the stream definition",
			cas: `{"id": "a#12", ` + stream + `from S select sym insert into O;",
			"inputs": [{"stream": "S", "data": ["A", "x", 1]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true,
			 "events": [{"data": ["B"], "expired": false}], "count": 1}}`},
		{name: "untyped input left out", status: Passed, note: "left out",
			cas: `{"id": "a#16", ` + stream + `from S select sym insert into O;",
			"inputs": [{"stream": "S", "data": ["A", "x", 1]}, {"stream": "S", "data": ["B", 1.0, 1]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true,
			 "events": [{"data": ["B"], "expired": false}], "count": 1}}`},
		{name: "untyped input as it is", status: Passed, note: "as the Java test did",
			cas: `{"id": "a#17", ` + stream + `from S select sym, price insert into O;",
			"inputs": [{"stream": "S", "data": ["A", "x"]}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true,
			 "events": [{"data": ["A", "x"], "expired": false}], "count": 1}}`},
		{name: "sleep fires timers", status: Passed, cas: `{"id": "a#13", "timing": true,
			"app": "define stream S (a int); @info(name='q') from S#window.time(1 sec) select a insert all events into O;",
			"inputs": [{"stream": "S", "data": [1]}, {"stream": "S", "data": [2], "sleep_ms": 1500}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true, "count": 3,
			 "events": [{"data": [1], "expired": false}, {"data": [1], "expired": true}, {"data": [2], "expired": false}]}}`},
		{name: "timestamps and offsets", status: Passed, cas: `{"id": "a#14",
			"app": "define stream S (a int); @info(name='q') from S select a, eventTimestamp() as ts insert into O;",
			"inputs": [{"stream": "S", "data": [1], "timestamp": 42}, {"stream": "S", "data": [2], "timestamp_offset_ms": 5}],
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true, "count": 2,
			 "events": [{"data": [1, 42], "expired": false}, {"data": [2, 1700000000005], "expired": false}]}}`},
		{name: "playback heartbeat", status: Passed, cas: `{"id": "a#15", "playback": true,
			"app": "@app:playback(idle.time='100 millisecond', increment='1 sec') define stream S (a int); @info(name='q') from S#window.time(2 sec) select a insert expired events into O;",
			"inputs": [{"stream": "S", "data": [1], "timestamp": 1000}, {"stream": "S", "data": [2], "timestamp": 1500, "sleep_ms": 250}],
			"final_sleep_ms": 0,
			"expect": {"stream_or_query": "q", "kind": "query_callback", "ordered": true, "count": 1,
			 "events": [{"data": [1], "expired": true}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustDecode(t, "["+tc.cas+"]")[0]
			res := Run(c)
			if res.ID != c.ID {
				t.Errorf("id %q, want %q", res.ID, c.ID)
			}
			if res.Status != tc.status {
				t.Fatalf("status %v, want %v: %+v", res.Status, tc.status, res)
			}
			if !strings.Contains(res.Note, tc.note) {
				t.Errorf("note %q, want it to contain %q", res.Note, tc.note)
			}
			if !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", res.Reason, tc.reason)
			}
			if tc.want != nil {
				if len(res.Mismatches) != 1 {
					t.Fatalf("mismatches %+v", res.Mismatches)
				}
				m := res.Mismatches[0]
				if strings.Join(m.Want, "|") != strings.Join(tc.want, "|") || strings.Join(m.Got, "|") != strings.Join(tc.got, "|") {
					t.Errorf("want %q got %q, expected want %q got %q", m.Want, m.Got, tc.want, tc.got)
				}
			}
		})
	}
}

func TestKnownDeviationMarked(t *testing.T) {
	for id, why := range knownDeviations {
		c := mustDecode(t, `[{"id": "x", "app": "define stream S (a int); from S select a insert into O;",
			"inputs": [{"stream": "S", "data": [1]}],
			"expect": {"stream_or_query": "O", "kind": "stream", "ordered": true, "events": [], "count": 0}}]`)[0]
		c.ID = id
		res := Run(c)
		if res.Status != Failed || res.Deviation != why {
			t.Errorf("%s: %+v, want a failure marked as a known deviation", id, res)
		}
		break
	}
}

func TestMatchValue(t *testing.T) {
	num := func(s string) any { return json.Number(s) }
	tests := []struct {
		v    event.Value
		d    any
		want bool
	}{
		{event.FloatValue(55.6), num("55.6"), true},
		{event.DoubleValue(55.6), num("55.6"), true},
		{event.DoubleValue(float64(float32(55.6))), num("55.6"), false},
		{event.DoubleValue(float64(float32(55.6))), num("55.599998474121094"), true},
		{event.IntValue(3), num("3"), true},
		{event.LongValue(3), num("3.0"), false},
		{event.StringValue("a"), "a", true},
		{event.StringValue("1"), num("1"), false},
		{event.BoolValue(true), true, true},
		{event.BoolValue(false), true, false},
		{event.Value{}, nil, true},
		{event.IntValue(0), nil, false},
		{event.Value{}, num("0"), false},
		{event.DoubleValue(0), "NaN", false},
		{event.ObjectValue(int32(7)), num("7"), true},
		{event.ObjectValue("x"), "x", true},
	}
	for _, tc := range tests {
		if got := matchValue(tc.v, tc.d); got != tc.want {
			t.Errorf("matchValue(%v, %#v) = %v, want %v", tc.v, tc.d, got, tc.want)
		}
	}
}

func TestToValue(t *testing.T) {
	tests := []struct {
		typ     event.Type
		d       any
		want    event.Value
		wantErr bool
	}{
		{event.Int, json.Number("5"), event.IntValue(5), false},
		{event.Int, json.Number("5000000000"), event.Value{}, true},
		{event.Long, json.Number("5000000000"), event.LongValue(5000000000), false},
		{event.Float, json.Number("1.5"), event.FloatValue(1.5), false},
		{event.Double, json.Number("2"), event.DoubleValue(2), false},
		{event.String, "s", event.StringValue("s"), false},
		{event.String, json.Number("1"), event.Value{}, true},
		{event.Bool, "true", event.Value{}, true},
		{event.Bool, nil, event.Value{}, false},
		{event.Object, json.Number("3"), event.ObjectValue(int32(3)), false},
		{event.Object, json.Number("3.5"), event.ObjectValue(3.5), false},
	}
	for _, tc := range tests {
		got, err := toValue(tc.typ, tc.d)
		if (err != nil) != tc.wantErr {
			t.Errorf("toValue(%s, %#v): err %v, want error %v", tc.typ, tc.d, err, tc.wantErr)
			continue
		}
		if err == nil && !got.Equal(tc.want) && !(got.IsNull() && tc.want.IsNull()) {
			t.Errorf("toValue(%s, %#v) = %v, want %v", tc.typ, tc.d, got, tc.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, s := range []string{``, `{}`, `[null]`, `[{"app": "x"}]`, `[{"id": 3}]`} {
		if _, err := Decode([]byte(s)); err == nil {
			t.Errorf("Decode(%q): no error", s)
		}
	}
	if _, err := Load("testdata/does-not-exist.json"); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

// FuzzRun decodes arbitrary case files and runs what decodes: neither may
// panic, whatever the app and inputs.
func FuzzRun(f *testing.F) {
	f.Add(`[{"id": "a", "app": "define stream S (a int); from S#window.length(2) select sum(a) as s insert into O;",
		"inputs": [{"stream": "S", "data": [1]}, {"stream": "S", "data": [2], "sleep_ms": 10}],
		"expect": {"stream_or_query": "O", "kind": "stream", "ordered": true, "events": [{"data": [1]}], "count": 1}}]`)
	f.Add(`[{"id": "b", "app": "define stream S (a string);", "inputs": [{"stream": "S", "events": [{"data": ["x"], "timestamp": 4}]}],
		"expect": {"stream_or_query": "S", "kind": "stream", "partial": true, "count": 1}}]`)
	f.Add(`[{"id": "c", "app": "@app:playback(idle.time='1 sec', increment='1 sec') define stream S (a long);",
		"inputs": [{"stream": "S", "data": [9], "sleep_ms": 100000}], "expect_error": "x"}]`)
	f.Add(`[{"id": "d", "app": "", "inputs": [{"stream": "S", "data": [null]}], "expect": {"kind": "other"}}]`)
	f.Fuzz(func(t *testing.T, s string) {
		cases, err := Decode([]byte(s))
		if err != nil {
			return
		}
		for _, c := range cases {
			if len(c.Inputs) > 50 || c.FinalSleep > 1e9 {
				continue
			}
			if r := Run(c); strings.HasPrefix(r.Reason, "panic:") {
				t.Fatalf("%s: %s", c.ID, r.Reason)
			}
		}
	})
}
