/* formula.c - KEDA scalingModifiers formulas: a hand-written lexer, precedence-climbing parser, type check and evaluator. */
#include "formula.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VARS 64
#define MAX_ARGS 1024   /* call arguments and array elements, all calls together */

enum ty { TY_NUM, TY_BOOL, TY_ARR };

enum kind { K_NUM, K_BOOL, K_VAR, K_ELEM, K_UNARY, K_BINARY, K_COND, K_CALL, K_ARRAY };

enum op {
	OP_NONE, OP_NEG, OP_POS, OP_NOT,
	OP_POW, OP_MUL, OP_DIV, OP_MOD, OP_ADD, OP_SUB,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_AND, OP_OR, OP_COALESCE,
};

/* The builtins and what they take. */
enum fn_shape { FN_ONE_NUM, FN_MINMAX, FN_ARRAY, FN_ARRAY_MAP, FN_PREDICATE };
enum fn { FN_ABS, FN_CEIL, FN_FLOOR, FN_ROUND, FN_INT, FN_FLOAT, FN_MIN, FN_MAX, FN_SUM, FN_MEAN, FN_MEDIAN,
	  FN_COUNT, FN_ALL, FN_ANY, FN_NONE, FN_ONE };

static const struct {
	const char *name;
	enum fn_shape shape;
	enum ty result;
} builtins[] = {
	[FN_ABS] = {"abs", FN_ONE_NUM, TY_NUM},       [FN_CEIL] = {"ceil", FN_ONE_NUM, TY_NUM},
	[FN_FLOOR] = {"floor", FN_ONE_NUM, TY_NUM},   [FN_ROUND] = {"round", FN_ONE_NUM, TY_NUM},
	[FN_INT] = {"int", FN_ONE_NUM, TY_NUM},       [FN_FLOAT] = {"float", FN_ONE_NUM, TY_NUM},
	[FN_MIN] = {"min", FN_MINMAX, TY_NUM},        [FN_MAX] = {"max", FN_MINMAX, TY_NUM},
	[FN_SUM] = {"sum", FN_ARRAY_MAP, TY_NUM},     [FN_MEAN] = {"mean", FN_ARRAY, TY_NUM},
	[FN_MEDIAN] = {"median", FN_ARRAY, TY_NUM},   [FN_COUNT] = {"count", FN_PREDICATE, TY_NUM},
	[FN_ALL] = {"all", FN_PREDICATE, TY_BOOL},    [FN_ANY] = {"any", FN_PREDICATE, TY_BOOL},
	[FN_NONE] = {"none", FN_PREDICATE, TY_BOOL},  [FN_ONE] = {"one", FN_PREDICATE, TY_BOOL},
};

struct node {
	unsigned char kind, op, ty;
	bool isint;              /* an expr int: integer literals and what int operations make of them */
	int a, b, c;             /* children; K_VAR: variable; K_CALL/K_ARRAY: first index in args, b = count */
	double num;
};

struct em_formula {
	struct node nodes[EM_FORMULA_MAX_NODES];
	int n, root;
	int args[MAX_ARGS];
	int nargs;
	char *vars[MAX_VARS];
	int var_col[MAX_VARS];
	size_t nvars;
};

/* ------------------------------------------------------------------ lexer */

enum tk { TK_END, TK_NUM, TK_NAME, TK_OP, TK_STRING };

struct tok {
	enum tk k;
	const char *s;
	size_t n;
	int col;
	double num;
	bool isint;
};

struct parser {
	struct em_formula *f;
	const char *text;
	size_t pos;
	struct tok cur;
	int depth, pred_depth;
	char *msg;
	size_t cap;
	bool failed;
};

static int fail(struct parser *p, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, int col, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return -1;
	p->failed = true;
	va_start(ap, fmt);
	n = vsnprintf(p->msg, p->cap, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < p->cap)
		snprintf(p->msg + n, p->cap - (size_t)n, " at column %d", col);
	return -1;
}

static bool is(const struct tok *t, enum tk k, const char *s)
{
	return t->k == k && (!s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0));
}

/* A number as expr lexes it: digits with '_' separators, a fraction, an
 * exponent; or 0x / 0o / 0b integers. */
static int lex_number(struct parser *p, struct tok *t)
{
	const char *s = p->text + p->pos;
	char buf[128];
	size_t i = 0, o = 0;
	int base = 10;
	bool frac = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O' || s[1] == 'b' || s[1] == 'B')) {
		base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : 2;
		i = 2;
	}
	for (;; i++) {
		char c = s[i];
		if (c == '_')
			continue;
		if (base == 16 ? isxdigit((unsigned char)c) : (c >= '0' && c <= (base == 10 ? '9' : base == 8 ? '7' : '1')))
			;
		else if (base == 10 && c == '.' && !frac && isdigit((unsigned char)s[i + 1]))
			frac = true;
		else if (base == 10 && (c == 'e' || c == 'E') &&
			 (isdigit((unsigned char)s[i + 1]) ||
			  ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
			frac = true;
			buf[o++] = c;
			c = s[++i];
		} else
			break;
		if (o + 2 >= sizeof(buf))
			return fail(p, t->col, "number too long");
		buf[o++] = c;
	}
	buf[o] = '\0';
	t->n = i;
	if (base != 10) {
		char *end;
		unsigned long long v = strtoull(buf, &end, base);
		if (o == 0 || *end || v > INT64_MAX)
			return fail(p, t->col, "invalid integer literal");
		t->num = (double)v;
		t->isint = true;
	} else {
		char *end;
		t->num = strtod(buf, &end);
		if (*end || !isfinite(t->num))
			return fail(p, t->col, "invalid number literal");
		t->isint = !frac;
		if (t->isint && t->num > 9223372036854775807.0)
			return fail(p, t->col, "integer literal is too large");
	}
	return 0;
}

static int next(struct parser *p)
{
	static const char *const ops[] = {"**", "??", "==", "!=", "<=", ">=", "&&", "||", "^", "*", "/", "%", "+",
					  "-", "<", ">", "!", "?", ":", "(", ")", "[", "]", "{", "}", ",", "#", NULL};
	const char *s;
	struct tok *t = &p->cur;

	while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n' || p->text[p->pos] == '\r')
		p->pos++;
	s = p->text + p->pos;
	memset(t, 0, sizeof(*t));
	t->s = s;
	t->col = (int)p->pos + 1;
	if (!*s) {
		t->k = TK_END;
		return 0;
	}
	if (isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))) {
		t->k = TK_NUM;
		if (*s == '.')
			return fail(p, t->col, "a number must not start with '.'");
		if (lex_number(p, t) != 0)
			return -1;
	} else if (isalpha((unsigned char)*s) || *s == '_' || *s == '$') {
		size_t n = 0;
		while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '$')
			n++;
		t->n = n;
		/* word operators */
		t->k = (n == 3 && memcmp(s, "and", 3) == 0) || (n == 2 && memcmp(s, "or", 2) == 0) ||
				       (n == 3 && memcmp(s, "not", 3) == 0)
			       ? TK_OP
			       : TK_NAME;
	} else if (*s == '"' || *s == '\'' || *s == '`') {
		t->k = TK_STRING;
		t->n = 1;
	} else {
		for (size_t i = 0; ops[i]; i++) {
			size_t n = strlen(ops[i]);
			if (strncmp(s, ops[i], n) == 0) {
				t->k = TK_OP;
				t->n = n;
				break;
			}
		}
		if (!t->n)
			return fail(p, t->col, "unexpected character '%c'", isprint((unsigned char)*s) ? *s : '?');
	}
	p->pos += t->n;
	return 0;
}

/* ----------------------------------------------------------------- parser */

static int node_new(struct parser *p, enum kind k, enum ty ty, int col)
{
	struct node *n;

	if (p->f->n >= EM_FORMULA_MAX_NODES)
		return fail(p, col, "formula too long (more than %d parts)", EM_FORMULA_MAX_NODES);
	n = &p->f->nodes[p->f->n];
	memset(n, 0, sizeof(*n));
	n->kind = (unsigned char)k;
	n->ty = (unsigned char)ty;
	n->a = n->b = n->c = -1;
	return p->f->n++;
}

static struct node *N(struct parser *p, int i)
{
	return &p->f->nodes[i];
}

static const char *ty_name(int ty)
{
	return ty == TY_NUM ? "a number" : ty == TY_BOOL ? "a boolean" : "an array";
}

/* Binary operators: expr-lang's precedence and associativity. */
static const struct {
	const char *s;
	enum op op;
	int prec;
	bool right;
} binops[] = {
	{"or", OP_OR, 10, false},  {"||", OP_OR, 10, false},  {"and", OP_AND, 15, false}, {"&&", OP_AND, 15, false},
	{"==", OP_EQ, 20, false},  {"!=", OP_NE, 20, false},  {"<", OP_LT, 20, false},    {">", OP_GT, 20, false},
	{">=", OP_GE, 20, false},  {"<=", OP_LE, 20, false},  {"+", OP_ADD, 30, false},   {"-", OP_SUB, 30, false},
	{"*", OP_MUL, 60, false},  {"/", OP_DIV, 60, false},  {"%", OP_MOD, 60, false},   {"**", OP_POW, 100, true},
	{"^", OP_POW, 100, true},  {"??", OP_COALESCE, 500, false},
};

static int binop(const struct tok *t)
{
	for (size_t i = 0; t->k == TK_OP && i < sizeof(binops) / sizeof(binops[0]); i++)
		if (is(t, TK_OP, binops[i].s))
			return (int)i;
	return -1;
}

static bool comparison(enum op op)
{
	return op >= OP_EQ && op <= OP_GE;
}

static int expression(struct parser *p, int prec);

/* A binary node with expr's typing. */
static int make_binary(struct parser *p, enum op op, int l, int r, int col)
{
	int ty, i;

	if (l < 0 || r < 0)
		return -1;
	if (N(p, l)->ty == TY_ARR || N(p, r)->ty == TY_ARR)
		return fail(p, col, "an array can only be an argument of min, max, sum, mean, median, count, all, any, "
				    "none or one");
	switch (op) {
	case OP_AND:
	case OP_OR:
		if (N(p, l)->ty != TY_BOOL || N(p, r)->ty != TY_BOOL)
			return fail(p, col, "%s needs booleans, got %s and %s", op == OP_AND ? "&&" : "||",
				    ty_name(N(p, l)->ty), ty_name(N(p, r)->ty));
		ty = TY_BOOL;
		break;
	case OP_EQ:
	case OP_NE:
	case OP_COALESCE:
		if (N(p, l)->ty != N(p, r)->ty)
			return fail(p, col, "mismatched types %s and %s", ty_name(N(p, l)->ty), ty_name(N(p, r)->ty));
		ty = op == OP_COALESCE ? N(p, l)->ty : TY_BOOL;
		break;
	default:
		if (N(p, l)->ty != TY_NUM || N(p, r)->ty != TY_NUM)
			return fail(p, col, "this operator needs numbers, got %s and %s", ty_name(N(p, l)->ty),
				    ty_name(N(p, r)->ty));
		ty = comparison(op) ? TY_BOOL : TY_NUM;
		if (op == OP_MOD && (!N(p, l)->isint || !N(p, r)->isint))
			return fail(p, col, "%% takes integers only (every variable is a float; expr refuses it too)");
	}
	if ((i = node_new(p, K_BINARY, (enum ty)ty, col)) < 0)
		return -1;
	N(p, i)->op = (unsigned char)op;
	N(p, i)->a = l;
	N(p, i)->b = r;
	N(p, i)->isint = N(p, l)->isint && N(p, r)->isint && (op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_MOD);
	return i;
}

/* a < b < c is a < b && b < c, as expr parses it. */
static int chain(struct parser *p, int left, enum op op, int col)
{
	int root = -1;

	for (;;) {
		int right = expression(p, 21), cmp;
		if (right < 0)
			return -1;
		cmp = make_binary(p, op, left, right, col);
		root = root < 0 ? cmp : make_binary(p, OP_AND, root, cmp, col);
		if (root < 0)
			return -1;
		left = right;
		int bi = binop(&p->cur);
		if (bi < 0 || !comparison(binops[bi].op))
			return root;
		op = binops[bi].op;
		col = p->cur.col;
		if (next(p) != 0)
			return -1;
	}
}

static int expect(struct parser *p, const char *s)
{
	if (!is(&p->cur, TK_OP, s))
		return fail(p, p->cur.col, "expected '%s'", s);
	return next(p);
}

static int primary(struct parser *p);

/* c ? a : b, and expr's c ?: b (c ? c : b). */
static int conditional(struct parser *p, int node)
{
	while (node >= 0 && is(&p->cur, TK_OP, "?")) {
		int col = p->cur.col, a, b, i;
		if (next(p) != 0)
			return -1;
		if (is(&p->cur, TK_OP, ":")) {
			if (next(p) != 0)
				return -1;
			a = node;
		} else {
			a = expression(p, 0);
			if (a < 0 || expect(p, ":") != 0)
				return -1;
		}
		b = expression(p, 0);
		if (b < 0)
			return -1;
		if (N(p, node)->ty != TY_BOOL)
			return fail(p, col, "the condition of ?: must be a boolean, got %s", ty_name(N(p, node)->ty));
		if (N(p, a)->ty != N(p, b)->ty || N(p, a)->ty == TY_ARR)
			return fail(p, col, "the two results of ?: must both be numbers or both booleans");
		if ((i = node_new(p, K_COND, (enum ty)N(p, a)->ty, col)) < 0)
			return -1;
		N(p, i)->a = node;
		N(p, i)->b = a;
		N(p, i)->c = b;
		node = i;
	}
	return node;
}

static int expression(struct parser *p, int prec)
{
	int left;
	enum op prev = OP_NONE;

	if (++p->depth > EM_FORMULA_MAX_DEPTH)
		return fail(p, p->cur.col, "nested too deeply (more than %d levels)", EM_FORMULA_MAX_DEPTH);
	left = primary(p);
	while (left >= 0) {
		int bi = binop(&p->cur), col = p->cur.col, right;
		if (bi < 0 || binops[bi].prec < prec)
			break;
		if (next(p) != 0)
			return -1;
		if (prev == OP_COALESCE && binops[bi].op != OP_COALESCE)
			return fail(p, col, "operator %s and ?? cannot be mixed: wrap either in parentheses", binops[bi].s);
		if (comparison(binops[bi].op)) {
			left = chain(p, left, binops[bi].op, col);
		} else {
			right = expression(p, binops[bi].right ? binops[bi].prec : binops[bi].prec + 1);
			left = make_binary(p, binops[bi].op, left, right, col);
		}
		prev = binops[bi].op;
	}
	if (prec == 0 && left >= 0)
		left = conditional(p, left);
	p->depth--;
	return left;
}

static int variable(struct parser *p, const struct tok *t)
{
	struct em_formula *f = p->f;
	size_t v;
	int i;

	for (v = 0; v < f->nvars; v++)
		if (strlen(f->vars[v]) == t->n && memcmp(f->vars[v], t->s, t->n) == 0)
			break;
	if (v == f->nvars) {
		if (v == MAX_VARS)
			return fail(p, t->col, "more than %d names", MAX_VARS);
		if (!(f->vars[v] = strndup(t->s, t->n)))
			return fail(p, t->col, "out of memory");
		f->var_col[v] = t->col;
		f->nvars++;
	}
	if ((i = node_new(p, K_VAR, TY_NUM, t->col)) < 0)
		return -1;
	N(p, i)->a = (int)v;
	return i;
}

static int push_arg(struct parser *p, int node, int col)
{
	if (node < 0)
		return -1;
	if (p->f->nargs >= MAX_ARGS)
		return fail(p, col, "too many arguments");
	p->f->args[p->f->nargs++] = node;
	return 0;
}

/* A predicate: {expr} or expr, with # the element. */
static int predicate(struct parser *p)
{
	bool braces = is(&p->cur, TK_OP, "{");
	int e;

	if (braces && next(p) != 0)
		return -1;
	p->pred_depth++;
	e = expression(p, 0);
	p->pred_depth--;
	if (e >= 0 && braces && expect(p, "}") != 0)
		return -1;
	return e;
}

/* Arguments are parsed into a scratch list first: nested calls append their
 * own arguments meanwhile, and a call's must end up contiguous. */
static int call(struct parser *p, const struct tok *name)
{
	int fn = -1, args[32], n = 0, col = name->col, i;
	enum fn_shape shape;

	for (size_t k = 0; k < sizeof(builtins) / sizeof(builtins[0]); k++)
		if (strlen(builtins[k].name) == name->n && memcmp(builtins[k].name, name->s, name->n) == 0)
			fn = (int)k;
	if (fn < 0)
		return fail(p, col, "unknown function %.*s", (int)name->n, name->s);
	shape = builtins[fn].shape;
	if (next(p) != 0) /* '(' */
		return -1;
	while (!is(&p->cur, TK_OP, ")")) {
		bool pred = n == 1 && (shape == FN_PREDICATE || shape == FN_ARRAY_MAP);
		if (n > 0 && expect(p, ",") != 0)
			return -1;
		if (n > 0 && is(&p->cur, TK_OP, ")"))
			break;   /* a trailing comma */
		if (n == (int)(sizeof(args) / sizeof(args[0])))
			return fail(p, col, "too many arguments");
		if ((args[n++] = pred ? predicate(p) : expression(p, 0)) < 0)
			return -1;
	}
	if (next(p) != 0)
		return -1;
	/* argument counts and types */
	switch (shape) {
	case FN_ONE_NUM:
		if (n != 1 || N(p, args[0])->ty != TY_NUM)
			return fail(p, col, "%s takes one number", builtins[fn].name);
		break;
	case FN_MINMAX:
		if (n == 1 && N(p, args[0])->ty == TY_ARR)
			break;
		for (int k = 0; k < n; k++)
			if (N(p, args[k])->ty != TY_NUM)
				return fail(p, col, "%s takes numbers or one array", builtins[fn].name);
		if (n == 0)
			return fail(p, col, "%s takes at least one number", builtins[fn].name);
		break;
	case FN_ARRAY:
	case FN_ARRAY_MAP:
	case FN_PREDICATE:
		if (n < 1 || N(p, args[0])->ty != TY_ARR)
			return fail(p, col, "%s takes an array first", builtins[fn].name);
		if (shape == FN_ARRAY && n != 1)
			return fail(p, col, "%s takes one array", builtins[fn].name);
		if (shape == FN_ARRAY_MAP && (n > 2 || (n == 2 && N(p, args[1])->ty != TY_NUM)))
			return fail(p, col, "%s takes an array and optionally a predicate giving numbers", builtins[fn].name);
		if (shape == FN_PREDICATE && (n != 2 || N(p, args[1])->ty != TY_BOOL))
			return fail(p, col, "%s takes an array and a predicate giving booleans, e.g. {# > 1}",
				    builtins[fn].name);
		break;
	}
	if ((i = node_new(p, K_CALL, builtins[fn].result, col)) < 0)
		return -1;
	N(p, i)->op = (unsigned char)fn;
	N(p, i)->a = p->f->nargs;
	N(p, i)->b = n;
	N(p, i)->isint = fn == FN_INT || fn == FN_COUNT;
	for (int k = 0; k < n; k++)
		if (push_arg(p, args[k], col) != 0)
			return -1;
	return i;
}

static int array(struct parser *p)
{
	int col = p->cur.col, elems[64], n = 0, i;

	if (next(p) != 0)
		return -1;
	while (!is(&p->cur, TK_OP, "]")) {
		if (n > 0 && expect(p, ",") != 0)
			return -1;
		if (n > 0 && is(&p->cur, TK_OP, "]"))
			break;
		if (n == (int)(sizeof(elems) / sizeof(elems[0])))
			return fail(p, col, "array too long");
		if ((elems[n] = expression(p, 0)) < 0)
			return -1;
		if (N(p, elems[n])->ty != TY_NUM)
			return fail(p, col, "array elements must be numbers");
		n++;
	}
	if (next(p) != 0 || (i = node_new(p, K_ARRAY, TY_ARR, col)) < 0)
		return -1;
	N(p, i)->a = p->f->nargs;
	N(p, i)->b = n;
	for (int k = 0; k < n; k++)
		if (push_arg(p, elems[k], col) != 0)
			return -1;
	return i;
}

static int primary(struct parser *p)
{
	struct tok t = p->cur;
	int i;

	if (t.k == TK_OP && (is(&t, TK_OP, "-") || is(&t, TK_OP, "+") || is(&t, TK_OP, "!") || is(&t, TK_OP, "not"))) {
		bool logical = is(&t, TK_OP, "!") || is(&t, TK_OP, "not");
		int e;
		if (next(p) != 0 || (e = expression(p, logical ? 50 : 90)) < 0)
			return -1;
		if (N(p, e)->ty != (logical ? TY_BOOL : TY_NUM))
			return fail(p, t.col, "%.*s needs %s", (int)t.n, t.s, logical ? "a boolean" : "a number");
		if ((i = node_new(p, K_UNARY, (enum ty)N(p, e)->ty, t.col)) < 0)
			return -1;
		N(p, i)->op = logical ? OP_NOT : is(&t, TK_OP, "-") ? OP_NEG : OP_POS;
		N(p, i)->a = e;
		N(p, i)->isint = N(p, e)->isint && !logical;
		return i;
	}
	if (is(&t, TK_OP, "(")) {
		if (next(p) != 0 || (i = expression(p, 0)) < 0 || expect(p, ")") != 0)
			return -1;
		return i;
	}
	if (is(&t, TK_OP, "#")) {
		if (p->pred_depth == 0)
			return fail(p, t.col, "# is the element of a predicate, e.g. count([a, b], {# > 1})");
		if (next(p) != 0 || (i = node_new(p, K_ELEM, TY_NUM, t.col)) < 0)
			return -1;
		return i;
	}
	if (is(&t, TK_OP, "["))
		return array(p);
	switch (t.k) {
	case TK_NUM:
		if (next(p) != 0 || (i = node_new(p, K_NUM, TY_NUM, t.col)) < 0)
			return -1;
		N(p, i)->num = t.num;
		N(p, i)->isint = t.isint;
		return i;
	case TK_NAME:
		if (next(p) != 0)
			return -1;
		if ((t.n == 4 && memcmp(t.s, "true", 4) == 0) || (t.n == 5 && memcmp(t.s, "false", 5) == 0)) {
			if ((i = node_new(p, K_BOOL, TY_BOOL, t.col)) < 0)
				return -1;
			N(p, i)->num = t.n == 4;
			return i;
		}
		if (t.n == 3 && memcmp(t.s, "nil", 3) == 0)
			return fail(p, t.col, "nil is not supported (a variable here is never nil)");
		if (is(&p->cur, TK_OP, "("))
			return call(p, &t);
		return variable(p, &t);
	case TK_STRING:
		return fail(p, t.col, "strings are not supported");
	case TK_END:
		return fail(p, t.col, "unexpected end of formula");
	default:
		return fail(p, t.col, "unexpected %.*s", (int)t.n, t.s);
	}
}

struct em_formula *em_formula_parse(const char *text, char *msg, size_t cap)
{
	struct parser p = {.text = text, .msg = msg, .cap = cap};

	if (cap)
		msg[0] = '\0';
	if (strlen(text) > EM_FORMULA_MAX_TEXT) {
		snprintf(msg, cap, "formula longer than %d bytes", EM_FORMULA_MAX_TEXT);
		return NULL;
	}
	p.f = calloc(1, sizeof(*p.f));
	if (!p.f) {
		snprintf(msg, cap, "out of memory");
		return NULL;
	}
	if (next(&p) == 0) {
		if (p.cur.k == TK_END)
			fail(&p, 1, "empty formula");
		else if ((p.f->root = expression(&p, 0)) >= 0 && p.cur.k != TK_END)
			fail(&p, p.cur.col, "unexpected %.*s", (int)p.cur.n, p.cur.s);
		else if (p.f->root >= 0 && N(&p, p.f->root)->ty != TY_NUM)
			fail(&p, 1, "the formula gives %s, not a number", ty_name(N(&p, p.f->root)->ty));
	}
	if (p.failed) {
		em_formula_free(p.f);
		return NULL;
	}
	return p.f;
}

void em_formula_free(struct em_formula *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nvars; i++)
		free(f->vars[i]);
	free(f);
}

size_t em_formula_nvars(const struct em_formula *f)
{
	return f->nvars;
}

const char *em_formula_var(const struct em_formula *f, size_t i)
{
	return i < f->nvars ? f->vars[i] : NULL;
}

int em_formula_var_col(const struct em_formula *f, size_t i)
{
	return i < f->nvars ? f->var_col[i] : 0;
}

/* -------------------------------------------------------------- evaluator */

struct eval {
	const struct em_formula *f;
	const double *vals;
	const char *err;   /* set once: the first failure */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Booleans are 0 and 1; the types were checked at parse time. */
static double ev(struct eval *e, int i, double elem)
{
	const struct node *n = &e->f->nodes[i];
	const int *args;
	double a, b;

	switch (n->kind) {
	case K_NUM:
	case K_BOOL:
		return n->num;
	case K_VAR:
		return e->vals[n->a];
	case K_ELEM:
		return elem;
	case K_UNARY:
		a = ev(e, n->a, elem);
		return n->op == OP_NEG ? -a : n->op == OP_NOT ? !a : a;
	case K_COND:
		return ev(e, n->a, elem) ? ev(e, n->b, elem) : ev(e, n->c, elem);
	case K_BINARY:
		a = ev(e, n->a, elem);
		if (n->op == OP_AND && !a)
			return 0;
		if (n->op == OP_OR && a)
			return 1;
		if (n->op == OP_COALESCE)
			return a;   /* a variable is never nil here */
		b = ev(e, n->b, elem);
		switch (n->op) {
		case OP_POW: return pow(a, b);
		case OP_MUL: return a * b;
		case OP_DIV: return a / b;
		case OP_MOD:
			if (b == 0) {
				if (!e->err)
					e->err = "integer divide by zero (%)";
				return 0;
			}
			return fmod(a, b);
		case OP_ADD: return a + b;
		case OP_SUB: return a - b;
		case OP_EQ: return a == b;
		case OP_NE: return a != b;
		case OP_LT: return a < b;
		case OP_LE: return a <= b;
		case OP_GT: return a > b;
		case OP_GE: return a >= b;
		default: return b != 0;   /* AND, OR: a was decided above */
		}
	case K_CALL:
		break;
	default:
		return 0;   /* an array is only read by its call */
	}
	args = &e->f->args[n->a];
	if (builtins[n->op].shape == FN_ONE_NUM) {
		a = ev(e, args[0], elem);
		switch (n->op) {
		case FN_ABS: return fabs(a);
		case FN_CEIL: return ceil(a);
		case FN_FLOOR: return floor(a);
		case FN_ROUND: return round(a);
		case FN_INT: return trunc(a);
		default: return a;
		}
	}
	{
		/* the values the call ranges over: its arguments, or its array */
		const struct node *arr = &e->f->nodes[args[0]];
		const int *items = args;
		int count = n->b;
		double acc = 0, vals[64];
		int hits = 0;

		if (arr->kind == K_ARRAY) {
			items = &e->f->args[arr->a];
			count = arr->b;
		}
		for (int k = 0; k < count; k++) {
			double v = ev(e, items[k], elem);
			switch (n->op) {
			case FN_MIN:
				acc = k == 0 || v < acc ? v : acc;
				break;
			case FN_MAX:
				acc = k == 0 || v > acc ? v : acc;
				break;
			case FN_SUM:
				acc += n->b == 2 ? ev(e, args[1], v) : v;
				break;
			case FN_MEAN:
				acc += v;
				break;
			case FN_MEDIAN:
				vals[k] = v;
				break;
			default:   /* predicates */
				hits += ev(e, args[1], v) != 0;
			}
		}
		switch (n->op) {
		case FN_MEAN:
			return count ? acc / count : NAN;
		case FN_MEDIAN:
			if (!count)
				return NAN;
			qsort(vals, (size_t)count, sizeof(vals[0]), cmp_double);
			return count % 2 ? vals[count / 2] : (vals[count / 2 - 1] + vals[count / 2]) / 2;
		case FN_COUNT: return hits;
		case FN_ALL: return hits == count;
		case FN_ANY: return hits > 0;
		case FN_NONE: return hits == 0;
		case FN_ONE: return hits == 1;
		default: return acc;
		}
	}
}

int em_formula_eval(const struct em_formula *f, const double *vals, double *out, char *msg, size_t cap)
{
	struct eval e = {.f = f, .vals = vals};
	double v = ev(&e, f->root, 0);

	if (e.err) {
		snprintf(msg, cap, "%s", e.err);
		return -1;
	}
	if (!isfinite(v)) {
		snprintf(msg, cap, "the formula gives %s (a division by zero?)", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return -1;
	}
	*out = v;
	return 0;
}
