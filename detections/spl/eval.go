package spl

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// evalFn is a compiled eval expression.
type evalFn func(c *execCtx, r *Row) Value

// Expr is a compiled eval expression.
type Expr struct {
	fn     evalFn
	fields []string
	src    string
	// shared is the context Eval uses: read-only (no regex cache, now()
	// reads the clock), so concurrent Eval calls are safe and allocation-free.
	shared execCtx
}

// CompileEval compiles one eval expression, e.g. `if(x>1, "big", "small")`.
func CompileEval(expr string) (*Expr, error) {
	if len(expr) > MaxQueryBytes {
		return nil, &ParseError{Pos: MaxQueryBytes, Msg: fmt.Sprintf("expression is %d bytes long; the limit is %d", len(expr), MaxQueryBytes)}
	}
	toks, err := lex(expr, 0, modeEval)
	if err != nil {
		return nil, err
	}
	ts := &tokStream{toks: toks}
	ec := &evalCompiler{ts: ts, seen: map[string]bool{}}
	fn, err := ec.parseExpr()
	if err != nil {
		return nil, err
	}
	if !ts.eof() {
		return nil, errAt(ts.peek(), "unexpected token after expression")
	}
	return &Expr{fn: fn, fields: ec.fields, src: expr, shared: execCtx{loc: time.Local, readOnly: true}}, nil
}

// Eval evaluates e against row with the wall clock as now() and the local
// time zone for time functions.
func (e *Expr) Eval(row *Row) Value {
	return e.fn(&e.shared, row)
}

// EvalAt evaluates e with an explicit search time and zone.
func (e *Expr) EvalAt(row *Row, now time.Time, loc *time.Location) Value {
	if loc == nil {
		loc = time.Local
	}
	c := &execCtx{now: now, loc: loc}
	return e.fn(c, row)
}

// Fields lists the fields e reads, in first-use order.
func (e *Expr) Fields() []string { return e.fields }

// String returns the source text.
func (e *Expr) String() string { return e.src }

type evalCompiler struct {
	ts     *tokStream
	fields []string
	seen   map[string]bool
	refs   []string // every reference, for mvfilter
	// opaque: the expression reads fields it does not name (searchmatch), so fields is not
	// all it reads.
	opaque bool
	// needs are the fields the expression cannot do without (see FieldNeed); references
	// made while tolerant > 0 (inside isnull(), coalesce(), ...) are not needs by themselves.
	needs    []FieldNeed
	tolerant int
	// argRefs is where each argument of the last parseArgs starts in refs.
	argRefs []int
}

func (ec *evalCompiler) useField(name string) {
	ec.refs = append(ec.refs, name)
	if ec.tolerant == 0 {
		ec.needs = append(ec.needs, FieldNeed{Fields: []string{name}})
	}
	if !ec.seen[name] {
		ec.seen[name] = true
		ec.fields = append(ec.fields, name)
	}
}

// Eval precedence (Splunk evaluates AND before OR, unlike search):
// OR < XOR < AND < NOT < comparison < + - . < * / % < unary.
func (ec *evalCompiler) parseExpr() (evalFn, error) { return ec.parseOr() }

// Chains of one operator (a OR b OR c, a + b - c) run as a loop over their operands, not as
// nested closures, so a long chain costs no stack; only real nesting does (see MaxNesting).

// chain parses operand (kw operand)*.
func (ec *evalCompiler) chain(kw string, operand func() (evalFn, error)) ([]evalFn, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	fns := []evalFn{l}
	for ec.ts.peek().isKw(kw) {
		ec.ts.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		fns = append(fns, r)
	}
	return fns, nil
}

func (ec *evalCompiler) parseOr() (evalFn, error) {
	fns, err := ec.chain("OR", ec.parseXor)
	if err != nil || len(fns) == 1 {
		return first(fns), err
	}
	return func(c *execCtx, row *Row) Value {
		for _, f := range fns {
			if f(c, row).truthy() {
				return boolVal(true)
			}
		}
		return boolVal(false)
	}, nil
}

func (ec *evalCompiler) parseXor() (evalFn, error) {
	fns, err := ec.chain("XOR", ec.parseAnd)
	if err != nil || len(fns) == 1 {
		return first(fns), err
	}
	return func(c *execCtx, row *Row) Value {
		odd := false
		for _, f := range fns {
			odd = odd != f(c, row).truthy()
		}
		return boolVal(odd)
	}, nil
}

func (ec *evalCompiler) parseAnd() (evalFn, error) {
	fns, err := ec.chain("AND", ec.parseNot)
	if err != nil || len(fns) == 1 {
		return first(fns), err
	}
	return func(c *execCtx, row *Row) Value {
		for _, f := range fns {
			if !f(c, row).truthy() {
				return boolVal(false)
			}
		}
		return boolVal(true)
	}, nil
}

func first(fns []evalFn) evalFn {
	if len(fns) == 0 {
		return nil
	}
	return fns[0]
}

func (ec *evalCompiler) parseNot() (evalFn, error) {
	if t := ec.ts.peek(); t.isKw("NOT") {
		ec.ts.next()
		if err := ec.ts.enter(t); err != nil {
			return nil, err
		}
		x, err := ec.parseNot()
		if err != nil {
			return nil, err
		}
		ec.ts.leave()
		return func(c *execCtx, row *Row) Value { return boolVal(!x(c, row).truthy()) }, nil
	}
	return ec.parseCmp()
}

func (ec *evalCompiler) parseCmp() (evalFn, error) {
	l, err := ec.parseAdd()
	if err != nil {
		return nil, err
	}
	// a < b < c nests (each comparison reads the previous one's result): a level per link.
	depth := ec.ts.depth
	defer func() { ec.ts.depth = depth }()
	for {
		t := ec.ts.peek()
		switch {
		case t.k == tOp && (t.s == "=" || t.s == "==" || t.s == "!=" || t.s == "<" || t.s == ">" || t.s == "<=" || t.s == ">="):
			ec.ts.next()
			if err := ec.ts.enter(t); err != nil {
				return nil, err
			}
			r, err := ec.parseAdd()
			if err != nil {
				return nil, err
			}
			l = cmpFn(t.s, l, r)
		case t.isKw("LIKE"):
			ec.ts.next()
			if err := ec.ts.enter(t); err != nil {
				return nil, err
			}
			r, err := ec.parseAdd()
			if err != nil {
				return nil, err
			}
			a, b := l, r
			l = func(c *execCtx, row *Row) Value { return likeVal(a(c, row), b(c, row)) }
		case t.isKw("IN") && ec.ts.peek2().is("("):
			ec.ts.next()
			ec.ts.next()
			if err := ec.ts.enter(t); err != nil {
				return nil, err
			}
			args, err := ec.parseArgs()
			if err != nil {
				return nil, err
			}
			l = inFn(l, args)
		default:
			return l, nil
		}
	}
}

func cmpFn(op string, a, b evalFn) evalFn {
	test := func(x int) bool {
		switch op {
		case "=", "==":
			return x == 0
		case "!=":
			return x != 0
		case "<":
			return x < 0
		case ">":
			return x > 0
		case "<=":
			return x <= 0
		}
		return x >= 0
	}
	return func(c *execCtx, row *Row) Value {
		x, y := a(c, row), b(c, row)
		if x.IsNull() || y.IsNull() {
			return Value{}
		}
		// A multivalue operand matches when any of its values does.
		for _, xs := range scalars(x) {
			for _, ys := range scalars(y) {
				if test(compareScalar(xs, ys)) {
					return boolVal(true)
				}
			}
		}
		return boolVal(false)
	}
}

func scalars(v Value) []Value {
	if v.k != kMulti {
		return []Value{v}
	}
	out := make([]Value, len(v.mv))
	for i, s := range v.mv {
		out[i] = Str(s)
	}
	return out
}

func inFn(x evalFn, list []evalFn) evalFn {
	return func(c *execCtx, row *Row) Value {
		v := x(c, row)
		if v.IsNull() {
			return boolVal(false)
		}
		for _, f := range list {
			w := f(c, row)
			for _, a := range v.Values() {
				for _, b := range w.Values() {
					if a == b {
						return boolVal(true)
					}
				}
			}
		}
		return boolVal(false)
	}
}

// binOp combines two evaluated operands of an arithmetic or concatenation operator.
type binOp func(x, y Value) Value

// fold parses operand (op operand)* for the operators in ops and evaluates the chain left to
// right in a loop.
func (ec *evalCompiler) fold(ops map[string]binOp, operand func() (evalFn, error)) (evalFn, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	var fns []evalFn
	var applied []binOp
	for {
		t := ec.ts.peek()
		op, ok := ops[t.s]
		if t.k != tOp || !ok {
			break
		}
		ec.ts.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		fns = append(fns, r)
		applied = append(applied, op)
	}
	if len(fns) == 0 {
		return l, nil
	}
	return func(c *execCtx, row *Row) Value {
		acc := l(c, row)
		for i, f := range fns {
			acc = applied[i](acc, f(c, row))
		}
		return acc
	}, nil
}

var addOps = map[string]binOp{
	".": func(x, y Value) Value {
		if x.IsNull() || y.IsNull() {
			return Value{}
		}
		return Str(x.String() + y.String())
	},
	"+": func(x, y Value) Value {
		if x.IsNull() || y.IsNull() {
			return Value{}
		}
		fx, okx := x.Number()
		fy, oky := y.Number()
		if okx && oky {
			return Num(fx + fy)
		}
		if !okx && !oky {
			return Str(x.String() + y.String())
		}
		return Value{}
	},
	"-": arith(func(x, y float64) (float64, bool) { return x - y, true }),
}

var mulOps = map[string]binOp{
	"*": arith(func(x, y float64) (float64, bool) { return x * y, true }),
	// Division by zero gives null in Splunk.
	"/": arith(func(x, y float64) (float64, bool) { return x / y, y != 0 }),
	"%": arith(func(x, y float64) (float64, bool) { return math.Mod(x, y), y != 0 }),
}

func (ec *evalCompiler) parseAdd() (evalFn, error) { return ec.fold(addOps, ec.parseMul) }

func arith(f func(x, y float64) (float64, bool)) binOp {
	return func(a, b Value) Value {
		x, okx := a.Number()
		y, oky := b.Number()
		if !okx || !oky {
			return Value{}
		}
		z, ok := f(x, y)
		if !ok {
			return Value{}
		}
		return Num(z)
	}
}

func (ec *evalCompiler) parseMul() (evalFn, error) { return ec.fold(mulOps, ec.parseUnary) }

func (ec *evalCompiler) parseUnary() (evalFn, error) {
	t := ec.ts.peek()
	if t.is("-") || t.is("+") {
		ec.ts.next()
		if err := ec.ts.enter(t); err != nil {
			return nil, err
		}
		x, err := ec.parseUnary()
		if err != nil {
			return nil, err
		}
		ec.ts.leave()
		if t.s == "+" {
			return x, nil
		}
		return func(c *execCtx, row *Row) Value {
			f, ok := x(c, row).Number()
			if !ok {
				return Value{}
			}
			return Num(-f)
		}, nil
	}
	return ec.parsePrimary()
}

func (ec *evalCompiler) parsePrimary() (evalFn, error) {
	t := ec.ts.next()
	switch t.k {
	case tNum:
		f, ok := ParseNum(t.s)
		if !ok {
			return nil, errAt(t, "bad number")
		}
		v := Num(f)
		return func(*execCtx, *Row) Value { return v }, nil
	case tString:
		v := Str(t.s)
		return func(*execCtx, *Row) Value { return v }, nil
	case tField:
		name := t.s
		ec.useField(name)
		return func(_ *execCtx, r *Row) Value { return r.Get(name) }, nil
	case tWord:
		if ec.ts.peek().is("(") {
			ec.ts.next()
			if err := ec.ts.enter(t); err != nil {
				return nil, err
			}
			fn, err := ec.parseCall(t)
			ec.ts.leave()
			return fn, err
		}
		switch strings.ToUpper(t.s) {
		case "AND", "OR", "NOT", "XOR", "LIKE", "IN":
			return nil, errAt(t, "operator without an operand")
		}
		name := t.s
		ec.useField(name)
		return func(_ *execCtx, r *Row) Value { return r.Get(name) }, nil
	case tOp:
		if t.s == "(" {
			if err := ec.ts.enter(t); err != nil {
				return nil, err
			}
			x, err := ec.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := ec.ts.expectOp(")"); err != nil {
				return nil, err
			}
			ec.ts.leave()
			return x, nil
		}
	}
	return nil, errAt(t, "expected a value")
}

// parseArgs reads comma-separated expressions up to the closing parenthesis
// (the opening one is already consumed).
func (ec *evalCompiler) parseArgs() ([]evalFn, error) {
	var args []evalFn
	var starts []int
	defer func() { ec.argRefs = starts }()
	if ec.ts.peek().is(")") {
		ec.ts.next()
		return nil, nil
	}
	for {
		starts = append(starts, len(ec.refs))
		a, err := ec.parseExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		t := ec.ts.next()
		if t.is(")") {
			return args, nil
		}
		if !t.is(",") {
			return nil, errAt(t, "expected \",\" or \")\" in argument list")
		}
	}
}

// constString returns the value of an argument that is a plain string
// literal; functions use it to check and precompile regexes at parse time.
func constString(fn evalFn) (string, bool) {
	v := fn(&execCtx{loc: time.UTC}, &Row{})
	if v.k == kStr {
		return v.s, true
	}
	return "", false
}

// cache for regexes built at run time from non-literal patterns.
type regexCache map[string]*regexp.Regexp

func (c *execCtx) regex(p string) (*regexp.Regexp, error) {
	if c.readOnly {
		return conf.CompileRegex(p)
	}
	if re, ok := c.reCache[p]; ok {
		return re, nil
	}
	re, err := conf.CompileRegex(p)
	if err != nil {
		return nil, err
	}
	if c.reCache == nil {
		c.reCache = regexCache{}
	}
	if len(c.reCache) < 256 {
		c.reCache[p] = re
	}
	return re, nil
}
