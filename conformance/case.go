// Package conformance replays Siddhi's own test cases, recorded as data (see
// the README beside the case files), against the engine and compares the
// outputs with the ones Siddhi produced.
//
// A case runs on a virtual clock: sleeps advance the clock and fire the
// timers due meanwhile, and nothing really sleeps, so a run is fast and
// deterministic.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Case is one recorded test method: an app, the inputs the test sent and the
// outputs Siddhi delivered to the callbacks the test registered.
type Case struct {
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	App         string    `json:"app"`
	Playback    bool      `json:"playback"`
	Timing      bool      `json:"timing"`
	Inputs      []Input   `json:"inputs"`
	FinalSleep  int64     `json:"final_sleep_ms"`
	Expect      *Expect   `json:"expect"`
	Extra       []*Expect `json:"extra_expects"`
	ExpectError *string   `json:"expect_error"`
	Asserted    []string  `json:"asserted_by_test"`
}

// Input is one step of a case: a send of one event (Data) or of one chunk
// (Events), or an on-demand query (Query). Sleep comes before the step.
type Input struct {
	Stream    string     `json:"stream"`
	Data      []any      `json:"data"`
	Timestamp *int64     `json:"timestamp"`
	Offset    *int64     `json:"timestamp_offset_ms"`
	Sleep     int64      `json:"sleep_ms"`
	Events    []Event    `json:"events"`
	Query     string     `json:"query"`
	Expected  []OutEvent `json:"expect_events"`
	ExpectErr string     `json:"expect_error"`
}

// Event is one event of a chunk sent at once.
type Event struct {
	Data      []any  `json:"data"`
	Timestamp *int64 `json:"timestamp"`
	Offset    *int64 `json:"timestamp_offset_ms"`
}

// Expect is what one callback received.
type Expect struct {
	Target  string     `json:"stream_or_query"`
	Kind    string     `json:"kind"` // "query_callback" or "stream"
	Events  []OutEvent `json:"events"`
	Count   int        `json:"count"`
	Ordered bool       `json:"ordered"`
	Partial bool       `json:"partial"` // only Count is pinned
	Types   []*string  `json:"types"`
	Batches []int      `json:"batches"`
}

// OutEvent is one recorded output event. Numbers are json.Number, so that
// floats can be compared at their recorded precision.
type OutEvent struct {
	Data    []any `json:"data"`
	Expired bool  `json:"expired"`
}

// Load reads a case file: a JSON array of cases.
func Load(file string) ([]*Case, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	cases, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("conformance: %s: %w", file, err)
	}
	return cases, nil
}

// Decode parses the contents of a case file.
func Decode(b []byte) ([]*Case, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var cases []*Case
	if err := dec.Decode(&cases); err != nil {
		return nil, err
	}
	for i, c := range cases {
		if c == nil {
			return nil, fmt.Errorf("case %d is null", i)
		}
		if c.ID == "" {
			return nil, fmt.Errorf("case %d has no id", i)
		}
	}
	return cases, nil
}
