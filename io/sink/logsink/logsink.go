// Package logsink implements Siddhi's log sink:
//
//	@sink(type='log', prefix='Stocks', priority='INFO')
//
// Each output becomes one log record whose message is the prefix (by default
// "<app> : <stream>", as in Siddhi) with the output id, the event timestamp
// and the event. Without @map, or with @map(type='passThrough'), the event is
// a group of typed attributes; with @map(type='json') it is the event's JSON
// text, {"event":{...}}.
package logsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
)

// Type is the sink type name, as in @sink(type='log').
const Type = "log"

var levels = map[string]slog.Level{
	"DEBUG": slog.LevelDebug,
	"INFO":  slog.LevelInfo,
	"WARN":  slog.LevelWarn,
	"ERROR": slog.LevelError,
}

// Sink logs outputs.
type Sink struct {
	logger *slog.Logger
	prefix string
	level  slog.Level
	attrs  []string         // attribute names, for passThrough
	enc    *jsonmap.Encoder // nil for passThrough
	closed atomic.Bool
}

// Factory is the sink.Factory for log sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns a log sink writing to env.Logger (the
// process's default logger when nil).
func New(spec sink.Spec, env sink.Env) (*Sink, error) {
	if spec.Stream == nil {
		return nil, errors.New("log sink: no stream schema")
	}
	if err := opts.Check("log sink", spec.Options, "prefix", "priority"); err != nil {
		return nil, err
	}
	s := &Sink{logger: env.Logger, level: slog.LevelInfo}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.prefix = spec.App + " : " + spec.Stream.Name
	if p, ok := spec.Options["prefix"]; ok {
		s.prefix = p
	}
	if p, ok := spec.Options["priority"]; ok {
		lvl, ok := levels[strings.ToUpper(strings.TrimSpace(p))]
		if !ok {
			return nil, fmt.Errorf("log sink: option \"priority\": %q is not one of DEBUG, INFO, WARN, ERROR", p)
		}
		s.level = lvl
	}
	switch {
	case spec.Map.Type == "" || strings.EqualFold(spec.Map.Type, "passThrough"):
		if err := opts.Check("@map(type='passThrough')", spec.Map.Options); err != nil {
			return nil, err
		}
		for _, a := range spec.Stream.Attrs {
			s.attrs = append(s.attrs, a.Name)
		}
	case jsonmap.IsJSON(spec.Map.Type):
		enc, err := jsonmap.NewEncoder(spec.Stream, spec.Map)
		if err != nil {
			return nil, fmt.Errorf("log sink: %w", err)
		}
		s.enc = enc
	default:
		return nil, fmt.Errorf("log sink: @map: unknown map type %q (known: json, passThrough)", spec.Map.Type)
	}
	return s, nil
}

// Publish logs every output of the batch in order.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	if s.closed.Load() {
		return errors.New("log sink: closed")
	}
	if !s.logger.Enabled(ctx, s.level) {
		return nil
	}
	var buf []byte
	for _, out := range outs {
		if err := sink.Check(ctx); err != nil {
			return fmt.Errorf("log sink: output %s: %w", out.ID, err)
		}
		attrs := []slog.Attr{slog.String("id", out.ID), slog.Int64("timestamp", out.Event.Timestamp)}
		if s.enc != nil {
			var err error
			buf, err = s.enc.AppendEvent(buf[:0], out.Event.Data)
			if err != nil {
				return fmt.Errorf("log sink: output %s: %w", out.ID, err)
			}
			attrs = append(attrs, slog.String("event", string(buf)))
		} else {
			if len(out.Event.Data) != len(s.attrs) {
				return fmt.Errorf("log sink: output %s: stream has %d attributes, event has %d values", out.ID, len(s.attrs), len(out.Event.Data))
			}
			group := make([]any, len(s.attrs))
			for i, name := range s.attrs {
				group[i] = slog.Any(name, valueOf(out.Event.Data[i]))
			}
			attrs = append(attrs, slog.Group("event", group...))
		}
		if out.Event.Expired {
			attrs = append(attrs, slog.Bool("expired", true))
		}
		s.logger.LogAttrs(ctx, s.level, s.prefix, attrs...)
	}
	return nil
}

// valueOf gives slog a value that prints as Siddhi prints it.
func valueOf(v event.Value) any {
	switch v.Type() {
	case event.Float, event.Double:
		return v.String() // 55.6 and 1.0 rather than slog's float formatting
	}
	return v.Any()
}

// Close stops the sink; later Publish calls fail.
func (s *Sink) Close() error {
	s.closed.Store(true)
	return nil
}
