package engine

import (
	"math"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
)

// windowSpec is a checked window handler; build makes the window once the
// planner knows which attributes it must store.
type windowSpec struct {
	name          string
	n             int64 // length or time span
	size          int   // timeLength: length
	start         int64 // timeBatch, externalTimeBatch: start time
	aligned       bool  // timeBatch, externalTimeBatch: start time given
	streamCurrent bool  // batch windows: pass current events through
	tsCol         int   // externalTime(Batch): the timestamp attribute; -1 otherwise
	expiredOn     bool  // the query outputs expired events

	// all: the window needs every attribute stored (it reads attributes
	// by position, or evaluates expressions over them).
	all       bool
	startCol  int   // externalTimeBatch: start time attribute; -1 otherwise
	timeout   int64 // externalTimeBatch
	replaceTs bool  // externalTimeBatch
	keys      []int // frequent, lossyFrequent: key attributes; session: [key]
	order     []orderKey
	support   float64 // lossyFrequent
	errBound  float64
	latency   int64 // session
	cron      *cronSchedule
	expr      string // expression(Batch): a fixed condition
	exprCol   int    // or the attribute holding it; -1 otherwise
	include   bool   // expressionBatch: include the triggering event
	inclCol   int    // or the attribute saying so; -1 otherwise
	stream    bool   // expressionBatch: stream events through
	// find: a join searches the window, so batch windows keep their last
	// batch even when the query does not output expired events.
	find bool
}

// sliding reports whether the window expires events one by one (Siddhi's
// SLIDE processing mode), which makes min and max track removals.
func (w *windowSpec) sliding() bool {
	switch w.name {
	case "length", "time", "timelength", "externaltime", "sort", "frequent", "lossyfrequent",
		"expression", "delay":
		return true
	}
	return false
}

// build makes the window storing the attributes cols of its input (all of
// them when cols is nil); stored is the schema of the stored rows and tsCol
// the timestamp attribute's position in it.
func (w *windowSpec) build(p *planner, stored *event.Schema, cols []int, tsCol int) window {
	types := schemaTypes(stored)
	switch w.name {
	case "length":
		return newLengthWindow(int(w.n), stored, cols)
	case "time":
		return newTimeWindow(w.n, 0, stored, cols)
	case "timelength":
		return newTimeWindow(w.n, w.size, stored, cols)
	case "externaltime":
		return newExternalTimeWindow(w.n, tsCol, stored, cols)
	case "lengthbatch":
		lb := newLengthBatchWindow(int(w.n), w.streamCurrent, w.expiredOn, stored, cols)
		lb.keep = w.find
		return lb
	case "timebatch":
		tb := newTimeBatchWindow(w.n, w.start, w.aligned, w.streamCurrent, w.expiredOn, stored, cols)
		tb.keep = w.find
		return tb
	case "batch":
		return &batchWindow{size: int(w.n), expiredOn: w.expiredOn, keep: w.find, types: types}
	case "externaltimebatch":
		etb := newExternalTimeBatchWindow(w, stored)
		etb.keepExp = etb.keepExp || w.find
		return etb
	case "cron":
		return &cronWindow{sched: w.cron, types: types}
	case "sort":
		return &sortWindow{size: int(w.n), keys: w.order, types: types}
	case "frequent":
		return &frequentWindow{size: int(w.n), keys: w.keys, types: types}
	case "lossyfrequent":
		return &lossyFrequentWindow{support: w.support, errBound: w.errBound, width: math.Ceil(1 / w.errBound),
			keys: w.keys, types: types, bucket: 1}
	case "delay":
		return &delayWindow{delay: w.n, types: types}
	case "session":
		key := -1
		if len(w.keys) > 0 {
			key = w.keys[0]
		}
		return &sessionWindow{gap: w.n, latency: w.latency, keyCol: key, types: types}
	case "expression":
		return &expressionWindow{src: w.source(p, stored)}
	default: // expressionbatch
		return &expressionBatchWindow{src: w.source(p, stored), includeConst: w.include, includeCol: w.inclCol,
			stream: w.stream}
	}
}

func (w *windowSpec) source(p *planner, stored *event.Schema) exprSource {
	s := exprSource{rt: p.r, in: stored, col: w.exprCol, types: schemaTypes(stored)}
	if w.exprCol < 0 {
		// Each window gets its own aggregate states.
		s.x, _ = compileWindowExpr(p.r, stored, w.expr)
	}
	return s
}

// planWindow checks a window handler's arguments.
func (p *planner) planWindow(h *ast.Handler, sc *scope, expiredOn bool) *windowSpec {
	if h.Namespace != "" {
		p.errorf(h.Pos, "unknown window %s:%s", h.Namespace, h.Name)
		return nil
	}
	w := &windowSpec{name: strings.ToLower(h.Name), tsCol: -1, startCol: -1, exprCol: -1, inclCol: -1,
		expiredOn: expiredOn}
	nargs := func(lo, hi int) bool {
		if len(h.Args) < lo || len(h.Args) > hi {
			if lo == hi {
				p.errorf(h.Pos, "window.%s takes %d argument(s), found %d", h.Name, lo, len(h.Args))
			} else {
				p.errorf(h.Pos, "window.%s takes %d to %d arguments, found %d", h.Name, lo, hi, len(h.Args))
			}
			return false
		}
		return true
	}
	positive := func(what string, v int64, ok bool) bool {
		if ok && v <= 0 {
			p.errorf(h.Pos, "window.%s needs a positive %s, found %d", h.Name, what, v)
			return false
		}
		return ok
	}
	var ok bool
	switch w.name {
	case "length":
		if !nargs(1, 1) {
			return nil
		}
		w.n, ok = p.intArg(h, 0, false)
		if !positive("length", w.n, ok) {
			return nil
		}
	case "time", "delay":
		if !nargs(1, 1) {
			return nil
		}
		w.n, ok = p.intArg(h, 0, true)
		if !positive("duration", w.n, ok) {
			return nil
		}
	case "timelength":
		if !nargs(2, 2) {
			return nil
		}
		w.n, ok = p.intArg(h, 0, true)
		if !positive("duration", w.n, ok) {
			return nil
		}
		var n int64
		n, ok = p.intArg(h, 1, false)
		if !positive("length", n, ok) {
			return nil
		}
		w.size = int(n)
	case "externaltime":
		if !nargs(2, 2) {
			return nil
		}
		if w.tsCol = p.longAttrArg(h, 0, sc); w.tsCol < 0 {
			return nil
		}
		w.n, ok = p.intArg(h, 1, true)
		if !ok {
			return nil
		}
	case "externaltimebatch":
		if !p.planExternalTimeBatch(w, h, sc) {
			return nil
		}
	case "lengthbatch":
		if !nargs(1, 2) {
			return nil
		}
		w.n, ok = p.intArg(h, 0, false)
		if !ok {
			return nil
		}
		if w.n < 0 {
			p.errorf(h.Pos, "window.lengthBatch needs a length of at least 0, found %d", w.n)
			return nil
		}
		if len(h.Args) == 2 {
			if w.streamCurrent, ok = p.boolArg(h, 1); !ok {
				return nil
			}
		}
	case "timebatch":
		if !nargs(1, 3) {
			return nil
		}
		w.n, ok = p.intArg(h, 0, true)
		if !positive("duration", w.n, ok) {
			return nil
		}
		if len(h.Args) >= 2 {
			c, isConst := h.Args[1].(*ast.Constant)
			switch {
			case !isConst:
				p.errorf(h.Args[1].Position(), "window.timeBatch needs a constant start time or stream.current.event")
				return nil
			case c.Value.Type() == event.Bool && len(h.Args) == 2:
				w.streamCurrent = c.Value.Bool()
			case c.Value.Type() == event.Int || c.Value.Type() == event.Long:
				w.start, w.aligned = c.Value.Int(), true
			default:
				p.errorf(c.Pos, "window.timeBatch's 2nd argument must be an int or long start time, found %s", c.Value.Type())
				return nil
			}
		}
		if len(h.Args) == 3 {
			if w.streamCurrent, ok = p.boolArg(h, 2); !ok {
				return nil
			}
		}
	case "batch":
		if !nargs(0, 1) {
			return nil
		}
		if len(h.Args) == 1 {
			w.n, ok = p.intArg(h, 0, false)
			if !ok {
				return nil
			}
			if w.n < 0 {
				p.errorf(h.Pos, "window.batch needs a length of at least 0, found %d", w.n)
				return nil
			}
		}
	case "cron":
		if !nargs(1, 1) {
			return nil
		}
		s, ok := p.stringArg(h, 0)
		if !ok {
			return nil
		}
		sched, err := parseCron(s)
		if err != nil {
			p.errorf(h.Args[0].Position(), "window.cron: %v", err)
			return nil
		}
		w.cron = sched
	case "sort":
		if !p.planSort(w, h, sc) {
			return nil
		}
	case "frequent":
		if !nargs(1, 1+len(sc.in.Attrs)) {
			return nil
		}
		w.n, ok = p.intArg(h, 0, false)
		if !positive("count", w.n, ok) {
			return nil
		}
		if w.keys, ok = p.attrArgs(h, 1, sc); !ok {
			return nil
		}
		w.all = true
	case "lossyfrequent":
		if !p.planLossyFrequent(w, h, sc) {
			return nil
		}
	case "session":
		if !p.planSession(w, h, sc) {
			return nil
		}
	case "expression", "expressionbatch":
		if !p.planExpression(w, h, sc) {
			return nil
		}
	default:
		p.errorf(h.Pos, "unknown window %s", h.Name)
		return nil
	}
	switch w.name {
	case "batch", "cron", "delay":
		w.all = true // these store whole rows
	}
	return w
}

// intArg returns constant argument i of a window: an int, or with long also
// a long (time constants are longs).
func (p *planner) intArg(h *ast.Handler, i int, long bool) (int64, bool) {
	c, ok := h.Args[i].(*ast.Constant)
	if !ok || c == nil {
		p.errorf(h.Args[i].Position(), "window.%s needs a constant argument %d", h.Name, i+1)
		return 0, false
	}
	t := c.Value.Type()
	if t != event.Int && !(long && t == event.Long) {
		want := "int"
		if long {
			want = "int or long"
		}
		p.errorf(c.Pos, "window.%s argument %d must be %s, found %s", h.Name, i+1, want, t)
		return 0, false
	}
	return c.Value.Int(), true
}

func (p *planner) boolArg(h *ast.Handler, i int) (bool, bool) {
	c, ok := h.Args[i].(*ast.Constant)
	if !ok || c == nil || c.Value.Type() != event.Bool {
		p.errorf(h.Args[i].Position(), "window.%s argument %d must be a bool constant", h.Name, i+1)
		return false, false
	}
	return c.Value.Bool(), true
}

func (p *planner) stringArg(h *ast.Handler, i int) (string, bool) {
	c, ok := h.Args[i].(*ast.Constant)
	if !ok || c == nil || c.Value.Type() != event.String {
		p.errorf(h.Args[i].Position(), "window.%s argument %d must be a string constant", h.Name, i+1)
		return "", false
	}
	return c.Value.Str(), true
}

func (p *planner) floatArg(h *ast.Handler, i int) (float64, bool) {
	c, ok := h.Args[i].(*ast.Constant)
	if !ok || c == nil || !c.Value.Type().IsNumeric() {
		p.errorf(h.Args[i].Position(), "window.%s argument %d must be a numeric constant", h.Name, i+1)
		return 0, false
	}
	return c.Value.Float(), true
}

// attrArg returns the input column argument i names, or -1 after reporting
// that it is not an attribute.
func (p *planner) attrArg(h *ast.Handler, i int, sc *scope) int {
	v, ok := h.Args[i].(*ast.Variable)
	if !ok {
		p.errorf(h.Args[i].Position(), "window.%s argument %d must be an attribute", h.Name, i+1)
		return -1
	}
	saved := sc.used
	sc.used = nil
	x := p.variable(v, sc)
	sc.used = saved
	if x == nil {
		return -1
	}
	if x.sp != spaceIn {
		p.errorf(v.Pos, "window.%s argument %d must be an input attribute", h.Name, i+1)
		return -1
	}
	return x.col
}

// longAttrArg is attrArg for a long attribute.
func (p *planner) longAttrArg(h *ast.Handler, i int, sc *scope) int {
	col := p.attrArg(h, i, sc)
	if col < 0 {
		return -1
	}
	if t := sc.in.Attrs[col].Type; t != event.Long {
		p.errorf(h.Args[i].Position(), "window.%s timestamp %s must be long, found %s", h.Name, sc.in.Attrs[col].Name, t)
		return -1
	}
	return col
}

// attrArgs returns the columns of arguments from..end, all attributes.
func (p *planner) attrArgs(h *ast.Handler, from int, sc *scope) ([]int, bool) {
	var cols []int
	for i := from; i < len(h.Args); i++ {
		c := p.attrArg(h, i, sc)
		if c < 0 {
			return nil, false
		}
		cols = append(cols, c)
	}
	return cols, true
}

func (p *planner) planExternalTimeBatch(w *windowSpec, h *ast.Handler, sc *scope) bool {
	if len(h.Args) < 2 || len(h.Args) > 5 {
		p.errorf(h.Pos, "window.externalTimeBatch takes 2 to 5 arguments (timestamp, window time "+
			"[, start time [, timeout [, replace timestamp]]]), found %d", len(h.Args))
		return false
	}
	if w.tsCol = p.longAttrArg(h, 0, sc); w.tsCol < 0 {
		return false
	}
	var ok bool
	w.n, ok = p.intArg(h, 1, true)
	if !ok || !p.positiveArg(h, "window time", w.n) {
		return false
	}
	if len(h.Args) >= 3 {
		switch a := h.Args[2].(type) {
		case *ast.Variable:
			if w.startCol = p.longAttrArg(h, 2, sc); w.startCol < 0 {
				return false
			}
		case *ast.Constant:
			if w.start, ok = p.intArg(h, 2, true); !ok {
				return false
			}
			w.aligned = true
		default:
			p.errorf(a.Position(), "window.externalTimeBatch's start time must be an int or long constant or a long attribute")
			return false
		}
	}
	if len(h.Args) >= 4 {
		if w.timeout, ok = p.intArg(h, 3, true); !ok {
			return false
		}
	}
	if len(h.Args) == 5 {
		if w.replaceTs, ok = p.boolArg(h, 4); !ok {
			return false
		}
	}
	w.all = true
	return true
}

func (p *planner) positiveArg(h *ast.Handler, what string, v int64) bool {
	if v <= 0 {
		p.errorf(h.Pos, "window.%s needs a positive %s, found %d", h.Name, what, v)
		return false
	}
	return true
}

// planSort checks sort(n, attr ['asc'|'desc'], attr ['asc'|'desc'], ...).
func (p *planner) planSort(w *windowSpec, h *ast.Handler, sc *scope) bool {
	if len(h.Args) < 1 {
		p.errorf(h.Pos, "window.sort takes a length and the attributes to sort by")
		return false
	}
	var ok bool
	w.n, ok = p.intArg(h, 0, false)
	if !ok || !p.positiveArg(h, "length", w.n) {
		return false
	}
	for i := 1; i < len(h.Args); i++ {
		if _, isVar := h.Args[i].(*ast.Variable); !isVar {
			p.errorf(h.Args[i].Position(), "window.sort argument %d must be an attribute to sort by", i+1)
			return false
		}
		col := p.attrArg(h, i, sc)
		if col < 0 {
			return false
		}
		if t := sc.in.Attrs[col].Type; t == event.Object {
			p.errorf(h.Args[i].Position(), "window.sort cannot sort by %s, an object", sc.in.Attrs[col].Name)
			return false
		}
		k := orderKey{col: col}
		if i+1 < len(h.Args) {
			if c, isConst := h.Args[i+1].(*ast.Constant); isConst && c.Value.Type() == event.String {
				switch strings.ToLower(c.Value.Str()) {
				case "asc":
				case "desc":
					k.desc = true
				default:
					p.errorf(c.Pos, "window.sort order must be 'asc' or 'desc', found '%s'", c.Value.Str())
					return false
				}
				i++
			}
		}
		w.order = append(w.order, k)
	}
	w.all = true
	return true
}

func (p *planner) planLossyFrequent(w *windowSpec, h *ast.Handler, sc *scope) bool {
	if len(h.Args) < 1 {
		p.errorf(h.Pos, "window.lossyFrequent takes a support, an optional error bound and key attributes")
		return false
	}
	var ok bool
	if w.support, ok = p.floatArg(h, 0); !ok {
		return false
	}
	w.errBound = w.support / 10
	keysFrom := 1
	if len(h.Args) > 1 {
		if _, isConst := h.Args[1].(*ast.Constant); isConst {
			if w.errBound, ok = p.floatArg(h, 1); !ok {
				return false
			}
			keysFrom = 2
		}
	}
	if w.support <= 0 || w.support > 1 || w.errBound <= 0 || w.errBound > 1 {
		p.errorf(h.Pos, "window.lossyFrequent needs a support and an error bound in (0, 1], found %g and %g",
			w.support, w.errBound)
		return false
	}
	if w.keys, ok = p.attrArgs(h, keysFrom, sc); !ok {
		return false
	}
	w.all = true
	return true
}

// planSession checks session(gap), session(gap, key), session(gap, latency)
// and session(gap, key, latency).
func (p *planner) planSession(w *windowSpec, h *ast.Handler, sc *scope) bool {
	if len(h.Args) < 1 || len(h.Args) > 3 {
		p.errorf(h.Pos, "window.session takes a session gap, an optional string key attribute and an optional allowed latency, found %d arguments", len(h.Args))
		return false
	}
	var ok bool
	w.n, ok = p.intArg(h, 0, true)
	if !ok || !p.positiveArg(h, "session gap", w.n) {
		return false
	}
	stringKey := func(i int) bool {
		col := p.attrArg(h, i, sc)
		if col < 0 {
			return false
		}
		if t := sc.in.Attrs[col].Type; t != event.String {
			p.errorf(h.Args[i].Position(), "window.session key %s must be a string, found %s", sc.in.Attrs[col].Name, t)
			return false
		}
		w.keys = []int{col}
		return true
	}
	latency := func(i int) bool {
		if w.latency, ok = p.intArg(h, i, true); !ok {
			return false
		}
		if w.latency < 0 || w.latency > w.n {
			p.errorf(h.Args[i].Position(), "window.session's allowed latency must be between 0 and the session gap")
			return false
		}
		return true
	}
	switch len(h.Args) {
	case 2:
		if _, isVar := h.Args[1].(*ast.Variable); isVar {
			if !stringKey(1) {
				return false
			}
		} else if !latency(1) {
			return false
		}
	case 3:
		if !stringKey(1) || !latency(2) {
			return false
		}
	}
	w.all = true
	return true
}

// planExpression checks expression(expr) and expressionBatch(expr
// [, include [, stream]]), where expr is a string constant or attribute.
func (p *planner) planExpression(w *windowSpec, h *ast.Handler, sc *scope) bool {
	batch := w.name == "expressionbatch"
	if batch && (len(h.Args) < 1 || len(h.Args) > 3) || !batch && len(h.Args) != 1 {
		p.errorf(h.Pos, "window.%s: wrong number of arguments (%d)", h.Name, len(h.Args))
		return false
	}
	switch a := h.Args[0].(type) {
	case *ast.Constant:
		if a.Value.Type() != event.String {
			p.errorf(a.Pos, "window.%s needs the expression as a string, found %s", h.Name, a.Value.Type())
			return false
		}
		w.expr = a.Value.Str()
		if _, err := compileWindowExpr(p.r, sc.in, w.expr); err != nil {
			p.errorf(a.Pos, "window.%s: %v", h.Name, err)
			return false
		}
	default:
		col := p.attrArg(h, 0, sc)
		if col < 0 {
			return false
		}
		if t := sc.in.Attrs[col].Type; t != event.String {
			p.errorf(a.Position(), "window.%s expression attribute must be a string, found %s", h.Name, t)
			return false
		}
		w.exprCol = col
	}
	if len(h.Args) >= 2 {
		switch a := h.Args[1].(type) {
		case *ast.Constant:
			var ok bool
			if w.include, ok = p.boolArg(h, 1); !ok {
				return false
			}
		default:
			col := p.attrArg(h, 1, sc)
			if col < 0 {
				return false
			}
			if t := sc.in.Attrs[col].Type; t != event.Bool {
				p.errorf(a.Position(), "window.%s include attribute must be a bool, found %s", h.Name, t)
				return false
			}
			w.inclCol = col
		}
	}
	if len(h.Args) == 3 {
		var ok bool
		if w.stream, ok = p.boolArg(h, 2); !ok {
			return false
		}
	}
	w.all = true
	return true
}
