package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Output is one output the collector accepted.
type Output struct {
	ID      string    `json:"id"`      // the Idempotency-Key header: app/sink/ordinal
	Ordinal uint64    `json:"ordinal"` // the last part of ID
	Epoch   uint64    `json:"epoch"`   // the X-Tandem-Epoch header: the publisher's lease epoch
	Seq     int64     `json:"seq"`     // the input the output came from
	Key     string    `json:"key"`     // seq|symbol|total, as Reference gives it
	At      time.Time `json:"at"`      // when the collector accepted it
}

// maxOutputBody bounds one output request; the app's outputs are tiny.
const maxOutputBody = 64 << 10

// ParseOutput decodes one request of the app's HTTP sink: the output id from
// the Idempotency-Key header, the epoch from X-Tandem-Epoch, and the event
// from the JSON body, {"event":{"seq":...,"symbol":...,"total":...}}.
func ParseOutput(id, epoch string, body []byte) (Output, error) {
	var o Output
	cut := strings.LastIndexByte(id, '/')
	if cut <= 0 {
		return o, fmt.Errorf("Idempotency-Key %q is not app/sink/ordinal", id)
	}
	ord, err := strconv.ParseUint(id[cut+1:], 10, 64)
	if err != nil || ord == 0 {
		return o, fmt.Errorf("Idempotency-Key %q: the ordinal is not a positive integer", id)
	}
	ep, err := strconv.ParseUint(epoch, 10, 64)
	if err != nil || ep == 0 {
		return o, fmt.Errorf("X-Tandem-Epoch %q is not a positive integer", epoch)
	}
	var msg struct {
		Event *struct {
			Seq    *json.Number `json:"seq"`
			Symbol *string      `json:"symbol"`
			Total  *json.Number `json:"total"`
		} `json:"event"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil {
		return o, fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return o, errors.New("body: more than one JSON value")
	}
	ev := msg.Event
	if ev == nil || ev.Seq == nil || ev.Symbol == nil || ev.Total == nil {
		return o, errors.New(`body: want {"event":{"seq":...,"symbol":...,"total":...}}`)
	}
	seq, err := ev.Seq.Int64()
	if err != nil || seq < 0 {
		return o, fmt.Errorf("body: seq %q is not a non-negative integer", ev.Seq.String())
	}
	total, err := ev.Total.Int64()
	if err != nil {
		return o, fmt.Errorf("body: total %q is not an integer", ev.Total.String())
	}
	return Output{ID: id, Ordinal: ord, Epoch: ep, Seq: seq,
		Key: strconv.FormatInt(seq, 10) + "|" + *ev.Symbol + "|" + strconv.FormatInt(total, 10)}, nil
}

// Collector is the HTTP endpoint the app's sink publishes to. It records
// every output it accepts, in the order it accepted them, and can play a
// downstream system that is down (SetDown).
type Collector struct {
	mu        sync.Mutex
	outs      []Output
	down      bool
	refused   int    // requests answered 503 while down
	malformed int    // requests that were not an output of the app
	example   string // the first malformed request's problem
	ids       map[string]struct{}
	changed   chan struct{}
}

// NewCollector returns an empty collector that accepts outputs.
func NewCollector() *Collector {
	return &Collector{ids: map[string]struct{}{}, changed: make(chan struct{})}
}

func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOutputBody))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	down := c.down
	if down {
		c.refused++
	}
	c.mu.Unlock()
	if down {
		http.Error(w, "collector is down (fault injected)", http.StatusServiceUnavailable)
		return
	}
	o, err := ParseOutput(r.Header.Get("Idempotency-Key"), r.Header.Get("X-Tandem-Epoch"), body)
	if err == nil && r.Method != http.MethodPost {
		err = fmt.Errorf("method %s, want POST", r.Method)
	}
	c.mu.Lock()
	if err != nil {
		c.malformed++
		if c.example == "" {
			c.example = err.Error()
		}
	} else {
		o.At = time.Now()
		c.outs = append(c.outs, o)
		c.ids[o.ID] = struct{}{}
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
	if err != nil {
		// A 4xx makes the sink retry the same output forever, which the
		// scenario then reports as a hang; the malformed count says why.
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// SetDown makes the collector answer 503 to every request (down) or accept
// outputs again.
func (c *Collector) SetDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

// Len is the number of outputs accepted so far.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.outs)
}

// Outputs returns a copy of the outputs accepted so far, in arrival order.
func (c *Collector) Outputs() []Output {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Output(nil), c.outs...)
}

// Refused is the number of requests answered 503 while down.
func (c *Collector) Refused() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

// Malformed is the number of requests that were not an output of the app,
// and the problem with the first of them.
func (c *Collector) Malformed() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.malformed, c.example
}

// Wait returns the first output at index from or later (in arrival order)
// for which ok is true, waiting for it to arrive until ctx is done.
func (c *Collector) Wait(ctx context.Context, from int, ok func(Output) bool) (Output, error) {
	for {
		c.mu.Lock()
		for ; from < len(c.outs); from++ {
			if ok(c.outs[from]) {
				o := c.outs[from]
				c.mu.Unlock()
				return o, nil
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Output{}, ctx.Err()
		}
	}
}

// Distinct is the number of different output ids accepted so far.
func (c *Collector) Distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}
