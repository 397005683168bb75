package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// TypeSet is a set of attribute types a parameter accepts.
type TypeSet uint16

// Members of TypeSet. Time is a time constant such as `1 sec` (a long).
const (
	Int     TypeSet = 1 << event.Int
	Long    TypeSet = 1 << event.Long
	Float   TypeSet = 1 << event.Float
	Double  TypeSet = 1 << event.Double
	Bool    TypeSet = 1 << event.Bool
	String  TypeSet = 1 << event.String
	Object  TypeSet = 1 << event.Object
	Time    TypeSet = 1 << 15
	Numeric         = Int | Long | Float | Double
	Any             = Numeric | Bool | String | Object
)

// Has reports whether a value of type t (a time constant when isTime) fits.
func (s TypeSet) Has(t event.Type, isTime bool) bool {
	if isTime && s&Time != 0 {
		return true
	}
	// The null literal fits anywhere a value does.
	return t == event.Null || s&(1<<t) != 0
}

func (s TypeSet) String() string {
	var parts []string
	for _, t := range []event.Type{event.Int, event.Long, event.Float, event.Double, event.String, event.Bool, event.Object} {
		if s&(1<<t) != 0 {
			parts = append(parts, t.String())
		}
	}
	if s&Time != 0 {
		parts = append(parts, "time")
	}
	return strings.Join(parts, "|")
}

// Param is one parameter of a function, window or stream function.
type Param struct {
	Name     string
	Types    TypeSet
	Static   bool // the argument must be a literal
	Var      bool // the argument must be an attribute reference
	Variadic bool // the parameter repeats: zero or more further arguments
}

// Overload is one accepted parameter list.
type Overload []Param

func (o Overload) String() string {
	parts := make([]string, len(o))
	for i, p := range o {
		parts[i] = p.Types.String() + " " + p.Name
		if p.Variadic {
			parts[i] += "..."
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Arg is an argument as the checker sees it.
type Arg struct {
	Expr  ast.Expr
	Type  event.Type
	Const *ast.Constant // the literal, when the argument is one
}

// Func describes a function or an aggregator.
type Func struct {
	Name      string // "name" or "namespace:name"
	Aggregate bool   // an attribute aggregator (sum, count, ...)
	Overloads []Overload
	// Result computes the return type from the arguments, or reports why they
	// do not fit. Nil means Returns.
	Result  func(args []Arg) (event.Type, error)
	Returns event.Type
}

// Window describes a window.
type Window struct {
	Name      string
	Overloads []Overload
	Validate  func(args []Arg) error // extra rules, may be nil
}

// StreamFunc describes a stream function (`#name(args)`), which may add
// attributes to the events passing through.
type StreamFunc struct {
	Name      string
	Overloads []Overload
	Adds      func(args []Arg) []event.Attribute // may be nil
}

// Registry lists the functions, windows, stream functions and connectors an
// app may use. The zero Registry knows nothing; DefaultRegistry knows
// Siddhi's core and Tandem's connectors.
type Registry struct {
	funcs       map[string]*Func
	windows     map[string]*Window
	streamFuncs map[string]*StreamFunc
	sources     map[string]bool
	sinks       map[string]bool
	mappers     map[string]bool
	stores      map[string]bool
}

func (r *Registry) init() {
	if r.funcs == nil {
		r.funcs = map[string]*Func{}
		r.windows = map[string]*Window{}
		r.streamFuncs = map[string]*StreamFunc{}
		r.sources = map[string]bool{}
		r.sinks = map[string]bool{}
		r.mappers = map[string]bool{}
		r.stores = map[string]bool{}
	}
}

// AddFunc registers a function or aggregator, replacing one of the same name.
func (r *Registry) AddFunc(f *Func) { r.init(); r.funcs[f.Name] = f }

// AddWindow registers a window.
func (r *Registry) AddWindow(w *Window) { r.init(); r.windows[w.Name] = w }

// AddStreamFunc registers a stream function.
func (r *Registry) AddStreamFunc(f *StreamFunc) { r.init(); r.streamFuncs[f.Name] = f }

// AddSource, AddSink, AddMapper and AddStore register connector types
// (matched case-insensitively, as Siddhi does).
func (r *Registry) AddSource(typ string) { r.init(); r.sources[strings.ToLower(typ)] = true }
func (r *Registry) AddSink(typ string)   { r.init(); r.sinks[strings.ToLower(typ)] = true }
func (r *Registry) AddMapper(typ string) { r.init(); r.mappers[strings.ToLower(typ)] = true }
func (r *Registry) AddStore(typ string)  { r.init(); r.stores[strings.ToLower(typ)] = true }

// SetSources and SetSinks replace the known source and sink types.
func (r *Registry) SetSources(types ...string) {
	r.init()
	r.sources = map[string]bool{}
	for _, t := range types {
		r.AddSource(t)
	}
}

func (r *Registry) SetSinks(types ...string) {
	r.init()
	r.sinks = map[string]bool{}
	for _, t := range types {
		r.AddSink(t)
	}
}

// Func returns the function with the given (namespaced) name, or nil.
func (r *Registry) Func(name string) *Func { return r.funcs[name] }

// Window returns the window with the given (namespaced) name, or nil.
func (r *Registry) Window(name string) *Window { return r.windows[name] }

// StreamFunc returns the stream function with the given name, or nil.
func (r *Registry) StreamFunc(name string) *StreamFunc { return r.streamFuncs[name] }

func (r *Registry) funcNames() []string   { return keys(r.funcs) }
func (r *Registry) windowNames() []string { return keys(r.windows) }
func (r *Registry) streamNames() []string { return keys(r.streamFuncs) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CoreRegistry returns a registry with Siddhi's core functions, aggregators,
// windows and stream functions, and no connectors. Each call returns a new
// registry that the caller may extend.
func CoreRegistry() *Registry {
	r := &Registry{}
	r.init()
	for _, f := range coreFuncs() {
		r.AddFunc(f)
	}
	for _, w := range coreWindows() {
		r.AddWindow(w)
	}
	for _, f := range coreStreamFuncs() {
		r.AddStreamFunc(f)
	}
	return r
}

// DefaultRegistry returns CoreRegistry with the usual connectors: http and
// inMemory sources; log, file, http and inMemory sinks; json, passThrough,
// text and keyvalue mappers. Programs that know exactly which connectors
// they run replace them with SetSources and SetSinks.
func DefaultRegistry() *Registry {
	r := CoreRegistry()
	for _, s := range []string{"http", "inMemory"} {
		r.AddSource(s)
	}
	for _, s := range []string{"log", "file", "http", "inMemory"} {
		r.AddSink(s)
	}
	for _, m := range []string{"json", "passThrough", "text", "keyvalue"} {
		r.AddMapper(m)
	}
	return r
}

func p(name string, types TypeSet) Param { return Param{Name: name, Types: types} }

// sp is a static (literal-only) parameter.
func sp(name string, types TypeSet) Param { return Param{Name: name, Types: types, Static: true} }

// sameAsFirst returns the first argument's type.
func sameAsFirst(args []Arg) (event.Type, error) { return args[0].Type, nil }

// allSame requires every argument to have the same type and returns it.
func allSame(fn string) func([]Arg) (event.Type, error) {
	return func(args []Arg) (event.Type, error) {
		t := event.Null
		for _, a := range args {
			switch {
			case a.Type == event.Null:
			case t == event.Null:
				t = a.Type
			case a.Type != t:
				return 0, fmt.Errorf("all arguments of %s() must have the same type, but found %s and %s", fn, t, a.Type)
			}
		}
		return t, nil
	}
}

// typeName reads a type name constant such as 'double' (cast and convert).
func typeName(a Arg) (event.Type, bool) {
	if a.Const == nil || a.Const.Value.Type() != event.String {
		return 0, false
	}
	return event.ParseType(a.Const.Value.Str())
}

func coreFuncs() []*Func {
	anyArg := Overload{p("arg", Any)}
	num := Overload{p("arg", Numeric)}
	instanceOf := func(name string) *Func {
		return &Func{Name: name, Overloads: []Overload{anyArg}, Returns: event.Bool}
	}
	sumType := func(args []Arg) (event.Type, error) {
		switch args[0].Type {
		case event.Float, event.Double:
			return event.Double, nil
		}
		return event.Long, nil
	}
	return []*Func{
		// Aggregators.
		{Name: "sum", Aggregate: true, Overloads: []Overload{num}, Result: sumType},
		{Name: "avg", Aggregate: true, Overloads: []Overload{num}, Returns: event.Double},
		{Name: "count", Aggregate: true, Overloads: []Overload{{}, anyArg}, Returns: event.Long},
		{Name: "min", Aggregate: true, Overloads: []Overload{num}, Result: sameAsFirst},
		{Name: "max", Aggregate: true, Overloads: []Overload{num}, Result: sameAsFirst},
		{Name: "minForever", Aggregate: true, Overloads: []Overload{num}, Result: sameAsFirst},
		{Name: "maxForever", Aggregate: true, Overloads: []Overload{num}, Result: sameAsFirst},
		{Name: "distinctCount", Aggregate: true, Overloads: []Overload{{p("arg", Numeric|String)}}, Returns: event.Long},
		{Name: "stdDev", Aggregate: true, Overloads: []Overload{num}, Returns: event.Double},
		{Name: "and", Aggregate: true, Overloads: []Overload{{p("arg", Bool)}}, Returns: event.Bool},
		{Name: "or", Aggregate: true, Overloads: []Overload{{p("arg", Bool)}}, Returns: event.Bool},
		{Name: "unionSet", Aggregate: true, Overloads: []Overload{{p("set", Object)}}, Returns: event.Object},

		// Functions.
		{Name: "cast", Overloads: []Overload{{p("to.be.caster", Any), sp("cast.to", String)}},
			Result: func(args []Arg) (event.Type, error) {
				t, ok := typeName(args[1])
				if !ok {
					return 0, fmt.Errorf("the second argument of cast() must name a type: int, long, float, double, bool, string or object")
				}
				return t, nil
			}},
		{Name: "convert", Overloads: []Overload{{p("to.be.converted", Any), sp("converted.to", String)}},
			Result: func(args []Arg) (event.Type, error) {
				t, ok := typeName(args[1])
				if !ok || t == event.Object {
					return 0, fmt.Errorf("the second argument of convert() must be one of 'string', 'int', 'long', 'float', 'double' or 'bool', but found '%s'", args[1].Const.Value.Str())
				}
				return t, nil
			}},
		{Name: "coalesce", Overloads: []Overload{{p("arg", Any), {Name: "arg", Types: Any, Variadic: true}}},
			Result: allSame("coalesce")},
		{Name: "default", Overloads: []Overload{{p("attribute", Any), sp("default", Any)}},
			Result: func(args []Arg) (event.Type, error) {
				if args[1].Type != event.Null && args[0].Type != args[1].Type {
					return 0, fmt.Errorf("the attribute and the default value of default() must have the same type, but found %s and %s", args[0].Type, args[1].Type)
				}
				return args[0].Type, nil
			}},
		{Name: "ifThenElse", Overloads: []Overload{{p("condition", Bool), p("if.expression", Any), p("else.expression", Any)}},
			Result: func(args []Arg) (event.Type, error) {
				return allSame("ifThenElse")(args[1:])
			}},
		instanceOf("instanceOfBoolean"), instanceOf("instanceOfDouble"), instanceOf("instanceOfFloat"),
		instanceOf("instanceOfInteger"), instanceOf("instanceOfLong"), instanceOf("instanceOfString"),
		{Name: "maximum", Overloads: []Overload{{p("arg", Numeric), {Name: "arg", Types: Numeric, Variadic: true}}},
			Result: allSame("maximum")},
		{Name: "minimum", Overloads: []Overload{{p("arg", Numeric), {Name: "arg", Types: Numeric, Variadic: true}}},
			Result: allSame("minimum")},
		{Name: "createSet", Overloads: []Overload{{p("input", Numeric|String|Bool)}}, Returns: event.Object},
		{Name: "sizeOfSet", Overloads: []Overload{{p("set", Object)}}, Returns: event.Int},
		{Name: "UUID", Overloads: []Overload{{}}, Returns: event.String},
		{Name: "currentTimeMillis", Overloads: []Overload{{}}, Returns: event.Long},
		{Name: "eventTimestamp", Overloads: []Overload{{}, {p("event", Object)}}, Returns: event.Long},
	}
}

func coreWindows() []*Window {
	t := Int | Long | Time
	return []*Window{
		{Name: "length", Overloads: []Overload{{sp("window.length", Int)}}},
		{Name: "lengthBatch", Overloads: []Overload{
			{sp("window.length", Int)},
			{sp("window.length", Int), sp("stream.current.event", Bool)}}},
		{Name: "batch", Overloads: []Overload{{}, {sp("window.length", Int)}}},
		{Name: "time", Overloads: []Overload{{sp("window.time", t)}}},
		{Name: "timeBatch", Overloads: []Overload{
			{sp("window.time", t)},
			{sp("window.time", t), sp("start.time", Int|Long)},
			{sp("window.time", t), sp("stream.current.event", Bool)},
			{sp("window.time", t), sp("start.time", Int|Long), sp("stream.current.event", Bool)}}},
		{Name: "timeLength", Overloads: []Overload{{sp("window.time", t), sp("window.length", Int)}}},
		{Name: "externalTime", Overloads: []Overload{{p("timestamp", Long), sp("window.time", t)}}},
		{Name: "externalTimeBatch", Overloads: []Overload{
			{p("timestamp", Long), sp("window.time", t)},
			{p("timestamp", Long), sp("window.time", t), p("start.time", t)},
			{p("timestamp", Long), sp("window.time", t), p("start.time", t), sp("timeout", t)},
			{p("timestamp", Long), sp("window.time", t), p("start.time", t), sp("timeout", t), sp("replace.with.batchtime", Bool)}},
			Validate: func(args []Arg) error {
				// start.time is a literal int or long, or a long attribute.
				if len(args) > 2 && args[2].Const == nil && args[2].Type != event.Long {
					return fmt.Errorf("the 3rd parameter of externalTimeBatch (start.time) must be an int or long literal or a long attribute, but found %s expression", article(args[2].Type))
				}
				return nil
			}},
		{Name: "session", Overloads: []Overload{
			{sp("session.gap", t)},
			{sp("session.gap", t), p("session.key", String)},
			{sp("session.gap", t), p("session.key", String), sp("allowed.latency", t)}}},
		{Name: "delay", Overloads: []Overload{{sp("window.delay", t)}}},
		{Name: "cron", Overloads: []Overload{{sp("cron.expression", String)}}},
		{Name: "sort", Overloads: []Overload{
			{sp("window.length", Int), {Name: "attribute", Types: Numeric | String, Var: true}},
			{sp("window.length", Int), {Name: "attribute", Types: Numeric | String, Var: true}, {Name: "order", Types: Numeric | String, Variadic: true}}},
			Validate: validateSort},
		{Name: "frequent", Overloads: []Overload{
			{sp("event.count", Int)},
			{sp("event.count", Int), {Name: "attribute", Types: Any, Var: true, Variadic: true}}}},
		{Name: "lossyFrequent", Overloads: []Overload{
			{sp("support.threshold", Double)},
			{sp("support.threshold", Double), sp("error.bound", Double)},
			{sp("support.threshold", Double), sp("error.bound", Double), {Name: "attribute", Types: Any, Var: true, Variadic: true}}}},
		{Name: "expression", Overloads: []Overload{
			{p("expression", String)},
			{p("expression", String), p("include.triggering.event", Bool)}}},
		{Name: "expressionBatch", Overloads: []Overload{
			{p("expression", String)},
			{p("expression", String), p("include.triggering.event", Bool)},
			{p("expression", String), p("include.triggering.event", Bool), p("stream.current.event", Bool)}}},
	}
}

// validateSort checks sort(length, attr [, 'asc'|'desc'], attr ...): after
// the length come attributes, each optionally followed by its order.
func validateSort(args []Arg) error {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if v, ok := a.Expr.(*ast.Variable); ok && v.Name != "" {
			continue
		}
		if a.Const != nil && a.Const.Value.Type() == event.String {
			if o := strings.ToLower(a.Const.Value.Str()); (o == "asc" || o == "desc") && i > 1 {
				if _, prevVar := args[i-1].Expr.(*ast.Variable); prevVar {
					continue
				}
			}
			return fmt.Errorf("sort window: expected an attribute or 'asc'/'desc' after an attribute at argument %d, but found '%s'", i+1, a.Const.Value.Str())
		}
		return fmt.Errorf("sort window: argument %d must be an attribute, but found a %s expression", i+1, a.Type)
	}
	return nil
}

func coreStreamFuncs() []*StreamFunc {
	return []*StreamFunc{
		{Name: "log", Overloads: []Overload{
			{},
			{sp("log.message", String)},
			{sp("is.event.logged", Bool)},
			{sp("log.message", String), sp("is.event.logged", Bool)},
			{sp("priority", String), sp("log.message", String)},
			{sp("priority", String), sp("log.message", String), sp("is.event.logged", Bool)}}},
		{Name: "pol2Cart", Overloads: []Overload{
			{p("theta", Double), p("rho", Double)},
			{p("theta", Double), p("rho", Double), p("z", Double)}},
			Adds: func(args []Arg) []event.Attribute {
				attrs := []event.Attribute{{Name: "x", Type: event.Double}, {Name: "y", Type: event.Double}}
				if len(args) == 3 {
					attrs = append(attrs, event.Attribute{Name: "z", Type: event.Double})
				}
				return attrs
			}},
	}
}
