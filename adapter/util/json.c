/* json.c - a bounded JSON reader: walks a document in place, value by value, building no tree (an answer costs what is kept). */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "text.h"

static int fail(struct em_json *j, const char *what)
{
	if (!j->error) {
		j->error = what;
		j->error_at = (size_t)(j->p - j->start);
	}
	return -1;
}

static void ws(struct em_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

void em_json_init(struct em_json *j, const char *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->start = j->p = buf ? buf : "";
	j->end = j->start + (buf ? len : 0);
	j->first[0] = true;
}

enum em_json_type em_json_peek(struct em_json *j)
{
	if (j->error)
		return EM_JSON_NONE;
	ws(j);
	if (j->p >= j->end)
		return EM_JSON_NONE;
	switch (*j->p) {
	case '{': return EM_JSON_OBJECT;
	case '[': return EM_JSON_ARRAY;
	case '"': return EM_JSON_STRING;
	case 't': return EM_JSON_TRUE;
	case 'f': return EM_JSON_FALSE;
	case 'n': return EM_JSON_NULL;
	default:
		return (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) ? EM_JSON_NUMBER : EM_JSON_NONE;
	}
}

/* ---- strings --------------------------------------------------------------- */

static int hex4(const char *p, const char *end, uint32_t *out)
{
	uint32_t v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = em_hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + (uint32_t)h;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Reads the string at j->p (a '"'), checking it; decodes it into out when
 * out is non-NULL (cap bytes at least; longer: "string too long"). *len
 * gets the decoded length. */
static int read_string(struct em_json *j, char *out, size_t cap, size_t *len)
{
	const char *p = j->p + 1;
	size_t n = 0;

	for (;;) {
		char buf[4];
		size_t w = 0;

		if (p >= j->end)
			return fail(j, "unterminated string");
		if (*p == '"')
			break;
		if ((unsigned char)*p < 0x20) {
			j->p = p;
			return fail(j, "control character in a string");
		}
		if (*p == '\\') {
			uint32_t c;
			if (p + 1 >= j->end)
				return fail(j, "unterminated string");
			switch (p[1]) {
			case '"': buf[0] = '"'; break;
			case '\\': buf[0] = '\\'; break;
			case '/': buf[0] = '/'; break;
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'n': buf[0] = '\n'; break;
			case 'r': buf[0] = '\r'; break;
			case 't': buf[0] = '\t'; break;
			case 'u':
				if (hex4(p + 2, j->end, &c) != 0) {
					j->p = p;
					return fail(j, "bad \\u escape");
				}
				p += 6;
				if (c >= 0xD800 && c <= 0xDBFF) {
					uint32_t lo;
					if (j->end - p < 2 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, j->end, &lo) != 0 ||
					    lo < 0xDC00 || lo > 0xDFFF) {
						j->p = p;
						return fail(j, "lone UTF-16 surrogate");
					}
					p += 6;
					c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
				} else if (c >= 0xDC00 && c <= 0xDFFF) {
					j->p = p;
					return fail(j, "lone UTF-16 surrogate");
				} else if (c == 0) {
					j->p = p;
					return fail(j, "\\u0000 in a string");
				}
				w = put_utf8(c, buf);
				break;
			default:
				j->p = p;
				return fail(j, "bad escape");
			}
			if (!w) {
				w = 1;
				p += 2;
			}
		} else {
			size_t cw;
			if (em_utf8_decode((const unsigned char *)p, (size_t)(j->end - p), &cw) < 0) {
				j->p = p;
				return fail(j, "invalid UTF-8");
			}
			memcpy(buf, p, cw);
			w = cw;
			p += cw;
		}
		if (out) {
			if (n + w >= cap)
				return fail(j, "string too long");
			memcpy(out + n, buf, w);
		}
		n += w;
	}
	if (out)
		out[n] = '\0';
	if (len)
		*len = n;
	j->p = p + 1;
	return 0;
}

/* ---- numbers and literals ---------------------------------------------------- */

static bool digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static int read_number(struct em_json *j)
{
	const char *p = j->p;

	if (p < j->end && *p == '-')
		p++;
	if (!digit(p, j->end))
		return fail(j, "bad number");
	if (*p == '0')
		p++;
	else
		while (digit(p, j->end))
			p++;
	if (p < j->end && *p == '.') {
		p++;
		if (!digit(p, j->end))
			return fail(j, "bad number");
		while (digit(p, j->end))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (!digit(p, j->end))
			return fail(j, "bad number");
		while (digit(p, j->end))
			p++;
	}
	j->p = p;
	return 0;
}

static int read_literal(struct em_json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return fail(j, "unexpected character");
	j->p += n;
	return 0;
}

/* ---- containers ---------------------------------------------------------------- */

/* A value of the current container (or the document) was consumed. */
static void consumed(struct em_json *j)
{
	j->pending = false;
	j->values++;
}

static int push(struct em_json *j, char c)
{
	if (j->depth >= EM_JSON_MAX_DEPTH)
		return fail(j, "nested too deeply");
	j->depth++;
	j->open[j->depth] = c;
	j->first[j->depth] = true;
	j->p++;
	return 0;
}

int em_json_enter(struct em_json *j, enum em_json_type t)
{
	enum em_json_type have = em_json_peek(j);

	if (have == EM_JSON_NONE || have != t || (t != EM_JSON_OBJECT && t != EM_JSON_ARRAY))
		return -1;
	consumed(j);
	return push(j, t == EM_JSON_OBJECT ? '{' : '[');
}

/* Steps past the separator before the next member/element of a container
 * opened with c: 1 when one follows, 0 when the container closed (left). */
static int next_in(struct em_json *j, char c)
{
	char close = c == '{' ? '}' : ']';

	if (j->error)
		return -1;
	if (j->depth == 0 || j->open[j->depth] != c)
		return fail(j, "not inside that kind of container");
	if (j->pending && em_json_skip(j) != 0)
		return -1;
	ws(j);
	if (j->p >= j->end)
		return fail(j, "unexpected end of input");
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	if (!j->first[j->depth]) {
		if (*j->p != ',')
			return fail(j, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
		j->p++;
		ws(j);
	}
	j->first[j->depth] = false;
	return 1;
}

int em_json_member(struct em_json *j, char *key, size_t cap)
{
	int rc = next_in(j, '{');
	const char *at = j->p;
	size_t n;

	if (rc != 1)
		return rc;
	if (j->p >= j->end || *j->p != '"')
		return fail(j, "expected a member name");
	if (read_string(j, NULL, 0, &n) != 0)
		return -1;
	if (key && cap) {
		const char *after = j->p;
		key[0] = '\0';
		/* decoded again into key when it fits; a longer key reads as "" */
		j->p = at;
		if (n >= cap || read_string(j, key, cap, NULL) != 0)
			key[0] = '\0';
		j->p = after;
	}
	ws(j);
	if (j->p >= j->end || *j->p != ':')
		return fail(j, "expected ':'");
	j->p++;
	j->pending = true;
	return 1;
}

int em_json_element(struct em_json *j)
{
	int rc = next_in(j, '[');

	if (rc == 1)
		j->pending = true;
	return rc;
}

int em_json_skip(struct em_json *j)
{
	int base = j->depth;

	for (;;) {
		enum em_json_type t = em_json_peek(j);
		int rc;

		if (j->error)
			return -1;
		/* a container: walk it like a caller would, skipping each value */
		if (t == EM_JSON_OBJECT || t == EM_JSON_ARRAY) {
			if (em_json_enter(j, t) != 0)
				return -1;
		} else {
			switch (t) {
			case EM_JSON_STRING: rc = read_string(j, NULL, 0, NULL); break;
			case EM_JSON_NUMBER: rc = read_number(j); break;
			case EM_JSON_TRUE: rc = read_literal(j, "true"); break;
			case EM_JSON_FALSE: rc = read_literal(j, "false"); break;
			case EM_JSON_NULL: rc = read_literal(j, "null"); break;
			default:
				return fail(j, j->p >= j->end ? "unexpected end of input" : "unexpected character");
			}
			if (rc != 0)
				return -1;
			consumed(j);
		}
		/* close finished containers; stop once back at the starting depth */
		while (j->depth > base) {
			rc = j->open[j->depth] == '{' ? em_json_member(j, NULL, 0) : em_json_element(j);
			if (rc < 0)
				return -1;
			if (rc == 1)
				break;   /* the next value of this container */
		}
		if (j->depth == base)
			return 0;
	}
}

int em_json_leave(struct em_json *j)
{
	int base = j->depth;

	if (base == 0)
		return fail(j, "not inside a container");
	while (j->depth >= base) {
		int rc = j->open[j->depth] == '{' ? em_json_member(j, NULL, 0) : em_json_element(j);
		if (rc < 0)
			return -1;
		if (rc == 1 && em_json_skip(j) != 0)
			return -1;
	}
	return 0;
}

int em_json_string(struct em_json *j, char *out, size_t cap, size_t *len)
{
	if (em_json_peek(j) != EM_JSON_STRING || cap == 0)
		return -1;
	if (read_string(j, out, cap, len) != 0)
		return -1;
	consumed(j);
	return 0;
}

char *em_json_string_dup(struct em_json *j, size_t max)
{
	const char *at;
	size_t n;
	char *s;

	if (em_json_peek(j) != EM_JSON_STRING)
		return NULL;
	at = j->p;
	if (read_string(j, NULL, 0, &n) != 0)
		return NULL;
	if (n > max) {
		j->p = at;
		fail(j, "string too long");
		return NULL;
	}
	s = malloc(n + 1);
	if (!s) {
		fail(j, "out of memory");
		return NULL;
	}
	j->p = at;
	if (read_string(j, s, n + 1, NULL) != 0) {
		free(s);
		return NULL;
	}
	consumed(j);
	return s;
}

int em_json_number(struct em_json *j, const char **text, size_t *len)
{
	const char *at;

	if (em_json_peek(j) != EM_JSON_NUMBER)
		return -1;
	at = j->p;
	if (read_number(j) != 0)
		return -1;
	consumed(j);
	*text = at;
	*len = (size_t)(j->p - at);
	return 0;
}

int em_json_double(struct em_json *j, double *out)
{
	const char *t;
	size_t n;
	char buf[128];

	if (em_json_number(j, &t, &n) != 0)
		return -1;
	if (n >= sizeof(buf)) {
		j->p = t;
		return fail(j, "number too long");
	}
	memcpy(buf, t, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	return 0;
}

int em_json_end(struct em_json *j)
{
	if (j->error)
		return -1;
	if (j->depth != 0)
		return fail(j, "unexpected end of input");
	ws(j);
	if (j->p != j->end)
		return fail(j, "trailing data after the document");
	return 0;
}

void em_json_error(const struct em_json *j, char *out, size_t cap)
{
	if (cap == 0)
		return;
	snprintf(out, cap, "invalid JSON at byte %zu: %s", j->error_at, j->error ? j->error : "unexpected value");
}

int em_json_check(const char *buf, size_t len, size_t max_values, char *why, size_t cap)
{
	struct em_json j;

	em_json_init(&j, buf, len);
	if (em_json_skip(&j) != 0 || em_json_end(&j) != 0) {
		if (why)
			em_json_error(&j, why, cap);
		return -1;
	}
	if (j.values <= max_values)
		return 0;
	if (why && cap)
		snprintf(why, cap, "more than %zu values", max_values);
	return -1;
}
