/* selector.c - label selector lexer, parser, validation and matching, after apimachinery pkg/labels. */
#include "selector.h"
#include "adapter/util/goquote.h"
#include "adapter/util/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================== validation (pkg/util/validation) ======================== */

/* The texts are those of apimachinery v0.32 (the kubectl 1.32 on the test
 * machine is the oracle, see test/integration/test_selector_kubectl.py),
 * except the length limits, which say "bytes" as current apimachinery and
 * api-contract.md do (1.32 said "characters"). */

#define LABEL_NAME_RE "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define LABEL_KEY_MSG "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
#define LABEL_KEY_HINT " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" LABEL_NAME_RE "')"
#define LABEL_VALUE_MSG                                                                                          \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must " \
	"start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "  \
	"for validation is '(" LABEL_NAME_RE ")?')"
#define DNS1123_SUBDOMAIN_MSG                                                                                      \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must " \
	"start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "          \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define EMPTY_MSG "must be non-empty"
#define NAME_MAX_LEN 63
#define SUBDOMAIN_MAX_LEN 253

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool is_label_name(const char *s, size_t n)
{
	if (n == 0 || !is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static bool is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* : dot-separated
 * non-empty labels that start and end with [a-z0-9], inside [-a-z0-9]. */
static bool is_dns1123_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (i == start || !is_lower_alnum((unsigned char)s[start]) ||
		    !is_lower_alnum((unsigned char)s[i - 1]))
			return false;
		for (size_t j = start + 1; j + 1 < i; j++)
			if (!is_lower_alnum((unsigned char)s[j]) && s[j] != '-')
				return false;
		start = i + 1;
	}
	return true;
}

/* validation.IsQualifiedName as released up to 1.32 and checked against that
 * kubectl (master's content.IsLabelKey says "a valid label key" where this says
 * "a qualified name"). Appends the messages joined by "; "; returns how many. */
static int label_key_errors(const char *k, struct em_strbuf *b)
{
	size_t n = strlen(k);
	const char *slash = memchr(k, '/', n);
	const char *name = k;
	size_t nname = n;
	int count = 0;

#define ADD_MSG(...)                         \
	do {                                 \
		if (count++)                 \
			em_sb_puts(b, "; ");    \
		em_sb_puts(b, __VA_ARGS__);     \
	} while (0)

	if (slash) {
		size_t nprefix = (size_t)(slash - k);
		name = slash + 1;
		nname = n - nprefix - 1;
		if (memchr(name, '/', nname)) {
			em_sb_puts(b, "a qualified name " LABEL_KEY_MSG LABEL_KEY_HINT
				   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
			return 1;
		}
		if (nprefix == 0) {
			ADD_MSG("prefix part " EMPTY_MSG);
		} else {
			if (nprefix > SUBDOMAIN_MAX_LEN)
				ADD_MSG("prefix part must be no more than 253 bytes");
			if (!is_dns1123_subdomain(k, nprefix))
				ADD_MSG("prefix part " DNS1123_SUBDOMAIN_MSG);
		}
	}
	if (nname == 0)
		ADD_MSG("name part " EMPTY_MSG);
	else if (nname > NAME_MAX_LEN)
		ADD_MSG("name part must be no more than 63 bytes");
	if (!is_label_name(name, nname))
		ADD_MSG("name part " LABEL_KEY_MSG LABEL_KEY_HINT);
#undef ADD_MSG
	return count;
}

/* content.IsLabelValue, joined by "; ". */
static int label_value_errors(const char *v, struct em_strbuf *b)
{
	size_t n = strlen(v);
	int count = 0;

	if (n > NAME_MAX_LEN) {
		em_sb_puts(b, "must be no more than 63 bytes");
		count++;
	}
	if (n > 0 && !is_label_name(v, n)) {
		if (count++)
			em_sb_puts(b, "; ");
		em_sb_puts(b, LABEL_VALUE_MSG);
	}
	return count;
}

/* strconv.ParseInt(s, 10, 64): optional sign, decimal digits, int64 range. */
static bool go_parse_int64(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return true;
}

/* ======================== lexer ======================== */

enum tok {
	T_EOS,
	T_CLOSEPAR,
	T_COMMA,
	T_NOT,
	T_DEQ,
	T_EQ,
	T_GT,
	T_ID,
	T_IN,
	T_LT,
	T_NEQ,
	T_NOTIN,
	T_OPENPAR,
};

struct item {
	enum tok tok;
	size_t off, len;   /* the literal, inside the input */
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

/* One token at *pos. Go's scanSpecialSymbol grows the symbol while the longer
 * text is still a token: only "==" and "!=" are two characters long, and every
 * special character alone is a token, so its error branch cannot happen. */
static struct item lex(const char *s, size_t *pos)
{
	struct item it;
	size_t i = *pos;

	while (is_ws(s[i]))
		i++;
	it.off = i;
	if (!s[i]) {
		it.tok = T_EOS;
		it.len = 0;
	} else if (is_special(s[i])) {
		it.len = 1;
		switch (s[i]) {
		case '=': it.tok = T_EQ; break;
		case '!': it.tok = T_NOT; break;
		case '(': it.tok = T_OPENPAR; break;
		case ')': it.tok = T_CLOSEPAR; break;
		case ',': it.tok = T_COMMA; break;
		case '>': it.tok = T_GT; break;
		default: it.tok = T_LT; break;
		}
		if (s[i + 1] == '=' && (s[i] == '=' || s[i] == '!')) {
			it.tok = s[i] == '=' ? T_DEQ : T_NEQ;
			it.len = 2;
		}
	} else {
		size_t j = i;
		while (s[j] && !is_special(s[j]) && !is_ws(s[j]))
			j++;
		it.len = j - i;
		if (it.len == 2 && !memcmp(s + i, "in", 2))
			it.tok = T_IN;
		else if (it.len == 5 && !memcmp(s + i, "notin", 5))
			it.tok = T_NOTIN;
		else
			it.tok = T_ID;
	}
	*pos = it.off + it.len;
	return it;
}

/* ======================== parser ======================== */

/* Go's ParserContext: in Values context the keywords in/notin are identifiers. */
enum ctx { CTX_KEYOP, CTX_VALUES };

struct parser {
	const char *s;
	struct item *items;
	size_t nitems, pos;
	struct em_strbuf msg;      /* the error text being built */
	bool oom;
};

/* A set of values under construction (sets.String). */
struct strset {
	char **v;
	size_t n, cap;
};

static enum tok ctx_tok(enum tok t, enum ctx c)
{
	return c == CTX_VALUES && (t == T_IN || t == T_NOTIN) ? T_ID : t;
}

static enum tok lookahead(struct parser *p, enum ctx c, const struct item **lit)
{
	const struct item *it = &p->items[p->pos];
	if (lit)
		*lit = it;
	return ctx_tok(it->tok, c);
}

static enum tok consume(struct parser *p, enum ctx c, const struct item **lit)
{
	const struct item *it = &p->items[p->pos];
	/* the parser never consumes past the final EOS token */
	if (p->pos + 1 < p->nitems)
		p->pos++;
	if (lit)
		*lit = it;
	return ctx_tok(it->tok, c);
}

/* Appends "found '<lit>'<rest>" to the message; returns -1. */
static int found(struct parser *p, const struct item *lit, const char *rest)
{
	em_sb_puts(&p->msg, "found '");
	em_sb_add(&p->msg, p->s + lit->off, lit->len);
	em_sb_puts(&p->msg, "'");
	em_sb_puts(&p->msg, rest);
	return -1;
}

static int set_insert(struct parser *p, struct strset *set, const char *s, size_t n)
{
	char *dup;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 4;
		char **v = realloc(set->v, cap * sizeof(*v));
		if (!v)
			goto out;
		set->v = v;
		set->cap = cap;
	}
	dup = strndup(s, n);
	if (!dup)
		goto out;
	set->v[set->n++] = dup;
	return 0;
out:
	p->oom = true;
	return -1;
}

static void set_free(struct strset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sets.String.List(): sorted, duplicates dropped. */
static void set_sort_unique(struct strset *set)
{
	size_t w = 0;

	if (set->n < 2)
		return;
	qsort(set->v, set->n, sizeof(*set->v), cmp_str);
	for (size_t i = 0; i < set->n; i++) {
		if (w && !strcmp(set->v[w - 1], set->v[i]))
			free(set->v[i]);
		else
			set->v[w++] = set->v[i];
	}
	set->n = w;
}

/* Key and the inferred unary operator; *op is EXISTS, NOTEXISTS or -1 (binary follows). */
static int parse_key(struct parser *p, char **key, int *op)
{
	const struct item *lit;
	enum tok t = consume(p, CTX_VALUES, &lit);
	struct em_strbuf errs = {0};

	*op = -1;
	if (t == T_NOT) {
		*op = EM_SEL_NOTEXISTS;
		t = consume(p, CTX_VALUES, &lit);
	}
	if (t != T_ID)
		return found(p, lit, ", expected: identifier");
	*key = strndup(p->s + lit->off, lit->len);
	if (!*key) {
		p->oom = true;
		return -1;
	}
	if (label_key_errors(*key, &errs)) {
		/* field.Invalid(nil path, key, ...): Go prints the nil path as "<nil>" */
		em_sb_puts(&p->msg, "<nil>: Invalid value: ");
		em_go_quote(&p->msg, *key);
		em_sb_puts(&p->msg, ": ");
		em_sb_add(&p->msg, errs.buf ? errs.buf : "", errs.len);
		p->oom |= errs.oom;
		free(errs.buf);
		return -1;
	}
	t = lookahead(p, CTX_VALUES, NULL);
	if ((t == T_EOS || t == T_COMMA) && *op != EM_SEL_NOTEXISTS)
		*op = EM_SEL_EXISTS;
	return 0;
}

static int parse_operator(struct parser *p, enum em_sel_op *op)
{
	const struct item *lit;

	switch (consume(p, CTX_KEYOP, &lit)) {
	case T_IN: *op = EM_SEL_IN; return 0;
	case T_EQ: *op = EM_SEL_EQ; return 0;
	case T_DEQ: *op = EM_SEL_DEQ; return 0;
	case T_GT: *op = EM_SEL_GT; return 0;
	case T_LT: *op = EM_SEL_LT; return 0;
	case T_NOTIN: *op = EM_SEL_NOTIN; return 0;
	case T_NEQ: *op = EM_SEL_NEQ; return 0;
	default:
		return found(p, lit, ", expected: in, notin, =, ==, !=, gt, lt");
	}
}

/* (possibly empty) comma separated list of (possibly empty) values, Go's quirks included */
static int parse_identifiers_list(struct parser *p, struct strset *set)
{
	for (;;) {
		const struct item *lit, *lit2;
		enum tok t = consume(p, CTX_VALUES, &lit), t2;

		switch (t) {
		case T_ID:
			if (set_insert(p, set, p->s + lit->off, lit->len) < 0)
				return -1;
			t2 = lookahead(p, CTX_VALUES, &lit2);
			if (t2 == T_COMMA)
				continue;
			if (t2 == T_CLOSEPAR)
				return 0;
			return found(p, lit2, ", expected: ',' or ')'");
		case T_COMMA:
			if (set->n == 0 && set_insert(p, set, "", 0) < 0)   /* "(," */
				return -1;
			t2 = lookahead(p, CTX_VALUES, NULL);
			if (t2 == T_CLOSEPAR)                             /* ",)" */
				return set_insert(p, set, "", 0);
			if (t2 == T_COMMA) {                              /* ",," */
				consume(p, CTX_VALUES, NULL);
				if (set_insert(p, set, "", 0) < 0)
					return -1;
			}
			break;
		default:
			return found(p, lit, ", expected: ',', or identifier");
		}
	}
}

static int parse_values(struct parser *p, struct strset *set)
{
	const struct item *lit;
	enum tok t = consume(p, CTX_VALUES, &lit);

	if (t != T_OPENPAR)
		return found(p, lit, " expected: '('");
	t = lookahead(p, CTX_VALUES, &lit);
	switch (t) {
	case T_ID:
	case T_COMMA:
		if (parse_identifiers_list(p, set) < 0)
			return -1;
		/* parse_identifiers_list only succeeds in front of ')' */
		if (consume(p, CTX_VALUES, NULL) != T_CLOSEPAR)
			return found(p, lit, ", expected: ')'");
		return 0;
	case T_CLOSEPAR:   /* "()" is the empty value */
		consume(p, CTX_VALUES, NULL);
		return set_insert(p, set, "", 0);
	default:
		return found(p, lit, ", expected: ',', ')' or identifier");
	}
}

static int parse_exact_value(struct parser *p, struct strset *set)
{
	const struct item *lit;
	enum tok t = lookahead(p, CTX_VALUES, NULL);

	if (t == T_EOS || t == T_COMMA)
		return set_insert(p, set, "", 0);
	t = consume(p, CTX_VALUES, &lit);
	if (t == T_ID)
		return set_insert(p, set, p->s + lit->off, lit->len);
	return found(p, lit, ", expected: identifier");
}

/* NewRequirement's checks of the values (the key was checked when parsed).
 * Returns 0, or -1 with the message appended as Go's aggregate prints it:
 * one message alone, several as "[a, b]". ToAggregate() drops duplicate
 * messages, but these never repeat: each names a different values[i]. */
static int check_requirement(struct parser *p, const char *key, enum em_sel_op op, const struct strset *set)
{
	struct em_strbuf agg = {0};
	int count = 0;
	int64_t dummy;

	if ((op == EM_SEL_GT || op == EM_SEL_LT) && set->n == 1 && !go_parse_int64(set->v[0], &dummy)) {
		em_sb_puts(&agg, "values[0]: Invalid value: ");
		em_go_quote(&agg, set->v[0]);
		em_sb_puts(&agg, ": for 'Gt', 'Lt' operators, the value must be an integer");
		count++;
	}
	for (size_t i = 0; i < set->n; i++) {
		struct em_strbuf errs = {0};
		if (label_value_errors(set->v[i], &errs)) {
			if (count++)
				em_sb_puts(&agg, ", ");
			em_sb_printf(&agg, "values[%zu]", i);
			em_sb_puts(&agg, "[");
			em_sb_puts(&agg, key);
			em_sb_puts(&agg, "]: Invalid value: ");
			em_go_quote(&agg, set->v[i]);
			em_sb_puts(&agg, ": ");
			em_sb_add(&agg, errs.buf ? errs.buf : "", errs.len);
			agg.oom |= errs.oom;
		}
		free(errs.buf);
	}
	if (count == 0) {
		free(agg.buf);
		return 0;
	}
	p->oom |= agg.oom;
	if (count > 1)
		em_sb_puts(&p->msg, "[");
	em_sb_add(&p->msg, agg.buf ? agg.buf : "", agg.len);
	if (count > 1)
		em_sb_puts(&p->msg, "]");
	free(agg.buf);
	return -1;
}

static int parse_requirement(struct parser *p, struct em_sel_req *req)
{
	struct strset set = {0};
	char *key = NULL;
	int iop;
	enum em_sel_op op = EM_SEL_EXISTS;

	if (parse_key(p, &key, &iop) < 0)
		goto out;
	if (iop >= 0) {
		op = (enum em_sel_op)iop;
	} else {
		if (parse_operator(p, &op) < 0)
			goto out;
		if (op == EM_SEL_IN || op == EM_SEL_NOTIN) {
			if (parse_values(p, &set) < 0)
				goto out;
		} else if (parse_exact_value(p, &set) < 0) {
			goto out;
		}
		set_sort_unique(&set);
		if (check_requirement(p, key, op, &set) < 0)
			goto out;
	}
	req->key = key;
	req->op = op;
	req->values = set.v;
	req->nvalues = set.n;
	return 0;
out:
	free(key);
	set_free(&set);
	return -1;
}

static void req_free(struct em_sel_req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

static int push_req(struct parser *p, struct em_selector *sel, size_t *cap, struct em_sel_req *r)
{
	if (sel->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct em_sel_req *v = realloc(sel->reqs, ncap * sizeof(*v));
		if (!v) {
			p->oom = true;
			return -1;
		}
		sel->reqs = v;
		*cap = ncap;
	}
	sel->reqs[sel->n++] = *r;
	return 0;
}

/* The top loop of Go's Parser.parse(). */
static int parse_selector(struct parser *p, struct em_selector *sel)
{
	size_t cap = 0;

	for (;;) {
		const struct item *lit;
		enum tok t = lookahead(p, CTX_VALUES, &lit);

		if (t == T_EOS)
			return 0;
		if (t != T_ID && t != T_NOT)
			return found(p, lit, ", expected: !, identifier, or 'end of string'");

		struct em_sel_req r;
		em_sb_puts(&p->msg, "unable to parse requirement: ");
		if (parse_requirement(p, &r) < 0)
			return -1;
		em_sb_reset(&p->msg);
		if (push_req(p, sel, &cap, &r) < 0) {
			req_free(&r);
			return -1;
		}
		t = consume(p, CTX_VALUES, &lit);
		if (t == T_EOS)
			return 0;
		if (t != T_COMMA)
			return found(p, lit, ", expected: ',' or 'end of string'");
		t = lookahead(p, CTX_VALUES, &lit);
		if (t != T_ID && t != T_NOT)
			return found(p, lit, ", expected: identifier after ','");
	}
}

static int cmp_req_ptr(const void *a, const void *b)
{
	const struct em_sel_req *x = *(const struct em_sel_req *const *)a;
	const struct em_sel_req *y = *(const struct em_sel_req *const *)b;
	int c = strcmp(x->key, y->key);

	/* equal keys keep their order: the pointers still follow the input */
	if (c)
		return c;
	return x < y ? -1 : x > y;
}

/* sort.Sort(ByKey): by key; stable here (Go's is stable only up to 12 elements). */
static int sort_by_key(struct em_selector *sel)
{
	struct em_sel_req **ptr, *sorted;

	if (sel->n < 2)
		return 0;
	ptr = malloc(sel->n * sizeof(*ptr));
	sorted = malloc(sel->n * sizeof(*sorted));
	if (!ptr || !sorted) {
		free(ptr);
		free(sorted);
		return -1;
	}
	for (size_t i = 0; i < sel->n; i++)
		ptr[i] = &sel->reqs[i];
	qsort(ptr, sel->n, sizeof(*ptr), cmp_req_ptr);
	for (size_t i = 0; i < sel->n; i++)
		sorted[i] = *ptr[i];
	free(ptr);
	free(sel->reqs);
	sel->reqs = sorted;
	return 0;
}

int em_selector_parse(const char *s, struct em_selector *sel, struct em_err *err)
{
	struct parser p = {.s = s ? s : ""};
	size_t cap = 0, pos = 0;
	int rc = -1;

	sel->reqs = NULL;
	sel->n = 0;
	/* Go scans every token before parsing; so do we (the literals are offsets). */
	for (;;) {
		if (p.nitems == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct item *v = realloc(p.items, ncap * sizeof(*v));
			if (!v) {
				p.oom = true;
				goto out;
			}
			p.items = v;
			cap = ncap;
		}
		p.items[p.nitems] = lex(p.s, &pos);
		if (p.items[p.nitems++].tok == T_EOS)
			break;
	}
	if (parse_selector(&p, sel) < 0)
		goto out;
	if (sort_by_key(sel) < 0) {
		p.oom = true;
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && (p.oom || p.msg.oom))
		em_err_set(err, EM_E_INTERNAL, "out of memory parsing the label selector");
	else if (rc != 0)
		em_err_set(err, EM_E_BADREQUEST, "%s", p.msg.buf ? p.msg.buf : "");
	free(p.items);
	free(p.msg.buf);
	if (rc != 0)
		em_selector_free(sel);
	return rc;
}

void em_selector_free(struct em_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		req_free(&sel->reqs[i]);
	free(sel->reqs);
	sel->reqs = NULL;
	sel->n = 0;
}

/* ======================== matching ======================== */

static const char *label_get(const struct em_kvlist *l, const char *key)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].key && !strcmp(l->items[i].key, key))
			return l->items[i].value ? l->items[i].value : "";
	return NULL;
}

static bool has_value(const struct em_sel_req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (!strcmp(r->values[i], v))
			return true;
	return false;
}

static bool req_matches(const struct em_sel_req *r, const struct em_kvlist *labels)
{
	const char *v = label_get(labels, r->key);
	int64_t lv, rv;

	switch (r->op) {
	case EM_SEL_EQ:
	case EM_SEL_DEQ:
	case EM_SEL_IN:
		return v && has_value(r, v);
	case EM_SEL_NEQ:
	case EM_SEL_NOTIN:
		return !v || !has_value(r, v);
	case EM_SEL_EXISTS:
		return v != NULL;
	case EM_SEL_NOTEXISTS:
		return v == NULL;
	case EM_SEL_GT:
	case EM_SEL_LT:
		if (!v || r->nvalues != 1 || !go_parse_int64(v, &lv) || !go_parse_int64(r->values[0], &rv))
			return false;
		return r->op == EM_SEL_GT ? lv > rv : lv < rv;
	}
	return false;
}

bool em_selector_matches(const struct em_selector *sel, const struct em_kvlist *labels)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++)
		if (!req_matches(&sel->reqs[i], labels))
			return false;
	return true;
}

/* ======================== derived forms ======================== */

int em_selector_equalities(const struct em_selector *sel, struct em_kvlist *out)
{
	size_t n = 0;

	out->items = NULL;
	out->n = 0;
	if (!sel)
		return 0;
	for (size_t i = 0; i < sel->n; i++) {
		const struct em_sel_req *r = &sel->reqs[i];
		if ((r->op == EM_SEL_EQ || r->op == EM_SEL_DEQ || r->op == EM_SEL_IN) && r->nvalues == 1)
			n++;
	}
	if (n == 0)
		return 0;
	out->items = calloc(n, sizeof(*out->items));
	if (!out->items)
		return -1;
	/* requirements are already sorted by key */
	for (size_t i = 0; i < sel->n; i++) {
		const struct em_sel_req *r = &sel->reqs[i];
		if (!((r->op == EM_SEL_EQ || r->op == EM_SEL_DEQ || r->op == EM_SEL_IN) && r->nvalues == 1))
			continue;
		struct em_kv *kv = &out->items[out->n++];
		kv->key = strdup(r->key);
		kv->value = strdup(r->values[0]);
		if (!kv->key || !kv->value)
			goto out;
	}
	return 0;
out:
	em_kvlist_free(out);
	out->items = NULL;
	out->n = 0;
	return -1;
}

const char *em_sel_op_name(enum em_sel_op op)
{
	switch (op) {
	case EM_SEL_EQ: return "=";
	case EM_SEL_DEQ: return "==";
	case EM_SEL_NEQ: return "!=";
	case EM_SEL_IN: return "in";
	case EM_SEL_NOTIN: return "notin";
	case EM_SEL_EXISTS: return "exists";
	case EM_SEL_NOTEXISTS: return "!";
	case EM_SEL_GT: return ">";
	case EM_SEL_LT: return "<";
	}
	return "?";
}

char *em_selector_string(const struct em_selector *sel)
{
	struct em_strbuf b = {0};

	em_sb_add(&b, "", 0);
	for (size_t i = 0; sel && i < sel->n; i++) {
		const struct em_sel_req *r = &sel->reqs[i];
		bool set = r->op == EM_SEL_IN || r->op == EM_SEL_NOTIN;

		if (i)
			em_sb_puts(&b, ",");
		if (r->op == EM_SEL_NOTEXISTS)
			em_sb_puts(&b, "!");
		em_sb_puts(&b, r->key);
		if (r->op == EM_SEL_EXISTS || r->op == EM_SEL_NOTEXISTS)
			continue;
		if (set) {
			em_sb_puts(&b, " ");
			em_sb_puts(&b, em_sel_op_name(r->op));
			em_sb_puts(&b, " (");
		} else {
			em_sb_puts(&b, em_sel_op_name(r->op));
		}
		/* values are kept sorted, as String() prints them */
		for (size_t j = 0; j < r->nvalues; j++) {
			if (j)
				em_sb_puts(&b, ",");
			em_sb_puts(&b, r->values[j]);
		}
		if (set)
			em_sb_puts(&b, ")");
	}
	if (b.oom) {
		free(b.buf);
		return NULL;
	}
	return b.buf;
}
