package plan

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/persist"
)

func man(rev, epoch uint64, sum string) persist.Manifest {
	return persist.Manifest{App: "a", Revision: rev, Epoch: epoch, Checksum: sum}
}

func TestSave(t *testing.T) {
	stored := []persist.Manifest{man(3, 1, "s3"), man(4, 1, "s4"), man(5, 2, "s5"), man(6, 2, "s6")}
	for _, tc := range []struct {
		name     string
		stored   []persist.Manifest
		m        persist.Manifest
		wantRev  uint64
		existing bool
		drop     []uint64
		err      error
	}{
		{"first auto", nil, man(0, 1, "x"), 1, false, nil, nil},
		{"first given", nil, man(7, 1, "x"), 7, false, nil, nil},
		{"auto", stored, man(0, 2, "x"), 7, false, nil, nil},
		{"auto newer epoch", stored, man(0, 3, "x"), 7, false, nil, nil},
		{"next", stored, man(7, 2, "x"), 7, false, nil, nil},
		{"gap", stored, man(10, 2, "x"), 10, false, nil, nil},
		{"identical", stored, man(5, 2, "s5"), 5, true, nil, nil},
		{"identical older", stored, man(4, 1, "s4"), 0, false, nil, persist.ErrStale},
		{"same revision other state", stored, man(6, 2, "x"), 0, false, nil, persist.ErrStale},
		{"older revision same epoch", stored, man(5, 2, "x"), 0, false, nil, persist.ErrStale},
		{"older epoch", stored, man(7, 1, "x"), 0, false, nil, persist.ErrStale},
		{"older epoch auto", stored, man(0, 1, "x"), 0, false, nil, persist.ErrStale},
		{"newer epoch replaces", stored, man(5, 3, "x"), 5, false, []uint64{5, 6}, nil},
		{"newer epoch replaces all", stored, man(1, 3, "x"), 1, false, []uint64{3, 4, 5, 6}, nil},
		{"newer epoch over old epoch only", []persist.Manifest{man(3, 1, "a"), man(4, 1, "b")}, man(4, 2, "x"), 4, false, []uint64{4}, nil},
		{"newer epoch blocked by own", []persist.Manifest{man(3, 1, "a"), man(4, 2, "b")}, man(3, 2, "x"), 0, false, nil, persist.ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Save(tc.stored, tc.m)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Save = %+v, %v; want %v", d, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Manifest.Revision != tc.wantRev || d.Existing != tc.existing || !slices.Equal(d.Drop, tc.drop) {
				t.Fatalf("Save = rev %d existing %v drop %v; want %d %v %v",
					d.Manifest.Revision, d.Existing, d.Drop, tc.wantRev, tc.existing, tc.drop)
			}
		})
	}
}

func TestSaveRevisionsExhausted(t *testing.T) {
	if _, err := Save([]persist.Manifest{man(math.MaxInt64, 1, "x")}, man(0, 1, "y")); err == nil {
		t.Fatal("auto revision past MaxInt64 succeeded")
	}
}

func TestPrune(t *testing.T) {
	for _, tc := range []struct {
		revs []uint64
		keep int
		want []uint64
	}{
		{nil, 3, nil},
		{[]uint64{1, 2, 3}, 3, nil},
		{[]uint64{4, 1, 3, 2}, 3, []uint64{1}},
		{[]uint64{1, 2, 3, 4, 5}, 1, []uint64{1, 2, 3, 4}},
		{[]uint64{2, 2, 1, 3}, 3, nil},
	} {
		if got := Prune(tc.revs, tc.keep); !slices.Equal(got, tc.want) {
			t.Errorf("Prune(%v, %d) = %v, want %v", tc.revs, tc.keep, got, tc.want)
		}
	}
}

func TestPrepare(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 7200))
	m, err := Prepare(persist.Manifest{App: "a"}, []byte("abc"), now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Checksum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || m.Size != 3 ||
		!m.Created.Equal(now) || m.Created.Location() != time.UTC {
		t.Fatalf("Prepare = %+v", m)
	}
	for _, tc := range []struct {
		name string
		m    persist.Manifest
	}{
		{"empty app", persist.Manifest{}},
		{"long app", persist.Manifest{App: strings.Repeat("a", MaxAppLen+1)}},
		{"bad utf8", persist.Manifest{App: "\xc3"}},
		{"nul", persist.Manifest{App: "a\x00"}},
		{"long hash", persist.Manifest{App: "a", AppHash: strings.Repeat("h", MaxTextLen+1)}},
		{"epoch", persist.Manifest{App: "a", Epoch: math.MaxInt64 + 1}},
		{"lsn", persist.Manifest{App: "a", LSN: math.MaxUint64}},
		{"revision", persist.Manifest{App: "a", Revision: math.MaxInt64 + 1}},
		{"checksum", persist.Manifest{App: "a", Checksum: "00"}},
		{"size", persist.Manifest{App: "a", Size: 4}},
		{"created", persist.Manifest{App: "a", Created: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		if _, err := Prepare(tc.m, []byte("abc"), now); err == nil {
			t.Errorf("%s: Prepare succeeded", tc.name)
		}
	}
}

func TestVerify(t *testing.T) {
	m, err := Prepare(persist.Manifest{App: "a"}, []byte("abc"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(m, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"abd", "ab", "abcd", ""} {
		if err := Verify(m, []byte(state)); !errors.Is(err, persist.ErrCorrupt) {
			t.Errorf("Verify(%q) = %v, want ErrCorrupt", state, err)
		}
	}
}
