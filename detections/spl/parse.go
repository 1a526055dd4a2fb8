package spl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hecrisk/hecrisk/internal/conf"
	"github.com/hecrisk/hecrisk/store"
)

// Query is a parsed, macro-expanded search, safe for concurrent runs.
type Query struct {
	src  string // after macro expansion
	gen  generator
	base sexpr // nil for generating searches
	// times are the base search's top-level time modifiers (scan bounds).
	times []*sTime
	// streams are the (index, sourcetype) pairs pushed down to the store; nil = all.
	streams []store.Stream
	cmds    []command
	// tableFields fixes Result.Fields when a final table command shapes the result.
	tableFields []string
	// deletes is set when the search has | delete, which needs Env.Deleter.
	deletes bool
	// needs are the fields the search reads from events (EventFields).
	needs []FieldNeed
}

// Deletes reports whether the search removes events (| delete).
func (q *Query) Deletes() bool { return q.deletes }

// String returns the search after macro expansion.
func (q *Query) String() string { return q.src }

// Streams returns the (index, sourcetype) pairs the scan is limited to; nil means all.
func (q *Query) Streams() []store.Stream { return q.streams }

type command interface {
	name() string
	// start builds the per-run operator feeding next.
	start(c *execCtx, next proc) proc
}

type generator interface {
	name() string
	generate(c *execCtx, emit func(*Row) error) error
}

type cmdParser func(ts *tokStream, head token) (command, error)

// commandParsers maps each supported command to its parser; modeEval commands
// are lexed as expressions.
var commandParsers = map[string]struct {
	mode  lexMode
	parse cmdParser
}{
	"search":     {modeArgs, parseSearchCmd},
	"where":      {modeEval, parseWhere},
	"eval":       {modeEval, parseEvalCmd},
	"rex":        {modeArgs, parseRex},
	"bin":        {modeArgs, parseBin},
	"bucket":     {modeArgs, parseBin},
	"stats":      {modeArgs, parseStatsCmd},
	"eventstats": {modeArgs, parseStatsCmd},
	"timechart":  {modeArgs, parseTimechart},
	"table":      {modeArgs, parseTable},
	"fields":     {modeArgs, parseFields},
	"rename":     {modeArgs, parseRename},
	"sort":       {modeArgs, parseSort},
	"head":       {modeArgs, parseHead},
	"tail":       {modeArgs, parseHead},
	"dedup":      {modeArgs, parseDedup},
	"fillnull":   {modeArgs, parseFillnull},
	"convert":    {modeArgs, parseConvert},
	"mvexpand":   {modeArgs, parseMvexpand},
	"top":        {modeArgs, parseTop},
	"rare":       {modeArgs, parseTop},
	"delete":     {modeArgs, parseDelete},
}

var generatorParsers = map[string]func(ts *tokStream, head token) (generator, error){
	"from":        parseFrom,
	"makeresults": parseMakeresults,
}

// Parse expands macros and parses query. Unknown commands, functions and
// macros, bad regexes and syntax errors are reported here, before anything runs.
func Parse(query string, macros Macros) (*Query, error) {
	if len(query) > MaxQueryBytes {
		return nil, &ParseError{Pos: MaxQueryBytes, Msg: fmt.Sprintf("search is %d bytes long; the limit is %d", len(query), MaxQueryBytes)}
	}
	src, err := expandMacros(query, macros, 0)
	if err != nil {
		return nil, err
	}
	segs, err := splitPipes(src)
	if err != nil {
		return nil, err
	}
	q := &Query{src: src}
	first := true
	for i, seg := range segs {
		if strings.TrimSpace(seg.text) == "" {
			if i == 0 && len(segs) > 1 {
				// A leading pipe starts with a generating command.
				first = true
				q.gen = nil
				continue
			}
			return nil, &ParseError{Pos: seg.pos, Msg: "empty command between pipes"}
		}
		if i == 0 {
			// The first segment is an implicit search unless it names `search`.
			toks, err := lex(seg.text, seg.pos, modeArgs)
			if err != nil {
				return nil, err
			}
			ts := &tokStream{toks: toks}
			if ts.peek().k == tWord && strings.EqualFold(ts.peek().s, "search") && !ts.peek2().is("=") {
				ts.next()
			}
			x, err := parseSearch(ts)
			if err != nil {
				return nil, err
			}
			q.base = x
			first = false
			continue
		}
		head, ts, err := commandTokens(seg)
		if err != nil {
			return nil, err
		}
		name := strings.ToLower(head.s)
		if first && i == 1 && strings.TrimSpace(segs[0].text) == "" {
			gp, ok := generatorParsers[name]
			if !ok {
				return nil, errAt(head, "%s is not a generating command; a search starting with | needs from or makeresults", head.s)
			}
			g, err := gp(ts, head)
			if err != nil {
				return nil, err
			}
			q.gen = g
			first = false
			continue
		}
		cp, ok := commandParsers[name]
		if !ok {
			if _, gen := generatorParsers[name]; gen {
				return nil, errAt(head, "%s must be the first command", head.s)
			}
			return nil, errAt(head, "unknown search command %q", head.s)
		}
		if cp.mode == modeEval {
			toks, err := lex(seg.text[head.pos-seg.pos+len(head.s):], head.pos+len(head.s), modeEval)
			if err != nil {
				return nil, err
			}
			ts = &tokStream{toks: toks}
		}
		cmd, err := cp.parse(ts, head)
		if err != nil {
			return nil, err
		}
		q.cmds = append(q.cmds, cmd)
	}
	if q.base != nil {
		q.times, q.streams = pushdown(q.base)
	}
	if q.gen != nil {
		// Splunk folds the searches right after `from datamodel` into the
		// data model search, so their time modifiers (ESCU drilldowns use
		// starthoursago=168) set the range that is read.
		for _, c := range q.cmds {
			sc, ok := c.(*searchCmd)
			if !ok {
				break
			}
			times, _ := pushdown(sc.x)
			q.times = append(q.times, times...)
		}
	}
	q.tableFields = finalTable(q.cmds)
	if err := checkDelete(q, segs); err != nil {
		return nil, err
	}
	q.needs = q.eventFields()
	return q, nil
}

func commandTokens(seg segment) (token, *tokStream, error) {
	toks, err := lex(seg.text, seg.pos, modeArgs)
	if err != nil {
		return token{}, nil, err
	}
	ts := &tokStream{toks: toks, src: seg.text, base: seg.pos}
	head := ts.next()
	if head.k != tWord {
		return head, nil, errAt(head, "expected a command name")
	}
	return head, ts, nil
}

// finalTable returns the column list of the last table command when only
// row filters and reorderings follow it.
func finalTable(cmds []command) []string {
	for i := len(cmds) - 1; i >= 0; i-- {
		switch c := cmds[i].(type) {
		case *tableCmd:
			return c.fields
		case *searchCmd, *whereCmd, *sortCmd, *headCmd, *dedupCmd:
			continue
		}
		return nil
	}
	return nil
}

// pushdown collects the base search's top-level time modifiers and the
// index/sourcetype pair it pins. Anything under OR/NOT or with a wildcard is
// left to row filtering, which runs anyway.
func pushdown(x sexpr) ([]*sTime, []store.Stream) {
	var times []*sTime
	var idx, st string
	nIdx, nSt := 0, 0
	var walk func(x sexpr)
	walk = func(x sexpr) {
		switch n := x.(type) {
		case sAnd:
			for _, y := range n {
				walk(y)
			}
		case *sTime:
			times = append(times, n)
		case *sCmp:
			// The store matches streams exactly, while search values are
			// case-insensitive: only push down values already in the
			// conventional lower case; others are found by filtering.
			if n.op != "=" || n.vm.glob || n.vm.any || n.val != strings.ToLower(n.val) {
				return
			}
			switch n.field {
			case "index":
				idx = n.val
				nIdx++
			case "sourcetype":
				st = n.val
				nSt++
			}
		}
	}
	walk(x)
	// Nothing pinned reads every stream; two pins on one field match nothing,
	// which row filtering finds out without a special case.
	if nIdx > 1 || nSt > 1 || (nIdx == 0 && nSt == 0) {
		return times, nil
	}
	return times, []store.Stream{{Index: idx, Sourcetype: st}}
}

// ---- small argument helpers (args mode) ----

// parseOpts reads leading key=value options whose key is in allowed.
func parseOpts(ts *tokStream, allowed ...string) (map[string]token, error) {
	opts := map[string]token{}
	for {
		t := ts.peek()
		if t.k != tWord || !ts.peek2().is("=") {
			return opts, nil
		}
		key := strings.ToLower(t.s)
		ok := false
		for _, a := range allowed {
			if a == key {
				ok = true
			}
		}
		if !ok {
			return opts, nil
		}
		ts.next()
		ts.next()
		v := ts.next()
		if v.k != tWord && v.k != tString {
			return nil, errAt(v, "expected a value for %s=", t.s)
		}
		opts[key] = v
	}
}

func optInt(opts map[string]token, key string, def int) (int, error) {
	t, ok := opts[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(t.s)
	if err != nil || n < 0 {
		return 0, errAt(t, "%s must be a non-negative integer", key)
	}
	return n, nil
}

func optBool(opts map[string]token, key string, def bool) (bool, error) {
	t, ok := opts[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(t.s) {
	case "true", "t", "1", "yes":
		return true, nil
	case "false", "f", "0", "no":
		return false, nil
	}
	return false, errAt(t, "%s must be true or false", key)
}

// parseFieldList reads field names separated by spaces or commas until EOF
// or a stop word (e.g. "by").
func parseFieldList(ts *tokStream, stop ...string) ([]string, error) {
	var out []string
	for {
		t := ts.peek()
		if t.k == tEOF {
			return out, nil
		}
		for _, s := range stop {
			if t.isKw(s) {
				return out, nil
			}
		}
		ts.next()
		switch {
		case t.is(","):
		case t.k == tWord || t.k == tString:
			out = append(out, t.s)
		default:
			return nil, errAt(t, "expected a field name")
		}
	}
}

func expectEOF(ts *tokStream) error {
	if t := ts.peek(); t.k != tEOF {
		return errAt(t, "unexpected argument")
	}
	return nil
}

// ---- command parsers ----

func parseSearchCmd(ts *tokStream, head token) (command, error) {
	x, err := parseSearch(ts)
	if err != nil {
		return nil, err
	}
	return &searchCmd{x: x}, nil
}

func parseWhere(ts *tokStream, head token) (command, error) {
	if ts.eof() {
		return nil, errAt(head, "where needs an expression")
	}
	ec := &evalCompiler{ts: ts, seen: map[string]bool{}}
	fn, err := ec.parseExpr()
	if err != nil {
		return nil, err
	}
	if err := expectEOF(ts); err != nil {
		return nil, err
	}
	w := &whereCmd{fn: fn, needs: ec.needs}
	if !ec.opaque {
		w.fields = ec.fields
		w.known = true
	}
	return w, nil
}

func parseEvalCmd(ts *tokStream, head token) (command, error) {
	cmd := &evalCmd{}
	for {
		t := ts.next()
		var name string
		switch t.k {
		case tWord, tField, tString:
			name = t.s
			// Field names with dots (a.b) lex as a . b in eval mode.
			for t.k == tWord && ts.peek().is(".") && ts.peek2().k == tWord {
				ts.next()
				name += "." + ts.next().s
			}
		default:
			return nil, errAt(t, "expected field=expression")
		}
		if _, err := ts.expectOp("="); err != nil {
			return nil, err
		}
		ec := &evalCompiler{ts: ts, seen: map[string]bool{}}
		fn, err := ec.parseExpr()
		if err != nil {
			return nil, err
		}
		cmd.assigns = append(cmd.assigns, evalAssign{name, fn, ec.needs})
		nt := ts.next()
		if nt.k == tEOF {
			return cmd, nil
		}
		if !nt.is(",") {
			return nil, errAt(nt, "expected \",\" between eval assignments")
		}
	}
}

func parseRex(ts *tokStream, head token) (command, error) {
	opts, err := parseOpts(ts, "field", "max_match", "mode", "offset_field")
	if err != nil {
		return nil, err
	}
	t := ts.next()
	if t.k != tString && t.k != tWord {
		return nil, errAt(t, "rex needs a quoted regular expression")
	}
	if err := expectEOF(ts); err != nil {
		return nil, err
	}
	cmd := &rexCmd{field: "_raw", maxMatch: 1}
	if f, ok := opts["field"]; ok {
		cmd.field = f.s
	}
	if cmd.maxMatch, err = optInt(opts, "max_match", 1); err != nil {
		return nil, err
	}
	if m, ok := opts["mode"]; ok {
		if !strings.EqualFold(m.s, "sed") {
			return nil, errAt(m, "rex mode must be sed")
		}
		sed, err := conf.ParseSed(t.s)
		if err != nil {
			return nil, errAt(t, "%v", err)
		}
		cmd.sed = sed
		return cmd, nil
	}
	re, err := conf.CompileRegex(t.s)
	if err != nil {
		return nil, errAt(t, "%v", err)
	}
	cmd.re = re
	for i, n := range re.SubexpNames() {
		if n != "" {
			cmd.groups = append(cmd.groups, rexGroup{i, n})
		}
	}
	if len(cmd.groups) == 0 {
		return nil, errAt(t, "rex regex has no named capture group (?<name>...)")
	}
	return cmd, nil
}

func parseBin(ts *tokStream, head token) (command, error) {
	cmd := &binCmd{}
	for !ts.eof() {
		opts, err := parseOpts(ts, "span", "bins", "minspan", "aligntime", "start", "end")
		if err != nil {
			return nil, err
		}
		for k, v := range opts {
			switch k {
			case "span":
				sp, err := parseSpan(v.s)
				if err != nil {
					return nil, errAt(v, "%v", err)
				}
				cmd.span = sp
			default:
				return nil, errAt(v, "bin option %s is not supported", k)
			}
		}
		t := ts.peek()
		if t.k == tEOF {
			break
		}
		ts.next()
		switch {
		case t.isKw("as"):
			n := ts.next()
			if n.k != tWord && n.k != tString {
				return nil, errAt(n, "expected a field name after as")
			}
			cmd.as = n.s
		case t.k == tWord || t.k == tString:
			if cmd.field != "" {
				return nil, errAt(t, "bin takes one field")
			}
			cmd.field = t.s
		default:
			return nil, errAt(t, "unexpected argument to bin")
		}
	}
	if cmd.field == "" {
		return nil, errAt(head, "bin needs a field")
	}
	if cmd.span.n == 0 {
		return nil, errAt(head, "bin needs span= (bins= is not supported)")
	}
	return cmd, nil
}

func parseTable(ts *tokStream, head token) (command, error) {
	fs, err := parseFieldList(ts)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, errAt(head, "table needs at least one field")
	}
	return &tableCmd{fields: fs}, nil
}

func parseFields(ts *tokStream, head token) (command, error) {
	cmd := &fieldsCmd{}
	if t := ts.peek(); t.k == tWord && (t.s == "-" || t.s == "+") {
		ts.next()
		cmd.remove = t.s == "-"
	}
	fs, err := parseFieldList(ts)
	if err != nil {
		return nil, err
	}
	// "fields -_raw" lexes as one word.
	if len(fs) > 0 && !cmd.remove && strings.HasPrefix(fs[0], "-") && len(fs[0]) > 1 {
		cmd.remove = true
		fs[0] = fs[0][1:]
	}
	if len(fs) == 0 {
		return nil, errAt(head, "fields needs at least one field")
	}
	cmd.fields = fs
	return cmd, nil
}

func parseRename(ts *tokStream, head token) (command, error) {
	cmd := &renameCmd{}
	for !ts.eof() {
		if ts.peek().is(",") {
			ts.next()
			continue
		}
		from := ts.next()
		as := ts.next()
		to := ts.next()
		if (from.k != tWord && from.k != tString) || !as.isKw("as") || (to.k != tWord && to.k != tString) {
			return nil, errAt(from, "rename expects <field> AS <newname>")
		}
		if strings.Count(from.s, "*") != strings.Count(to.s, "*") || strings.Count(from.s, "*") > 1 {
			return nil, errAt(from, "rename wildcards must match one-to-one")
		}
		cmd.pairs = append(cmd.pairs, [2]string{from.s, to.s})
	}
	if len(cmd.pairs) == 0 {
		return nil, errAt(head, "rename needs <field> AS <newname>")
	}
	return cmd, nil
}

func parseSort(ts *tokStream, head token) (command, error) {
	cmd := &sortCmd{limit: 10000}
	if t := ts.peek(); t.k == tWord && !ts.peek2().is("=") && !ts.peek2().is("(") {
		if n, err := strconv.Atoi(t.s); err == nil && n >= 0 {
			ts.next()
			cmd.limit = n
		}
	}
	opts, err := parseOpts(ts, "limit")
	if err != nil {
		return nil, err
	}
	if cmd.limit, err = optInt(opts, "limit", cmd.limit); err != nil {
		return nil, err
	}
	desc := false
	for !ts.eof() {
		t := ts.next()
		switch {
		case t.is(","):
			continue
		case t.k == tWord && (t.s == "-" || t.s == "+"):
			desc = t.s == "-"
			continue
		case t.k == tWord && (t.isKw("d") || t.isKw("desc")) && ts.eof():
			cmd.reverse = true
			continue
		case t.k == tWord || t.k == tString:
			key := sortKey{field: t.s, desc: desc, mode: "auto"}
			if t.k == tWord && (strings.HasPrefix(t.s, "-") || strings.HasPrefix(t.s, "+")) && len(t.s) > 1 {
				key.desc = t.s[0] == '-'
				key.field = t.s[1:]
			}
			if ts.peek().is("(") {
				mode := strings.ToLower(key.field)
				switch mode {
				case "num", "str", "ip", "auto":
				default:
					return nil, errAt(t, "unknown sort function %s()", key.field)
				}
				ts.next()
				f := ts.next()
				if f.k != tWord && f.k != tString {
					return nil, errAt(f, "expected a field name")
				}
				if _, err := ts.expectOp(")"); err != nil {
					return nil, err
				}
				key.mode, key.field = mode, f.s
			}
			cmd.keys = append(cmd.keys, key)
			desc = false
		default:
			return nil, errAt(t, "unexpected argument to sort")
		}
	}
	if len(cmd.keys) == 0 {
		return nil, errAt(head, "sort needs a field")
	}
	return cmd, nil
}

func parseHead(ts *tokStream, head token) (command, error) {
	cmd := &headCmd{n: 10, tail: strings.EqualFold(head.s, "tail")}
	opts, err := parseOpts(ts, "limit")
	if err != nil {
		return nil, err
	}
	if cmd.n, err = optInt(opts, "limit", cmd.n); err != nil {
		return nil, err
	}
	if t := ts.peek(); t.k == tWord {
		n, err := strconv.Atoi(t.s)
		if err != nil || n < 0 {
			return nil, errAt(t, "%s takes a row count", head.s)
		}
		ts.next()
		cmd.n = n
	}
	return cmd, expectEOF(ts)
}

func parseDedup(ts *tokStream, head token) (command, error) {
	cmd := &dedupCmd{n: 1}
	if t := ts.peek(); t.k == tWord {
		if n, err := strconv.Atoi(t.s); err == nil && n > 0 {
			ts.next()
			cmd.n = n
		}
	}
	for !ts.eof() {
		opts, err := parseOpts(ts, "keepempty", "consecutive", "keepevents")
		if err != nil {
			return nil, err
		}
		if cmd.keepEmpty, err = optBool(opts, "keepempty", cmd.keepEmpty); err != nil {
			return nil, err
		}
		if cmd.consecutive, err = optBool(opts, "consecutive", cmd.consecutive); err != nil {
			return nil, err
		}
		if _, ok := opts["keepevents"]; ok {
			return nil, errAt(opts["keepevents"], "dedup keepevents is not supported")
		}
		t := ts.peek()
		if t.k == tEOF {
			break
		}
		if t.isKw("sortby") {
			return nil, errAt(t, "dedup sortby is not supported; use sort before dedup")
		}
		ts.next()
		switch {
		case t.is(","):
		case t.k == tWord || t.k == tString:
			cmd.fields = append(cmd.fields, t.s)
		default:
			return nil, errAt(t, "expected a field name")
		}
	}
	if len(cmd.fields) == 0 {
		return nil, errAt(head, "dedup needs a field")
	}
	return cmd, nil
}

func parseFillnull(ts *tokStream, head token) (command, error) {
	opts, err := parseOpts(ts, "value")
	if err != nil {
		return nil, err
	}
	cmd := &fillnullCmd{value: "0"}
	if v, ok := opts["value"]; ok {
		cmd.value = v.s
	}
	if cmd.fields, err = parseFieldList(ts); err != nil {
		return nil, err
	}
	return cmd, nil
}

func parseConvert(ts *tokStream, head token) (command, error) {
	opts, err := parseOpts(ts, "timeformat")
	if err != nil {
		return nil, err
	}
	cmd := &convertCmd{timeformat: "%m/%d/%Y %H:%M:%S"}
	if v, ok := opts["timeformat"]; ok {
		cmd.timeformat = v.s
	}
	for !ts.eof() {
		t := ts.next()
		if t.is(",") {
			continue
		}
		fn := strings.ToLower(t.s)
		if t.k != tWord || !ts.peek().is("(") {
			return nil, errAt(t, "convert expects function(field)")
		}
		switch fn {
		case "ctime", "mktime", "num", "auto", "none", "dur2sec", "rmunit":
		default:
			return nil, errAt(t, "unknown convert function %s()", t.s)
		}
		ts.next()
		f := ts.next()
		if f.k != tWord && f.k != tString {
			return nil, errAt(f, "expected a field name")
		}
		if _, err := ts.expectOp(")"); err != nil {
			return nil, err
		}
		cv := convSpec{fn: fn, field: f.s, as: f.s}
		if ts.peek().isKw("as") {
			ts.next()
			n := ts.next()
			if n.k != tWord && n.k != tString {
				return nil, errAt(n, "expected a field name after as")
			}
			cv.as = n.s
		}
		cmd.specs = append(cmd.specs, cv)
	}
	if len(cmd.specs) == 0 {
		return nil, errAt(head, "convert needs function(field)")
	}
	return cmd, nil
}

func parseMvexpand(ts *tokStream, head token) (command, error) {
	opts, err := parseOpts(ts, "limit")
	if err != nil {
		return nil, err
	}
	cmd := &mvexpandCmd{}
	if cmd.limit, err = optInt(opts, "limit", 0); err != nil {
		return nil, err
	}
	t := ts.next()
	if t.k != tWord && t.k != tString {
		return nil, errAt(t, "mvexpand needs a field")
	}
	cmd.field = t.s
	opts, err = parseOpts(ts, "limit")
	if err != nil {
		return nil, err
	}
	if cmd.limit, err = optInt(opts, "limit", cmd.limit); err != nil {
		return nil, err
	}
	return cmd, expectEOF(ts)
}

func parseTop(ts *tokStream, head token) (command, error) {
	cmd := &topCmd{rare: strings.EqualFold(head.s, "rare"), limit: 10, countField: "count", percentField: "percent", showCount: true, showPerc: true}
	if t := ts.peek(); t.k == tWord && !ts.peek2().is("=") {
		if n, err := strconv.Atoi(t.s); err == nil {
			ts.next()
			cmd.limit = n
		}
	}
	opts, err := parseOpts(ts, "limit", "countfield", "percentfield", "showcount", "showperc", "useother", "otherstr")
	if err != nil {
		return nil, err
	}
	if cmd.limit, err = optInt(opts, "limit", cmd.limit); err != nil {
		return nil, err
	}
	if v, ok := opts["countfield"]; ok {
		cmd.countField = v.s
	}
	if v, ok := opts["percentfield"]; ok {
		cmd.percentField = v.s
	}
	if cmd.showCount, err = optBool(opts, "showcount", true); err != nil {
		return nil, err
	}
	if cmd.showPerc, err = optBool(opts, "showperc", true); err != nil {
		return nil, err
	}
	if cmd.fields, err = parseFieldList(ts, "by"); err != nil {
		return nil, err
	}
	if len(cmd.fields) == 0 {
		return nil, errAt(head, "%s needs a field", head.s)
	}
	if ts.peek().isKw("by") {
		ts.next()
		if cmd.by, err = parseFieldList(ts); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

func parseFrom(ts *tokStream, head token) (generator, error) {
	t := ts.next()
	var ds string
	switch {
	case t.isKw("datamodel") && ts.peek().k == tWord && strings.HasPrefix(ts.peek().s, ":"):
		ds = strings.TrimPrefix(ts.next().s, ":")
	case t.isKw("datamodel"):
		n := ts.next()
		if n.k != tWord && n.k != tString {
			return nil, errAt(n, "expected a data model name")
		}
		ds = n.s
	case t.k == tWord && strings.HasPrefix(strings.ToLower(t.s), "datamodel:"):
		ds = t.s[len("datamodel:"):]
		if ds == "" && ts.peek().k == tString {
			ds = ts.next().s
		}
	default:
		return nil, errAt(t, "only `from datamodel Risk.All_Risk` is supported")
	}
	ds = strings.Trim(ds, "\"")
	switch ds {
	case "Risk.All_Risk", "Risk":
	default:
		return nil, errAt(t, "data model %q is not supported (only Risk.All_Risk)", ds)
	}
	if err := expectEOF(ts); err != nil {
		return nil, err
	}
	return &fromRisk{}, nil
}

func parseMakeresults(ts *tokStream, head token) (generator, error) {
	opts, err := parseOpts(ts, "count")
	if err != nil {
		return nil, err
	}
	n, err := optInt(opts, "count", 1)
	if err != nil {
		return nil, err
	}
	return &makeResults{n: n}, expectEOF(ts)
}

// span is a bin width: seconds, or a calendar unit (days in the zone, months).
type span struct {
	n    float64
	unit string // "s" (seconds), "d", "mon", or "" for a plain number
}

func parseSpan(s string) (span, error) {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n <= 0 {
		return span{}, fmt.Errorf("bad span %q", s)
	}
	switch strings.ToLower(s[i:]) {
	case "":
		return span{n: n}, nil
	case "s", "sec", "secs", "second", "seconds":
		return span{n: n, unit: "s"}, nil
	case "m", "min", "mins", "minute", "minutes":
		return span{n: n * 60, unit: "s"}, nil
	case "h", "hr", "hrs", "hour", "hours":
		return span{n: n * 3600, unit: "s"}, nil
	case "d", "day", "days":
		return span{n: n, unit: "d"}, nil
	case "w", "week", "weeks":
		return span{n: n * 7, unit: "d"}, nil
	case "mon", "month", "months":
		return span{n: n, unit: "mon"}, nil
	case "ms":
		return span{n: n / 1000, unit: "s"}, nil
	}
	return span{}, fmt.Errorf("bad span unit in %q", s)
}
