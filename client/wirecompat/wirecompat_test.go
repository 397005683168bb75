// Package wirecompat checks that the client's copy of the status types reads
// every field the node writes. It is a package of its own so that the client
// package's tests do not build the node.
package wirecompat

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/client"
	"github.com/tandem-stream/tandem/cluster/node"
	"github.com/tandem-stream/tandem/host"
	"github.com/tandem-stream/tandem/persist"
)

// TestStatusRoundTrip encodes a node's status with every field set, decodes
// it as the client does and encodes that again: both JSON texts must hold the
// same values, so no field was lost or renamed.
func TestStatusRoundTrip(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	st := node.Status{
		Node: "node-a", Group: "g", Role: "active", Epoch: 7, Fenced: true, Leader: "node-a",
		DataAddr: "10.0.0.1:8281",
		Peer:     &node.PeerStatus{Node: "node-b", Synced: true, LagEvents: 12, RTTMillis: 0.25},
		Members:  []node.MemberState{{ID: "node-b", API: "10.0.0.2:9091", Alive: true, LastSeen: ts}},
		Apps: []node.AppStatus{{Inactive: "no state from the active", Status: host.Status{
			Name: "trades", Role: "active", Epoch: 7, LastLSN: 100, Committed: 99, Applied: 98,
			PeerAttached: true, PeerAck: 97, Published: map[string]uint64{"Out": 5},
			LastCheckpoint: &persist.Manifest{App: "trades", AppHash: "h", Epoch: 6, LSN: 90, Revision: 3,
				Checksum: "c", Size: 1234, Created: ts},
		}}},
	}
	want, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var cs client.Status
	dec := json.NewDecoder(bytes.NewReader(want))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cs); err != nil {
		t.Fatalf("the client cannot read every field of the node's status: %v", err)
	}
	got, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("status changed on the way through the client:\nnode:   %s\nclient: %s", want, got)
	}
}
