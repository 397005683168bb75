package host

import (
	"fmt"

	"github.com/tandem-stream/tandem/cluster/repl"
)

// Entry is one record of an app's input log: an input event (Payload holds its
// values as encoded by event.AppendValues) or a timer tick. It is the
// replication wire's entry, so shipping the log copies nothing.
type Entry = repl.Entry

const (
	EventEntry  = repl.EventEntry
	TickEntry   = repl.TickEntry
	DigestEntry = repl.DigestEntry
)

// EntryKind tells events, ticks and digest points apart.
type EntryKind = repl.EntryKind

// memLog holds the entries after base, contiguous. It is not safe for
// concurrent use: App guards it with its mutex.
//
// Trimming moves the start of entries forward in store, and moves the
// entries kept back to the front only once at least as many were trimmed
// before them, so each entry is moved at most once on average: the active
// trims after every applied batch and acknowledgement while thousands of
// entries may wait behind them, and the passive trims at each checkpoint.
type memLog struct {
	base    uint64  // LSN of the entry just before entries[0]
	entries []Entry // a window of store that extends to its end
	store   []Entry // backing array, of full length
}

func (l *memLog) last() uint64 { return l.base + uint64(len(l.entries)) }

func (l *memLog) append(e Entry) error {
	if e.LSN != l.last()+1 {
		return fmt.Errorf("log gap: have up to LSN %d, got %d", l.last(), e.LSN)
	}
	if len(l.entries) == cap(l.entries) {
		l.makeRoom()
	}
	l.entries = append(l.entries, e)
	return nil
}

// minStore is the capacity of a log's first backing array.
const minStore = 256

// makeRoom makes room for an entry after entries, which end at the end of
// store, by growing store: trim has left fewer entries trimmed before them
// than there are entries.
func (l *memLog) makeRoom() {
	n := len(l.entries)
	grown := make([]Entry, max(2*n, minStore))
	copy(grown, l.entries)
	l.store = grown
	l.entries = grown[:n]
}

// from returns up to max entries starting at lsn. The slice aliases the log;
// callers must not keep it across a trim.
func (l *memLog) from(lsn uint64, max int) []Entry {
	if lsn <= l.base {
		lsn = l.base + 1
	}
	i := lsn - l.base - 1
	if i >= uint64(len(l.entries)) {
		return nil
	}
	end := uint64(len(l.entries))
	if max > 0 && end-i > uint64(max) {
		end = i + uint64(max)
	}
	return l.entries[i:end:end]
}

// trim drops entries at or below lsn.
func (l *memLog) trim(lsn uint64) {
	if lsn <= l.base {
		return
	}
	if lsn >= l.last() {
		l.reset(lsn)
		return
	}
	n := lsn - l.base
	clear(l.entries[:n]) // let their payloads go
	l.entries = l.entries[n:]
	l.base = lsn
	end := len(l.store) - cap(l.entries) + len(l.entries)
	if head := end - len(l.entries); len(l.entries) <= head {
		kept := copy(l.store, l.entries) // no overlap: head >= kept
		clear(l.store[head:end])         // the old places of the entries moved
		l.entries = l.store[:kept]
	}
}

// reset empties the log so that the next entry is base+1.
func (l *memLog) reset(base uint64) {
	clear(l.entries)
	l.entries = l.store[:0]
	l.base = base
}

// keyRing remembers the idempotency keys of the newest logged batches, with the
// LSN each was logged at, so a sender's retry after a failover is dropped.
type keyRing struct {
	max  int
	lsn  map[string]uint64
	fifo []string
	head int
}

func newKeyRing(max int) *keyRing {
	return &keyRing{max: max, lsn: make(map[string]uint64)}
}

func (k *keyRing) has(key string) bool {
	_, ok := k.lsn[key]
	return ok
}

func (k *keyRing) add(key string, lsn uint64) {
	if _, ok := k.lsn[key]; ok {
		return
	}
	k.lsn[key] = lsn
	if len(k.fifo) < k.max {
		k.fifo = append(k.fifo, key)
		return
	}
	delete(k.lsn, k.fifo[k.head])
	k.fifo[k.head] = key
	k.head = (k.head + 1) % k.max
}

// upTo returns the keys logged at or below lsn, oldest first.
func (k *keyRing) upTo(lsn uint64) (keys []string, lsns []uint64) {
	n := len(k.fifo)
	for i := 0; i < n; i++ {
		key := k.fifo[(k.head+i)%n]
		if l := k.lsn[key]; l <= lsn {
			keys = append(keys, key)
			lsns = append(lsns, l)
		}
	}
	return keys, lsns
}
