package chaos

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdict is PASS, FAIL or SKIP.
func (r Report) Verdict() string {
	switch {
	case r.Skipped != "":
		return "SKIP"
	case r.Failed():
		return "FAIL"
	}
	return "PASS"
}

// maxListedFaults bounds the timeline WriteText prints for a passing scenario.
const maxListedFaults = 10

// WriteText writes one scenario's report as a small table, for a terminal.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s: %s", r.Scenario, r.Verdict())
	if r.Skipped != "" {
		fmt.Fprintf(&b, " (%s)\n", r.Skipped)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, " (%d faults, %.1f s, seed %d)\n   %s\n", len(r.Faults), r.DurationS, r.Seed, r.Summary)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "   events sent\t%d\n", r.Sent)
	fmt.Fprintf(tw, "   outputs expected\t%d  (single-node reference run of the same input)\n", r.Expected)
	fmt.Fprintf(tw, "   outputs received\t%d  (distinct output ids)\n", r.Received)
	fmt.Fprintf(tw, "   lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "   duplicates\t%d  (repeated output ids; receivers drop them by Idempotency-Key)\n", r.Duplicates)
	fmt.Fprintf(tw, "   wrong\t%d\n", r.Wrong)
	fmt.Fprintf(tw, "   stale\t%d  (outputs of an old epoch after a newer one)\n", r.Stale)
	if len(r.RecoveryMs) > 0 {
		fmt.Fprintf(tw, "   first output after fault\tp50 %s, p99 %s, max %s  (n=%d; %s)\n",
			msText(r.P50Ms), msText(r.P99Ms), msText(r.MaxMs), len(r.RecoveryMs), recoveryMeaning(r.Scenario))
	}
	fmt.Fprintf(tw, "   longest load stall\t%s\n", msText(r.MaxStallMs))
	tw.Flush()
	if r.Failed() || len(r.Faults) <= maxListedFaults {
		for i, f := range r.Faults {
			rec := "no output followed"
			if f.RecoveryMs >= 0 {
				rec = "first output after " + msText(f.RecoveryMs)
			}
			fmt.Fprintf(&b, "   #%d at %.1fs (seq %d): %s; %s\n", i+1, f.AtS, f.Seq, f.What, rec)
			for _, n := range f.Notes {
				fmt.Fprintf(&b, "        %s\n", n)
			}
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "   FAIL: %s\n", f)
	}
	if r.Dir != "" {
		fmt.Fprintf(&b, "   working directory (configs, node logs): %s\n", r.Dir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSummary writes one line per scenario.
func WriteSummary(w io.Writer, reps []Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tresult\tfaults\tsent\tlost\tdup\twrong\tstale\tp50 ms\tp99 ms\tmax ms\t")
	for _, r := range reps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", r.Scenario, r.Verdict(), len(r.Faults), r.Sent,
			r.Lost, r.Duplicates, r.Wrong, r.Stale, msCell(r, r.P50Ms), msCell(r, r.P99Ms), msCell(r, r.MaxMs))
	}
	return tw.Flush()
}

// WriteMarkdown writes a report of a run: the settings, a summary table, and
// per scenario its failures and the timeline of its faults.
func WriteMarkdown(w io.Writer, reps []Report, opt Options) error {
	opt = opt.withDefaults()
	var b strings.Builder
	b.WriteString("# Tandem chaos report\n\n")
	fmt.Fprintf(&b, "Run %s with `%s`. Settings: %d fault(s) per scenario, load %d events/s in batches of %d, "+
		"%v of load before the first fault, gaps of %v to %v between faults, %v after the last, outages of %v, "+
		"coordination through %s with heartbeat %s and lease %s, checkpoint interval %v (kill9-active: 250ms), replication mode %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), opt.Binary, opt.Repeat, opt.Rate, opt.Batch,
		opt.Before, opt.Gap/2, opt.Gap*3/2, opt.After, opt.Outage, coordName(opt), orDefault(opt.Heartbeat, "500ms"),
		orDefault(opt.Lease, "2s"), opt.CheckpointInterval, orText(opt.Mode, "warm"))
	b.WriteString("Each scenario runs a fresh pair under load and compares what the sink received with a " +
		"single-node reference run of the same input. *Lost* must be 0, *wrong* (outputs that differ from the " +
		"reference) 0, *stale* (outputs of an old epoch after a newer one) 0. *Duplicates* are repeated output " +
		"ids, which receivers drop by `Idempotency-Key`. Times are from the fault to the first output of an input " +
		"sent after it, in milliseconds.\n\n")
	b.WriteString("| scenario | result | faults | sent | lost | duplicates | wrong | stale | p50 ms | p99 ms | max ms | longest load stall ms |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range reps {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n", r.Scenario, r.Verdict(),
			len(r.Faults), r.Sent, r.Lost, r.Duplicates, r.Wrong, r.Stale, msCell(r, r.P50Ms), msCell(r, r.P99Ms),
			msCell(r, r.MaxMs), msCell(r, r.MaxStallMs))
	}
	for _, r := range reps {
		fmt.Fprintf(&b, "\n## %s: %s\n\n%s.", r.Scenario, r.Verdict(), r.Summary)
		if r.Skipped != "" {
			fmt.Fprintf(&b, " Skipped: %s.\n", r.Skipped)
			continue
		}
		fmt.Fprintf(&b, " Recovery is measured %s. Seed %d, %.1f s.\n", recoveryMeaning(r.Scenario), r.Seed, r.DurationS)
		if len(r.Failures) > 0 {
			b.WriteString("\nFailures:\n\n")
			for _, f := range r.Failures {
				fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", "\n  "))
			}
			if r.Dir != "" {
				fmt.Fprintf(&b, "\nNode logs and configs: `%s`\n", r.Dir)
			}
		}
		b.WriteString("\n<details><summary>Timeline</summary>\n\n| # | at s | seq | fault | first output after, ms | notes |\n|--:|--:|--:|---|--:|---|\n")
		for i, f := range r.Faults {
			rec := "none"
			if f.RecoveryMs >= 0 {
				rec = fmt.Sprintf("%.0f", f.RecoveryMs)
			}
			fmt.Fprintf(&b, "| %d | %.1f | %d | %s | %s | %s |\n", i+1, f.AtS, f.Seq, mdEscape(f.What), rec, mdEscape(strings.Join(f.Notes, "; ")))
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func recoveryMeaning(name string) string {
	if s, ok := Lookup(name); ok {
		return s.Recovery
	}
	return "from the fault to the first output of an input sent after it"
}

func msText(v float64) string { return fmt.Sprintf("%.0f ms", v) }

func msCell(r Report, v float64) string {
	if r.Skipped != "" || len(r.RecoveryMs) == 0 && v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func orDefault(d time.Duration, def string) string {
	if d <= 0 {
		return def
	}
	return d.String()
}

func coordName(opt Options) string {
	if opt.CoordPostgres {
		return "PostgreSQL"
	}
	return "SQLite (coord-down: PostgreSQL)"
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
