package check

import (
	"strings"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
)

func TestID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true}, {"node-1.example.com", true}, {"Ä/ö", true}, {strings.Repeat("x", MaxIDLen), true},
		{"", false}, {strings.Repeat("x", MaxIDLen+1), false}, {"a\x00b", false}, {"\xff", false},
	} {
		if err := ID("node id", tc.id); (err == nil) != tc.ok {
			t.Errorf("ID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
	}
}

func TestNode(t *testing.T) {
	good := coord.NodeInfo{ID: "a", APIAddr: "127.0.0.1:1", ReplAddr: "[::1]:2", InSync: "d"}
	if err := Node(good); err != nil {
		t.Fatal(err)
	}
	for _, n := range []coord.NodeInfo{
		{},
		{ID: "a", APIAddr: strings.Repeat("x", MaxTextLen+1)},
		{ID: "a", ReplAddr: "\xff"},
		{ID: "a", DataAddr: "\x00"},
		{ID: "a", InSync: "\xfe"},
	} {
		if err := Node(n); err == nil {
			t.Errorf("Node(%+v) accepted", n)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{
		{time.Millisecond, true}, {time.Hour, true}, {365 * 24 * time.Hour, true},
		{0, false}, {-time.Second, false}, {time.Microsecond, false}, {366 * 24 * time.Hour, false},
	} {
		if err := Duration("ttl", tc.d); (err == nil) != tc.ok {
			t.Errorf("Duration(%v) = %v, want ok %v", tc.d, err, tc.ok)
		}
	}
}

func TestEpochAndApp(t *testing.T) {
	if Epoch(1<<63-1) != nil || Epoch(1<<63) == nil {
		t.Error("Epoch does not draw the line at the largest int64")
	}
	if err := App("a", make([]byte, coord.MaxAppSize)); err != nil {
		t.Errorf("App at the size limit: %v", err)
	}
	if App("a", make([]byte, coord.MaxAppSize+1)) == nil {
		t.Error("App above the size limit accepted")
	}
	if App("", nil) == nil || App("\xff", nil) == nil {
		t.Error("App with a bad name accepted")
	}
}
