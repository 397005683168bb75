package ast

import "reflect"

// Inspect traverses the tree rooted at n in depth-first order. It calls f(n)
// first; when f returns true it visits n's children, then calls f(nil).
// App is not a Node (it has no position); use InspectApp for whole apps.
func Inspect(n Node, f func(Node) bool) {
	if isNilNode(n) || !f(n) {
		return
	}
	for _, c := range children(n) {
		Inspect(c, f)
	}
	f(nil)
}

// InspectApp calls Inspect on the app's annotations and on every element of
// its Body.
func InspectApp(app *App, f func(Node) bool) {
	for _, a := range app.Annotations {
		Inspect(a, f)
	}
	for _, n := range app.Body {
		Inspect(n, f)
	}
}

// isNilNode reports whether n is nil or a typed nil pointer, which optional
// fields such as Selector.Having hold when absent.
func isNilNode(n Node) bool {
	if n == nil {
		return true
	}
	v := reflect.ValueOf(n)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// children lists the direct children of n; nil entries are skipped by Inspect.
func children(n Node) []Node {
	var out []Node
	add := func(ns ...Node) {
		for _, c := range ns {
			if !isNilNode(c) {
				out = append(out, c)
			}
		}
	}
	anns := func(list []*Annotation) {
		for _, a := range list {
			add(a)
		}
	}
	attrs := func(list []*AttrDef) {
		for _, a := range list {
			add(a)
		}
	}
	exprs := func(list []Expr) {
		for _, e := range list {
			add(e)
		}
	}
	switch n := n.(type) {
	case *Annotation:
		for _, e := range n.Elements {
			add(e)
		}
		anns(n.Annotations)
	case *StreamDef:
		anns(n.Annotations)
		attrs(n.Attrs)
	case *TableDef:
		anns(n.Annotations)
		attrs(n.Attrs)
	case *WindowDef:
		anns(n.Annotations)
		attrs(n.Attrs)
		add(n.Window)
	case *TriggerDef:
		if n.Every != nil {
			add(n.Every)
		}
	case *AggregationDef:
		anns(n.Annotations)
		add(n.Input, n.Select)
		if n.AggregateBy != nil {
			add(n.AggregateBy)
		}
	case *Query:
		anns(n.Annotations)
		add(n.Input, n.Select, n.Rate, n.Output)
	case *Partition:
		anns(n.Annotations)
		for _, k := range n.With {
			add(k)
		}
		for _, q := range n.Queries {
			add(q)
		}
	case *PartitionKey:
		add(n.Value)
		for _, r := range n.Ranges {
			add(r)
		}
	case *PartitionRange:
		add(n.Cond)
	case *OnDemandQuery:
		add(n.Input, n.Select, n.Output)
	case *StoreInput:
		add(n.On, n.Within, n.WithinEnd, n.Per)
	case *StreamInput:
		for _, h := range n.Handlers {
			add(h)
		}
	case *Handler:
		add(n.Filter)
		exprs(n.Args)
	case *JoinInput:
		add(n.Left, n.Right, n.On, n.Within, n.WithinEnd, n.Per)
	case *StateInput:
		add(n.State, n.Within)
	case *AnonymousInput:
		add(n.Query)
	case *StreamState:
		add(n.Input)
	case *AbsentState:
		add(n.Input, n.For)
	case *LogicalState:
		add(n.X, n.Y)
	case *NextState:
		for _, s := range n.States {
			add(s)
		}
	case *EveryState:
		add(n.X)
	case *Selector:
		for _, a := range n.Items {
			add(a)
		}
		for _, g := range n.GroupBy {
			add(g)
		}
		add(n.Having)
		for _, o := range n.OrderBy {
			add(o)
		}
		add(n.Limit, n.Offset)
	case *OutputAttr:
		add(n.Expr)
	case *OrderItem:
		add(n.Var)
	case *Output:
		for _, s := range n.Set {
			add(s)
		}
		add(n.On)
	case *SetAssign:
		add(n.Attr, n.Value)
	case *OutputRate:
		if n.Time != nil {
			add(n.Time)
		}
	case *Binary:
		add(n.X, n.Y)
	case *Unary:
		add(n.X)
	case *IsNull:
		add(n.X)
	case *In:
		add(n.X)
	case *Call:
		exprs(n.Args)
	}
	return out
}
