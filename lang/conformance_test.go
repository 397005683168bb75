package lang_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/check"
	"github.com/tandem-stream/tandem/lang/internal/asttest"
	"github.com/tandem-stream/tandem/lang/parser"
)

// unreachable lists the conformance cases whose expected failure does not
// come from the app text, so no front end can reproduce it.
var unreachable = map[string]string{
	// The time zone 'Asia/Singapo' was set in the SiddhiManager's
	// configuration, not in the app.
	"aggregation/Aggregation2TestCase#incrementalStreamProcessorTestInvalidTimeZone": "time zone from manager config",
}

// frontEnd parses and checks src, returning the parse tree and the first
// error.
func frontEnd(src string) (*ast.App, error) {
	app, err := parser.Parse("app.siddhi", []byte(src))
	if err != nil {
		return app, err
	}
	_, err = check.Check(app, nil)
	return app, err
}

// TestConformance runs every conformance app through the parser and the
// checker: valid apps must pass, apps Siddhi refuses must be refused.
func TestConformance(t *testing.T) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Skip("no conformance cases (set TANDEM_CONFORMANCE)")
	}
	var pass, fail, skipped, queries int
	for _, c := range cases {
		app, err := frontEnd(c.App)
		wantErr := c.ExpectError != nil
		switch {
		case unreachable[c.ID] != "":
			skipped++
			continue
		case wantErr && err == nil:
			fail++
			t.Errorf("%s: accepted, but Siddhi refuses it: %s\n%s", c.ID, *c.ExpectError, c.App)
		case !wantErr && err != nil:
			fail++
			t.Errorf("%s: refused a valid app: %v\n%s", c.ID, err, c.App)
		default:
			pass++
		}
		if err != nil {
			continue
		}
		for _, in := range c.Inputs {
			if in.Query == "" {
				continue
			}
			queries++
			q, qerr := parser.ParseOnDemand("query", []byte(in.Query))
			if qerr == nil {
				_, qerr = check.CheckOnDemand(app, "query", q, nil)
			}
			if (qerr != nil) != (in.ExpectError != nil) {
				fail++
				t.Errorf("%s: on-demand query %q: err = %v, want error %v", c.ID, in.Query, qerr, in.ExpectError != nil)
			}
		}
	}
	t.Logf("conformance: %d apps pass, %d fail, %d unreachable; %d on-demand queries", pass, fail, skipped, queries)
}

// errorLines gives the line of the offending element for refused
// multi-line apps whose Siddhi message does not name one.
var errorLines = map[string]int{
	"aggregation/Aggregation2TestCase#incrementalStreamProcessorTest52": 2, // @PartitionById
	"query/partition/PartitionTestCase2#partitionStreamValidationTest":  9, // partition of an undefined stream
	"window/WindowDefinitionTestCase#testEventWindow8":                  8, // output does not match the window
}

// siddhiSpan matches the span Siddhi names in some messages:
// "Error between @ Line: 1. Position: 0 and @ Line: 1. Position: 62".
var siddhiSpan = regexp.MustCompile(`@ Line: (\d+)\. Position: \d+ and @ Line: (\d+)\.`)

// TestConformanceErrorLines checks that refused apps are refused on the
// right line: the one Siddhi's message names, the one errorLines gives, or
// the only line there is.
func TestConformanceErrorLines(t *testing.T) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(1))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range cases {
		if c.ExpectError == nil || unreachable[c.ID] != "" {
			continue
		}
		_, err := frontEnd(c.App)
		list, ok := err.(ast.ErrorList)
		if !ok || len(list) == 0 {
			continue // TestConformance reports it
		}
		from, to := contentLines(c.App)
		if m := siddhiSpan.FindStringSubmatch(*c.ExpectError); m != nil {
			from, _ = strconv.Atoi(m[1])
			to, _ = strconv.Atoi(m[2])
		} else if l, ok := errorLines[c.ID]; ok {
			from, to = l, l
		} else if from != to {
			t.Errorf("%s: refused multi-line app with no expected line; add it to errorLines (got %v)", c.ID, list[0])
			continue
		}
		if l := list[0].Pos.Line; l < from || l > to {
			t.Errorf("%s: refused on line %d, want %d..%d: %v", c.ID, l, from, to, list[0])
		}
		checked++
	}
	t.Logf("%d refused apps checked for the error line", checked)
}

// contentLines returns the first and last lines of src that are not blank.
func contentLines(src string) (first, last int) {
	for i, line := range strings.Split(src, "\n") {
		if strings.TrimSpace(line) != "" {
			if first == 0 {
				first = i + 1
			}
			last = i + 1
		}
	}
	return first, last
}

// BenchmarkParseConformance parses every conformance app once per iteration
// and reports apps parsed per second.
func BenchmarkParseConformance(b *testing.B) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(1))
	if err != nil {
		b.Fatal(err)
	}
	if len(cases) == 0 {
		b.Skip("no conformance cases")
	}
	srcs := make([][]byte, len(cases))
	for i, c := range cases {
		srcs[i] = []byte(c.App)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, src := range srcs {
			parser.Parse("app.siddhi", src)
		}
	}
	b.ReportMetric(float64(b.N*len(srcs))/b.Elapsed().Seconds(), "apps/s")
}
