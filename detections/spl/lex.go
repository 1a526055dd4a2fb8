package spl

import (
	"fmt"
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tWord
	tString // double-quoted, unescaped
	tField  // single-quoted field name (eval mode)
	tNum    // number literal (eval mode)
	tOp
)

type token struct {
	k   tokKind
	s   string
	pos int // byte offset in the expanded query
}

// maxTokenShown caps how much of a token an error message quotes.
const maxTokenShown = 64

func (t token) String() string {
	s := t.s
	if len(s) > maxTokenShown {
		s = s[:maxTokenShown] + "…"
	}
	switch t.k {
	case tEOF:
		return "end of command"
	case tField:
		return "'" + s + "'"
	}
	return fmt.Sprintf("%q", s)
}

func (t token) is(op string) bool { return t.k == tOp && t.s == op }

// isKw reports whether t is the bare word kw (case-insensitive).
func (t token) isKw(kw string) bool { return t.k == tWord && strings.EqualFold(t.s, kw) }

// ParseError reports a syntax problem with its byte offset in the query after
// macro expansion.
type ParseError struct {
	Pos int
	Tok string
	Msg string
}

func (e *ParseError) Error() string {
	if e.Tok != "" {
		return fmt.Sprintf("spl: position %d near %s: %s", e.Pos, e.Tok, e.Msg)
	}
	return fmt.Sprintf("spl: position %d: %s", e.Pos, e.Msg)
}

// Position is the byte offset of the error; the REST API and console use it to point at the
// query text.
func (e *ParseError) Position() int { return e.Pos }

func errAt(t token, format string, args ...any) error {
	return &ParseError{Pos: t.pos, Tok: t.String(), Msg: fmt.Sprintf(format, args...)}
}

// segment is one command of the pipeline: its text and where it starts.
type segment struct {
	text string
	pos  int
}

// splitPipes cuts the query at top-level pipes, honouring double quotes and
// backslash escapes (SPL allows `\|` in unquoted terms).
func splitPipes(q string) ([]segment, error) { return cutPipes(q, false) }

// cutPipes is the one pipe splitter. With unexpanded set it reads a search as typed, before
// macro expansion: a pipe inside backticks (a macro call) or brackets (a subsearch) does not cut.
func cutPipes(q string, unexpanded bool) ([]segment, error) {
	var segs []segment
	start := 0
	inQ, inTick := false, false
	depth := 0
	qStart := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\\' && i+1 < len(q):
			i++
		case c == '"' && !inTick:
			if !inQ {
				qStart = i
			}
			inQ = !inQ
		case inQ:
		case unexpanded && c == '`':
			inTick = !inTick
		case inTick:
		case unexpanded && c == '[':
			depth++
		case unexpanded && c == ']':
			depth--
		case c == '|' && depth == 0:
			segs = append(segs, segment{q[start:i], start})
			start = i + 1
		}
	}
	if inQ {
		return nil, &ParseError{Pos: qStart, Msg: "unterminated quoted string"}
	}
	segs = append(segs, segment{q[start:], start})
	return segs, nil
}

// BaseSearch returns a search as typed (macros unexpanded) up to its first pipe outside quotes,
// backticks and brackets: the part that selects events. A leading pipe (a generating command)
// belongs to the base search; an unbalanced quote leaves the search whole.
func BaseSearch(q string) string {
	segs, err := cutPipes(q, true)
	if err != nil {
		return q
	}
	first := 0
	if segs[0].pos == 0 && segs[0].text == "" {
		first = 1
	}
	if first+1 >= len(segs) {
		return q
	}
	return q[:segs[first+1].pos-1]
}

type lexMode uint8

const (
	modeArgs lexMode = iota // search terms and command arguments
	modeEval                // eval/where expressions
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lex tokenizes one command's text.
func lex(s string, base int, mode lexMode) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		if isSpace(c) {
			i++
			continue
		}
		start := i
		switch {
		case c == '"':
			str, n, err := lexQuoted(s[i:], '"')
			if err != nil {
				return nil, &ParseError{Pos: base + i, Msg: err.Error()}
			}
			toks = append(toks, token{tString, str, base + start})
			i += n
			continue
		case mode == modeEval && c == '\'':
			str, n, err := lexQuoted(s[i:], '\'')
			if err != nil {
				return nil, &ParseError{Pos: base + i, Msg: err.Error()}
			}
			toks = append(toks, token{tField, str, base + start})
			i += n
			continue
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{tOp, string(c), base + i})
			i++
			continue
		case c == '=' || c == '<' || c == '>' || (c == '!' && i+1 < len(s) && s[i+1] == '='):
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			toks = append(toks, token{tOp, op, base + i})
			i += len(op)
			continue
		}
		if mode == modeEval {
			switch {
			case strings.IndexByte("+-*/%.", c) >= 0 && !(c == '.' && i+1 < len(s) && isDigit(s[i+1]) && (i == 0 || !isIdent(s[i-1]))):
				toks = append(toks, token{tOp, string(c), base + i})
				i++
			case isDigit(c) || c == '.':
				j := i
				for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
					j++
				}
				if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
					k := j + 1
					if k < len(s) && (s[k] == '+' || s[k] == '-') {
						k++
					}
					if k < len(s) && isDigit(s[k]) {
						j = k
						for j < len(s) && isDigit(s[j]) {
							j++
						}
					}
				}
				toks = append(toks, token{tNum, s[i:j], base + i})
				i = j
			case isIdentStart(c):
				j := i
				for j < len(s) && isIdent(s[j]) {
					j++
				}
				toks = append(toks, token{tWord, s[i:j], base + i})
				i = j
			default:
				return nil, &ParseError{Pos: base + i, Tok: fmt.Sprintf("%q", string(c)), Msg: "unexpected character"}
			}
			continue
		}
		// Args mode: a word runs to whitespace or a structural character.
		var b strings.Builder
		j := i
	word:
		for j < len(s) {
			c := s[j]
			switch {
			case isSpace(c) || c == '(' || c == ')' || c == ',' || c == '"' || c == '=' || c == '<' || c == '>':
				break word
			case c == '!' && j+1 < len(s) && s[j+1] == '=':
				break word
			case c == '\\' && j+1 < len(s) && (s[j+1] == '|' || s[j+1] == '\\' || s[j+1] == '"' || s[j+1] == '=' || s[j+1] == '(' || s[j+1] == ')'):
				b.WriteByte(s[j+1])
				j += 2
				continue
			}
			b.WriteByte(c)
			j++
		}
		toks = append(toks, token{tWord, b.String(), base + i})
		i = j
	}
	toks = append(toks, token{tEOF, "", base + len(s)})
	return toks, nil
}

// lexQuoted reads a quoted string starting at s[0]==q. Inside quotes SPL
// expands only \" and \\; every other backslash sequence is kept verbatim so
// regexes such as "\|\s+" reach rex untouched.
func lexQuoted(s string, q byte) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if c == q {
			return b.String(), i + 1, nil
		}
		b.WriteByte(c)
	}
	return "", 0, fmt.Errorf("unterminated quoted string")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
func isIdent(c byte) bool { return isIdentStart(c) || isDigit(c) }

// Bounds of what a search may ask of the parser. A search comes from whoever holds the API
// token (or a console session), and every level of nesting is a level of recursion when it is
// parsed and run; a Go stack overflow cannot be recovered, so the parser refuses before that.
const (
	// MaxQueryBytes is the longest search text, before and after macro expansion.
	MaxQueryBytes = 256 << 10
	// MaxNesting is how deeply parentheses, NOT, unary signs and function calls may nest in
	// one search expression or eval expression.
	MaxNesting = 100
)

// tokStream is a cursor over tokens.
type tokStream struct {
	toks []token
	i    int
	// depth is the current nesting of the expression being parsed (see MaxNesting).
	depth int
	// src is the command text starting at byte offset base of the query, so
	// a parser can re-lex part of it in another mode (eval() inside stats).
	src  string
	base int
}

// text returns the query text between two absolute offsets.
func (ts *tokStream) text(from, to int) string {
	return ts.src[from-ts.base : to-ts.base]
}

func (ts *tokStream) peek() token  { return ts.toks[ts.i] }
func (ts *tokStream) peek2() token { return ts.toks[min(ts.i+1, len(ts.toks)-1)] }
func (ts *tokStream) next() token {
	t := ts.toks[ts.i]
	if t.k != tEOF {
		ts.i++
	}
	return t
}
func (ts *tokStream) eof() bool { return ts.peek().k == tEOF }

// enter opens one level of nesting at t; leave closes it.
func (ts *tokStream) enter(t token) error {
	ts.depth++
	if ts.depth > MaxNesting {
		return errAt(t, "expression nested more than %d levels deep", MaxNesting)
	}
	return nil
}

func (ts *tokStream) leave() { ts.depth-- }

func (ts *tokStream) expectOp(op string) (token, error) {
	t := ts.next()
	if !t.is(op) {
		return t, errAt(t, "expected %q", op)
	}
	return t, nil
}
