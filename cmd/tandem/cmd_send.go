package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-stream/tandem/client"
)

const sendUsage = `Usage: tandem send --nodes A,B --path P [flags]

Reads events as JSON lines (one object per line, either {"event":{...}} or the
bare attribute object; blank lines are skipped) from --file or standard input
and sends them in batches to the HTTP source at path P of whichever node of the
pair is active. A and B are the nodes' admin API addresses (node.api).

Every batch carries an Idempotency-Key. When the active fails, a batch whose
answer was lost is sent again, with the same key, to the new active, which
drops it if it already has it: nothing is lost and nothing is sent twice.
A line that is not a JSON object stops the send after the lines before it.
`

func cmdSend(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return sendMain(ctx, args, os.Stdin, stdout, stderr)
}

// sendSummary is what `tandem send` reports at the end.
type sendSummary struct {
	Events    int     `json:"events"`
	Batches   int     `json:"batches"`
	Failovers uint64  `json:"failovers"`
	Retries   uint64  `json:"retries"`
	Active    string  `json:"active,omitempty"`
	Epoch     uint64  `json:"epoch,omitempty"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error,omitempty"`
}

func sendMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.String("nodes", "", "admin API addresses of the pair's nodes, comma-separated (required)")
	path := fs.String("path", "", "path of the HTTP source, e.g. /trades (required)")
	file := fs.String("file", "", "read events from this file instead of standard input (- is standard input)")
	batch := fs.Int("batch", 100, "events per batch")
	maxBytes := fs.Int("max-bytes", 1<<20, "largest batch body in bytes; a batch is cut early to stay under it")
	giveUp := fs.Duration("give-up", time.Minute, "fail when a batch is not acknowledged for this long (0: retry until interrupted)")
	rate := fs.Float64("rate", 0, "events per second at most (0: as fast as the pair takes them)")
	progress := fs.Duration("progress", time.Second, "how often to print progress to standard error (0: never)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	fs.Usage = func() {
		fmt.Fprint(stderr, sendUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "tandem send: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected arguments %q", fs.Args())
	case *nodes == "":
		return usageErr("--nodes is required")
	case *path == "":
		return usageErr("--path is required")
	case !strings.HasPrefix(*path, "/"):
		return usageErr("--path %q must start with /", *path)
	case *batch < 1:
		return usageErr("--batch must be at least 1")
	case *maxBytes < 64:
		return usageErr("--max-bytes must be at least 64")
	case *giveUp < 0 || *progress < 0:
		return usageErr("durations must not be negative")
	case *rate < 0:
		return usageErr("--rate must not be negative")
	}

	in := stdin
	if *file != "" && *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			fmt.Fprintln(stderr, "tandem send:", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	c, err := client.New(client.Config{
		Nodes:  splitNodeList(*nodes),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return usageErr("%v", err)
	}
	defer c.Close()

	now := time.Now()
	s := sender{c: c, path: *path, giveUp: *giveUp, rate: *rate, progress: *progress, stderr: stderr, start: now, lastReport: now}
	err = s.run(ctx, in, *batch, *maxBytes)
	sum := s.summary()
	if err != nil {
		sum.Error = err.Error()
		fmt.Fprintln(stderr, "tandem send:", err)
	}
	if *asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "events sent:    %d\n", sum.Events)
		fmt.Fprintf(stdout, "batches:        %d\n", sum.Batches)
		fmt.Fprintf(stdout, "failovers seen: %d\n", sum.Failovers)
		fmt.Fprintf(stdout, "retries:        %d\n", sum.Retries)
		if sum.Active != "" {
			fmt.Fprintf(stdout, "active:         %s (epoch %d)\n", sum.Active, sum.Epoch)
		}
		fmt.Fprintf(stdout, "elapsed:        %.1fs\n", sum.Seconds)
	}
	if err != nil {
		return 1
	}
	return 0
}

// splitNodeList splits a comma-separated --nodes value, dropping empty items.
func splitNodeList(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// sender sends the batches of one `tandem send` run, one at a time, so the
// pair logs them in input order.
type sender struct {
	c        *client.Client
	path     string
	giveUp   time.Duration
	rate     float64 // events per second; 0 for no limit
	progress time.Duration
	stderr   io.Writer
	start    time.Time

	events, batches int
	lastReport      time.Time
}

// sendBatch is a batch body and the input lines it holds.
type sendBatch struct {
	body        []byte
	events      int
	first, last int // line numbers
}

// run reads batches from in and sends them. A reading goroutine cuts the
// next batch while the current one is on its way.
func (s *sender) run(ctx context.Context, in io.Reader, batch, maxBytes int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan sendBatch, 1)
	readErr := make(chan error, 1)
	// The reader stops at the end of the input or, once run returns, at its
	// next line. A read that blocks (a terminal) holds it until the
	// process exits, which follows run's return.
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, in, batch, maxBytes, batches)
	}()
	for b := range batches {
		if err := s.send(ctx, b); err != nil {
			return err
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if s.progress > 0 && s.batches > 0 {
		s.report()
	}
	return nil
}

func (s *sender) send(ctx context.Context, b sendBatch) error {
	key := s.c.NewKey()
	sctx := ctx
	if s.giveUp > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, s.giveUp)
		defer cancel()
	}
	if err := s.c.SendWithKey(sctx, s.path, key, b.body); err != nil {
		lines := fmt.Sprintf("line %d", b.first)
		if b.last != b.first {
			lines = fmt.Sprintf("lines %d-%d", b.first, b.last)
		}
		var se *client.StatusError
		if errors.As(err, &se) && se.Permanent() {
			return fmt.Errorf("batch of %s refused (nothing of it was logged): %w", lines, err)
		}
		return fmt.Errorf("batch of %s (Idempotency-Key %s) may or may not have been logged: %w", lines, key, err)
	}
	s.events += b.events
	s.batches++
	if s.progress > 0 && time.Since(s.lastReport) >= s.progress {
		s.report()
	}
	if s.rate > 0 {
		// Pace against the start, not the previous batch, so that time lost
		// in a failover is made up afterwards.
		due := s.start.Add(time.Duration(float64(s.events) / s.rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	return nil
}

func (s *sender) report() {
	s.lastReport = time.Now()
	el := time.Since(s.start).Seconds()
	st := s.c.Stats()
	fmt.Fprintf(s.stderr, "tandem send: %d events in %d batches, %.0f events/s, active %s (epoch %d), %d failovers\n",
		s.events, s.batches, float64(s.events)/max(el, 1e-3), st.Active, st.Epoch, st.Failovers)
}

func (s *sender) summary() sendSummary {
	st := s.c.Stats()
	return sendSummary{Events: s.events, Batches: s.batches, Failovers: st.Failovers, Retries: st.Retries,
		Active: st.Active, Epoch: st.Epoch, Seconds: time.Since(s.start).Seconds()}
}

// readBatches cuts JSON lines into batches of at most batch events and
// maxBytes bytes. On a bad line it hands over the lines before it, then
// returns the error.
func readBatches(ctx context.Context, in io.Reader, batch, maxBytes int, out chan<- sendBatch) error {
	sc := bufio.NewScanner(in)
	// The scanner's limit is a backstop; the exact one, that a line fits in
	// a batch of its own ("[" line "]"), is checked on each line.
	sc.Buffer(make([]byte, 0, min(64<<10, maxBytes)), maxBytes+2)
	var (
		cur    sendBatch
		lineNo int
	)
	flush := func() bool {
		if cur.events == 0 {
			return true
		}
		cur.body = append(cur.body, ']')
		select {
		case out <- cur:
		case <-ctx.Done():
			return false
		}
		cur = sendBatch{}
		return true
	}
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		err := checkEventLine(line)
		if err == nil && len(line)+2 > maxBytes {
			err = fmt.Errorf("longer than --max-bytes (%d) allows", maxBytes)
		}
		if err != nil {
			if !flush() {
				return ctx.Err()
			}
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
		if cur.events > 0 && (cur.events == batch || len(cur.body)+1+len(line)+1 > maxBytes) {
			if !flush() {
				return ctx.Err()
			}
		}
		if cur.events == 0 {
			cur.body = append(make([]byte, 0, min(maxBytes, 2+batch*(len(line)+1))), '[')
			cur.first = lineNo
		} else {
			cur.body = append(cur.body, ',')
		}
		cur.body = append(cur.body, line...)
		cur.events++
		cur.last = lineNo
	}
	err := sc.Err()
	if !flush() {
		return ctx.Err()
	}
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("line %d: longer than --max-bytes (%d) allows", lineNo+1, maxBytes)
	}
	if err != nil {
		return fmt.Errorf("reading input after line %d: %w", lineNo, err)
	}
	return nil
}

// checkEventLine accepts one JSON object: {"event":{...}} or the bare
// attributes. The source tells the two apart and checks the attributes.
func checkEventLine(line []byte) error {
	if !json.Valid(line) {
		var v json.RawMessage
		err := json.Unmarshal(line, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, se)
		}
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if line[0] != '{' {
		return errors.New("not a JSON object: want {\"event\":{...}} or {\"attribute\":value,...}")
	}
	return nil
}
