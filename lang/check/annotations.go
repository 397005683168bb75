package check

import (
	"strconv"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Annotations Siddhi defines are checked; any other annotation is kept for
// extensions and not reported.

func is(a *ast.Annotation, name string) bool { return strings.EqualFold(a.Name, name) }

func (c *checker) appAnnotations(list []*ast.Annotation) {
	for _, a := range list {
		switch {
		case is(a, "app:playback"):
			for _, key := range []string{"idle.time", "increment"} {
				if v, ok := a.Get(key); ok {
					c.timeString(a, key, v, "@app:playback")
				}
			}
		case is(a, "app:name"):
			if len(a.Elements) != 1 || a.Elements[0].Value == "" {
				c.errorf(a.Pos, "@app:name needs exactly one non-empty name, such as @app:name('Orders')")
			}
		}
	}
}

// timeString checks an annotation value that holds a time such as '1 sec'.
func (c *checker) timeString(a *ast.Annotation, key, v, where string) {
	pos := a.Pos
	for _, e := range a.Elements {
		if strings.EqualFold(e.Key, key) {
			pos = e.Pos
		}
	}
	x, err := parser.ParseExpr("", []byte(v))
	if k, ok := x.(*ast.Constant); err == nil && ok && k.IsTime {
		return
	}
	c.errorf(pos, "invalid %s '%s' in %s: expected a time such as '100 millisec' or '2 sec'", key, v, where)
}

// element returns the annotation element with the given key, or nil.
func element(a *ast.Annotation, key string) *ast.Element {
	for _, e := range a.Elements {
		if strings.EqualFold(e.Key, key) {
			return e
		}
	}
	return nil
}

// connector checks @source, @sink and @store annotations: the type must be
// known, and so must the type of a nested @map.
func (c *checker) connector(a *ast.Annotation, kind string, known map[string]bool) {
	t := element(a, "type")
	if t == nil {
		c.errorf(a.Pos, "@%s needs a type, such as @%s(type='%s')", strings.ToLower(kind), strings.ToLower(kind), firstKey(known))
		return
	}
	if !known[strings.ToLower(t.Value)] {
		c.errorf(t.Pos, "unknown %s type '%s'", kind, t.Value)
		if s := suggest(t.Value, keys(known)); s != "" {
			c.hintf("did you mean '%s'?", s)
		} else if len(known) > 0 {
			c.hintf("known %s types: %s", kind, strings.Join(keys(known), ", "))
		} else {
			c.hintf("no %s types are available", kind)
		}
	}
	if m := a.Nested("map"); m != nil {
		mt := element(m, "type")
		switch {
		case mt == nil:
			c.errorf(m.Pos, "@map needs a type, such as @map(type='json')")
		case !c.reg.mappers[strings.ToLower(mt.Value)]:
			c.errorf(mt.Pos, "unknown mapper type '%s'", mt.Value)
			if s := suggest(mt.Value, keys(c.reg.mappers)); s != "" {
				c.hintf("did you mean '%s'?", s)
			} else {
				c.hintf("known mapper types: %s", strings.Join(keys(c.reg.mappers), ", "))
			}
		}
	}
}

func firstKey(m map[string]bool) string {
	if k := keys(m); len(k) > 0 {
		return k[0]
	}
	return "..."
}

func (c *checker) streamAnnotations(s *ast.StreamDef, d *def) {
	for _, a := range s.Annotations {
		switch {
		case is(a, "source"):
			c.connector(a, "source", c.reg.sources)
		case is(a, "sink"):
			c.connector(a, "sink", c.reg.sinks)
		case is(a, "OnError"):
			act := element(a, "action")
			switch {
			case act == nil:
				c.errorf(a.Pos, "@OnError needs an action: @OnError(action='log') or @OnError(action='stream')")
			case strings.EqualFold(act.Value, "stream"):
				d.fault = true
			case strings.EqualFold(act.Value, "log"), strings.EqualFold(act.Value, "store"):
			default:
				c.errorf(act.Pos, "unknown @OnError action '%s': expected 'log', 'stream' or 'store'", act.Value)
			}
		default:
			c.commonAnnotation(a)
		}
	}
}

// commonAnnotation checks annotations that may stand on several elements.
func (c *checker) commonAnnotation(a *ast.Annotation) {
	switch {
	case is(a, "async"):
		for _, e := range a.Elements {
			if n, err := strconv.Atoi(e.Value); err != nil || n <= 0 {
				c.errorf(e.Pos, "@async %s must be a positive number, but found '%s'", e.Key, e.Value)
			}
		}
	case is(a, "purge"):
		for _, key := range []string{"interval", "idle.period"} {
			if v, ok := a.Get(key); ok {
				c.timeString(a, key, v, "@purge")
			}
		}
	case is(a, "store"):
		c.connector(a, "store", c.reg.stores)
	}
}

func (c *checker) tableAnnotations(t *ast.TableDef, attrs []event.Attribute) {
	has := func(name string) bool {
		for _, a := range attrs {
			if a.Name == name {
				return true
			}
		}
		return false
	}
	indexed := map[string]bool{}
	for _, a := range t.Annotations {
		switch {
		case is(a, "PrimaryKey"):
			seen := map[string]bool{}
			for _, e := range a.Elements {
				switch {
				case !has(e.Value):
					c.errorf(e.Pos, "@PrimaryKey attribute '%s' is not defined in table %s", e.Value, t.Name)
					c.didYouMean(e.Value, attrNames(attrs))
				case seen[e.Value]:
					c.errorf(e.Pos, "@PrimaryKey lists '%s' twice", e.Value)
				}
				seen[e.Value] = true
			}
		case is(a, "Index"):
			if len(a.Elements) != 1 {
				c.errorf(a.Pos, "@Index takes one attribute, but found %d", len(a.Elements))
				c.hintf("index several attributes with one @Index('attr') each")
				continue
			}
			e := a.Elements[0]
			switch {
			case !has(e.Value):
				c.errorf(e.Pos, "@Index attribute '%s' is not defined in table %s", e.Value, t.Name)
				c.didYouMean(e.Value, attrNames(attrs))
			case indexed[e.Value]:
				c.errorf(e.Pos, "attribute '%s' of table %s is indexed twice", e.Value, t.Name)
			}
			indexed[e.Value] = true
		default:
			c.commonAnnotation(a)
		}
	}
}

func (c *checker) queryAnnotations(q *ast.Query) {
	for _, a := range q.Annotations {
		if is(a, "info") {
			if name, ok := a.Get("name"); ok {
				if p, dup := c.queries[name]; dup {
					c.errorf(a.Pos, "a query named '%s' already exists at %s", name, p)
				}
				c.queries[name] = a.Pos
			}
			continue
		}
		c.commonAnnotation(a)
	}
}

func (c *checker) aggregationAnnotations(agg *ast.AggregationDef) {
	for _, a := range agg.Annotations {
		switch {
		case is(a, "PartitionById"):
			if v, ok := a.Get("enable"); ok && strings.EqualFold(v, "false") {
				continue
			}
			c.errorf(a.Pos, "@PartitionById needs a shard id, which Tandem does not configure")
			c.hintf("remove @PartitionById: Tandem runs an aggregation on one node")
		case is(a, "info"):
		default:
			c.commonAnnotation(a)
		}
	}
}
