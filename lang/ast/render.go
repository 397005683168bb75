package ast

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxExcerpt is how many characters of a long source line Render shows
// around the error.
const maxExcerpt = 100

// Render formats the error with the source line it points into and a caret
// under the column, followed by the hint if there is one:
//
//	app.siddhi:3:8: attribute 'pricee' is not defined in 'S'
//	    3 | from S[pricee > 10]
//	      |        ^
//	      = hint: did you mean 'price'?
//
// src is the text the positions refer to; with nil src only the message and
// the hint are shown.
func (e *Error) Render(src []byte) string {
	var b strings.Builder
	b.WriteString(e.Error())
	b.WriteByte('\n')
	lineNo := fmt.Sprintf("%d", e.Pos.Line)
	gutter := strings.Repeat(" ", len(lineNo))
	if line, col, ok := sourceLine(src, e.Pos); ok {
		fmt.Fprintf(&b, "  %s | %s\n", lineNo, line)
		fmt.Fprintf(&b, "  %s | %s^\n", gutter, strings.Repeat(" ", col))
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "  %s = hint: %s\n", gutter, e.Hint)
	}
	return b.String()
}

// sourceLine returns the line of src holding pos, cut to at most maxExcerpt
// characters around the column, with tabs shown as spaces, and the caret's
// column (0-based, in characters) within it.
func sourceLine(src []byte, pos Pos) (string, int, bool) {
	if !pos.IsValid() || pos.Offset < 0 || pos.Offset > len(src) {
		return "", 0, false
	}
	start := strings.LastIndexByte(string(src[:pos.Offset]), '\n') + 1
	end := pos.Offset
	for end < len(src) && src[end] != '\n' {
		end++
	}
	line := strings.TrimRight(string(src[start:end]), "\r")
	line = strings.ReplaceAll(line, "\t", " ")
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "?")
	}
	runes := []rune(line)
	col := utf8.RuneCount(src[start:pos.Offset])
	if col > len(runes) {
		col = len(runes)
	}
	// Cut long lines to a window around the caret.
	if len(runes) > maxExcerpt {
		from := col - maxExcerpt/2
		if from < 0 {
			from = 0
		}
		to := from + maxExcerpt
		if to > len(runes) {
			to = len(runes)
			from = max(0, to-maxExcerpt)
		}
		prefix, suffix := "", ""
		if from > 0 {
			prefix = "..."
		}
		if to < len(runes) {
			suffix = "..."
		}
		line = prefix + string(runes[from:to]) + suffix
		col = col - from + len(prefix)
	}
	return line, col, true
}

// Render writes every error of the list with its source excerpt.
func (l ErrorList) Render(w io.Writer, src []byte) error {
	for _, e := range l {
		if _, err := io.WriteString(w, e.Render(src)); err != nil {
			return err
		}
	}
	return nil
}

// Sort orders the errors by file and position.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return l[i].File < l[j].File
		}
		return l[i].Pos.Offset < l[j].Pos.Offset
	})
}
