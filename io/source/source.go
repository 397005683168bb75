// Package source defines how event sources plug into Tandem, in the manner of
// database/sql drivers: a Factory per source type builds a Source from the
// app's @source annotation, and the Source hands decoded events to an Ingester.
package source

import (
	"context"
	"log/slog"

	"github.com/tandem-stream/tandem/event"
)

// Ingester is the app side of a source (implemented by package host).
type Ingester interface {
	// Ingest hands one batch of events for a stream to the app and returns once
	// the batch is safe by the node's replication ack mode: with ack: sync the
	// passive holds it, so the source may acknowledge its sender. key is the
	// sender's idempotency key ("" for none); a batch whose key was already
	// logged is dropped and Ingest returns nil. Ingest blocks (pushes back) while
	// the app's queues are full, until ctx is done.
	Ingest(ctx context.Context, stream string, rows [][]event.Value, key string) error
}

// KeyedIngester is implemented by Ingesters that take a key per row, so a
// source reading many broker messages at once can log them in one commit and
// still have each redelivered message dropped on its own. Sources use it when
// their Ingester has it.
type KeyedIngester interface {
	IngestKeyed(ctx context.Context, stream string, rows [][]event.Value, keys []string) error
}

// MapSpec is the @map annotation nested in @source or @sink.
type MapSpec struct {
	Type    string            // "json", ...; "" means the connector's default
	Options map[string]string // other @map elements, keys lower-cased
}

// Spec is one @source annotation, resolved against its stream.
type Spec struct {
	App     string
	Stream  *event.Schema
	Type    string            // "http", ...
	Options map[string]string // @source elements other than type, keys lower-cased
	Map     MapSpec
}

// Env is what the node lends to sources.
type Env struct {
	Logger *slog.Logger
	// HTTPListen, when set, replaces the host:port of every HTTP source's
	// receiver.url (the path is kept), so two nodes on one machine can serve the
	// same app on different ports.
	HTTPListen string
}

// Source is a running source. Start opens it (binds ports, subscribes);
// Stop closes it and returns when no Ingest call of its own is in flight.
type Source interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Factory builds a Source; it validates spec and fails with a clear error.
type Factory func(spec Spec, ing Ingester, env Env) (Source, error)
