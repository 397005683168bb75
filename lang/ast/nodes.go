package ast

import "github.com/tandem-stream/tandem/event"

// TableDef is `define table Name (attr type, ...)` with its annotations
// (@PrimaryKey, @Index, @store, ...).
type TableDef struct {
	Pos         Pos
	Annotations []*Annotation
	Name        string
	Attrs       []*AttrDef
}

// WindowDef is `define window Name (attr type, ...) window(args) [output
// <events>]`: a named window that queries insert into and join with. Events
// defaults to AllEvents, as in Siddhi.
type WindowDef struct {
	Pos         Pos
	Annotations []*Annotation
	Name        string
	Attrs       []*AttrDef
	Window      *Handler // Kind is WindowHandler
	Events      EventKind
}

// TriggerDef is `define trigger Name at every <time>` (Every set) or
// `define trigger Name at 'start'` / `at '<cron expression>'` (At set).
type TriggerDef struct {
	Pos   Pos
	Name  string
	Every *Constant // a time constant, or nil
	At    string
	AtPos Pos
}

// Duration is a granularity of an incremental aggregation.
type Duration int

const (
	Seconds Duration = iota
	Minutes
	Hours
	Days
	Weeks
	Months
	Years
)

var durationNames = [...]string{"sec", "min", "hour", "day", "week", "month", "year"}

func (d Duration) String() string {
	if d >= 0 && int(d) < len(durationNames) {
		return durationNames[d]
	}
	return "?"
}

// AggregationDef is `define aggregation Name from S select ... [group by ...]
// aggregate [by attr] every sec ... year` (Range true, Every holds every
// duration from the first to the last) or `every sec, min, day` (Range false).
type AggregationDef struct {
	Pos         Pos
	Annotations []*Annotation
	Name        string
	Input       *StreamInput
	Select      *Selector
	AggregateBy *Variable // nil: aggregate by arrival time
	Every       []Duration
	Range       bool
}

// FunctionDef is `define function name[language] return type { body }`.
type FunctionDef struct {
	Pos        Pos
	Name       string
	Language   string
	ReturnType event.Type
	Body       string
}

// JoinKind tells the kinds of join apart.
type JoinKind int

const (
	InnerJoin JoinKind = iota // join, inner join
	LeftOuterJoin
	RightOuterJoin
	FullOuterJoin // full outer join, outer join
)

var joinNames = [...]string{"join", "left outer join", "right outer join", "full outer join"}

func (k JoinKind) String() string {
	if k >= 0 && int(k) < len(joinNames) {
		return joinNames[k]
	}
	return "?"
}

// Side names one side of a join.
type Side int

const (
	NoSide Side = iota
	LeftSide
	RightSide
)

// JoinInput is `Left [unidirectional] join Right [unidirectional] [on cond]
// [within start[, end] per granularity]`. Within and Per are used when one
// side is an aggregation.
type JoinInput struct {
	Pos            Pos
	Left, Right    *StreamInput
	Kind           JoinKind
	KindPos        Pos
	Unidirectional Side
	On             Expr
	Within         Expr // nil when absent
	WithinEnd      Expr // nil unless `within start, end`
	Per            Expr // nil when absent
}

func (j *JoinInput) Position() Pos { return j.Pos }
func (*JoinInput) inputNode()      {}

// StateInput is a pattern (`->`) or a sequence (`,`) query input.
type StateInput struct {
	Pos      Pos
	Sequence bool
	State    StateElement
	Within   Expr // a time constant; nil when absent
}

func (s *StateInput) Position() Pos { return s.Pos }
func (*StateInput) inputNode()      {}

// AnonymousInput is `from (from ... select ... return)`: a query whose
// output feeds the enclosing one.
type AnonymousInput struct {
	Pos   Pos
	Query *Query // its Output.Action is ReturnOutput
}

func (a *AnonymousInput) Position() Pos { return a.Pos }
func (*AnonymousInput) inputNode()      {}

// StateElement is one element of a pattern or sequence: *StreamState,
// *AbsentState, *LogicalState, *NextState or *EveryState.
type StateElement interface {
	Node
	stateNode()
}

// AnyCount is the Max of a Count without an upper bound.
const AnyCount = -1

// Count is how many events a state collects: `<n:m>`, `<n:>`, `<:m>`, `<n>`,
// and in sequences `*` (0, AnyCount), `+` (1, AnyCount) and `?` (0, 1).
type Count struct {
	Min, Max int
}

// StreamState is `[ref=]Stream[filter]...[count]`: one event (or, with
// Count, several) from a stream.
type StreamState struct {
	Pos   Pos
	Ref   string // event reference such as e1, or ""
	Input *StreamInput
	Count *Count // nil: exactly one event
}

// AbsentState is `not Stream[filter] [for <time>]`: the absence of a
// matching event. For may be nil only inside a logical state.
type AbsentState struct {
	Pos   Pos
	Input *StreamInput
	For   Expr // a time constant, or nil
}

// LogicalState is `X and Y` or `X or Y` (Op is OpAnd or OpOr).
type LogicalState struct {
	Pos  Pos
	Op   Op
	X, Y StateElement
}

// NextState is a chain `A -> B -> C` (or `A, B, C` in a sequence). Chains in
// parentheses are nested NextStates.
type NextState struct {
	Pos    Pos
	States []StateElement // at least two
}

// EveryState is `every X`.
type EveryState struct {
	Pos Pos
	X   StateElement
}

func (s *StreamState) Position() Pos  { return s.Pos }
func (s *AbsentState) Position() Pos  { return s.Pos }
func (s *LogicalState) Position() Pos { return s.Pos }
func (s *NextState) Position() Pos    { return s.Pos }
func (s *EveryState) Position() Pos   { return s.Pos }
func (*StreamState) stateNode()       {}
func (*AbsentState) stateNode()       {}
func (*LogicalState) stateNode()      {}
func (*NextState) stateNode()         {}
func (*EveryState) stateNode()        {}

// RateKind selects which events output rate limiting lets through.
type RateKind int

const (
	RateAll RateKind = iota // output [all] every ...
	RateFirst
	RateLast
	RateSnapshot
)

// OutputRate is `output [all|first|last] every <n> events`, `output
// [all|first|last] every <time>` or `output snapshot every <time>`.
type OutputRate struct {
	Pos    Pos
	Kind   RateKind
	Events int       // every n events; 0 for a time interval
	Time   *Constant // a time constant; nil for an event count
}

// Partition is `partition with (key of Stream, ...) begin queries end`.
type Partition struct {
	Pos         Pos
	Annotations []*Annotation
	With        []*PartitionKey
	Queries     []*Query
}

// PartitionKey partitions one stream: by value (`expr of S`, Value set) or by
// range (`cond as 'label' or cond as 'label' of S`, Ranges set).
type PartitionKey struct {
	Pos    Pos
	Stream string
	Value  Expr
	Ranges []*PartitionRange
}

// PartitionRange is one `cond as 'label'` of a range partition.
type PartitionRange struct {
	Pos   Pos
	Cond  Expr
	Label string
}

// OnDemandQuery is a query run against a table, named window or
// aggregation at any time (Siddhi's store query):
//
//	from T [on cond] [within ... per ...] select ...          (Output nil)
//	select ... insert into T
//	select ... update or insert into T set ... on cond
//	[select ...] delete T on cond
//	[select ...] update T set ... on cond
type OnDemandQuery struct {
	Pos    Pos
	Input  *StoreInput // nil for the forms without from
	Select *Selector   // nil when absent
	Output *Output     // nil for a find
}

// StoreInput is `T [as alias] [on cond] [within start[, end] per g]`.
type StoreInput struct {
	Pos       Pos
	Source    string
	Alias     string
	On        Expr
	Within    Expr
	WithinEnd Expr
	Per       Expr
}

// Ref returns the alias when there is one, else the source name.
func (s *StoreInput) Ref() string {
	if s.Alias != "" {
		return s.Alias
	}
	return s.Source
}

func (d *TableDef) Position() Pos       { return d.Pos }
func (d *WindowDef) Position() Pos      { return d.Pos }
func (d *TriggerDef) Position() Pos     { return d.Pos }
func (d *AggregationDef) Position() Pos { return d.Pos }
func (d *FunctionDef) Position() Pos    { return d.Pos }
func (p *Partition) Position() Pos      { return p.Pos }
func (k *PartitionKey) Position() Pos   { return k.Pos }
func (r *PartitionRange) Position() Pos { return r.Pos }
func (q *OnDemandQuery) Position() Pos  { return q.Pos }
func (s *StoreInput) Position() Pos     { return s.Pos }
func (r *OutputRate) Position() Pos     { return r.Pos }
func (s *Selector) Position() Pos       { return s.Pos }
func (a *OutputAttr) Position() Pos     { return a.Pos }
func (o *Output) Position() Pos         { return o.Pos }
func (a *SetAssign) Position() Pos      { return a.Pos }
func (o *OrderItem) Position() Pos      { return o.Pos }
func (e *Element) Position() Pos        { return e.Pos }
func (a *AttrDef) Position() Pos        { return a.Pos }
