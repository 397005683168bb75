package conformance

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/passing.txt with the cases that pass now")

// casesDir is where Siddhi's recorded cases live: beside the repository,
// unless TANDEM_CONFORMANCE says otherwise.
func casesDir() string {
	if d := os.Getenv("TANDEM_CONFORMANCE"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "conformance")
}

const baselineFile = "testdata/passing.txt"

// readBaseline returns the ids of the cases that passed when the baseline
// was last written.
func readBaseline(t *testing.T) map[string]bool {
	f, err := os.Open(baselineFile)
	if err != nil {
		t.Fatalf("baseline: %v (run go test ./conformance -update to write it)", err)
	}
	defer f.Close()
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			ids[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestGroups runs every recorded case. A case must pass, be a documented
// known deviation, or be unsupported (the engine refuses the app); a case
// that passed when the baseline was written must still pass, so that no
// case can silently fall back to unsupported.
func TestGroups(t *testing.T) {
	dir := casesDir()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Skipf("conformance cases not available: %v", err)
	}
	var index map[string]int
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	groups := make([]string, 0, len(index))
	for g := range index {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	baseline := readBaseline(t)
	var passing []string
	seen := map[string]bool{}
	for _, g := range groups {
		t.Run(g, func(t *testing.T) {
			cases, err := Load(filepath.Join(dir, g+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(cases) != index[g] {
				t.Errorf("%d cases, index.json says %d", len(cases), index[g])
			}
			var pass, fail, unsup int
			reasons := map[string]int{}
			for _, c := range cases {
				if seen[c.ID] {
					t.Errorf("%s: duplicate case id", c.ID)
				}
				seen[c.ID] = true
				res := Run(c)
				switch res.Status {
				case Passed:
					pass++
					passing = append(passing, c.ID)
					if why, ok := knownDeviations[c.ID]; ok {
						t.Errorf("%s: listed as a known deviation (%s) but passes: remove it from deviations.go", c.ID, why)
					}
				case Unsupported:
					unsup++
					reasons[firstLine(res.Reason)]++
					if baseline[c.ID] && !*update {
						t.Errorf("%s: passed before, now unsupported: %s", c.ID, res.Reason)
					}
					if _, ok := knownDeviations[c.ID]; ok {
						t.Errorf("%s: listed as a known deviation but is unsupported: %s", c.ID, res.Reason)
					}
				case Failed:
					if res.Deviation != "" {
						t.Logf("%s: known deviation: %s", c.ID, res.Deviation)
						continue
					}
					fail++
					t.Errorf("%s: %s\n%s\napp: %s", c.ID, res.Reason, mismatches(res), c.App)
				}
			}
			t.Logf("%d cases: %d passed, %d failed, %d unsupported", len(cases), pass, fail, unsup)
			if testing.Verbose() {
				keys := make([]string, 0, len(reasons))
				for k := range reasons {
					keys = append(keys, k)
				}
				sort.Slice(keys, func(i, j int) bool {
					if reasons[keys[i]] != reasons[keys[j]] {
						return reasons[keys[i]] > reasons[keys[j]]
					}
					return keys[i] < keys[j]
				})
				for _, k := range keys {
					t.Logf("  unsupported x%d: %s", reasons[k], k)
				}
			}
		})
	}
	if *update {
		slices.Sort(passing)
		text := "# Conformance cases that pass; written by go test ./conformance -update.\n" +
			strings.Join(passing, "\n") + "\n"
		if err := os.WriteFile(baselineFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, id := range passing {
		if !baseline[id] {
			t.Logf("%s: passes now; run go test ./conformance -update to add it to the baseline", id)
		}
	}
	for id := range baseline {
		if !seen[id] {
			t.Errorf("%s: in the baseline but no longer among the cases", id)
		}
	}
}

func mismatches(r Result) string {
	var parts []string
	for _, m := range r.Mismatches {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, "\n")
}

// firstLine shortens an unsupported reason to its message, for grouping.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	// Drop the "file:line:col: " prefix of planner errors.
	if i := strings.Index(s, ": "); i >= 0 && strings.Contains(s[:i], "#") {
		s = s[i+2:]
	}
	return s
}
