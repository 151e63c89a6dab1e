/* ma_value.c - metrics-api values: GJSON paths over JSON, dotted paths over YAML, selectors over Prometheus text. */
#include "metrics_api.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "adapter/util/json.h"        /* the bounded reader checks each answer first */

/* An answer holding more values is refused before jansson builds a tree
 * of it (tens of bytes per value): a metrics document has far fewer. */
#define MA_MAX_VALUES 200000

/* v checked as a reading (scaler.h): finite, at most 2^53 either way. */
static int checked(double v, const char *path, double *out, struct em_err *err)
{
	char what[128];

	snprintf(what, sizeof(what), "valueLocation %.100s", path);
	if (em_value_check(v, EM_VALUE_GAUGE, what, err) != 0)
		return -1;
	*out = v;
	return 0;
}

static int from_quantity(const char *s, size_t n, const char *path, double *out, struct em_err *err)
{
	double v;

	if (ma_quantity_parse(s, n, &v) != 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "valueLocation \"%.100s\" points to a string that is not parseable "
				  "as a Quantity", path);
	return checked(v, path, out, err);
}

static int wrong_type(const char *path, const char *got, struct em_err *err)
{
	return em_err_set(err, EM_E_UNAVAILABLE, "valueLocation \"%.100s\" must point to a numeric value or a string "
			  "parseable as a Quantity, got %s", path, got);
}

/* ================================================================== GJSON */

/* A path component: [s, end) of the path text, with its kind. */
enum comp_kind { C_KEY, C_COUNT, C_QUERY, C_QUERY_ALL };

struct comp {
	const char *s;     /* C_KEY: escaped key text; C_QUERY*: inside the parentheses */
	size_t n;
	enum comp_kind kind;
};

/* Reads the component at *p; advances past it and its '.' separator. */
static int next_comp(const char **p, struct comp *c, const char **why)
{
	const char *s = *p;

	memset(c, 0, sizeof(*c));
	if (s[0] == '#' && s[1] == '(') {
		int depth = 0;
		char quote = 0;
		const char *q = s + 1;
		for (; *q; q++) {
			if (quote) {
				if (*q == '\\' && q[1])
					q++;
				else if (*q == quote)
					quote = 0;
			} else if (*q == '"') {
				quote = '"';
			} else if (*q == '(') {
				depth++;
			} else if (*q == ')' && --depth == 0) {
				break;
			}
		}
		if (*q != ')') {
			*why = "unbalanced parentheses in a #(...) query";
			return -1;
		}
		c->s = s + 2;
		c->n = (size_t)(q - s - 2);
		c->kind = C_QUERY;
		q++;
		if (*q == '#') {
			c->kind = C_QUERY_ALL;
			q++;
		}
		if (*q && *q != '.') {
			*why = "a #(...) query must be followed by '.' or end the path";
			return -1;
		}
		*p = *q ? q + 1 : q;
		return 0;
	}
	c->s = s;
	while (*s && *s != '.') {
		if (*s == '\\' && s[1])
			s++;
		s++;
	}
	c->n = (size_t)(s - c->s);
	if (c->n == 1 && c->s[0] == '#')
		c->kind = C_COUNT;
	*p = *s ? s + 1 : s;
	if (c->n == 0) {
		*why = "an empty path component";
		return -1;
	}
	return 0;
}

static char *unescape(const char *s, size_t n, bool *wild)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	*wild = false;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			out[j++] = s[++i];
			continue;
		}
		if (s[i] == '*' || s[i] == '?')
			*wild = true;
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

/* The query inside #(...): lhs op rhs, or lhs alone (exists). */
struct query {
	char lhs[256];
	char op[3];
	enum { R_NONE, R_STR, R_NUM, R_TRUE, R_FALSE } rk;
	char rs[256];
	double rn;
};

static int parse_query(const char *s, size_t n, struct query *q, const char **why)
{
	size_t i = 0, l;

	memset(q, 0, sizeof(*q));
	while (i < n && s[i] == ' ')
		i++;
	l = i;
	while (i < n && !strchr("=!<>% ", s[i])) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		i++;
	}
	if (i == l || i - l >= sizeof(q->lhs)) {
		*why = "a #(...) query needs a path before its operator";
		return -1;
	}
	memcpy(q->lhs, s + l, i - l);
	while (i < n && s[i] == ' ')
		i++;
	if (i == n) {
		q->rk = R_NONE;
		return 0;
	}
	l = i;
	while (i < n && strchr("=!<>%", s[i]) && i - l < 2)
		i++;
	memcpy(q->op, s + l, i - l);
	if (!strcmp(q->op, "="))
		memcpy(q->op, "==", 3);
	if (strcmp(q->op, "==") && strcmp(q->op, "!=") && strcmp(q->op, "<") && strcmp(q->op, "<=") &&
	    strcmp(q->op, ">") && strcmp(q->op, ">=") && strcmp(q->op, "%") && strcmp(q->op, "!%")) {
		*why = "a #(...) query's operator must be ==, !=, <, <=, >, >=, % or !%";
		return -1;
	}
	while (i < n && s[i] == ' ')
		i++;
	while (n > i && s[n - 1] == ' ')
		n--;
	if (i < n && s[i] == '"') {
		size_t j = 0;
		for (i++; i < n && s[i] != '"' && j + 1 < sizeof(q->rs); i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			q->rs[j++] = s[i];
		}
		if (i + 1 != n) {
			*why = "a #(...) query's string value must be one \"quoted\" string";
			return -1;
		}
		q->rk = R_STR;
	} else if (n - i == 4 && !strncmp(s + i, "true", 4)) {
		q->rk = R_TRUE;
	} else if (n - i == 5 && !strncmp(s + i, "false", 5)) {
		q->rk = R_FALSE;
	} else {
		char num[64], *end;
		if (n - i == 0 || n - i >= sizeof(num)) {
			*why = "a #(...) query's value must be a \"string\", a number, true or false";
			return -1;
		}
		memcpy(num, s + i, n - i);
		num[n - i] = '\0';
		q->rn = strtod(num, &end);
		if (*end || !isfinite(q->rn)) {
			*why = "a #(...) query's value must be a \"string\", a number, true or false";
			return -1;
		}
		q->rk = R_NUM;
	}
	if ((!strcmp(q->op, "%") || !strcmp(q->op, "!%")) && q->rk != R_STR) {
		*why = "% and !% compare with a \"pattern\"";
		return -1;
	}
	return 0;
}

int ma_gjson_check(const char *path, struct em_err *err)
{
	const char *p = path, *why = NULL;
	struct comp c;
	struct query q;

	if (!*path)
		return em_err_set(err, EM_E_CONFIG, "valueLocation: empty");
	if (path[0] == '@' || path[0] == '[' || path[0] == '{' || path[0] == '!')
		return em_err_set(err, EM_E_CONFIG, "valueLocation: GJSON modifiers (@...), multipaths and literals are "
				  "not supported (they do not yield one number)");
	while (*p) {
		if (next_comp(&p, &c, &why) != 0)
			return em_err_set(err, EM_E_CONFIG, "valueLocation: %s", why);
		if (c.kind == C_KEY && (c.s[0] == '@' || memchr(c.s, '|', c.n)))
			return em_err_set(err, EM_E_CONFIG, "valueLocation: GJSON modifiers (@...) and pipes (|) are not "
					  "supported");
		if ((c.kind == C_QUERY || c.kind == C_QUERY_ALL) && parse_query(c.s, c.n, &q, &why) != 0)
			return em_err_set(err, EM_E_CONFIG, "valueLocation: %s", why);
	}
	if (path[strlen(path) - 1] == '.' && (strlen(path) < 2 || path[strlen(path) - 2] != '\\'))
		return em_err_set(err, EM_E_CONFIG, "valueLocation: ends with '.'");
	return 0;
}

/* What a path found: NULL (nothing: GJSON's Null), a node, a count (#), or
 * several results (# before the end, #(...)#: GJSON's JSON array). */
struct found {
	json_t *node;
	bool is_count, is_multi;
	double count;
};

static int walk(json_t *cur, const char *path, struct found *f);

static bool query_match(json_t *el, const struct query *q)
{
	struct found f = {0};
	json_t *v;

	if (walk(el, q->lhs, &f) != 0 || f.is_multi)
		return false;
	if (f.is_count)
		return q->rk == R_NUM && ((!strcmp(q->op, "==") && f.count == q->rn) || (!strcmp(q->op, "!=") && f.count != q->rn));
	v = f.node;
	if (q->rk == R_NONE)
		return v != NULL;
	if (!v)
		return false;
	if (q->rk == R_TRUE || q->rk == R_FALSE) {
		bool want = q->rk == R_TRUE;
		if (!json_is_boolean(v))
			return false;
		return !strcmp(q->op, "==") ? json_is_true(v) == want : !strcmp(q->op, "!=") ? json_is_true(v) != want : false;
	}
	if (q->rk == R_STR) {
		const char *s = json_string_value(v);
		int c;
		if (!s)
			return false;
		if (!strcmp(q->op, "%") || !strcmp(q->op, "!%"))
			return (fnmatch(q->rs, s, 0) == 0) == (q->op[0] == '%');
		c = strcmp(s, q->rs);
		return !strcmp(q->op, "==") ? c == 0 : !strcmp(q->op, "!=") ? c != 0 : !strcmp(q->op, "<") ? c < 0
		       : !strcmp(q->op, "<=") ? c <= 0 : !strcmp(q->op, ">") ? c > 0 : c >= 0;
	}
	if (!json_is_number(v))
		return false;
	{
		double x = json_number_value(v);
		return !strcmp(q->op, "==") ? x == q->rn : !strcmp(q->op, "!=") ? x != q->rn : !strcmp(q->op, "<") ? x < q->rn
		       : !strcmp(q->op, "<=") ? x <= q->rn : !strcmp(q->op, ">") ? x > q->rn : x >= q->rn;
	}
}

static int walk(json_t *cur, const char *path, struct found *f)
{
	const char *p = path, *why;
	struct comp c;

	memset(f, 0, sizeof(*f));
	while (*p && cur) {
		if (next_comp(&p, &c, &why) != 0)
			return -1;
		if (c.kind == C_COUNT) {
			if (!json_is_array(cur)) {
				cur = NULL;
				break;
			}
			if (*p) {             /* #.key: one result per element */
				f->is_multi = true;
				return 0;
			}
			f->is_count = true;
			f->count = (double)json_array_size(cur);
			return 0;
		}
		if (c.kind == C_QUERY || c.kind == C_QUERY_ALL) {
			struct query q;
			size_t i;
			json_t *el = NULL;
			if (parse_query(c.s, c.n, &q, &why) != 0)
				return -1;
			if (!json_is_array(cur)) {
				cur = NULL;
				break;
			}
			if (c.kind == C_QUERY_ALL) {
				f->is_multi = true;
				return 0;
			}
			json_array_foreach(cur, i, el)
				if (query_match(el, &q))
					break;
			cur = i < json_array_size(cur) ? el : NULL;
			continue;
		}
		{
			bool wild;
			char *key = unescape(c.s, c.n, &wild);
			json_t *next = NULL;
			if (!key)
				return -1;
			if (json_is_object(cur)) {
				if (wild) {
					const char *k;
					json_t *v;
					json_object_foreach(cur, k, v)
						if (fnmatch(key, k, 0) == 0) {
							next = v;
							break;
						}
				} else {
					next = json_object_get(cur, key);
				}
			} else if (json_is_array(cur) && key[0] && strspn(key, "0123456789") == strlen(key) &&
				   strlen(key) < 12) {
				next = json_array_get(cur, (size_t)strtoul(key, NULL, 10));
			}
			free(key);
			cur = next;
		}
	}
	f->node = cur;
	return 0;
}

static int json_value(const char *body, size_t len, const char *path, double *out, struct em_err *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	struct found f;
	char why[96];
	int rc = -1;

	/* checked by the bounded reader first: jansson's errors may quote the body */
	if (em_json_check(body, len, MA_MAX_VALUES, why, sizeof(why)) != 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "the answer is not JSON of at most %d values: %s", MA_MAX_VALUES,
				  why);
	root = json_loadb(body, len, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return em_err_set(err, EM_E_UNAVAILABLE, "the answer is not JSON: %s (line %d, column %d)", jerr.text,
				  jerr.line, jerr.column);
	if (walk(root, path, &f) != 0)
		em_err_set(err, EM_E_INTERNAL, "out of memory");
	else if (f.is_count)
		rc = checked(f.count, path, out, err);
	else if (f.is_multi || json_is_object(f.node) || json_is_array(f.node))
		wrong_type(path, "JSON", err);
	else if (!f.node || json_is_null(f.node))
		wrong_type(path, "Null", err);
	else if (json_is_boolean(f.node))
		wrong_type(path, json_is_true(f.node) ? "True" : "False", err);
	else if (json_is_string(f.node))
		rc = from_quantity(json_string_value(f.node), json_string_length(f.node), path, out, err);
	else
		rc = checked(json_number_value(f.node), path, out, err);
	json_decref(root);
	return rc;
}

/* =================================================================== YAML */

static bool yaml_int(const char *s, double *out)
{
	char buf[80], *end;
	size_t j = 0;
	bool neg = false;
	int base = 10;

	for (size_t i = 0; s[i] && j + 1 < sizeof(buf); i++)
		if (s[i] != '_')
			buf[j++] = s[i];
	buf[j] = '\0';
	if (!buf[0] || strlen(s) >= sizeof(buf))
		return false;
	{
		const char *p = buf;
		if (*p == '+' || *p == '-')
			neg = *p++ == '-';
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b')) {
			base = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
			p += 2;
		}
		if (!*p || !isalnum((unsigned char)*p))
			return false;
		*out = (double)strtoull(p, &end, base);
		if (*end)
			return false;
	}
	if (neg)
		*out = -*out;
	return true;
}

static bool yaml_float(const char *s, double *out)
{
	static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
	const char *p = s;
	char *end;

	for (size_t i = 0; i < 6; i++)
		if (!strcmp(s, inf[i]))
			return *out = INFINITY, true;
	if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF"))
		return *out = -INFINITY, true;
	if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
		return *out = NAN, true;
	/* YAML 1.2 core: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return false;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q) && !strchr(".eE+-", *q))
			return false;
	*out = strtod(s, &end);
	return *end == '\0';
}

static int yaml_scalar_value(yaml_node_t *n, const char *path, double *out, struct em_err *err)
{
	const char *s = (const char *)n->data.scalar.value;
	double v;

	/* libyaml's documents give every untagged scalar the str tag: only the
	 * style tells a quoted string from a plain scalar to resolve */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return from_quantity(s, n->data.scalar.length, path, out, err);
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return wrong_type(path, "<nil>", err);
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
	    !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return wrong_type(path, "bool", err);
	if (yaml_int(s, &v) || yaml_float(s, &v))
		return checked(v, path, out, err);
	return from_quantity(s, n->data.scalar.length, path, out, err);
}

static int yaml_value(const char *body, size_t len, const char *path, double *out, struct em_err *err)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_node_t *cur;
	const char *s = path;
	int rc = -1;

	if (!yaml_parser_initialize(&p))
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)body, len);
	if (!yaml_parser_load(&p, &d)) {
		em_err_set(err, EM_E_UNAVAILABLE, "the answer is not YAML: %s (line %zu)",
			   p.problem ? p.problem : "parse error", p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		return -1;
	}
	cur = yaml_document_get_root_node(&d);
	if (cur && cur->type != YAML_MAPPING_NODE) {
		em_err_set(err, EM_E_UNAVAILABLE, "the YAML answer is not a mapping at the top");
		goto out;
	}
	while (1) {
		size_t n = strcspn(s, ".");
		yaml_node_t *next = NULL;

		if (cur && cur->type == YAML_MAPPING_NODE) {
			for (yaml_node_pair_t *pr = cur->data.mapping.pairs.start; pr < cur->data.mapping.pairs.top; pr++) {
				yaml_node_t *k = yaml_document_get_node(&d, pr->key);
				if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == n &&
				    !memcmp(k->data.scalar.value, s, n)) {
					next = yaml_document_get_node(&d, pr->value);
					break;
				}
			}
		} else if (cur && cur->type == YAML_SEQUENCE_NODE && n > 0 && n < 10 && strspn(s, "0123456789") >= n &&
			   (s[0] != '0' || n == 1)) {
			size_t i = (size_t)strtoul(s, NULL, 10);
			if (i < (size_t)(cur->data.sequence.items.top - cur->data.sequence.items.start))
				next = yaml_document_get_node(&d, cur->data.sequence.items.start[i]);
		} else if (cur && cur->type == YAML_SCALAR_NODE) {
			/* KEDA returns the scalar and ignores the rest of the path */
			em_err_set(err, EM_E_UNAVAILABLE, "valueLocation \"%.100s\" goes past a scalar at \"%.*s\"", path,
				   (int)(s - path > 0 ? s - path - 1 : 0), path);
			goto out;
		}
		if (!next) {
			em_err_set(err, EM_E_UNAVAILABLE, "key '%.*s' not found in path '%.100s'", (int)(n > 100 ? 100 : n), s,
				   path);
			goto out;
		}
		cur = next;
		if (!s[n])
			break;
		s += n + 1;
	}
	if (cur->type == YAML_SCALAR_NODE)
		rc = yaml_scalar_value(cur, path, out, err);
	else
		em_err_set(err, EM_E_UNAVAILABLE, "path '%.100s' does not lead to a value (a %s)", path,
			   cur->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
out:
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	return rc;
}

/* ============================================================= Prometheus */

static bool name_start(int c, bool colon)
{
	return isalpha(c) || c == '_' || (colon && c == ':');
}

static bool name_char(int c, bool colon)
{
	return isalnum(c) || c == '_' || (colon && c == ':');
}

/* A quoted string at *p (", ' or `), unescaped into a malloc'd copy. */
static char *quoted(const char **p, const char *end)
{
	const char *s = *p;
	char q = *s, *out;
	size_t j = 0;

	if (s >= end || (q != '"' && q != '\'' && q != '`') || !(out = malloc((size_t)(end - s) + 1)))
		return NULL;
	for (s++; s < end && *s != q; s++) {
		if (*s == '\\' && q != '`' && s + 1 < end) {
			s++;
			out[j++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
		} else {
			out[j++] = *s;
		}
	}
	if (s >= end) {
		free(out);
		return NULL;
	}
	out[j] = '\0';
	*p = s + 1;
	return out;
}

void ma_selector_free(struct ma_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->m[i].value);
		if (s->m[i].re) {
			regfree(s->m[i].re);
			free(s->m[i].re);
		}
	}
	memset(s, 0, sizeof(*s));
}

static void skip_blank(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* A label list "{name op "value", ...}" at *p (just past its '{'), up to and
 * past its '}'. A selector takes =, !=, =~, !~ and any quote; a sample line
 * = and "..." only. Values are malloc'd (ma_labels_free). */
static int parse_labels(const char **pp, const char *end, bool selector, struct ma_matcher *out, size_t max,
			size_t *n, const char **why)
{
	const char *p = *pp;

	*n = 0;
	for (;;) {
		struct ma_matcher *m;
		size_t k = 0;
		skip_blank(&p, end);
		if (p < end && *p == '}')
			break;
		if (*n >= max) {
			*why = "too many labels";
			return -1;
		}
		m = &out[*n];
		memset(m, 0, sizeof(*m));
		while (p + k < end && name_char((unsigned char)p[k], false) && (k || name_start((unsigned char)*p, false)))
			k++;
		if (k == 0 || k >= sizeof(m->name)) {
			*why = "invalid label name";
			return -1;
		}
		memcpy(m->name, p, k);
		p += k;
		skip_blank(&p, end);
		if (selector && end - p >= 2 && !strncmp(p, "=~", 2))
			m->op = '~', p += 2;
		else if (selector && end - p >= 2 && !strncmp(p, "!~", 2))
			m->op = '^', p += 2;
		else if (selector && end - p >= 2 && !strncmp(p, "!=", 2))
			m->op = '!', p += 2;
		else if (p < end && *p == '=')
			m->op = '=', p++;
		else {
			*why = "expected an operator after a label name";
			return -1;
		}
		skip_blank(&p, end);
		if (p >= end || (!selector && *p != '"') || !(m->value = quoted(&p, end))) {
			*why = "a label value must be a \"quoted\" string";
			return -1;
		}
		(*n)++;
		skip_blank(&p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		*why = "expected ',' or '}' in the labels";
		return -1;
	}
	*pp = p + 1;
	return 0;
}

static void labels_free(struct ma_matcher *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].value);
		m[i].value = NULL;
	}
}

int ma_selector_parse(const char *str, struct ma_selector *out, struct em_err *err)
{
	const char *p = str, *end = str + strlen(str);
	const char *why = "expected name{label=\"value\", ...}";

	memset(out, 0, sizeof(*out));
	skip_blank(&p, end);
	if (p < end && name_start((unsigned char)*p, true)) {
		size_t n = 0;
		while (p + n < end && name_char((unsigned char)p[n], true))
			n++;
		if (n >= sizeof(out->metric))
			goto out;
		memcpy(out->metric, p, n);
		p += n;
	}
	skip_blank(&p, end);
	if (p < end && *p == '{') {
		p++;
		if (parse_labels(&p, end, true, out->m, MA_MAX_MATCHERS, &out->n, &why) != 0)
			goto out;
		for (size_t i = 0; i < out->n; i++) {
			struct ma_matcher *m = &out->m[i];
			if (m->op == '~' || m->op == '^') {
				size_t rl = strlen(m->value) + 5;
				char *re = malloc(rl);
				m->re = calloc(1, sizeof(regex_t));
				if (!re || !m->re) {
					free(re);
					goto out;
				}
				snprintf(re, rl, "^(%s)$", m->value);
				if (regcomp(m->re, re, REG_EXTENDED | REG_NOSUB) != 0) {
					free(re);
					free(m->re);
					m->re = NULL;
					why = "a regular expression does not compile (POSIX extended syntax)";
					goto out;
				}
				free(re);
			}
			if (!strcmp(m->name, "__name__")) {
				if (m->op != '=' || (out->metric[0] && strcmp(out->metric, m->value)) ||
				    strlen(m->value) >= sizeof(out->metric)) {
					why = "__name__ takes = and must agree with the name";
					goto out;
				}
				snprintf(out->metric, sizeof(out->metric), "%s", m->value);
			}
		}
	}
	skip_blank(&p, end);
	if (p != end)
		goto out;
	if (!out->metric[0]) {
		why = "a metric name is needed";
		goto out;
	}
	return 0;
out:
	ma_selector_free(out);
	return em_err_set(err, EM_E_CONFIG, "valueLocation: not a metric selector: %s", why);
}

static bool matches(const struct ma_selector *sel, const struct ma_matcher *labels, size_t nl)
{
	for (size_t i = 0; i < sel->n; i++) {
		const struct ma_matcher *m = &sel->m[i];
		const char *v = "";
		bool ok;
		if (!strcmp(m->name, "__name__"))
			continue;
		for (size_t j = 0; j < nl; j++)
			if (!strcmp(labels[j].name, m->name))
				v = labels[j].value;
		if (m->op == '=' || m->op == '!')
			ok = (strcmp(v, m->value) == 0) == (m->op == '=');
		else
			ok = (regexec(m->re, v, 0, NULL, 0) == 0) == (m->op == '~');
		if (!ok)
			return false;
	}
	return true;
}

#define MA_MAX_LABELS 64

/* One sample line: name, labels, value. 0, or -1 with *why. */
static int sample_line(const char *p, const char *end, char *name, size_t ncap, struct ma_matcher *labels,
		       size_t *nl, double *value, const char **why)
{
	size_t n = 0;
	char num[128], *e;

	*nl = 0;
	while (p + n < end && name_char((unsigned char)p[n], true) && (n || name_start((unsigned char)*p, true)))
		n++;
	if (n == 0 || n >= ncap) {
		*why = "invalid metric name";
		return -1;
	}
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	{
		const char *b = p;   /* a blank must come before the value */
		skip_blank(&p, end);
		if (p < end && *p == '{') {
			p++;
			if (parse_labels(&p, end, false, labels, MA_MAX_LABELS, nl, why) != 0)
				return -1;
			b = p;
			skip_blank(&p, end);
		}
		if (p == b || p >= end) {
			*why = "expected a value after the name and labels";
			return -1;
		}
	}
	n = 0;
	while (p + n < end && p[n] != ' ' && p[n] != '\t')
		n++;
	if (n == 0 || n >= sizeof(num)) {
		*why = "expected a value";
		return -1;
	}
	memcpy(num, p, n);
	num[n] = '\0';
	*value = strtod(num, &e);
	if (*e || e == num) {
		*why = "the value is not a number";
		return -1;
	}
	p += n;
	skip_blank(&p, end);
	if (p < end) {   /* a timestamp: an integer */
		const char *t = p + (*p == '-' ? 1 : 0);
		if (t >= end || strspn(t, "0123456789") < (size_t)(end - t)) {
			*why = "text after the value is not a timestamp";
			return -1;
		}
	}
	return 0;
}

static int prom_value(const char *body, size_t len, const char *path, const struct ma_selector *sel, double *out,
		      struct em_err *err)
{
	const char *p = body, *end = body + len, *why = NULL;
	char type[16] = "", name[256];
	struct ma_matcher labels[MA_MAX_LABELS];
	bool found = false, typed = false;
	double value = 0;
	size_t line = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *le = eol ? eol : end;
		const char *s = p;
		size_t nl = 0;
		double v;

		line++;
		p = eol ? eol + 1 : end;
		if (le > s && le[-1] == '\r')
			le--;
		skip_blank(&s, le);
		if (s == le)
			continue;
		if (*s == '#') {
			/* "# TYPE name type": the kind of the family asked for */
			char kw[8], tn[256], tt[16];
			int got = 0;
			char tmp[400];
			size_t tl = (size_t)(le - s) < sizeof(tmp) - 1 ? (size_t)(le - s) : sizeof(tmp) - 1;
			memcpy(tmp, s, tl);
			tmp[tl] = '\0';
			got = sscanf(tmp, "# %7s %255s %15s", kw, tn, tt);
			if (got == 3 && !strcmp(kw, "TYPE") && !strcmp(tn, sel->metric)) {
				if (typed) {
					why = "second TYPE line for the metric";
					goto out;
				}
				typed = true;
				snprintf(type, sizeof(type), "%s", tt);
			}
			continue;
		}
		if (sample_line(s, le, name, sizeof(name), labels, &nl, &v, &why) != 0) {
			labels_free(labels, nl);
			goto out;
		}
		if (!found && !strcmp(name, sel->metric) &&
		    (!typed || !strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "untyped")) &&
		    matches(sel, labels, nl)) {
			found = true;
			value = v;
		}
		labels_free(labels, nl);
	}
	if (!found)
		return em_err_set(err, EM_E_UNAVAILABLE, "value %.200s not found", path);
	return checked(value, path, out, err);
out:
	return em_err_set(err, EM_E_UNAVAILABLE, "prometheus format parsing error: text format parsing error in line "
			  "%zu: %s", line, why);
}

int ma_value(enum ma_format f, const char *body, size_t len, const char *path, const struct ma_selector *sel,
	     double *out, struct em_err *err)
{
	switch (f) {
	case MA_JSON: return json_value(body, len, path, out, err);
	case MA_YAML: return yaml_value(body, len, path, out, err);
	case MA_PROMETHEUS: return prom_value(body, len, path, sel, out, err);
	}
	return em_err_set(err, EM_E_INTERNAL, "unknown format");
}
