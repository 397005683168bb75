package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-stream/tandem/client"
)

func runSend(t *testing.T, ctx context.Context, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = sendMain(ctx, args, strings.NewReader(input), &out, &errb)
	return code, out.String(), errb.String()
}

// eventLines returns n JSON lines, alternating the wrapped and bare forms.
func eventLines(n int) (input string, want []string) {
	var b strings.Builder
	for i := range n {
		attrs := fmt.Sprintf(`{"seq":%d,"symbol":"IBM","price":%d.5}`, i, i)
		line := attrs
		if i%2 == 0 {
			line = `{"event":` + attrs + `}`
		}
		want = append(want, line)
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String(), want
}

func newSendPair(t *testing.T) (*pairFake, *pairFakeNode, *pairFakeNode) {
	p := newPairFake()
	return p, p.node(t, client.Status{Node: "node-a", Role: "active", Epoch: 1}),
		p.node(t, client.Status{Node: "node-b", Role: "passive", Epoch: 1})
}

func TestSendCommand(t *testing.T) {
	p, a, b := newSendPair(t)
	input, want := eventLines(250)
	// Blank lines and CRLF endings are fine.
	input = "\n" + strings.Replace(input, "\n", "\r\n", 3) + "\n  \n"
	code, out, errs := runSend(t, t.Context(), input, "--nodes", b.addr()+","+a.addr(), "--path", "/trades", "--batch", "100")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if got := p.logged(); !equalStrings(got, want) {
		t.Errorf("logged %d events, want the %d input lines in order", len(got), len(want))
	}
	for _, s := range []string{"events sent:    250\n", "batches:        3\n", "failovers seen: 0\n", "active:         node-a (epoch 1)\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(errs, "tandem send: 250 events in 3 batches") {
		t.Errorf("no final progress line on stderr:\n%s", errs)
	}
}

// TestSendCommandFailover: the active dies right after it logged a batch,
// before answering; the passive takes over. Every line is logged once, in
// order, and the summary counts the failover.
func TestSendCommandFailover(t *testing.T) {
	p, a, b := newSendPair(t)
	var once sync.Once
	var bg sync.WaitGroup
	t.Cleanup(bg.Wait)
	batches := 0
	a.mu.Lock()
	a.onLogged = func(w http.ResponseWriter, key string) bool {
		batches++
		if batches < 4 {
			return true
		}
		once.Do(func() {
			a.die()
			bg.Go(func() {
				time.Sleep(100 * time.Millisecond)
				b.setRole("active", 2)
			})
		})
		pairFakeDrop(w)
		return false
	}
	a.mu.Unlock()
	input, want := eventLines(1000)
	code, out, errs := runSend(t, t.Context(), input, "--nodes", a.addr()+","+b.addr(), "--path", "/trades", "--batch", "50", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if got := p.logged(); !equalStrings(got, want) {
		t.Errorf("logged %d events, want the %d input lines once each, in order", len(got), len(want))
	}
	var sum sendSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, out)
	}
	if sum.Events != 1000 || sum.Batches != 20 || sum.Failovers != 1 || sum.Active != "node-b" || sum.Epoch != 2 || sum.Retries == 0 || sum.Error != "" {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(errs, "the active node changed") {
		t.Errorf("stderr does not show the failover:\n%s", errs)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	resent := 0
	for _, n := range p.reqs {
		if n > 1 {
			resent++
		}
	}
	if resent != 1 {
		t.Errorf("%d batches were sent more than once, want 1 (the one whose answer was lost): %v", resent, p.reqs)
	}
}

func TestSendCommandBadLine(t *testing.T) {
	tests := []struct {
		name, input string
		sent        int
		want        string
	}{
		{"array", "{\"a\":1}\n{\"a\":2}\n[1,2]\n{\"a\":3}\n", 2, "line 3: not a JSON object"},
		{"syntax", "{\"a\":1}\n\n{\"a\":\n", 1, "line 3: not valid JSON"},
		{"first", "nope\n", 0, "line 1: not valid JSON"},
		{"too long", "{\"a\":\"" + strings.Repeat("x", 100) + "\"}\n", 0, "line 1: longer than --max-bytes (64)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, a, b := newSendPair(t)
			code, out, errs := runSend(t, t.Context(), tc.input, "--nodes", a.addr()+","+b.addr(), "--path", "/p", "--max-bytes", "64")
			if code != 1 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, tc.want)
			}
			if got := len(p.logged()); got != tc.sent {
				t.Errorf("logged %d events, want the %d before the bad line", got, tc.sent)
			}
			if !strings.Contains(out, fmt.Sprintf("events sent:    %d\n", tc.sent)) {
				t.Errorf("summary:\n%s", out)
			}
		})
	}
}

func TestSendCommandMaxBytes(t *testing.T) {
	p, a, b := newSendPair(t)
	input, want := eventLines(40)
	code, out, errs := runSend(t, t.Context(), input, "--nodes", a.addr()+","+b.addr(), "--path", "/p", "--max-bytes", "200", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := p.logged(); !equalStrings(got, want) {
		t.Errorf("logged %v", got)
	}
	var sum sendSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	// Each line is 36-48 bytes: at most 4 fit in 200 bytes with brackets and commas.
	if sum.Batches < 10 {
		t.Errorf("%d batches: --max-bytes 200 was not honoured", sum.Batches)
	}
}

func TestSendCommandRefused(t *testing.T) {
	p, a, b := newSendPair(t)
	a.mu.Lock()
	a.refuse = http.StatusBadRequest
	a.mu.Unlock()
	input, _ := eventLines(5)
	code, _, errs := runSend(t, t.Context(), input, "--nodes", a.addr()+","+b.addr(), "--path", "/p")
	if code != 1 || !strings.Contains(errs, "batch of lines 1-5 refused") || !strings.Contains(errs, `attribute "price" is missing`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if len(p.logged()) != 0 {
		t.Error("a refused batch was logged")
	}
}

// TestSendCommandGiveUp: with no active node the send fails after --give-up
// and names the batch that may or may not have been logged.
func TestSendCommandGiveUp(t *testing.T) {
	_, a, b := newSendPair(t)
	a.setRole("passive", 1)
	code, out, errs := runSend(t, t.Context(), "{\"a\":1}\n", "--nodes", a.addr()+","+b.addr(), "--path", "/p", "--give-up", "200ms")
	if code != 1 || !strings.Contains(errs, "batch of line 1 (Idempotency-Key ") || !strings.Contains(errs, "no active node") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "events sent:    0\n") {
		t.Errorf("summary:\n%s", out)
	}
}

func TestSendCommandInterrupted(t *testing.T) {
	_, a, b := newSendPair(t)
	a.setRole("passive", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	code, _, errs := runSend(t, ctx, "{\"a\":1}\n", "--nodes", a.addr()+","+b.addr(), "--path", "/p", "--give-up", "0")
	if code != 1 || !strings.Contains(errs, "may or may not have been logged") || !strings.Contains(errs, "deadline exceeded") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestSendCommandRate(t *testing.T) {
	p, a, b := newSendPair(t)
	input, want := eventLines(30)
	start := time.Now()
	code, _, errs := runSend(t, t.Context(), input, "--nodes", a.addr()+","+b.addr(), "--path", "/p", "--batch", "10", "--rate", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// 30 events at 100/s: the last batch is due at 300ms.
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("30 events at --rate 100 took %v, want at least 300ms", d)
	}
	if got := p.logged(); !equalStrings(got, want) {
		t.Errorf("logged %v", got)
	}
}

func TestSendCommandFile(t *testing.T) {
	p, a, b := newSendPair(t)
	input, want := eventLines(7)
	f := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(f, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdSend([]string{"--nodes", a.addr() + "," + b.addr(), "--path", "/p", "--file", f, "--progress", "0"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := p.logged(); !equalStrings(got, want) {
		t.Errorf("logged %v", got)
	}
	if strings.Contains(errb.String(), "events in") {
		t.Errorf("--progress 0 printed progress:\n%s", errb.String())
	}
	if code := cmdSend([]string{"--nodes", a.addr(), "--path", "/p", "--file", filepath.Join(t.TempDir(), "missing")}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestSendCommandUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--path", "/p"}, "--nodes is required"},
		{[]string{"--nodes", "a:1"}, "--path is required"},
		{[]string{"--nodes", "a:1", "--path", "p"}, "must start with /"},
		{[]string{"--nodes", "a:1", "--path", "/p", "--batch", "0"}, "--batch must be at least 1"},
		{[]string{"--nodes", "a:1", "--path", "/p", "--max-bytes", "10"}, "--max-bytes must be at least 64"},
		{[]string{"--nodes", "a:1", "--path", "/p", "--give-up", "-1s"}, "must not be negative"},
		{[]string{"--nodes", "a:1", "--path", "/p", "x"}, "unexpected arguments"},
		{[]string{"--nodes", "a:1", "--path", "/p", "--rate", "-5"}, "--rate must not be negative"},
		{[]string{"--nodes", ",", "--path", "/p"}, "no nodes given"},
		{[]string{"--nodes", "a:1,a:1", "--path", "/p"}, "given twice"},
	}
	for _, tc := range tests {
		code, _, errs := runSend(t, t.Context(), "", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("send %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestReadBatches(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		batch    int
		maxBytes int
		want     []string // batch bodies
		err      string
	}{
		{"empty", "", 10, 100, nil, ""},
		{"blank", "\n \n\t\n", 10, 100, nil, ""},
		{"one", `{"a":1}`, 10, 100, []string{`[{"a":1}]`}, ""},
		{"count", "{}\n{}\n{}\n", 2, 100, []string{"[{},{}]", "[{}]"}, ""},
		{"bytes", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 10, 17, []string{`[{"a":1},{"a":2}]`, `[{"a":3}]`}, ""},
		{"trim", "  {\"a\" : 1}  \r\n", 10, 100, []string{`[{"a" : 1}]`}, ""},
		{"bad after", "{}\n1\n", 10, 100, []string{"[{}]"}, "line 2: not a JSON object"},
		{"exact fit", `{"a":"xxxx"}`, 1, 14, []string{`[{"a":"xxxx"}]`}, ""},
		{"one over", `{"a":"xxxxx"}`, 1, 14, nil, "line 1: longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := make(chan sendBatch, 100)
			err := readBatches(t.Context(), strings.NewReader(tc.input), tc.batch, tc.maxBytes, ch)
			close(ch)
			var got []string
			for b := range ch {
				got = append(got, string(b.body))
				if len(b.body) > tc.maxBytes {
					t.Errorf("batch of %d bytes, above %d", len(b.body), tc.maxBytes)
				}
				if !json.Valid(b.body) {
					t.Errorf("batch %s is not JSON", b.body)
				}
			}
			if !equalStrings(got, tc.want) {
				t.Errorf("batches %q, want %q", got, tc.want)
			}
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// FuzzReadBatches: whatever the input, every batch handed over is a JSON
// array within the limits, and its events are input lines in order.
func FuzzReadBatches(f *testing.F) {
	for _, s := range []string{"{}\n{}\n", `{"event":{"a":1}}`, "[1]\n", "{\"a\":\n", "\n\n{} \r\n", "{}{}", `{"a":"\u00e9"}`} {
		f.Add(s, 2, 64)
	}
	f.Fuzz(func(t *testing.T, input string, batch, maxBytes int) {
		if batch < 1 || batch > 1000 || maxBytes < 64 || maxBytes > 1<<16 {
			return
		}
		ch := make(chan sendBatch, len(input)+1)
		_ = readBatches(context.Background(), strings.NewReader(input), batch, maxBytes, ch)
		close(ch)
		lastLine := 0
		for b := range ch {
			if len(b.body) > maxBytes || b.events < 1 || b.events > batch || b.first <= lastLine || b.last < b.first {
				t.Fatalf("batch %+v breaks the limits (batch %d, maxBytes %d, after line %d)", b, batch, maxBytes, lastLine)
			}
			lastLine = b.last
			var evs []json.RawMessage
			if err := json.Unmarshal(b.body, &evs); err != nil || len(evs) != b.events {
				t.Fatalf("batch %q: %v, %d events", b.body, err, len(evs))
			}
			for _, e := range evs {
				if e[0] != '{' {
					t.Fatalf("batch %q holds a non-object", b.body)
				}
			}
		}
	})
}
