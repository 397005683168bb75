// Package filesink implements a file sink in the manner of Siddhi's:
//
//	@sink(type='file', file.uri='/var/out/stocks.json', @map(type='json'))
//
// Each output is appended as one JSON line holding the output id and the
// mapped event, {"id":"app/Out/0/17","event":{...}}, so a reader can drop the
// repeats a failover may cause by id. A Publish call writes its whole batch
// with one write; if that write fails part-way the file is cut back to where
// the batch began, so a retried batch never leaves half a line behind.
//
// Options: file.uri (required: a path, or a file: URI) and append (default
// true; false truncates the file when the sink first writes). The file and
// its parent directories are created on the first Publish, not when the app
// is loaded, so validating an app touches nothing.
package filesink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/mapper/jsonmap"
	"github.com/tandem-stream/tandem/io/sink"
)

// Type is the sink type name, as in @sink(type='file').
const Type = "file"

// maxKeptBuffer is the largest batch buffer kept between Publish calls.
const maxKeptBuffer = 1 << 20

// Sink appends outputs to a file.
type Sink struct {
	path     string
	truncate bool
	enc      *jsonmap.Encoder

	mu     sync.Mutex
	f      file // opened on the first Publish
	buf    []byte
	closed bool
}

// file is the part of *os.File the sink uses; tests substitute failing files.
type file interface {
	Stat() (os.FileInfo, error)
	Write([]byte) (int, error)
	Truncate(size int64) error
	Close() error
}

// Factory is the sink.Factory for file sinks.
func Factory(spec sink.Spec, env sink.Env) (sink.Sink, error) {
	return New(spec, env)
}

// New validates spec and returns a file sink; the file is opened on the first
// Publish.
func New(spec sink.Spec, _ sink.Env) (*Sink, error) {
	if spec.Stream == nil {
		return nil, errors.New("file sink: no stream schema")
	}
	if err := opts.Check("file sink", spec.Options, "file.uri", "append"); err != nil {
		return nil, err
	}
	raw, ok := spec.Options["file.uri"]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, errors.New(`file sink: option "file.uri" is required, e.g. file.uri='/var/out/stream.json'`)
	}
	path, err := parsePath(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("file sink: option \"file.uri\": %w", err)
	}
	appendMode, err := opts.Bool("file sink", spec.Options, "append", true)
	if err != nil {
		return nil, err
	}
	enc, err := jsonmap.NewEncoder(spec.Stream, spec.Map)
	if err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &Sink{path: path, truncate: !appendMode, enc: enc}, nil
}

// parsePath accepts a plain path or a file: URI (file:///a/b, file:/a/b).
func parsePath(raw string) (string, error) {
	p := raw
	if len(raw) >= 5 && strings.EqualFold(raw[:5], "file:") {
		u, err := url.Parse(raw)
		if err != nil {
			return "", err
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%q names host %q; only local files are supported", raw, u.Host)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("%q has a query or fragment", raw)
		}
		p = u.Path
		if p == "" {
			p = u.Opaque // file:relative/path
		}
	} else if i := strings.Index(raw, "://"); i > 0 {
		return "", fmt.Errorf("scheme %q is not file", raw[:i])
	}
	if p == "" {
		return "", fmt.Errorf("%q has no path", raw)
	}
	if strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("%q names a directory, not a file", raw)
	}
	return filepath.Clean(p), nil
}

// Path returns the file the sink writes.
func (s *Sink) Path() string { return s.path }

// Publish appends one line per output and writes the batch to the file.
func (s *Sink) Publish(ctx context.Context, outs []sink.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("file sink: closed")
	}
	if len(outs) == 0 {
		return nil
	}
	buf := s.buf[:0]
	for _, out := range outs {
		buf = append(buf, `{"id":`...)
		buf = jsonmap.AppendString(buf, out.ID)
		buf = append(buf, `,"event":`...)
		var err error
		if buf, err = s.enc.AppendAttrs(buf, out.Event.Data); err != nil {
			return fmt.Errorf("file sink: output %s: %w", out.ID, err)
		}
		buf = append(buf, '}', '\n')
	}
	if cap(buf) <= maxKeptBuffer {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}
	if err := s.open(); err != nil {
		return err
	}
	if err := sink.Check(ctx); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return s.write(buf)
}

func (s *Sink) open() error {
	if s.f != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if s.truncate {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(s.path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	s.f = f
	return nil
}

// write appends buf with one write, cutting the file back to its previous
// size if the write fails part-way.
func (s *Sink) write(buf []byte) error {
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	n, err := s.f.Write(buf)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("file sink: writing %s: %w", s.path, err)
	if n > 0 {
		if terr := s.f.Truncate(fi.Size()); terr != nil {
			err = errors.Join(err, fmt.Errorf("file sink: removing a partly written batch: %w", terr))
		}
	}
	return err
}

// Close closes the file; later Publish calls fail.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return nil
}
