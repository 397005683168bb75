package node

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
)

const ms = time.Millisecond

func kinds(as []Action) []ActionKind {
	var out []ActionKind
	for _, a := range as {
		out = append(out, a.Kind)
	}
	return out
}

func TestMachine(t *testing.T) {
	errStore := errors.New("store down")
	type step struct {
		name string
		do   func(m *Machine) []Action
		want []ActionKind
		role Role
	}
	other := coord.Lease{Holder: "b", Epoch: 4, Valid: true}
	tests := []struct {
		name  string
		steps []step
	}{
		{"follows the holder once, then takes the lease with its epoch", []step{
			{"sees b", func(m *Machine) []Action { return m.Acquired(0, other, false, nil) }, []ActionKind{Follow}, Passive},
			{"sees b again", func(m *Machine) []Action { return m.Acquired(500*ms, other, false, nil) }, nil, Passive},
			{"takes it", func(m *Machine) []Action {
				return m.Acquired(2500*ms, coord.Lease{Holder: "a", Epoch: 5, Valid: true}, true, nil)
			}, []ActionKind{Promote}, Active},
		}},
		{"store errors keep the active until its local deadline, then fence, then unfence on renewal", []step{
			{"takes it", func(m *Machine) []Action { return m.Acquired(0, coord.Lease{Epoch: 1}, true, nil) }, []ActionKind{Promote}, Active},
			{"renew fails", func(m *Machine) []Action { return m.Renewed(500*ms, false, errStore) }, nil, Active},
			{"before deadline", func(m *Machine) []Action { return m.Tick(1700 * ms) }, nil, Active},
			{"at deadline (ttl 2s - margin 200ms)", func(m *Machine) []Action { return m.Tick(1800 * ms) }, []ActionKind{Fence}, Active},
			{"fenced once only", func(m *Machine) []Action { return m.Tick(1900 * ms) }, nil, Active},
			{"renewed", func(m *Machine) []Action { return m.Renewed(2000*ms, true, nil) }, []ActionKind{Unfence}, Active},
			{"good until 3.8s", func(m *Machine) []Action { return m.Tick(3700 * ms) }, nil, Active},
		}},
		{"a lease taken by another node demotes", []step{
			{"takes it", func(m *Machine) []Action { return m.Acquired(0, coord.Lease{Epoch: 1}, true, nil) }, []ActionKind{Promote}, Active},
			{"renewal refused", func(m *Machine) []Action { return m.Renewed(500*ms, false, nil) }, []ActionKind{Reacquire}, Active},
			{"another holds it", func(m *Machine) []Action { return m.Acquired(510*ms, other, false, nil) }, []ActionKind{Demote}, Passive},
			{"follows the new holder", func(m *Machine) []Action { return m.Acquired(600*ms, other, false, nil) }, []ActionKind{Follow}, Passive},
		}},
		{"a lease that ran out while the store was down is taken back with the live state", []step{
			{"takes it", func(m *Machine) []Action { return m.Acquired(0, coord.Lease{Epoch: 1}, true, nil) }, []ActionKind{Promote}, Active},
			{"store down", func(m *Machine) []Action { return m.Renewed(500*ms, false, errStore) }, nil, Active},
			{"fenced", func(m *Machine) []Action { return m.Tick(1800 * ms) }, []ActionKind{Fence}, Active},
			{"store back, lease expired", func(m *Machine) []Action { return m.Renewed(3000*ms, false, nil) }, []ActionKind{Reacquire}, Active},
			{"still free: ours again", func(m *Machine) []Action {
				return m.Acquired(3010*ms, coord.Lease{Holder: "a", Epoch: 1, Valid: true}, true, nil)
			}, []ActionKind{Unfence}, Active},
			{"good until 4.81s", func(m *Machine) []Action { return m.Tick(4800 * ms) }, nil, Active},
		}},
		{"the deadline counts from when the renewal was sent, not answered", []step{
			{"takes it", func(m *Machine) []Action { return m.Acquired(0, coord.Lease{Epoch: 1}, true, nil) }, []ActionKind{Promote}, Active},
			{"slow renewal sent at 100ms", func(m *Machine) []Action { return m.Renewed(100*ms, true, nil) }, nil, Active},
			{"fences at 1.9s", func(m *Machine) []Action { return m.Tick(1900 * ms) }, []ActionKind{Fence}, Active},
		}},
		{"an acquire error changes nothing", []step{
			{"error", func(m *Machine) []Action { return m.Acquired(0, coord.Lease{}, false, errStore) }, nil, Passive},
			{"expired lease is not followed", func(m *Machine) []Action {
				return m.Acquired(0, coord.Lease{Holder: "b", Epoch: 3}, false, nil)
			}, nil, Passive},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine("a", 2*time.Second)
			for _, s := range tc.steps {
				if got := kinds(s.do(m)); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("%s: actions %v, want %v", s.name, got, s.want)
				}
				if m.Role() != s.role {
					t.Fatalf("%s: role %v, want %v", s.name, m.Role(), s.role)
				}
			}
		})
	}
}
