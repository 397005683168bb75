package jsonmap

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tandem-stream/tandem/event"
	"github.com/tandem-stream/tandem/io/internal/opts"
	"github.com/tandem-stream/tandem/io/source"
)

// maxDepth bounds the nesting of skipped values, so hostile input cannot
// exhaust the stack.
const maxDepth = 512

// Decoder turns JSON bodies into rows of one stream. It is immutable after
// NewDecoder and safe for concurrent use.
//
// It is a hand-written single-pass scanner rather than encoding/json: it
// decodes straight into typed values without building maps or reflecting, which
// matters on the ingest path (see BenchmarkDecode).
type Decoder struct {
	schema        *event.Schema
	index         map[string]int
	types         []event.Type
	failOnMissing bool
}

// NewDecoder returns a decoder for schema configured by a @source's @map
// annotation. The only map option is fail.on.missing.attribute (default true).
func NewDecoder(schema *event.Schema, ms source.MapSpec) (*Decoder, error) {
	if err := checkSpec(ms, "fail.on.missing.attribute"); err != nil {
		return nil, err
	}
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	for _, a := range schema.Attrs {
		if a.Type == event.Object {
			// The app's input log stores values with event's codec, which
			// has no form for objects, so such a batch could never be taken.
			return nil, fmt.Errorf("jsonmap: stream %s: attribute %q has type object, which a source cannot supply", schema.Name, a.Name)
		}
	}
	fail, err := opts.Bool("@map(type='json')", ms.Options, "fail.on.missing.attribute", true)
	if err != nil {
		return nil, err
	}
	d := &Decoder{
		schema:        schema,
		index:         make(map[string]int, len(schema.Attrs)),
		types:         make([]event.Type, len(schema.Attrs)),
		failOnMissing: fail,
	}
	for i, a := range schema.Attrs {
		d.index[a.Name] = i
		d.types[i] = a.Type
	}
	return d, nil
}

// Error is a body that could not be decoded. A batch is all or nothing, so
// the first error rejects the whole body.
type Error struct {
	Offset int    // byte offset in the body where the problem was found
	Event  int    // index of the event in the body; -1 when outside any event
	Attr   string // the attribute concerned, "" if none
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("json: ")
	if e.Event >= 0 {
		fmt.Fprintf(&b, "event %d: ", e.Event)
	}
	if e.Attr != "" {
		fmt.Fprintf(&b, "attribute %q: ", e.Attr)
	}
	fmt.Fprintf(&b, "%s (at byte %d)", e.Msg, e.Offset)
	return b.String()
}

// Decode returns one row per event of body, in order, each with one value per
// stream attribute. An empty array gives no rows and no error. On error it
// returns a *Error and no rows.
func (d *Decoder) Decode(body []byte) ([][]event.Value, error) {
	s := scanner{d: d, data: body, ev: -1, seen: make([]bool, len(d.types))}
	s.skipWS()
	if s.off >= len(body) {
		return nil, s.errorf("empty body: expected a JSON object or an array of objects")
	}
	var rows [][]event.Value
	switch body[s.off] {
	case '{':
		s.chunk = 1
		s.ev = 0
		row, err := s.element()
		if err != nil {
			return nil, err
		}
		rows = [][]event.Value{row}
	case '[':
		s.chunk = 1
		s.off++
		s.skipWS()
		if s.peek() == ']' {
			s.off++
			rows = [][]event.Value{}
			break
		}
		for {
			s.skipWS()
			s.ev = len(rows)
			if s.peek() != '{' {
				return nil, s.expected("an event object")
			}
			start := s.off
			row, err := s.element()
			if err != nil {
				return nil, err
			}
			if rows == nil {
				rows = s.sizeFor(s.off - start)
			}
			rows = append(rows, row)
			s.skipWS()
			if c := s.peek(); c == ',' {
				s.off++
				continue
			} else if c == ']' {
				s.off++
				break
			}
			s.ev = -1
			return nil, s.expected("',' or ']' after an event")
		}
	default:
		return nil, s.expected("a JSON object or an array of objects")
	}
	s.ev = -1
	s.skipWS()
	if s.off != len(body) {
		return nil, s.expected("end of input after the top-level value")
	}
	return rows, nil
}

// scanner is the state of one Decode call.
type scanner struct {
	d       *Decoder
	data    []byte
	off     int
	ev      int           // index of the event being decoded, -1 outside
	seen    []bool        // attributes of the current event already set
	buf     []byte        // scratch for strings with escapes
	backing []event.Value // unused tail of the current chunk of rows
	chunk   int           // rows in the next chunk
	next    int           // the attribute expected next
}

func (s *scanner) peek() byte {
	if s.off < len(s.data) {
		return s.data[s.off]
	}
	return 0
}

func (s *scanner) skipWS() {
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

func (s *scanner) errorf(format string, args ...any) error {
	return &Error{Offset: s.off, Event: s.ev, Msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) attrErrorf(i, at int, format string, args ...any) error {
	return &Error{Offset: at, Event: s.ev, Attr: s.d.schema.Attrs[i].Name, Msg: fmt.Sprintf(format, args...)}
}

// expected reports a syntax error: what was expected and what was found.
func (s *scanner) expected(what string) error {
	return s.errorf("syntax error: expected %s, found %s", what, s.found())
}

func (s *scanner) found() string {
	if s.off >= len(s.data) {
		return "end of input"
	}
	c := s.data[s.off]
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// maxEstimate bounds the rows allocated on an estimate, so that a body whose
// first event is tiny cannot make Decode allocate for millions of rows.
const maxEstimate = 4096

// sizeFor returns the slice for an array's rows and sets aside values for
// them, sized by the first event, which took size bytes: the events of a
// batch are usually alike, so most bodies then cost two allocations. Should
// the estimate fall short, newRow goes on in chunks.
func (s *scanner) sizeFor(size int) [][]event.Value {
	est := 1 + (len(s.data)-s.off)/(size+1) // +1: the comma after each event
	est = min(est, maxEstimate)
	s.backing = make([]event.Value, len(s.d.types)*(est-1))
	s.chunk = 16
	return make([][]event.Value, 0, est)
}

// newRow hands out rows from chunks, so a batch costs a few allocations
// rather than one per event.
func (s *scanner) newRow() []event.Value {
	n := len(s.d.types)
	if len(s.backing) < n {
		s.backing = make([]event.Value, n*s.chunk)
		if s.chunk < 1024 {
			s.chunk *= 2
		}
	}
	row := s.backing[:n:n]
	s.backing = s.backing[n:]
	return row
}

// element decodes one event object; s.off is at its '{'.
func (s *scanner) element() ([]event.Value, error) {
	row := s.newRow()
	clear(s.seen)
	s.next = 0
	wrapped := false
	dirty := false // row holds values from keys beside an "event" wrapper
	s.off++
	s.skipWS()
	if s.peek() == '}' {
		s.off++
		return s.finish(row)
	}
	for {
		s.skipWS()
		key, err := s.key()
		if err != nil {
			return nil, err
		}
		switch {
		case wrapped && string(key) == "event":
			return nil, s.errorf("key \"event\" given twice")
		case wrapped:
			err = s.skip(0)
		case string(key) == "event" && s.peek() == '{':
			// Siddhi's {"event": {...}}: attributes set by keys beside
			// the wrapper are not part of the event. A fresh row needs no
			// clearing, which matters: it holds pointers, so clearing it
			// costs write barriers while the collector runs.
			if dirty {
				clear(row)
				clear(s.seen)
			}
			s.next = 0
			wrapped = true
			err = s.attrs(row)
		default:
			dirty = true
			err = s.member(row, key)
		}
		if err != nil {
			return nil, err
		}
		s.skipWS()
		switch s.peek() {
		case ',':
			s.off++
			continue
		case '}':
			s.off++
			return s.finish(row)
		}
		return nil, s.expected("',' or '}' after an object member")
	}
}

// attrs decodes the object inside an {"event": ...} wrapper.
func (s *scanner) attrs(row []event.Value) error {
	s.off++
	s.skipWS()
	if s.peek() == '}' {
		s.off++
		return nil
	}
	for {
		s.skipWS()
		key, err := s.key()
		if err != nil {
			return err
		}
		if err := s.member(row, key); err != nil {
			return err
		}
		s.skipWS()
		switch s.peek() {
		case ',':
			s.off++
			continue
		case '}':
			s.off++
			return nil
		}
		return s.expected("',' or '}' after an attribute")
	}
}

// key reads an object key and the colon after it, leaving s.off at the value.
// The returned bytes are valid until the next string is read.
func (s *scanner) key() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.expected("a string key")
	}
	key, err := s.str()
	if err != nil {
		return nil, err
	}
	s.skipWS()
	if s.peek() != ':' {
		return nil, s.expected("':' after an object key")
	}
	s.off++
	s.skipWS()
	return key, nil
}

func (s *scanner) member(row []event.Value, key []byte) error {
	// Senders usually write attributes in stream order, so try the one after
	// the previous before hashing.
	i := s.next
	if i >= len(s.d.types) || s.d.schema.Attrs[i].Name != string(key) {
		var ok bool
		if i, ok = s.d.index[string(key)]; !ok {
			return s.skip(0)
		}
	}
	s.next = i + 1
	if s.seen[i] {
		return s.attrErrorf(i, s.off, "given twice")
	}
	s.seen[i] = true
	v, err := s.value(i)
	row[i] = v
	return err
}

// finish checks that every attribute was given.
func (s *scanner) finish(row []event.Value) ([]event.Value, error) {
	var missing []string
	for i, ok := range s.seen {
		if !ok && s.d.failOnMissing {
			missing = append(missing, strconv.Quote(s.d.schema.Attrs[i].Name))
		}
	}
	switch len(missing) {
	case 0:
		return row, nil
	case 1:
		return nil, s.errorf("missing attribute %s", missing[0])
	}
	return nil, s.errorf("missing attributes %s", strings.Join(missing, ", "))
}

// value decodes the value of attribute i at s.off.
func (s *scanner) value(i int) (event.Value, error) {
	start := s.off
	c := s.peek()
	if c == 'n' {
		return event.Value{}, s.literal("null")
	}
	switch t := s.d.types[i]; t {
	case event.Int, event.Long:
		if c != '-' && (c < '0' || c > '9') {
			return event.Value{}, s.typeError(i, t)
		}
		integer, err := s.number()
		if err != nil {
			return event.Value{}, err
		}
		bits := 64
		if t == event.Int {
			bits = 32
		}
		tok := s.data[start:s.off]
		n, why := parseInt(tok, integer, bits)
		if why != "" {
			return event.Value{}, s.attrErrorf(i, start, "expected %s, got %s (%s)", t, abbrev(tok), why)
		}
		if t == event.Int {
			return event.IntValue(int32(n)), nil
		}
		return event.LongValue(n), nil
	case event.Float, event.Double:
		if c != '-' && (c < '0' || c > '9') {
			return event.Value{}, s.typeError(i, t)
		}
		if _, err := s.number(); err != nil {
			return event.Value{}, err
		}
		bits := 64
		if t == event.Float {
			bits = 32
		}
		tok := s.data[start:s.off]
		if t == event.Double {
			if f, ok := parseSimpleFloat(tok); ok {
				return event.DoubleValue(f), nil
			}
		}
		f, err := strconv.ParseFloat(string(tok), bits)
		if err != nil {
			return event.Value{}, s.attrErrorf(i, start, "expected %s, got %s (out of range)", t, abbrev(tok))
		}
		if t == event.Float {
			return event.FloatValue(float32(f)), nil
		}
		return event.DoubleValue(f), nil
	case event.Bool:
		switch c {
		case 't':
			return event.BoolValue(true), s.literal("true")
		case 'f':
			return event.BoolValue(false), s.literal("false")
		}
		return event.Value{}, s.typeError(i, t)
	case event.String:
		if c != '"' {
			return event.Value{}, s.typeError(i, t)
		}
		b, err := s.str()
		if err != nil {
			return event.Value{}, err
		}
		return event.StringValue(string(b)), nil
	}
	// NewDecoder admits no other attribute types.
	return event.Value{}, s.attrErrorf(i, start, "unsupported type %s", s.d.types[i])
}

// typeError reports a value of the wrong JSON kind for attribute i, or a
// syntax error when what is there is not a JSON value at all.
func (s *scanner) typeError(i int, t event.Type) error {
	var got string
	switch c := s.peek(); {
	case c == '"':
		got = "a string"
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == '-' || c >= '0' && c <= '9':
		got = "a number"
	default:
		return s.expected("a value")
	}
	return s.attrErrorf(i, s.off, "expected %s, got %s", t, got)
}

func abbrev(tok []byte) string {
	if len(tok) > 40 {
		return string(tok[:37]) + "..."
	}
	return string(tok)
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.off:], []byte(lit)) {
		return s.expected("a value")
	}
	s.off += len(lit)
	return nil
}

// number scans a JSON number at s.off and reports whether it has neither a
// fraction nor an exponent.
func (s *scanner) number() (integer bool, err error) {
	data, i := s.data, s.off
	digits := func() int {
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		digits()
	default:
		s.off = i
		return false, s.expected("a digit")
	}
	integer = true
	if i < len(data) && data[i] == '.' {
		i++
		if digits() == 0 {
			s.off = i
			return false, s.expected("a digit after the decimal point")
		}
		integer = false
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.off = i
			return false, s.expected("a digit in the exponent")
		}
		integer = false
	}
	s.off = i
	return integer, nil
}

// exactPow10 holds the powers of ten that float64 represents exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseSimpleFloat converts a valid JSON number of at most 15 digits and no
// exponent, the common form of prices and measurements, to a float64. The
// digits as an integer and the power of ten are both exact in a float64, so
// the one rounding of the division gives the correctly rounded result, as
// strconv.ParseFloat would (Clinger's fast path) but without its generality.
// ok is false for any other number; strconv then takes it.
func parseSimpleFloat(tok []byte) (f float64, ok bool) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	if len(tok) > 16 { // 15 digits and a point
		return 0, false
	}
	var mant uint64
	digits, frac := 0, -1 // frac: digits after the point; -1 before it
	for _, c := range tok {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits > 15 { // 10^15 < 2^53: every mantissa below is exact
		return 0, false
	}
	f = float64(mant) / exactPow10[max(frac, 0)]
	if neg {
		f = -f
	}
	return f, true
}

// parseInt converts a valid JSON number to an integer of the given size. It
// accepts fractions and exponents whose value is exactly integral (1.0, 2e3)
// and returns why it cannot otherwise.
func parseInt(tok []byte, integer bool, bits int) (int64, string) {
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	if !integer {
		var ok bool
		if tok, ok = integralDigits(tok); !ok {
			return 0, "not an integer"
		}
		if tok == nil {
			return 0, "out of range"
		}
	}
	limit := uint64(1)<<(bits-1) - 1
	if neg {
		limit++
	}
	var u uint64
	for _, c := range tok {
		d := uint64(c - '0')
		if u > (limit-d)/10 {
			return 0, "out of range"
		}
		u = u*10 + d
	}
	if neg {
		return -int64(u), ""
	}
	return int64(u), ""
}

// integralDigits rewrites an unsigned JSON number with a fraction or exponent
// as plain decimal digits. ok is false when the value is not an integer; the
// digits are nil when it is too large for any int64.
func integralDigits(tok []byte) (digits []byte, ok bool) {
	mant, exp := tok, 0
	if i := bytes.IndexAny(tok, "eE"); i >= 0 {
		mant = tok[:i]
		e := tok[i+1:]
		neg := e[0] == '-'
		if e[0] == '-' || e[0] == '+' {
			e = e[1:]
		}
		for _, c := range e {
			if exp < 1<<20 { // saturate: far beyond any int64 either way
				exp = exp*10 + int(c-'0')
			}
		}
		if neg {
			exp = -exp
		}
	}
	ip, fp := mant, []byte(nil)
	if i := bytes.IndexByte(mant, '.'); i >= 0 {
		ip, fp = mant[:i], mant[i+1:]
	}
	all := make([]byte, 0, len(ip)+len(fp))
	all = append(append(all, ip...), fp...)
	point := len(ip) + exp // digits before the decimal point
	for len(all) > 0 && all[0] == '0' {
		all = all[1:]
		point--
	}
	for len(all) > 0 && all[len(all)-1] == '0' {
		all = all[:len(all)-1]
	}
	switch {
	case len(all) == 0:
		return []byte("0"), true
	case point < len(all):
		return nil, false
	case point > 19: // at least 10^19 > max int64
		return nil, true
	}
	for len(all) < point {
		all = append(all, '0')
	}
	return all, true
}

// str reads a JSON string at s.off and returns its contents, which alias
// either the input or s.buf.
func (s *scanner) str() ([]byte, error) {
	s.off++
	data, start := s.data, s.off
	for i := start; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			s.off = i + 1
			return data[start:i], nil
		case c == '\\':
			return s.strEscaped(start, i)
		case c < 0x20:
			s.off = i
			return nil, s.errorf("syntax error: control character %s in string", s.found())
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				s.off = i
				return nil, s.errorf("invalid UTF-8 in string")
			}
			i += size
		}
	}
	s.off = len(data)
	return nil, s.errorf("syntax error: unterminated string")
}

// strEscaped continues str from the first backslash at i, unescaping into
// s.buf. Lone surrogates become U+FFFD, as with encoding/json.
func (s *scanner) strEscaped(start, i int) ([]byte, error) {
	data := s.data
	b := append(s.buf[:0], data[start:i]...)
	defer func() { s.buf = b[:0] }()
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			s.off = i + 1
			return b, nil
		case c == '\\':
			if i+1 >= len(data) {
				s.off = len(data)
				return nil, s.errorf("syntax error: unterminated string")
			}
			i += 2
			switch data[i-1] {
			case '"', '\\', '/':
				b = append(b, data[i-1])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(data[i:])
				if !ok {
					s.off = i
					return nil, s.errorf("syntax error: invalid \\u escape in string")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
						r2, ok = hex4(data[i+2:])
					}
					if rr := utf16.DecodeRune(r, r2); ok && rr != utf8.RuneError {
						r = rr
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				s.off = i - 1
				return nil, s.errorf("syntax error: invalid escape %s in string", s.found())
			}
		case c < 0x20:
			s.off = i
			return nil, s.errorf("syntax error: control character %s in string", s.found())
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				s.off = i
				return nil, s.errorf("invalid UTF-8 in string")
			}
			b = append(b, data[i:i+size]...)
			i += size
		}
	}
	s.off = len(data)
	return nil, s.errorf("syntax error: unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip scans over any JSON value at s.off.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("values nested more than %d deep", maxDepth)
	}
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '[':
		s.off++
		s.skipWS()
		if s.peek() == ']' {
			s.off++
			return nil
		}
		for {
			s.skipWS()
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.skipWS()
			switch s.peek() {
			case ',':
				s.off++
				continue
			case ']':
				s.off++
				return nil
			}
			return s.expected("',' or ']' in an array")
		}
	case c == '{':
		s.off++
		s.skipWS()
		if s.peek() == '}' {
			s.off++
			return nil
		}
		for {
			s.skipWS()
			if _, err := s.key(); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.skipWS()
			switch s.peek() {
			case ',':
				s.off++
				continue
			case '}':
				s.off++
				return nil
			}
			return s.expected("',' or '}' after an object member")
		}
	}
	return s.expected("a value")
}
