package chaos

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Result compares what the collector received with the reference run.
type Result struct {
	Expected   int `json:"expected"`   // outputs of the reference run
	Received   int `json:"received"`   // distinct output ids received
	Lost       int `json:"lost"`       // expected outputs never received
	Duplicates int `json:"duplicates"` // receptions of an id already received
	// Wrong counts outputs that differ from the reference: a different
	// event under the expected id, a repeat of an id with different content,
	// an id beyond the reference (an input processed twice), or a request
	// that was not an output of the app at all.
	Wrong int `json:"wrong"`
	// Stale counts outputs that arrived after an output of a newer epoch:
	// a publisher that went on after it lost the lease.
	Stale int `json:"stale"`
	// Problems describes the first few of each kind of failure.
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether nothing was lost, wrong or stale.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Wrong == 0 && r.Stale == 0 && r.Received >= r.Expected
}

// maxExamples bounds the problems of one kind that a Result describes.
const maxExamples = 5

// Check compares outs, in arrival order, with expected, the reference run's
// outputs (expected[i] is the output with ordinal i+1). After removing repeats
// by output id the two must be identical.
func Check(outs []Output, expected []string) Result {
	r := Result{Expected: len(expected)}
	var wrong, lost, stale []string
	note := func(list *[]string, format string, args ...any) {
		if len(*list) < maxExamples {
			*list = append(*list, fmt.Sprintf(format, args...))
		}
	}

	first := make(map[uint64]Output, len(expected))
	var maxEpoch uint64
	var maxEpochAt time.Time
	var extra []uint64
	for _, o := range outs {
		if o.Epoch > maxEpoch {
			maxEpoch, maxEpochAt = o.Epoch, o.At
		} else if o.Epoch < maxEpoch {
			r.Stale++
			note(&stale, "output %s of epoch %d arrived %v after the first output of epoch %d",
				o.ID, o.Epoch, o.At.Sub(maxEpochAt).Round(time.Millisecond), maxEpoch)
		}
		prev, seen := first[o.Ordinal]
		if !seen {
			first[o.Ordinal] = o
			if o.Ordinal > uint64(len(expected)) {
				extra = append(extra, o.Ordinal)
			}
			continue
		}
		r.Duplicates++
		if prev.ID != o.ID || prev.Key != o.Key {
			r.Wrong++
			note(&wrong, "output %s repeated as %s with different content: %s, then %s", prev.ID, o.ID, prev.Key, o.Key)
		}
	}
	r.Received = len(first)

	lostFrom := -1 // start of the current run of lost ordinals, an index into expected
	flushLost := func(end int) {
		if lostFrom >= 0 {
			note(&lost, "ordinals %d-%d (inputs seq %s to %s)", lostFrom+1, end, seqOf(expected[lostFrom]), seqOf(expected[end-1]))
			lostFrom = -1
		}
	}
	for i, want := range expected {
		got, ok := first[uint64(i+1)]
		if !ok {
			r.Lost++
			if lostFrom < 0 {
				lostFrom = i
			}
			continue
		}
		flushLost(i)
		if got.Key != want {
			r.Wrong++
			note(&wrong, "output %s is %s, the reference has %s", got.ID, got.Key, want)
		}
	}
	flushLost(len(expected))

	if len(extra) > 0 {
		r.Wrong += len(extra)
		slices.Sort(extra)
		note(&wrong, "%d outputs beyond the reference's %d (an input processed twice?), ordinals %d to %d",
			len(extra), len(expected), extra[0], extra[len(extra)-1])
	}
	if len(lost) > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("lost %d outputs: %s", r.Lost, strings.Join(lost, "; ")))
	}
	for _, w := range wrong {
		r.Problems = append(r.Problems, "wrong: "+w)
	}
	for _, s := range stale {
		r.Problems = append(r.Problems, "stale publish: "+s)
	}
	return r
}

// seqOf returns the seq part of a reference key.
func seqOf(key string) string {
	seq, _, _ := strings.Cut(key, "|")
	return seq
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method, or 0 for no samples.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := min(max(int(math.Ceil(float64(len(s))*p/100)), 1), len(s))
	return s[rank-1]
}
