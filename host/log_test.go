package host

import (
	"math/rand/v2"
	"testing"
)

// TestMemLogModel runs random appends, trims, resets and reads against a
// plain slice and checks that the log always holds exactly the entries after
// its base, that trimmed entries release their payloads, and that the backing
// array stays within twice the most entries ever held at once.
func TestMemLogModel(t *testing.T) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		var l memLog
		var model []uint64 // LSNs held
		base, maxHeld := uint64(0), 0
		for step := range 4000 {
			switch op := r.IntN(100); {
			case op < 60: // a burst of appends
				for range 1 + r.IntN(300) {
					lsn := l.last() + 1
					if err := l.append(Entry{LSN: lsn, Payload: []byte{byte(lsn)}}); err != nil {
						t.Fatal(err)
					}
					model = append(model, lsn)
				}
			case op < 97: // trim some, all, or nothing
				upTo := base + uint64(r.IntN(len(model)+2))
				l.trim(upTo)
				for len(model) > 0 && model[0] <= upTo {
					model = model[1:]
				}
				if upTo > base {
					base = upTo
				}
			case op < 99:
				base += uint64(r.IntN(5))
				l.reset(base)
				model = model[:0]
			default:
				if err := l.append(Entry{LSN: l.last() + 2}); err == nil {
					t.Fatal("a gap was accepted")
				}
			}
			maxHeld = max(maxHeld, len(model))
			if l.base != base || len(l.entries) != len(model) || l.last() != base+uint64(len(model)) {
				t.Fatalf("seed %d step %d: base %d len %d last %d, model base %d len %d", seed, step, l.base, len(l.entries), l.last(), base, len(model))
			}
			for i, e := range l.entries {
				if e.LSN != model[i] || len(e.Payload) != 1 || e.Payload[0] != byte(e.LSN) {
					t.Fatalf("seed %d step %d: entry %d is LSN %d, want %d", seed, step, i, e.LSN, model[i])
				}
			}
			if len(model) > 0 {
				from := model[0] + uint64(r.IntN(len(model)))
				got := l.from(from, 5)
				if len(got) == 0 || got[0].LSN != from || len(got) > 5 {
					t.Fatalf("seed %d step %d: from(%d, 5) = %d entries starting %v", seed, step, from, len(got), got)
				}
			}
			if step%20 != 0 {
				continue
			}
			// Outside the window the backing array holds no entries.
			head := len(l.store) - cap(l.entries)
			for i, e := range l.store {
				if (i < head || i >= head+len(l.entries)) && (e.LSN != 0 || e.Payload != nil) {
					t.Fatalf("seed %d step %d: store[%d] outside the window still holds LSN %d", seed, step, i, e.LSN)
				}
			}
			if len(l.store) > max(2*maxHeld, minStore) {
				t.Fatalf("seed %d step %d: store of %d for at most %d entries", seed, step, len(l.store), maxHeld)
			}
		}
	}
}

// BenchmarkMemLogBacklog appends and trims a batch at a time while a backlog
// of entries waits behind the trimmed ones, as on an active whose passive
// acknowledges more slowly than the engine applies.
func BenchmarkMemLogBacklog(b *testing.B) {
	const backlog, batch = 8000, 1000
	var l memLog
	payload := []byte{1}
	for range backlog {
		_ = l.append(Entry{LSN: l.last() + 1, Payload: payload})
	}
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			_ = l.append(Entry{LSN: l.last() + 1, Payload: payload})
		}
		l.trim(l.base + batch)
	}
}

// BenchmarkMemLogCheckpoint appends as a passive does and trims at each
// checkpoint, which leaves only the few entries logged after it. An op is
// one entry.
func BenchmarkMemLogCheckpoint(b *testing.B) {
	const between, after = 100000, 1000
	var l memLog
	payload := []byte{1}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = l.append(Entry{LSN: l.last() + 1, Payload: payload})
		if i%between == between-1 {
			l.trim(l.last() - after)
		}
	}
}
