// Package deploy turns a SiddhiQL file into what a node runs: a host.App with
// its engine and sinks, and the app's sources. Everything that can be checked
// before the app runs (syntax, names and types, connector options) is checked
// by Load, so a bad app is refused at start-up with file:line:col errors.
package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/engine"
	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/host"
	"github.com/tandem-stream/tandem/io/sink"
	"github.com/tandem-stream/tandem/io/source"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/check"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Connectors resolves connector type names (io/registry implements it).
type Connectors interface {
	Source(typ string) (source.Factory, error)
	Sink(typ string) (sink.Factory, error)
	SourceTypes() []string
	SinkTypes() []string
}

// Registry returns the checker's registry: Siddhi's core functions and
// windows, and exactly the connectors conns has.
func Registry(conns Connectors) *check.Registry {
	reg := check.DefaultRegistry()
	reg.SetSources(conns.SourceTypes()...)
	reg.SetSinks(conns.SinkTypes()...)
	return reg
}

// Plan is a loaded, checked app.
type Plan struct {
	File    string
	Name    string
	Hash    string // sha256 of the app text
	Text    []byte
	AST     *ast.App
	sources []sourcePlan
	sinks   []sinkPlan
}

type sourcePlan struct {
	spec    source.Spec
	factory source.Factory
}

type sinkPlan struct {
	spec    sink.Spec
	factory sink.Factory
}

// LoadFile reads and loads one app file.
func LoadFile(path string, conns Connectors) (*Plan, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read app: %w", err)
	}
	return Load(path, src, conns)
}

// Load parses and checks an app and resolves its connectors.
func Load(file string, src []byte, conns Connectors) (*Plan, error) {
	tree, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	if _, err := check.Check(tree, &check.Config{Registry: Registry(conns)}); err != nil {
		return nil, err
	}
	rt, err := engine.New(tree)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	p := &Plan{File: file, Text: src, AST: tree, Hash: hex.EncodeToString(sum[:]), Name: tree.Name()}
	if p.Name == "" {
		base := filepath.Base(file)
		p.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	var errs ast.ErrorList
	for _, def := range tree.Streams {
		schema, ok := rt.Schema(def.Name)
		if !ok {
			errs.Add(file, def.Pos, fmt.Sprintf("stream %s has no schema", def.Name))
			continue
		}
		nSink := 0
		for _, an := range def.Annotations {
			switch strings.ToLower(an.Name) {
			case "source":
				typ, opts, mp := connectorOptions(an)
				f, err := conns.Source(typ)
				if err != nil {
					errs.Add(file, an.Pos, err.Error())
					continue
				}
				spec := source.Spec{App: p.Name, Stream: schema, Type: typ, Options: opts, Map: mp}
				// Sources bind nothing until Start, so building one checks its options.
				if _, err := f(spec, refuseIngest{}, source.Env{Logger: slog.New(slog.DiscardHandler)}); err != nil {
					errs.Add(file, an.Pos, err.Error())
					continue
				}
				p.sources = append(p.sources, sourcePlan{spec: spec, factory: f})
			case "sink":
				typ, opts, mp := connectorOptions(an)
				f, err := conns.Sink(typ)
				if err != nil {
					errs.Add(file, an.Pos, err.Error())
					continue
				}
				spec := sink.Spec{App: p.Name, ID: def.Name + "/" + strconv.Itoa(nSink), Stream: schema,
					Type: typ, Options: opts, Map: mp}
				nSink++
				// Build it once now so bad options fail at load, not at failover.
				s, err := f(spec, sink.Env{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					errs.Add(file, an.Pos, err.Error())
					continue
				}
				s.Close()
				p.sinks = append(p.sinks, sinkPlan{spec: spec, factory: f})
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// refuseIngest stands in for the app while a source is only being checked.
type refuseIngest struct{}

func (refuseIngest) Ingest(context.Context, string, [][]event.Value, string) error {
	return errors.New("source used before its app runs")
}

// connectorOptions splits a @source/@sink annotation into its type, its other
// options (keys lower-cased) and its @map.
func connectorOptions(an *ast.Annotation) (string, map[string]string, source.MapSpec) {
	opts := map[string]string{}
	typ := ""
	for _, e := range an.Elements {
		k := strings.ToLower(e.Key)
		if k == "type" {
			typ = strings.ToLower(e.Value)
			continue
		}
		opts[k] = e.Value
	}
	mp := source.MapSpec{Options: map[string]string{}}
	if m := an.Nested("map"); m != nil {
		for _, e := range m.Elements {
			k := strings.ToLower(e.Key)
			if k == "type" {
				mp.Type = strings.ToLower(e.Value)
				continue
			}
			mp.Options[k] = e.Value
		}
	}
	return typ, opts, mp
}

// NewApp builds the host.App for the plan. opts supplies the node's settings;
// its Name, Hash, NewEngine and Sinks are filled in from the plan.
func (p *Plan) NewApp(opts host.Config, env sink.Env) *host.App {
	opts.Name, opts.Hash = p.Name, p.Hash
	tree := p.AST
	opts.NewEngine = func() (host.Engine, error) {
		rt, err := engine.New(tree)
		if err != nil {
			return nil, err
		}
		if env.Logger != nil {
			rt.SetLogger(env.Logger.With("app", p.Name))
		}
		return rt, nil
	}
	opts.Sinks = nil
	for _, sp := range p.sinks {
		sp := sp
		opts.Sinks = append(opts.Sinks, host.SinkSpec{ID: sp.spec.ID, Stream: sp.spec.Stream.Name,
			Open: func() (sink.Sink, error) { return sp.factory(sp.spec, env) }})
	}
	return host.New(opts)
}

// Sources builds the app's sources, feeding ing. They are not started.
func (p *Plan) Sources(ing source.Ingester, env source.Env) ([]source.Source, error) {
	var out []source.Source
	for _, sp := range p.sources {
		s, err := sp.factory(sp.spec, ing, env)
		if err != nil {
			return nil, fmt.Errorf("app %s: @source(type='%s') on %s: %w", p.Name, sp.spec.Type, sp.spec.Stream.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}
