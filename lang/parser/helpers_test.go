package parser

import (
	"fmt"
	"strings"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/internal/asttest"
)

func clearPos(v any) { asttest.ClearPos(v) }

// sexpr renders an expression as a fully parenthesised S-expression, which
// makes precedence visible in test tables.
func sexpr(e ast.Expr) string {
	switch e := e.(type) {
	case nil:
		return "<nil>"
	case *ast.Constant:
		v := e.Value
		switch v.Type() {
		case event.String:
			return fmt.Sprintf("%q", v.Str())
		case event.Null:
			return "null"
		}
		s := v.Type().String() + ":" + v.String()
		if e.IsTime {
			s = "time:" + v.String()
		}
		return s
	case *ast.Variable:
		var b strings.Builder
		if e.Inner {
			b.WriteString("#")
		}
		if e.Fault {
			b.WriteString("!")
		}
		b.WriteString(e.Stream)
		if e.Index != nil {
			if e.Index.Last {
				fmt.Fprintf(&b, "[last-%d]", e.Index.N)
			} else {
				fmt.Fprintf(&b, "[%d]", e.Index.N)
			}
		}
		if e.Stream != "" && e.Name != "" {
			b.WriteString(".")
		}
		b.WriteString(e.Name)
		return b.String()
	case *ast.Binary:
		return "(" + e.Op.String() + " " + sexpr(e.X) + " " + sexpr(e.Y) + ")"
	case *ast.Unary:
		return "(" + e.Op.String() + " " + sexpr(e.X) + ")"
	case *ast.IsNull:
		return "(isnull " + sexpr(e.X) + ")"
	case *ast.In:
		return "(in " + sexpr(e.X) + " " + e.Source + ")"
	case *ast.Call:
		parts := []string{}
		if e.Namespace != "" {
			parts = append(parts, e.Namespace+":"+e.Name)
		} else {
			parts = append(parts, e.Name)
		}
		if e.Star {
			parts = append(parts, "*")
		}
		for _, a := range e.Args {
			parts = append(parts, sexpr(a))
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	return fmt.Sprintf("<%T>", e)
}
