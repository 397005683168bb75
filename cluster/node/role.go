package node

import (
	"time"

	"github.com/tandem-stream/tandem/cluster/coord"
)

// Role is a node's part in its group.
type Role int

const (
	Passive Role = iota
	Active
)

func (r Role) String() string {
	if r == Active {
		return "active"
	}
	return "passive"
}

// ActionKind is something the role machine asks its driver to do.
type ActionKind int

const (
	// Promote: become the active at Epoch (restore, replay, open sinks, then sources).
	Promote ActionKind = iota + 1
	// Follow: connect to Holder as its passive.
	Follow
	// Fence: stop publishing at once; the lease may have run out.
	Fence
	// Unfence: the lease was renewed in time after all; publish again.
	Unfence
	// Demote: another node holds the lease; stop everything and rejoin as passive.
	Demote
	// Reacquire: the lease could not be renewed (it ran out, e.g. while the
	// store was down); ask for it again, keeping the live state if it is
	// still free, and feed the answer to Acquired.
	Reacquire
)

func (k ActionKind) String() string {
	return [...]string{"?", "promote", "follow", "fence", "unfence", "demote", "reacquire"}[k]
}

// Action is one instruction to the driver.
type Action struct {
	Kind   ActionKind
	Epoch  uint64
	Holder string
}

// Machine is the role logic of one node, in the manner of etcd's raft: a pure,
// deterministic state machine. It does no I/O and reads no clock: the driver
// tells it what the coordination store answered and what time it is (a
// monotonic offset), and carries out the actions it returns.
//
// Safety rests on one rule: the active's lease is good locally only until
// (the moment its last successful renewal was *sent*) + TTL - margin. The store
// starts the TTL no earlier than it received that renewal, so the active stops
// publishing before any successor can take the lease.
type Machine struct {
	id      string
	ttl     time.Duration
	margin  time.Duration
	role    Role
	epoch   uint64
	goodTil time.Duration // active: local monotonic deadline of the lease
	fenced  bool
	leader  string // passive: the holder we follow
}

// NewMachine returns a passive machine for node id with lease ttl.
func NewMachine(id string, ttl time.Duration) *Machine {
	margin := max(ttl/10, 50*time.Millisecond)
	return &Machine{id: id, ttl: ttl, margin: margin}
}

func (m *Machine) Role() Role         { return m.role }
func (m *Machine) Epoch() uint64      { return m.epoch }
func (m *Machine) Fenced() bool       { return m.fenced }
func (m *Machine) Leader() string     { return m.leader }
func (m *Machine) ID() string         { return m.id }
func (m *Machine) TTL() time.Duration { return m.ttl }

// Acquired feeds the answer to an Acquire call sent at sentAt: a passive's,
// or an active's after Reacquire.
func (m *Machine) Acquired(sentAt time.Duration, l coord.Lease, held bool, err error) []Action {
	if err != nil {
		return nil
	}
	if m.role == Active {
		if !held {
			m.role, m.fenced, m.leader = Passive, false, ""
			return []Action{{Kind: Demote, Epoch: m.epoch}}
		}
		m.epoch = l.Epoch
		m.goodTil = max(m.goodTil, sentAt+m.ttl-m.margin)
		if m.fenced {
			m.fenced = false
			return []Action{{Kind: Unfence, Epoch: m.epoch}}
		}
		return nil
	}
	if held {
		m.role, m.epoch, m.fenced, m.leader = Active, l.Epoch, false, ""
		m.goodTil = sentAt + m.ttl - m.margin
		return []Action{{Kind: Promote, Epoch: l.Epoch}}
	}
	m.epoch = max(m.epoch, l.Epoch)
	if l.Valid && l.Holder != "" && l.Holder != m.leader {
		m.leader = l.Holder
		return []Action{{Kind: Follow, Holder: l.Holder, Epoch: l.Epoch}}
	}
	return nil
}

// Renewed feeds the answer to a Renew call sent at sentAt. ok=false with no
// error means the lease is definitely gone; an error means the store could not
// be asked, and the lease stays good until its local deadline.
func (m *Machine) Renewed(sentAt time.Duration, ok bool, err error) []Action {
	if m.role != Active {
		return nil
	}
	switch {
	case err != nil:
		return nil
	case !ok:
		return []Action{{Kind: Reacquire, Epoch: m.epoch}}
	}
	m.goodTil = max(m.goodTil, sentAt+m.ttl-m.margin)
	if m.fenced {
		m.fenced = false
		return []Action{{Kind: Unfence, Epoch: m.epoch}}
	}
	return nil
}

// Tick tells the machine the time; an active whose lease ran out locally fences.
func (m *Machine) Tick(now time.Duration) []Action {
	if m.role == Active && !m.fenced && now >= m.goodTil {
		m.fenced = true
		return []Action{{Kind: Fence, Epoch: m.epoch}}
	}
	return nil
}

// Released is called after a graceful release of the lease: the node is passive.
func (m *Machine) Released() {
	m.role, m.fenced, m.leader = Passive, false, ""
}

// GoodUntil is the active's local lease deadline (a monotonic offset).
func (m *Machine) GoodUntil() time.Duration { return m.goodTil }

// LeaseLeft is how long the active's lease is still good locally at now.
func (m *Machine) LeaseLeft(now time.Duration) time.Duration {
	if m.role != Active {
		return 0
	}
	return max(m.goodTil-now, 0)
}
