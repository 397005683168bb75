package node

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/tandem-stream/tandem/cluster/coord"
)

// membersOnly is a coordinator whose Members answers from a list (or fails).
type membersOnly struct {
	coord.Coordinator
	members []coord.Member
	err     error
}

func (m *membersOnly) Members(context.Context) ([]coord.Member, error) { return m.members, m.err }

func TestMayTakeOver(t *testing.T) {
	rec := func(id, inSync string) coord.Member {
		return coord.Member{NodeInfo: coord.NodeInfo{ID: id, InSync: inSync}}
	}
	lapsed := coord.Lease{Holder: "a", Epoch: 3}
	tests := []struct {
		name    string
		lease   coord.Lease
		members []coord.Member
		err     error
		want    bool
	}{
		{"named in sync for this epoch", lapsed, []coord.Member{rec("a", "b@3"), rec("b", "")}, nil, true},
		{"named for an older epoch", lapsed, []coord.Member{rec("a", "b@2")}, nil, false},
		{"the active ran alone", lapsed, []coord.Member{rec("a", "")}, nil, false},
		{"another node named", lapsed, []coord.Member{rec("a", "c@3")}, nil, false},
		{"no record at all", lapsed, nil, nil, false},
		{"a valid lease is not taken over anyway", coord.Lease{Holder: "a", Epoch: 3, Valid: true}, nil, nil, true},
		{"never held", coord.Lease{}, nil, nil, true},
		{"its own lease", coord.Lease{Holder: "b", Epoch: 3}, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{cfg: &Config{}, deps: Deps{Coord: &membersOnly{members: tc.members, err: tc.err}},
				log: slog.New(slog.DiscardHandler), holderInSync: map[string]string{}}
			n.cfg.Node.ID = "b"
			if got, why := n.mayTakeOver(context.Background(), tc.lease); got != tc.want {
				t.Fatalf("mayTakeOver = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
	// A record read earlier still counts when the store cannot be read now.
	co := &membersOnly{members: []coord.Member{rec("a", "b@3")}}
	n := &Node{cfg: &Config{}, deps: Deps{Coord: co}, log: slog.New(slog.DiscardHandler), holderInSync: map[string]string{}}
	n.cfg.Node.ID = "b"
	if ok, _ := n.mayTakeOver(context.Background(), lapsed); !ok {
		t.Fatal("first look refused")
	}
	co.members, co.err = nil, errors.New("store down")
	if ok, why := n.mayTakeOver(context.Background(), lapsed); !ok {
		t.Fatalf("cached record not used: %s", why)
	}
}
