package parser

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/lang/ast"
)

// scanner turns SiddhiQL source into tokens. It follows the lexical rules of
// Siddhi's grammar: case-insensitive keywords (returned as identifiers, the
// parser decides), `--` and /* */ comments, backquoted names, numbers with
// L/F/D suffixes, and single-, double- and triple-quoted strings. Lexical
// errors go to errh and produce a tIllegal token so the parser does not report
// them a second time.
type scanner struct {
	src      []byte
	off      int   // next byte to read
	lines    []int // offsets of the first byte of each line
	errh     func(pos ast.Pos, msg string)
	comments int // comments skipped so far
}

func newScanner(src []byte, errh func(ast.Pos, string)) *scanner {
	lines := []int{0}
	for i, c := range src {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	return &scanner{src: src, lines: lines, errh: errh}
}

// pos converts a byte offset to a position.
func (s *scanner) pos(off int) ast.Pos {
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off }) - 1
	return ast.Pos{Offset: off, Line: i + 1, Col: off - s.lines[i] + 1}
}

func (s *scanner) peekAt(i int) byte {
	if s.off+i < len(s.src) {
		return s.src[s.off+i]
	}
	return 0
}

func (s *scanner) error(off int, msg string) { s.errh(s.pos(off), msg) }

// skipSpace skips white space and comments.
func (s *scanner) skipSpace() {
	for s.off < len(s.src) {
		switch c := s.src[s.off]; {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			s.off++
		case c == '-' && s.peekAt(1) == '-':
			s.comments++
			for s.off < len(s.src) && s.src[s.off] != '\n' {
				s.off++
			}
		case c == '/' && s.peekAt(1) == '*':
			s.comments++
			// Siddhi lets a block comment run to the end of the input.
			s.off += 2
			for s.off < len(s.src) {
				if s.src[s.off] == '*' && s.peekAt(1) == '/' {
					s.off += 2
					break
				}
				s.off++
			}
		default:
			return
		}
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// next returns the next token.
func (s *scanner) next() token {
	s.skipSpace()
	start := s.off
	tok := token{pos: s.pos(start)}
	if s.off >= len(s.src) {
		tok.kind = tEOF
		tok.end = s.off
		return tok
	}
	c := s.src[s.off]
	switch {
	case isLetter(c):
		for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off])) {
			s.off++
		}
		tok.kind, tok.lit = tIdent, string(s.src[start:s.off])
	case isDigit(c) || c == '.' && isDigit(s.peekAt(1)):
		tok.kind, tok.lit = s.scanNumber()
	case c == '`':
		tok.kind, tok.lit, tok.quoted = s.scanQuotedName()
	case c == '\'' || c == '"':
		tok.kind, tok.lit = s.scanString()
	case c == '{':
		tok.kind, tok.lit = s.scanScript()
	default:
		tok.kind = s.scanOperator()
	}
	tok.end = s.off
	return tok
}

func (s *scanner) scanOperator() kind {
	c := s.src[s.off]
	s.off++
	two := func(next byte, k2, k1 kind) kind {
		if s.off < len(s.src) && s.src[s.off] == next {
			s.off++
			return k2
		}
		return k1
	}
	switch c {
	case ':':
		return tColon
	case ';':
		return tSemi
	case '.':
		if s.peekAt(0) == '.' && s.peekAt(1) == '.' {
			s.off += 2
			return tTripleDot
		}
		return tDot
	case '(':
		return tLParen
	case ')':
		return tRParen
	case '[':
		return tLBrack
	case ']':
		return tRBrack
	case ',':
		return tComma
	case '=':
		return two('=', tEq, tAssign)
	case '*':
		return tStar
	case '+':
		return tPlus
	case '?':
		return tQuestion
	case '-':
		return two('>', tArrow, tMinus)
	case '/':
		return tSlash
	case '%':
		return tPercent
	case '<':
		return two('=', tLe, tLt)
	case '>':
		return two('=', tGe, tGt)
	case '!':
		return two('=', tNe, tBang)
	case '@':
		return tAt
	case '#':
		return tHash
	}
	// Report the whole character, not one byte of it.
	s.off--
	r, size := utf8.DecodeRune(s.src[s.off:])
	if r == utf8.RuneError && size <= 1 {
		s.error(s.off, "invalid UTF-8 byte in input")
		size = 1
	} else {
		s.error(s.off, "unexpected character "+strconv.QuoteRune(r))
	}
	s.off += size
	return tIllegal
}

// scanNumber scans the longest numeric literal Siddhi's lexer accepts and
// returns its kind and source text (suffix included). A type suffix that runs
// straight into more letters (`2days`) is not taken as a suffix, so that the
// parser sees the number and the word.
func (s *scanner) scanNumber() (kind, string) {
	start := s.off
	i := s.off
	digits := func() int {
		n := 0
		for i < len(s.src) && isDigit(s.src[i]) {
			i++
			n++
		}
		return n
	}
	intDigits := digits()
	afterInt := i
	dot, fracDigits := false, 0
	if i < len(s.src) && s.src[i] == '.' && !(i+1 < len(s.src) && s.src[i+1] == '.') {
		dot = true
		i++
		fracDigits = digits()
	}
	exp := false
	if i < len(s.src) && (s.src[i] == 'e' || s.src[i] == 'E') {
		j := i + 1
		if j < len(s.src) && (s.src[j] == '+' || s.src[j] == '-') {
			j++
		}
		if j < len(s.src) && isDigit(s.src[j]) {
			i = j
			digits()
			exp = true
		}
	}
	suffix := byte(0)
	if i < len(s.src) {
		switch c := s.src[i] | 0x20; c {
		case 'l', 'f', 'd':
			if !(i+1 < len(s.src) && (isLetter(s.src[i+1]) || isDigit(s.src[i+1]))) {
				suffix = c
			}
		}
	}
	k := tInt
	switch {
	case suffix == 'l' && !dot && !exp && intDigits > 0:
		k = tLong
		i++
	case suffix == 'f' && (intDigits > 0 || fracDigits > 0):
		k = tFloat
		i++
	case suffix == 'd' && (intDigits > 0 || fracDigits > 0):
		k = tDouble
		i++
	case exp || dot && fracDigits > 0:
		k = tDouble
	default:
		// `1.` without digits, exponent or suffix is the int 1 and a dot.
		i = afterInt
	}
	s.off = i
	return k, string(s.src[start:s.off])
}

func (s *scanner) scanQuotedName() (kind, string, bool) {
	start := s.off
	s.off++
	for s.off < len(s.src) && s.src[s.off] != '`' {
		s.off++
	}
	if s.off >= len(s.src) {
		s.error(start, "quoted name not terminated")
		return tIllegal, "", false
	}
	name := string(s.src[start+1 : s.off])
	s.off++
	if name == "" {
		s.error(start, "empty quoted name")
		return tIllegal, "", false
	}
	return tIdent, name, true
}

// scanString scans '...', "..." and """...""". As in Siddhi, single- and
// double-quoted strings are taken literally (a backslash is just a
// backslash, which keeps regular expressions readable) and cannot span lines;
// triple-quoted strings may span lines and contain quotes, and their Java
// escape sequences are decoded.
func (s *scanner) scanString() (kind, string) {
	start := s.off
	q := s.src[s.off]
	if q == '"' && s.peekAt(1) == '"' && s.peekAt(2) == '"' {
		return s.scanTripleString()
	}
	s.off++
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c == q {
			lit := string(s.src[start+1 : s.off])
			s.off++
			return tString, lit
		}
		if c == '\n' || c == '\r' {
			break
		}
		s.off++
	}
	s.error(start, "string literal not terminated")
	return tIllegal, ""
}

func (s *scanner) scanTripleString() (kind, string) {
	start := s.off
	s.off += 3
	bodyStart := s.off
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c == '"' && s.peekAt(1) == '"' && s.peekAt(2) == '"' {
			// Quotes right before the closing delimiter belong to the body.
			for s.peekAt(3) == '"' {
				s.off++
			}
			body := s.src[bodyStart:s.off]
			s.off += 3
			v, bad, msg := unescapeJava(body)
			if bad >= 0 {
				s.error(bodyStart+bad, msg)
				return tIllegal, ""
			}
			return tString, v
		}
		if c == '\\' && s.off+1 < len(s.src) {
			s.off += 2
			continue
		}
		s.off++
	}
	s.error(start, "string literal not terminated")
	return tIllegal, ""
}

// unescapeJava decodes Java escape sequences. It returns the offset of a bad
// escape (or -1) and a message.
func unescapeJava(b []byte) (string, int, string) {
	if !strings.Contains(string(b), `\`) {
		return string(b), -1, ""
	}
	var sb strings.Builder
	var pendingHigh rune = -1 // a UTF-16 high surrogate waiting for its pair
	flush := func() {
		if pendingHigh >= 0 {
			sb.WriteRune(utf8.RuneError)
			pendingHigh = -1
		}
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			flush()
			sb.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", i, "escape sequence not terminated"
		}
		e := b[i+1]
		switch e {
		case 'b', 't', 'n', 'f', 'r', '"', '\'', '\\':
			flush()
			sb.WriteByte(simpleEscape(e))
			i += 2
		case 'u':
			j := i + 1
			for j < len(b) && b[j] == 'u' {
				j++
			}
			if j+4 > len(b) {
				return "", i, "invalid unicode escape sequence"
			}
			v, err := strconv.ParseUint(string(b[j:j+4]), 16, 32)
			if err != nil {
				return "", i, "invalid unicode escape sequence"
			}
			r := rune(v)
			switch {
			case r >= 0xD800 && r < 0xDC00:
				flush()
				pendingHigh = r
			case r >= 0xDC00 && r < 0xE000 && pendingHigh >= 0:
				sb.WriteRune(0x10000 + (pendingHigh-0xD800)<<10 + (r - 0xDC00))
				pendingHigh = -1
			default:
				flush()
				sb.WriteRune(r)
			}
			i = j + 4
		default:
			if e < '0' || e > '7' {
				return "", i, "unknown escape sequence '\\" + string(rune(e)) + "'"
			}
			// Octal: up to three digits, at most \377.
			j, v := i+1, 0
			for n := 0; n < 3 && j < len(b) && b[j] >= '0' && b[j] <= '7'; n++ {
				if nv := v*8 + int(b[j]-'0'); nv <= 0377 {
					v = nv
					j++
				} else {
					break
				}
			}
			flush()
			sb.WriteRune(rune(v))
			i = j
		}
	}
	flush()
	return sb.String(), -1, ""
}

// scanScript scans a `{ ... }` function body with nested braces, skipping
// braces inside "strings", 'strings' and // comments.
func (s *scanner) scanScript() (kind, string) {
	start := s.off
	depth := 0
	for s.off < len(s.src) {
		c := s.src[s.off]
		switch {
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				s.off++
				return tScript, string(s.src[start+1 : s.off-1])
			}
		case c == '"' || c == '\'':
			for s.off++; s.off < len(s.src) && s.src[s.off] != c; s.off++ {
				if s.src[s.off] == '\\' {
					s.off++
				}
			}
		case c == '/' && s.peekAt(1) == '/':
			for s.off < len(s.src) && s.src[s.off] != '\n' {
				s.off++
			}
			continue
		}
		s.off++
	}
	// An unterminated string (or a trailing backslash) in the body steps past
	// the end; the tokens after the error must still lie within the input.
	s.off = min(s.off, len(s.src))
	s.error(start, "function body not terminated: missing '}'")
	return tIllegal, ""
}

func simpleEscape(e byte) byte {
	switch e {
	case 'b':
		return '\b'
	case 't':
		return '\t'
	case 'n':
		return '\n'
	case 'f':
		return '\f'
	case 'r':
		return '\r'
	}
	return e // ", ' and \ stand for themselves
}

// text returns the source text of a token.
func (s *scanner) text(t token) string { return string(s.src[t.pos.Offset:t.end]) }
