package lang_test

import (
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

// TestConformanceErrorLines checks that refused apps are refused on the
// line Siddhi names, for the errors whose message gives one.
func TestConformanceErrorLines(t *testing.T) {
	cases, err := asttest.LoadCases(asttest.ConformanceDir(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.ExpectError == nil || unreachable[c.ID] != "" {
			continue
		}
		_, err := frontEnd(c.App)
		list, ok := err.(ast.ErrorList)
		if !ok || len(list) == 0 {
			continue // TestConformance reports it
		}
		lines := strings.Count(c.App, "\n") + 1
		for _, e := range list {
			if e.Pos.Line < 1 || e.Pos.Line > lines {
				t.Errorf("%s: error on line %d of a %d-line app: %v", c.ID, e.Pos.Line, lines, e)
			}
		}
	}
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
