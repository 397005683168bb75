package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/cluster/repl"
	"github.com/tandem-stream/tandem/event"
)

// TestHoldFor checks when the replication writer holds new entries back for
// the passive's acknowledgement of its last flush (group commit).
func TestHoldFor(t *testing.T) {
	dir := t.TempDir()
	appFile := filepath.Join(dir, "app.siddhi")
	if err := os.WriteFile(appFile, []byte("@app:name('H')\ndefine stream In (v long);\nfrom In select v insert into Out;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, dir, "a", appFile)
	waitActive(t, a)
	app := a.n.units[0].app
	rows := make([][]event.Value, 2*holdEntries)
	for i := range rows {
		rows[i] = []event.Value{event.LongValue(int64(i))}
	}
	if err := app.Ingest(context.Background(), "In", rows, ""); err != nil { // alone: committed at once
		t.Fatal(err)
	}
	last := app.LastLSN()
	r := &replServer{n: a.n}
	at := time.Now()
	tests := []struct {
		name    string
		from    uint64            // next LSN to ship
		flushed map[string]uint64 // last LSN of the newest flush
		acked   uint64
		outbox  bool
		now     time.Time
		hold    bool
	}{
		{"unacknowledged flush", last - 2, map[string]uint64{"H": last - 3}, last - 5, false, at, true},
		{"flush acknowledged", last - 2, map[string]uint64{"H": last - 3}, last - 3, false, at, false},
		{"nothing flushed yet", last - 2, map[string]uint64{}, 0, false, at, false},
		{"an app the passive never acknowledged", last - 2, map[string]uint64{"H": last - 3, "Other": 5}, last - 3, false, at, false},
		{"nothing new to ship", last + 1, map[string]uint64{"H": last}, last - 5, false, at, false},
		{"held long enough", last - 2, map[string]uint64{"H": last - 3}, last - 5, false, at.Add(maxHold), false},
		{"a checkpoint to send", last - 2, map[string]uint64{"H": last - 3}, last - 5, true, at, false},
		{"too many waiting", last - holdEntries + 1, map[string]uint64{"H": last - holdEntries}, 0, false, at, false},
		{"just under the bound", last - holdEntries + 2, map[string]uint64{"H": last - holdEntries + 1}, 0, false, at, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{lagLSN: map[string]uint64{"H": tc.acked}}
			if tc.outbox {
				s.outbox = []repl.Message{&repl.Ping{}}
			}
			wait := r.holdFor(s, map[string]uint64{"H": tc.from}, tc.flushed, at, tc.now)
			if (wait > 0) != tc.hold {
				t.Errorf("holdFor = %v, want hold %v", wait, tc.hold)
			}
			if wait > maxHold {
				t.Errorf("holdFor = %v, more than %v", wait, maxHold)
			}
			// While it holds, readAcks must wake it for each ack.
			if tc.hold && !s.holding.Load() {
				t.Errorf("holding flag not set while holding")
			}
		})
	}
}
