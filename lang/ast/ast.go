// Package ast declares the syntax tree of SiddhiQL apps. Every node carries the
// position where it starts; the parser builds the tree, the checker and the
// engine's planner read it and never change it.
package ast

import (
	"fmt"

	"github.com/tandem-stream/tandem/event"
)

// Pos is a position in an app's source text. Line and Col are 1-based; Col
// counts bytes. The zero Pos means "unknown".
type Pos struct {
	Offset int
	Line   int
	Col    int
}

func (p Pos) IsValid() bool  { return p.Line > 0 }
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Node is implemented by every syntax tree node.
type Node interface{ Position() Pos }

// App is one parsed SiddhiQL app. Each kind of element has its own list;
// Body holds all of them in source order.
type App struct {
	File         string // file name used in error messages
	Annotations  []*Annotation
	Streams      []*StreamDef
	Queries      []*Query // top-level queries; a partition's queries are in Partitions
	Tables       []*TableDef
	Windows      []*WindowDef
	Triggers     []*TriggerDef
	Aggregations []*AggregationDef
	Functions    []*FunctionDef
	Partitions   []*Partition
	Body         []Node // every definition, query and partition in source order
}

// Name returns the value of @app:name, or "" when absent.
func (a *App) Name() string {
	for _, an := range a.Annotations {
		if equalFold(an.Name, "app:name") {
			if len(an.Elements) > 0 {
				return an.Elements[0].Value
			}
		}
	}
	return ""
}

// Annotation is `@name(key='value', 'value', @nested(...))`. Name keeps its
// namespace (`app:name`); matching on names is case-insensitive in Siddhi.
type Annotation struct {
	Pos         Pos
	Name        string
	Elements    []*Element
	Annotations []*Annotation
}

func (a *Annotation) Position() Pos { return a.Pos }

// Element is one `key='value'` (Key empty for positional values) of an annotation.
type Element struct {
	Pos   Pos
	Key   string
	Value string
}

// Get returns the value of the element with the given key (case-insensitive).
func (a *Annotation) Get(key string) (string, bool) {
	for _, e := range a.Elements {
		if equalFold(e.Key, key) {
			return e.Value, true
		}
	}
	return "", false
}

// Nested returns the first nested annotation with the given name (case-insensitive).
func (a *Annotation) Nested(name string) *Annotation {
	for _, n := range a.Annotations {
		if equalFold(n.Name, name) {
			return n
		}
	}
	return nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// StreamDef is `define stream Name (attr type, ...);` with its annotations.
type StreamDef struct {
	Pos         Pos
	Annotations []*Annotation
	Name        string
	Attrs       []*AttrDef
}

func (d *StreamDef) Position() Pos { return d.Pos }

// AttrDef is one `name type` of a definition.
type AttrDef struct {
	Pos  Pos
	Name string
	Type event.Type
}

// Query is `from <input> select <selector> [output rate] <output>`.
type Query struct {
	Pos         Pos
	Annotations []*Annotation
	Input       Input
	Select      *Selector
	Output      *Output
	Rate        *OutputRate // nil when the query has no output clause
}

func (q *Query) Position() Pos { return q.Pos }

// Name returns the value of @info(name=...), or "".
func (q *Query) Name() string {
	for _, an := range q.Annotations {
		if equalFold(an.Name, "info") {
			v, _ := an.Get("name")
			return v
		}
	}
	return ""
}

// Input is the source of a query: *StreamInput, *JoinInput, *StateInput
// (patterns and sequences) or *AnonymousInput.
type Input interface {
	Node
	inputNode()
}

// StreamInput is `Stream[filter]#window.name(args)#...` over one stream.
// It is also a join side, and (without a window) the source of a pattern or
// sequence state.
type StreamInput struct {
	Pos      Pos
	Stream   string
	Alias    string // `as alias`, or ""
	Handlers []*Handler
	Inner    bool // `#Stream`: an inner stream of a partition
	Fault    bool // `!Stream`: the fault stream of Stream
}

// Window returns the window handler, or nil.
func (s *StreamInput) Window() *Handler {
	for _, h := range s.Handlers {
		if h.Kind == WindowHandler {
			return h
		}
	}
	return nil
}

// Ref returns the name the input's attributes are qualified with: the alias
// when there is one, else the stream name.
func (s *StreamInput) Ref() string {
	if s.Alias != "" {
		return s.Alias
	}
	return s.Stream
}

func (s *StreamInput) Position() Pos { return s.Pos }
func (*StreamInput) inputNode()      {}

// HandlerKind tells filters, windows and stream functions apart.
type HandlerKind int

const (
	FilterHandler   HandlerKind = iota // [expr]
	WindowHandler                      // #window.name(args)
	FunctionHandler                    // #ns:name(args)
)

// Handler is one element of the chain after a stream name.
type Handler struct {
	Pos       Pos
	Kind      HandlerKind
	Filter    Expr   // FilterHandler
	Namespace string // FunctionHandler, WindowHandler; "" for core ones
	Name      string // WindowHandler, FunctionHandler
	Args      []Expr
}

func (h *Handler) Position() Pos { return h.Pos }

// Selector is the select clause with grouping, ordering and paging.
type Selector struct {
	Pos     Pos
	Star    bool // select *  (or no select clause)
	Items   []*OutputAttr
	GroupBy []*Variable
	Having  Expr
	OrderBy []*OrderItem
	Limit   Expr // nil when absent
	Offset  Expr // nil when absent
}

// OrderItem is one `attr [asc|desc]` of an order by clause.
type OrderItem struct {
	Pos  Pos
	Var  *Variable
	Desc bool
}

// OutputAttr is `expr as name`; Name is set by the parser to the variable name
// when no `as` is given and the expression is a plain variable.
type OutputAttr struct {
	Pos  Pos
	Expr Expr
	Name string
}

// EventKind selects which events an output clause emits.
type EventKind int

const (
	CurrentEvents EventKind = iota
	ExpiredEvents
	AllEvents
)

// OutputAction is what a query does with its output events.
type OutputAction int

const (
	InsertOutput         OutputAction = iota // insert into Stream
	DeleteOutput                             // delete Table on cond
	UpdateOutput                             // update Table set ... on cond
	UpdateOrInsertOutput                     // update or insert into Table set ... on cond
	ReturnOutput                             // return (inner queries of partitions, anonymous streams)
)

// Output is `insert [current|expired|all events] into Stream`, or one of the
// other actions: `delete T [for events] on cond`, `update T [for events] set
// ... on cond`, `update or insert into T [for events] set ... on cond`,
// `return [events]`. Stream is "" for return.
type Output struct {
	Pos    Pos
	Events EventKind
	Stream string
	Action OutputAction
	On     Expr         // delete, update, update or insert
	Set    []*SetAssign // update, update or insert
	Inner  bool         // `#Stream`: an inner stream of a partition
	Fault  bool         // `!Stream`: a fault stream
}

// SetAssign is one `Table.attr = expr` of a set clause.
type SetAssign struct {
	Pos   Pos
	Attr  *Variable
	Value Expr
}

// Expr is an expression node.
type Expr interface {
	Node
	exprNode()
}

// Constant is a literal. Value holds a typed event value; time constants such as
// `1 min 30 sec` are Long milliseconds with IsTime set.
type Constant struct {
	Pos    Pos
	Value  event.Value
	IsTime bool
}

// Variable is `name`, `Stream.name` or `alias.name`. In patterns and sequences
// it may pick one event of a state that matched several (`e1[0].price`,
// `e1[last].price`). With Name "" it refers to the event itself, as in
// `e1 is null` or `e1[2] is null`.
type Variable struct {
	Pos    Pos
	Stream string
	Name   string
	Index  *EventIndex // nil unless `[...]` follows the stream name
	Inner  bool        // `#Stream.name`: an inner stream of a partition
	Fault  bool        // `!Stream.name`: the fault stream of Stream
}

// EventIndex is `[N]` (Last false) or `[last]`, `[last - N]` (Last true).
type EventIndex struct {
	Last bool
	N    int
}

// Op is a binary or unary operator.
type Op int

const (
	OpInvalid Op = iota
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpAnd
	OpOr
	OpNot
	OpNeg
)

var opNames = [...]string{OpInvalid: "?", OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpMod: "%",
	OpEq: "==", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=", OpAnd: "and", OpOr: "or",
	OpNot: "not", OpNeg: "-"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

// Binary is `X op Y`. Pos is where X starts; OpPos is the operator's.
type Binary struct {
	Pos   Pos
	Op    Op
	X, Y  Expr
	OpPos Pos
}

// Unary is `not X` or `-X`.
type Unary struct {
	Pos Pos
	Op  Op
	X   Expr
}

// Call is a function call `ns:name(args)`; Namespace is "" for core functions.
// Star marks `f(*)`.
type Call struct {
	Pos       Pos
	Namespace string
	Name      string
	Args      []Expr
	Star      bool
}

// In is `X in Table`: true when some row of the table (or named window)
// satisfies the condition X.
type In struct {
	Pos    Pos
	X      Expr
	Source string
}

// IsNull is `X is null`.
type IsNull struct {
	Pos Pos
	X   Expr
}

func (e *Constant) Position() Pos { return e.Pos }
func (e *Variable) Position() Pos { return e.Pos }
func (e *Binary) Position() Pos   { return e.Pos }
func (e *Unary) Position() Pos    { return e.Pos }
func (e *Call) Position() Pos     { return e.Pos }
func (e *IsNull) Position() Pos   { return e.Pos }
func (e *In) Position() Pos       { return e.Pos }

func (*Constant) exprNode() {}
func (*Variable) exprNode() {}
func (*Binary) exprNode()   {}
func (*Unary) exprNode()    {}
func (*Call) exprNode()     {}
func (*IsNull) exprNode()   {}
func (*In) exprNode()       {}

// Error is a positioned error in an app; it prints as file:line:col: message.
// Hint, when set, suggests a fix; Render shows it with the source line.
type Error struct {
	File string
	Pos  Pos
	Msg  string
	Hint string
}

func (e *Error) Error() string {
	if e.File == "" {
		return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrorList collects errors; Err returns nil when it is empty.
type ErrorList []*Error

func (l *ErrorList) Add(file string, pos Pos, msg string) {
	*l = append(*l, &Error{File: file, Pos: pos, Msg: msg})
}

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
