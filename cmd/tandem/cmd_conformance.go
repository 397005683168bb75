package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/tandem-stream/tandem/conformance"
)

const conformanceUsage = `Usage: tandem conformance [flags] FILE|DIR...

Runs Siddhi's recorded test cases (files in the schema of the shared
conformance directory; a directory means every case file in it) on a virtual
clock: a case's sleeps advance the clock and fire the timers due, nothing
really sleeps. Each failure is printed with the expected and actual events.
The last line is "N passed, M failed", followed by ", K skipped" when cases
use what the engine does not run (joins, tables, patterns, ...). With --json
the report is a JSON document on standard output and that line goes to
standard error.

Exit status: 0 when no case failed, 1 when any did, 2 on bad usage or
unreadable files.

Flags:
`

// conformanceReport is the --json document.
type conformanceReport struct {
	Cases   []conformanceCase `json:"cases"`
	Passed  int               `json:"passed"`
	Failed  int               `json:"failed"`
	Skipped int               `json:"skipped"`
}

type conformanceCase struct {
	File string `json:"file"`
	conformance.Result
}

func cmdConformance(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "also list passing and skipped cases")
	runPat := fs.String("run", "", "run only the cases whose id matches this regular expression")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, conformanceUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var sel *regexp.Regexp
	if *runPat != "" {
		var err error
		if sel, err = regexp.Compile(*runPat); err != nil {
			fmt.Fprintf(stderr, "tandem conformance: -run: %v\n", err)
			return 2
		}
	}
	files, err := caseFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "tandem conformance: %v\n", err)
		return 2
	}
	var rep conformanceReport
	rep.Cases = []conformanceCase{}
	for _, file := range files {
		cases, err := conformance.Load(file)
		if err != nil {
			fmt.Fprintf(stderr, "tandem conformance: %v\n", err)
			return 2
		}
		for _, c := range cases {
			if sel != nil && !sel.MatchString(c.ID) {
				continue
			}
			res := conformance.Run(c)
			rep.Cases = append(rep.Cases, conformanceCase{File: file, Result: res})
			switch res.Status {
			case conformance.Passed:
				rep.Passed++
			case conformance.Failed:
				rep.Failed++
			default:
				rep.Skipped++
			}
			if !*asJSON {
				printResult(stdout, file, c, res, *verbose)
			}
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", rep.Passed, rep.Failed)
	if rep.Skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", rep.Skipped)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "tandem conformance: %v\n", err)
			return 2
		}
		fmt.Fprintln(stderr, summary)
	} else {
		fmt.Fprintln(stdout, summary)
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

func printResult(w io.Writer, file string, c *conformance.Case, res conformance.Result, verbose bool) {
	switch res.Status {
	case conformance.Passed:
		if verbose {
			fmt.Fprintf(w, "ok   %s\n", c.ID)
		}
	case conformance.Unsupported:
		if verbose {
			fmt.Fprintf(w, "skip %s: %s\n", c.ID, firstLineOf(res.Reason))
		}
	case conformance.Failed:
		fmt.Fprintf(w, "FAIL %s (%s)\n", c.ID, filepath.Base(file))
		if res.Deviation != "" {
			fmt.Fprintf(w, "  known deviation: %s\n", res.Deviation)
		}
		if res.Reason != "" {
			fmt.Fprintf(w, "  %s\n", res.Reason)
		}
		for _, m := range res.Mismatches {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(m.String(), "\n", "\n  "))
		}
		fmt.Fprintf(w, "  app: %s\n", strings.Join(strings.Fields(c.App), " "))
	}
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// caseFiles expands the arguments: a directory stands for the case files in
// it (every *.json but index.json), in name order.
func caseFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		n := 0
		for _, m := range matches {
			if filepath.Base(m) != "index.json" {
				files = append(files, m)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no case files", a)
		}
	}
	return files, nil
}
