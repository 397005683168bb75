// Package check resolves the names and types of a parsed SiddhiQL app and
// rejects what Siddhi rejects: undefined streams and attributes, type
// mismatches, duplicate or conflicting definitions, unknown windows,
// functions and connectors, wrong window parameters, and query outputs that
// conflict with an existing definition.
//
// The checker never changes the tree. What it learns (the type of every
// expression, the schema of every stream including those a query defines by
// inserting into them) is returned in an Info. Errors come as an
// ast.ErrorList, each with a position and, where one helps, a hint.
package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// Config tunes the checker.
type Config struct {
	// Registry lists the functions, windows and connectors apps may use;
	// nil means DefaultRegistry().
	Registry *Registry
}

// Info is what the checker learned about an app.
type Info struct {
	// Types holds the type of every expression the checker visited.
	Types map[ast.Expr]event.Type
	// Streams holds every stream: defined ones, those queries define by
	// inserting into them, trigger streams, and fault streams under "!Name".
	Streams map[string]*event.Schema
	// Tables, Windows and Aggregations hold the other definitions. An
	// aggregation's schema starts with AGG_TIMESTAMP and lists its outputs.
	Tables       map[string]*event.Schema
	Windows      map[string]*event.Schema
	Aggregations map[string]*event.Schema
	// Outputs holds the attributes each query selects, in order.
	Outputs map[*ast.Query]*event.Schema
	// Inner holds each partition's inner streams (written `#Name`).
	Inner map[*ast.Partition]map[string]*event.Schema
}

// Check checks app. It returns the Info and, when the app is invalid, an
// ast.ErrorList sorted by position.
func Check(app *ast.App, conf *Config) (*Info, error) {
	c := newChecker(app, conf)
	c.app(app)
	return c.finish()
}

// CheckOnDemand checks an on-demand query against app, which must itself be
// valid.
func CheckOnDemand(app *ast.App, file string, q *ast.OnDemandQuery, conf *Config) (*Info, error) {
	c := newChecker(app, conf)
	c.definitions(app)
	if len(c.errs) > 0 {
		return c.finish()
	}
	c.execution(app)
	c.errs = nil // the app's own errors are not the query's
	c.file = file
	c.onDemand(q)
	return c.finish()
}

// defKind tells the kinds of definitions apart.
type defKind int

const (
	kindStream defKind = iota
	kindTable
	kindWindow
	kindAggregation
)

func (k defKind) String() string {
	return [...]string{"stream", "table", "window", "aggregation"}[k]
}

// def is a named definition, explicit or inferred from a query's output.
type def struct {
	kind     defKind
	name     string
	pos      ast.Pos
	attrs    []event.Attribute
	inferred bool // a stream first defined by a query inserting into it
	fault    bool // @OnError(action='stream'): a fault stream !name exists
	window   *ast.WindowDef
	agg      *ast.AggregationDef
}

func (d *def) describe() string {
	return d.kind.String() + " " + d.name + " " + attrList(d.attrs)
}

type checker struct {
	file     string
	reg      *Registry
	errs     ast.ErrorList
	info     *Info
	defs     map[string]*def
	funcs    map[string]*ast.FunctionDef
	queries  map[string]ast.Pos // @info names
	produced map[string]bool    // streams some query inserts into

	// Inside a partition: its inner streams and the streams it partitions.
	inner     map[string]*def
	innerMade map[string]bool
	part      *ast.Partition
}

func newChecker(app *ast.App, conf *Config) *checker {
	reg := DefaultRegistry()
	if conf != nil && conf.Registry != nil {
		reg = conf.Registry
	}
	reg.init()
	return &checker{
		file: app.File,
		reg:  reg,
		info: &Info{
			Types:        map[ast.Expr]event.Type{},
			Streams:      map[string]*event.Schema{},
			Tables:       map[string]*event.Schema{},
			Windows:      map[string]*event.Schema{},
			Aggregations: map[string]*event.Schema{},
			Outputs:      map[*ast.Query]*event.Schema{},
			Inner:        map[*ast.Partition]map[string]*event.Schema{},
		},
		defs:     map[string]*def{},
		funcs:    map[string]*ast.FunctionDef{},
		queries:  map[string]ast.Pos{},
		produced: map[string]bool{},
	}
}

func (c *checker) finish() (*Info, error) {
	for name, d := range c.defs {
		s := &event.Schema{Name: name, Attrs: d.attrs}
		switch d.kind {
		case kindStream:
			c.info.Streams[name] = s
			if d.fault {
				c.info.Streams["!"+name] = &event.Schema{Name: "!" + name, Attrs: faultAttrs(d.attrs)}
			}
		case kindTable:
			c.info.Tables[name] = s
		case kindWindow:
			c.info.Windows[name] = s
		case kindAggregation:
			c.info.Aggregations[name] = s
		}
	}
	c.errs.Sort()
	return c.info, c.errs.Err()
}

// ---- errors ----

func (c *checker) errorf(pos ast.Pos, format string, args ...any) {
	c.errs = append(c.errs, &ast.Error{File: c.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// hintf adds a hint to the last error.
func (c *checker) hintf(format string, args ...any) {
	if n := len(c.errs); n > 0 {
		c.errs[n-1].Hint = fmt.Sprintf(format, args...)
	}
}

// didYouMean hints at the candidate closest to name, if any is close.
func (c *checker) didYouMean(name string, candidates []string) {
	if s := suggest(name, candidates); s != "" {
		c.hintf("did you mean '%s'?", s)
	}
}

// suggest returns the candidate closest to name, or "" when none is close.
func suggest(name string, candidates []string) string {
	best, bestD := "", max(1, len(name)/3)+1
	for _, cand := range candidates {
		if cand == name {
			continue
		}
		d := distance(strings.ToLower(name), strings.ToLower(cand))
		if d >= len(name) {
			continue // nothing in common
		}
		if d < bestD || d == bestD && cand < best {
			best, bestD = cand, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func attrList(attrs []event.Attribute) string {
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = a.Name + " " + a.Type.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func faultAttrs(attrs []event.Attribute) []event.Attribute {
	out := append([]event.Attribute(nil), attrs...)
	return append(out, event.Attribute{Name: "_error", Type: event.Object})
}

func sameAttrs(a, b []event.Attribute) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (c *checker) defNames(kinds ...defKind) []string {
	var out []string
	for name, d := range c.defs {
		for _, k := range kinds {
			if d.kind == k {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ---- the app ----

func (c *checker) app(app *ast.App) {
	c.appAnnotations(app.Annotations)
	c.definitions(app)
	c.execution(app)
}

// definitions checks and records every definition.
func (c *checker) definitions(app *ast.App) {
	for _, f := range app.Functions {
		c.functionDef(f)
	}
	for _, n := range app.Body {
		switch d := n.(type) {
		case *ast.StreamDef:
			c.streamDef(d)
		case *ast.TableDef:
			c.tableDef(d)
		case *ast.TriggerDef:
			c.triggerDef(d)
		}
	}
	// Windows and aggregations read other definitions.
	for _, w := range app.Windows {
		c.windowDef(w)
	}
	for _, a := range app.Aggregations {
		c.aggregationDef(a)
	}
}

// attrs converts attribute definitions, reporting duplicates.
func (c *checker) attrs(defs []*ast.AttrDef, owner string) []event.Attribute {
	seen := map[string]bool{}
	out := make([]event.Attribute, 0, len(defs))
	for _, a := range defs {
		if seen[a.Name] {
			c.errorf(a.Pos, "attribute '%s' is defined twice in %s", a.Name, owner)
			continue
		}
		seen[a.Name] = true
		out = append(out, event.Attribute{Name: a.Name, Type: a.Type})
	}
	return out
}

// define records a definition, reporting a conflict with an earlier one.
// Identical redefinitions of a stream are allowed, as in Siddhi.
func (c *checker) define(d *def) *def {
	old, ok := c.defs[d.name]
	if !ok {
		c.defs[d.name] = d
		return d
	}
	switch {
	case old.kind != d.kind:
		c.errorf(d.pos, "'%s' is already defined as a %s at %s", d.name, old.kind, old.pos)
	case old.kind == kindStream && sameAttrs(old.attrs, d.attrs):
		return old
	default:
		c.errorf(d.pos, "%s '%s' is already defined at %s with different attributes: %s", d.kind, d.name, old.pos, old.describe())
	}
	return old
}

func (c *checker) streamDef(s *ast.StreamDef) {
	d := c.define(&def{kind: kindStream, name: s.Name, pos: s.Pos, attrs: c.attrs(s.Attrs, "stream "+s.Name)})
	c.streamAnnotations(s, d)
}

func (c *checker) tableDef(t *ast.TableDef) {
	attrs := c.attrs(t.Attrs, "table "+t.Name)
	c.define(&def{kind: kindTable, name: t.Name, pos: t.Pos, attrs: attrs})
	c.tableAnnotations(t, attrs)
}

func (c *checker) triggerDef(t *ast.TriggerDef) {
	c.define(&def{kind: kindStream, name: t.Name, pos: t.Pos,
		attrs: []event.Attribute{{Name: "triggered_time", Type: event.Long}}})
	switch {
	case t.Every != nil:
		if t.Every.Value.Int() <= 0 {
			c.errorf(t.Every.Pos, "trigger interval must be positive")
		}
	case strings.EqualFold(t.At, "start"):
	default:
		if msg := checkCron(t.At); msg != "" {
			c.errorf(t.AtPos, "invalid cron expression '%s' for trigger %s: %s", t.At, t.Name, msg)
			c.hintf("use 'start', 'every <time>' or a cron expression such as '*/5 * * * * ?'")
		}
	}
}

// checkCron checks the shape of a Quartz cron expression: six or seven
// fields of digits, names and the characters Quartz allows.
func checkCron(s string) string {
	fields := strings.Fields(s)
	if len(fields) < 6 || len(fields) > 7 {
		return fmt.Sprintf("want 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), found %d", len(fields))
	}
	for _, f := range fields {
		for _, r := range f {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || strings.ContainsRune("*?/,-#", r)) {
				return fmt.Sprintf("unexpected character %q in field '%s'", r, f)
			}
		}
	}
	return ""
}

func (c *checker) functionDef(f *ast.FunctionDef) {
	if old, ok := c.funcs[f.Name]; ok {
		c.errorf(f.Pos, "function '%s' is already defined at %s", f.Name, old.Pos)
		return
	}
	if c.reg.Func(f.Name) != nil {
		c.errorf(f.Pos, "function '%s' is already a built-in function", f.Name)
		return
	}
	c.funcs[f.Name] = f
}

func (c *checker) windowDef(w *ast.WindowDef) {
	attrs := c.attrs(w.Attrs, "window "+w.Name)
	d := c.define(&def{kind: kindWindow, name: w.Name, pos: w.Pos, attrs: attrs, window: w})
	if d.window != w {
		return
	}
	sc := &scope{sources: []*source{{stream: w.Name, attrs: attrs, label: "window " + w.Name}}}
	c.window(w.Window, sc)
	for _, a := range w.Annotations {
		c.commonAnnotation(a)
	}
}

// ---- execution elements ----

// execution checks queries and partitions. A query that reads a stream
// which only a later query defines is checked after that query.
func (c *checker) execution(app *ast.App) {
	var pending []ast.Node
	for _, n := range app.Body {
		switch n := n.(type) {
		case *ast.Query:
			c.collectProduced(n, nil)
			pending = append(pending, n)
		case *ast.Partition:
			for _, q := range n.Queries {
				c.collectProduced(q, nil)
			}
			pending = append(pending, n)
		}
	}
	c.runDeferred(pending, func(n ast.Node) bool { return c.ready(n) }, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.Query:
			c.query(n)
		case *ast.Partition:
			c.partition(n)
		}
	})
}

// runDeferred checks elements in order, putting off those not ready until
// no more progress is possible; the rest are then checked as they are.
func (c *checker) runDeferred(pending []ast.Node, ready func(ast.Node) bool, check func(ast.Node)) {
	for len(pending) > 0 {
		var later []ast.Node
		for _, n := range pending {
			if ready(n) {
				check(n)
			} else {
				later = append(later, n)
			}
		}
		if len(later) == len(pending) {
			for _, n := range later {
				check(n)
			}
			return
		}
		pending = later
	}
}

// collectProduced records the streams q inserts into (inner streams in
// inner, when not nil).
func (c *checker) collectProduced(q *ast.Query, inner map[string]bool) {
	if q.Output == nil {
		return
	}
	switch o := q.Output; {
	case o.Action != ast.InsertOutput && o.Action != ast.UpdateOrInsertOutput:
	case o.Inner:
		if inner != nil {
			inner[o.Stream] = true
		}
	case !o.Fault:
		c.produced[o.Stream] = true
	}
}

// ready reports whether every stream n reads is defined or will never be.
func (c *checker) ready(n ast.Node) bool {
	ok := true
	ast.Inspect(n, func(m ast.Node) bool {
		var name string
		var inner bool
		switch m := m.(type) {
		case *ast.StreamInput:
			name, inner = m.Stream, m.Inner
		case *ast.PartitionKey:
			name = m.Stream
		default:
			return ok
		}
		if inner {
			if c.inner != nil && c.inner[name] == nil && c.innerMade[name] {
				ok = false
			}
		} else if c.defs[name] == nil && c.produced[name] {
			ok = false
		}
		return ok
	})
	return ok
}

// lookup finds a definition by name; inner looks among the current
// partition's inner streams.
func (c *checker) lookup(name string, inner bool) *def {
	if inner {
		if c.inner == nil {
			return nil
		}
		return c.inner[name]
	}
	return c.defs[name]
}
