package parser

import "github.com/tandem-stream/tandem/lang/ast"

// kind is the lexical class of a token.
type kind int

const (
	tEOF     kind = iota
	tIllegal      // a lexical error, already reported by the scanner
	tIdent        // name or keyword; `quoted` names are never keywords
	tInt
	tLong
	tFloat
	tDouble
	tString
	tScript // { ... } body of a function definition

	tColon     // :
	tSemi      // ;
	tDot       // .
	tTripleDot // ...
	tLParen    // (
	tRParen    // )
	tLBrack    // [
	tRBrack    // ]
	tComma     // ,
	tAssign    // =
	tStar      // *
	tPlus      // +
	tQuestion  // ?
	tMinus     // -
	tSlash     // /
	tPercent   // %
	tLt        // <
	tLe        // <=
	tGt        // >
	tGe        // >=
	tEq        // ==
	tNe        // !=
	tAt        // @
	tArrow     // ->
	tHash      // #
	tBang      // !
)

var kindNames = [...]string{
	tEOF: "end of input", tIllegal: "illegal token", tIdent: "name", tInt: "int literal",
	tLong: "long literal", tFloat: "float literal", tDouble: "double literal", tString: "string literal",
	tScript: "script body",
	tColon:  "':'", tSemi: "';'", tDot: "'.'", tTripleDot: "'...'", tLParen: "'('", tRParen: "')'",
	tLBrack: "'['", tRBrack: "']'", tComma: "','", tAssign: "'='", tStar: "'*'", tPlus: "'+'",
	tQuestion: "'?'", tMinus: "'-'", tSlash: "'/'", tPercent: "'%'", tLt: "'<'", tLe: "'<='",
	tGt: "'>'", tGe: "'>='", tEq: "'=='", tNe: "'!='", tAt: "'@'", tArrow: "'->'", tHash: "'#'",
	tBang: "'!'",
}

func (k kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "token"
}

// token is one lexical token. Lit holds the identifier text, the literal's
// source text for numbers (without its type suffix), the decoded value for
// strings, and the body for scripts.
type token struct {
	kind   kind
	pos    ast.Pos
	end    int // byte offset just past the token
	lit    string
	quoted bool // `backquoted` identifier
}

// describe renders a token for "expected X, found Y" messages.
func (t token) describe() string {
	switch t.kind {
	case tIdent:
		if t.quoted {
			return "`" + t.lit + "`"
		}
		return "'" + t.lit + "'"
	case tInt, tLong, tFloat, tDouble:
		return t.kind.String() + " " + t.lit
	case tString:
		return "string literal"
	}
	return t.kind.String()
}
