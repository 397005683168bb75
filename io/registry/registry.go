// Package registry maps connector type names, as written in @source(type=...)
// and @sink(type=...), to their factories. A node builds one Registry with
// Default and hands it to whatever loads apps; tests build their own, so
// there is no process-wide registration.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/sink/filesink"
	"github.com/tandem-stream/tandem/io/sink/httpsink"
	"github.com/tandem-stream/tandem/io/sink/kafkasink"
	"github.com/tandem-stream/tandem/io/sink/logsink"
	"github.com/tandem-stream/tandem/io/sink/mqttsink"
	"github.com/tandem-stream/tandem/io/sink/natssink"
	"github.com/tandem-stream/tandem/io/sink/rabbitsink"
	"github.com/tandem-stream/tandem/io/source"
	"github.com/tandem-stream/tandem/io/source/httpsource"
	"github.com/tandem-stream/tandem/io/source/kafkasource"
	"github.com/tandem-stream/tandem/io/source/mqttsource"
	"github.com/tandem-stream/tandem/io/source/natssource"
	"github.com/tandem-stream/tandem/io/source/rabbitsource"
)

// Registry holds source and sink factories by type name, case-insensitively.
// It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	sources map[string]source.Factory
	sinks   map[string]sink.Factory
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{sources: map[string]source.Factory{}, sinks: map[string]sink.Factory{}}
}

// Default returns a registry with the built-in connectors: the http
// (serving through servers), nats (JetStream) and mqtt sources, and the log,
// file, http, nats and mqtt sinks.
func Default(servers *httpsource.Servers) *Registry {
	r := New()
	r.sources[httpsource.Type] = httpsource.Factory(servers)
	r.sources[natssource.Type] = natssource.Factory
	r.sources[mqttsource.Type] = mqttsource.Factory
	r.sources[kafkasource.Type] = kafkasource.Factory
	r.sources[rabbitsource.Type] = rabbitsource.Factory
	r.sinks[logsink.Type] = logsink.Factory
	r.sinks[filesink.Type] = filesink.Factory
	r.sinks[httpsink.Type] = httpsink.Factory
	r.sinks[natssink.Type] = natssink.Factory
	r.sinks[mqttsink.Type] = mqttsink.Factory
	r.sinks[kafkasink.Type] = kafkasink.Factory
	r.sinks[rabbitsink.Type] = rabbitsink.Factory
	return r
}

func key(typ string) string { return strings.ToLower(strings.TrimSpace(typ)) }

// RegisterSource adds a source type; registering a name twice is an error.
func (r *Registry) RegisterSource(typ string, f source.Factory) error {
	k := key(typ)
	if k == "" || f == nil {
		return fmt.Errorf("registry: source type %q: empty name or nil factory", typ)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.sources[k]; dup {
		return fmt.Errorf("registry: source type %q registered twice", typ)
	}
	r.sources[k] = f
	return nil
}

// RegisterSink adds a sink type; registering a name twice is an error.
func (r *Registry) RegisterSink(typ string, f sink.Factory) error {
	k := key(typ)
	if k == "" || f == nil {
		return fmt.Errorf("registry: sink type %q: empty name or nil factory", typ)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.sinks[k]; dup {
		return fmt.Errorf("registry: sink type %q registered twice", typ)
	}
	r.sinks[k] = f
	return nil
}

// Source returns the factory for a source type.
func (r *Registry) Source(typ string) (source.Factory, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if f, ok := r.sources[key(typ)]; ok {
		return f, nil
	}
	return nil, unknown("source", typ, r.sources)
}

// Sink returns the factory for a sink type.
func (r *Registry) Sink(typ string) (sink.Factory, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if f, ok := r.sinks[key(typ)]; ok {
		return f, nil
	}
	return nil, unknown("sink", typ, r.sinks)
}

// SourceTypes returns the registered source type names, sorted.
func (r *Registry) SourceTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return names(r.sources)
}

// SinkTypes returns the registered sink type names, sorted.
func (r *Registry) SinkTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return names(r.sinks)
}

func names[F any](m map[string]F) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

func unknown[F any](kind, typ string, m map[string]F) error {
	if strings.TrimSpace(typ) == "" {
		return fmt.Errorf("@%s has no type (known: %s)", kind, strings.Join(names(m), ", "))
	}
	known := strings.Join(names(m), ", ")
	if known == "" {
		known = "none"
	}
	return fmt.Errorf("unknown %s type %q (known: %s)", kind, typ, known)
}
