// Package sink defines how output sinks plug into Tandem: a Factory per sink
// type builds a Sink from an app's @sink annotation.
package sink

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/source"
)

// Output is one event to publish. ID is deterministic, "app/sink/ordinal", and
// the same on both nodes, so sinks that can pass it on (HTTP Idempotency-Key)
// let receivers drop repeats after a failover. Epoch is the publisher's lease
// epoch, for receivers that fence stale publishers.
type Output struct {
	ID      string
	Ordinal uint64
	Epoch   uint64
	Event   event.Event
}

// Spec is one @sink annotation, resolved against its stream.
type Spec struct {
	App     string
	ID      string // "Stream/index", unique per app
	Stream  *event.Schema
	Type    string
	Options map[string]string // @sink elements other than type, keys lower-cased
	Map     source.MapSpec
}

// Env is what the node lends to sinks.
type Env struct {
	Logger *slog.Logger
}

// Sink publishes outputs. Publish either delivers every output of the batch, in
// order, or returns an error; the caller retries the same batch later, so a
// sink must tolerate re-delivery of a prefix it already sent.
type Sink interface {
	Publish(ctx context.Context, outs []Output) error
	Close() error
}

// Factory builds a Sink; it validates spec and fails with a clear error.
type Factory func(spec Spec, env Env) (Sink, error)

// ErrFenced is returned by Check when the publisher may no longer publish.
var ErrFenced = errors.New("sink: publishing fenced: the node's lease may have run out")

type fenceKey struct{}

// WithFence returns a context that carries allowed, which reports whether the
// node may still publish. The publisher sets it; sinks call Check right before
// each write, so that a process frozen mid-batch (SIGSTOP, a long pause) and
// thawed after a successor took over writes nothing more.
func WithFence(ctx context.Context, allowed func() bool) context.Context {
	return context.WithValue(ctx, fenceKey{}, allowed)
}

// Check returns ErrFenced if ctx carries a fence that is closed now, else
// ctx.Err().
func Check(ctx context.Context) error {
	if allowed, ok := ctx.Value(fenceKey{}).(func() bool); ok && !allowed() {
		return ErrFenced
	}
	return ctx.Err()
}
