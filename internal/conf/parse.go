// Package conf reads Splunk .conf files and layers them the way splunkd does for the global
// (index-time) context: the conf dir (like system/local) over every app's local/ over every
// app's default/, apps compared by directory name in ASCII order (A wins over Z).
package conf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultStanza is the stanza whose keys apply to every other stanza of the same file set.
// Keys written before the first stanza header belong to it too.
const DefaultStanza = "default"

// KV is one setting with the place it was read from, so errors and warnings can point at it.
type KV struct {
	Key, Value string
	File       string
	Line       int
}

// Stanza is one [name] section; KVs are in file order and may repeat a key (the last wins).
type Stanza struct {
	Name string
	KVs  []KV
	File string
	Line int
}

// File is one parsed .conf file.
type File struct {
	Name    string
	Stanzas []*Stanza
}

// SyntaxError is a malformed line. It prints as "file:line: reason" like a compiler error.
type SyntaxError struct {
	File   string
	Line   int
	Reason string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// ErrSyntax matches any *SyntaxError with errors.Is.
var ErrSyntax = errors.New("conf syntax error")

// Is lets callers test errors.Is(err, conf.ErrSyntax) without a type assertion.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// ParseFile reads and parses one .conf file.
func ParseFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open conf %s: %w", path, err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse parses .conf text. name is used in positions and errors.
//
// Syntax as splunkd reads it: a line whose first non-blank character is '#' is a comment (a '#'
// later in a value is kept); "[name]" opens a stanza; "key = value" with any blanks around '=';
// a line ending in '\' continues on the next line and the newline is kept in the value; keys
// before the first stanza go to [default]. Leading blanks on a line are ignored (old TA files are
// indented). Lines without '=' and unterminated '[' are errors.
func Parse(name string, r io.Reader) (*File, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	file := &File{Name: name}
	var cur *Stanza
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		line = strings.TrimSuffix(line, "\r")
		start := lineNo
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed[0] == '[' {
			end := strings.LastIndexByte(trimmed, ']')
			if end < 0 {
				return nil, &SyntaxError{name, start, "unterminated stanza header (missing ']')"}
			}
			cur = &Stanza{Name: trimmed[1:end], File: name, Line: start}
			file.Stanzas = append(file.Stanzas, cur)
			continue
		}
		// The key and '=' must be on the first physical line; only the value may continue.
		if !strings.Contains(strings.TrimSuffix(line, `\`), "=") {
			return nil, &SyntaxError{name, start, fmt.Sprintf("expected \"key = value\" or \"[stanza]\", got %q", clip(trimmed))}
		}
		for strings.HasSuffix(line, `\`) {
			if !sc.Scan() {
				line = strings.TrimSuffix(line, `\`)
				break
			}
			lineNo++
			next := strings.TrimSuffix(sc.Text(), "\r")
			line = strings.TrimSuffix(line, `\`) + "\n" + next
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return nil, &SyntaxError{name, start, fmt.Sprintf("expected \"key = value\" or \"[stanza]\", got %q", clip(trimmed))}
		}
		key := strings.TrimSpace(line[:eq])
		if key == "" {
			return nil, &SyntaxError{name, start, "empty key before '='"}
		}
		if cur == nil {
			cur = &Stanza{Name: DefaultStanza, File: name, Line: start}
			file.Stanzas = append(file.Stanzas, cur)
		}
		cur.KVs = append(cur.KVs, KV{Key: key, Value: strings.TrimSpace(line[eq+1:]), File: name, Line: start})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read conf %s: %w", name, err)
	}
	return file, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// ParseString is Parse for literal text (tests, built-in defaults).
func ParseString(name, text string) (*File, error) {
	return Parse(name, bytes.NewReader([]byte(text)))
}
