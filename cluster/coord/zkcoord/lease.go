package zkcoord

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/cluster/coord/internal/check"
)

// leaseZnode is the lease as read: its data, version and mtime.
type leaseZnode struct {
	leaseData
	version int32
	mtime   int64
}

// expiry is the end of the lease in Unix milliseconds on the store clock;
// 0 for a lease never held, as in sqlcoord.
func (l leaseZnode) expiry() int64 {
	if l.Holder == "" {
		return 0
	}
	return l.mtime + l.TTLms
}

// at is the lease as seen at now on the store clock.
func (l leaseZnode) at(now int64) coord.Lease {
	return coord.Lease{
		Holder: l.Holder,
		Epoch:  l.Epoch,
		Expiry: time.UnixMilli(l.expiry()).UTC(),
		Valid:  l.Holder != "" && l.expiry() > now,
	}
}

func (s *Store) readLease(ctx context.Context) (leaseZnode, error) {
	return do(ctx, s, func(c *zk.Conn) (leaseZnode, error) {
		data, st, err := c.Get(s.leasePath)
		if err != nil {
			return leaseZnode{}, missing(s.leasePath, err)
		}
		l, err := decodeLease(data)
		if err != nil {
			return leaseZnode{}, fmt.Errorf("%s: %w", s.leasePath, err)
		}
		return leaseZnode{leaseData: l, version: st.Version, mtime: st.Mtime}, nil
	})
}

// writeLease sets the lease if it is still at version and returns its new
// mtime.
func (s *Store) writeLease(ctx context.Context, l leaseData, version int32) (int64, error) {
	return do(ctx, s, func(c *zk.Conn) (int64, error) {
		st, err := c.Set(s.leasePath, encodeLease(l), version)
		if err != nil {
			return 0, err
		}
		return st.Mtime, nil
	})
}

// Lease reads the current lease and the store clock in one transaction.
func (s *Store) Lease(ctx context.Context) (coord.Lease, error) {
	var out coord.Lease
	err := retry(ctx, func() error {
		l, err := s.readLease(ctx)
		if err != nil {
			return err
		}
		now, err := s.now(ctx, s.leasePath, l.version)
		if err != nil {
			return err
		}
		out = l.at(now)
		return nil
	})
	if err != nil {
		return coord.Lease{}, fmt.Errorf("zkcoord: lease of group %q: %w", s.group, err)
	}
	return out, nil
}

// Acquire takes the lease for node if it is free, expired or node's. Only
// taking it from another holder needs the clock: the lease is read, found
// expired at a time read atomically with its version, then set on that
// version.
func (s *Store) Acquire(ctx context.Context, node string, ttl time.Duration) (coord.Lease, bool, error) {
	if err := check.ID("node id", node); err != nil {
		return coord.Lease{}, false, fmt.Errorf("zkcoord: acquire: %w", err)
	}
	if err := check.Duration("lease ttl", ttl); err != nil {
		return coord.Lease{}, false, fmt.Errorf("zkcoord: acquire by %q: %w", node, err)
	}
	var out coord.Lease
	var held bool
	err := retry(ctx, func() error {
		l, err := s.readLease(ctx)
		if err != nil {
			return err
		}
		if l.Holder != node && l.Holder != "" {
			now, err := s.now(ctx, s.leasePath, l.version)
			if err != nil {
				return err
			}
			if l.expiry() > now {
				out, held = l.at(now), false
				return nil
			}
		}
		next := leaseData{Holder: node, Epoch: l.Epoch, TTLms: ttl.Milliseconds()}
		if l.Holder != node {
			next.Epoch++
			if err := check.Epoch(next.Epoch); err != nil {
				return err
			}
		}
		mtime, err := s.writeLease(ctx, next, l.version)
		if err != nil {
			return err
		}
		if next.Epoch != l.Epoch {
			s.log.Info("lease taken", "node", node, "epoch", next.Epoch, "from", l.Holder)
		}
		out = leaseZnode{leaseData: next, mtime: mtime}.at(mtime)
		held = true
		return nil
	})
	if err != nil {
		return coord.Lease{}, false, fmt.Errorf("zkcoord: acquire by %q in group %q: %w", node, s.group, err)
	}
	return out, held, nil
}

// Renew extends node's lease at epoch by ttl from now on the store clock.
// The lease must still be valid at a time read atomically with its
// version, and the extension is set on that version, so a lease taken over
// meanwhile is never extended. A lease that expires between that time and
// the write, with nobody taking it, is extended: at worst by the round
// trip of one request, and without a change of holder in between.
func (s *Store) Renew(ctx context.Context, node string, epoch uint64, ttl time.Duration) (bool, error) {
	if err := check.ID("node id", node); err != nil {
		return false, fmt.Errorf("zkcoord: renew: %w", err)
	}
	if err := check.Duration("lease ttl", ttl); err != nil {
		return false, fmt.Errorf("zkcoord: renew by %q: %w", node, err)
	}
	if err := check.Epoch(epoch); err != nil {
		return false, fmt.Errorf("zkcoord: renew by %q: %w", node, err)
	}
	ok, err := s.update(ctx, node, epoch, ttl.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("zkcoord: renew by %q at epoch %d in group %q: %w", node, epoch, s.group, err)
	}
	return ok, nil
}

// Release ends node's lease at epoch now on the store clock, keeping
// holder and epoch: it writes a ttl of zero. Releasing a lease node does
// not hold (any more) is a no-op.
func (s *Store) Release(ctx context.Context, node string, epoch uint64) error {
	if err := check.ID("node id", node); err != nil {
		return fmt.Errorf("zkcoord: release: %w", err)
	}
	if err := check.Epoch(epoch); err != nil {
		return fmt.Errorf("zkcoord: release by %q: %w", node, err)
	}
	ok, err := s.update(ctx, node, epoch, 0)
	if err != nil {
		return fmt.Errorf("zkcoord: release by %q at epoch %d in group %q: %w", node, epoch, s.group, err)
	}
	if ok {
		s.log.Info("lease released", "node", node, "epoch", epoch)
	}
	return nil
}

// update sets the ttl of node's valid lease at epoch, counting from now;
// false if node does not hold a valid lease at epoch.
func (s *Store) update(ctx context.Context, node string, epoch uint64, ttlMs int64) (bool, error) {
	var ok bool
	err := retry(ctx, func() error {
		l, err := s.readLease(ctx)
		if err != nil {
			return err
		}
		if l.Holder != node || l.Epoch != epoch {
			ok = false
			return nil
		}
		now, err := s.now(ctx, s.leasePath, l.version)
		if err != nil {
			return err
		}
		if l.expiry() <= now {
			ok = false
			return nil
		}
		if _, err := s.writeLease(ctx, leaseData{Holder: node, Epoch: epoch, TTLms: ttlMs}, l.version); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return ok, err
}
