package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

// memberZnode is a member as read.
type memberZnode struct {
	memberData
	stat *zk.Stat
}

func (m memberZnode) member(now int64) coord.Member {
	out := coord.Member{
		NodeInfo: coord.NodeInfo{ID: m.ID, APIAddr: m.APIAddr, ReplAddr: m.ReplAddr, DataAddr: m.DataAddr,
			InSync: m.InSync},
		LastSeen: time.UnixMilli(m.stat.Mtime).UTC(),
		Alive:    m.stat.Mtime+m.LiveForMs > now,
	}
	if m.StartedMs != 0 {
		out.StartedAt = time.UnixMilli(m.StartedMs).UTC()
	}
	return out
}

// readMembers reads every member znode; ones that vanish while being read
// (their session ended) are left out.
func (s *Store) readMembers(c *zk.Conn) ([]memberZnode, error) {
	names, _, err := c.Children(s.membersPath)
	if err != nil {
		return nil, missing(s.membersPath, err)
	}
	ms := make([]memberZnode, 0, len(names))
	for _, name := range names {
		id, err := unescape(name)
		if err != nil {
			return nil, fmt.Errorf("member %s/%s: %w", s.membersPath, name, err)
		}
		data, st, err := c.Get(s.membersPath + "/" + name)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read member %q: %w", id, err)
		}
		m, err := decodeMember(data)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", s.membersPath, name, err)
		}
		if m.ID != id {
			return nil, fmt.Errorf("%s/%s: holds node %q", s.membersPath, name, m.ID)
		}
		ms = append(ms, memberZnode{m, st})
	}
	return ms, nil
}

// Heartbeat records node as alive for liveFor from now on the store clock.
//
// It reads the members znode's version and the members, reads the clock in
// one transaction with a check of that version, and refuses the node if
// two others are alive then. Otherwise it writes the node's znode in one
// transaction with a set of the members znode on the version read: every
// heartbeat does, so if another heartbeat came in between, this one starts
// over, and two newcomers racing for one free place cannot both get it.
func (s *Store) Heartbeat(ctx context.Context, node coord.NodeInfo, liveFor time.Duration) error {
	if err := check.Node(node); err != nil {
		return fmt.Errorf("zkcoord: heartbeat: %w", err)
	}
	if err := check.Duration("liveness window", liveFor); err != nil {
		return fmt.Errorf("zkcoord: heartbeat of %q: %w", node.ID, err)
	}
	md := memberData{ID: node.ID, APIAddr: node.APIAddr, ReplAddr: node.ReplAddr, DataAddr: node.DataAddr,
		InSync: node.InSync, LiveForMs: liveFor.Milliseconds()}
	if !node.StartedAt.IsZero() {
		md.StartedMs = node.StartedAt.UnixMilli()
	}
	data := encodeMember(md)
	path := s.membersPath + "/" + escape(node.ID)
	var full []string
	err := retry(ctx, func() error {
		type snapshot struct {
			dir *zk.Stat
			ms  []memberZnode
		}
		snap, err := do(ctx, s, func(c *zk.Conn) (snapshot, error) {
			_, dir, err := c.Get(s.membersPath)
			if err != nil {
				return snapshot{}, missing(s.membersPath, err)
			}
			ms, err := s.readMembers(c)
			return snapshot{dir, ms}, err
		})
		if err != nil {
			return err
		}
		dir, ms := snap.dir, snap.ms
		now, err := s.now(ctx, s.membersPath, dir.Version)
		if err != nil {
			return err
		}
		full = nil
		var self *zk.Stat
		for _, m := range ms {
			switch {
			case m.ID == node.ID:
				self = m.stat
			case m.member(now).Alive:
				full = append(full, m.ID)
			}
		}
		if len(full) >= 2 {
			return nil
		}
		ops := []any{&zk.SetDataRequest{Path: s.membersPath, Version: dir.Version}}
		create := &zk.CreateRequest{Path: path, Data: data, Acl: s.acl, Flags: zk.FlagEphemeral}
		switch {
		case self == nil:
			ops = append(ops, create)
		case self.EphemeralOwner == s.conn.SessionID():
			ops = append(ops, &zk.SetDataRequest{Path: path, Data: data, Version: self.Version})
		default:
			// Created by an earlier session of this node (a restart, or
			// an expired session): take it over, or it would vanish when
			// that session ends.
			ops = append(ops, &zk.DeleteRequest{Path: path, Version: self.Version}, create)
		}
		return s.call(ctx, func(c *zk.Conn) error {
			_, err := c.Multi(ops...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("zkcoord: heartbeat of %q in group %q: %w", node.ID, s.group, err)
	}
	if len(full) >= 2 {
		s.log.Warn("node refused: group full", "node", node.ID, "live", full)
		return fmt.Errorf("zkcoord: node %q cannot join group %q: %s are alive: %w",
			node.ID, s.group, strings.Join(full, " and "), coord.ErrGroupFull)
	}
	return nil
}

// Members lists the group's nodes in id order. A node whose session ended
// (it closed its handle, or crashed and its session expired) is not listed,
// where sqlcoord lists it as not alive.
func (s *Store) Members(ctx context.Context) ([]coord.Member, error) {
	// The clock first: the server answering the reads below has then seen
	// every write up to that time.
	now, err := s.now(ctx, "", 0)
	if err != nil {
		return nil, fmt.Errorf("zkcoord: members of %q: %w", s.group, err)
	}
	ms, err := do(ctx, s, s.readMembers)
	if err != nil {
		return nil, fmt.Errorf("zkcoord: members of %q: %w", s.group, err)
	}
	out := make([]coord.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.member(now))
	}
	slices.SortFunc(out, func(a, b coord.Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
