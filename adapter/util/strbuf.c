/* strbuf.c - a growable string buffer with formatted, JSON-escaped and URL-query-escaped appends. */
#include "strbuf.h"
#include "secret.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void em_sb_init(struct em_strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void em_sb_free(struct em_strbuf *sb)
{
	if (!sb)
		return;
	free(sb->buf);
	memset(sb, 0, sizeof(*sb));
}

void em_sb_reset(struct em_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

static int grow(struct em_strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *nb;

	if (sb->oom)
		return -1;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	if (need < extra) { /* size_t overflow */
		sb->oom = true;
		return -1;
	}
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->oom = true;
		return -1;
	}
	sb->buf = nb;
	sb->cap = cap;
	return 0;
}

void em_sb_add(struct em_strbuf *sb, const char *s, size_t n)
{
	if (grow(sb, n) != 0)
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void em_sb_puts(struct em_strbuf *sb, const char *s)
{
	em_sb_add(sb, s, strlen(s));
}

void em_sb_printf(struct em_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(sb, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

int32_t em_utf8_decode(const unsigned char *s, size_t n, size_t *width)
{
	unsigned c = s[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t need;
	int32_t r;

	*width = 1;
	if (c < 0x80)
		return (int32_t)c;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		r = (int32_t)(c & 0x1F);
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		r = (int32_t)(c & 0x0F);
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		r = (int32_t)(c & 0x07);
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return -1;
	}
	if (n < need + 1)
		return -1;
	for (size_t i = 1; i <= need; i++) {
		unsigned cc = s[i];
		if (i == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xBF))
			return -1;
		r = (r << 6) | (int32_t)(cc & 0x3F);
	}
	*width = need + 1;
	return r;
}

/* Escapes like Go's encoding/json: ", \, control characters, <, >, &,
 * U+2028 and U+2029; invalid UTF-8 becomes U+FFFD, so the output is always
 * valid JSON whatever bytes a client sent. */
void em_sb_json_str(struct em_strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	em_sb_add(sb, "\"", 1);
	while (*p) {
		size_t run = 0, n;

		while (p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\' && p[run] != '<' &&
		       p[run] != '>' && p[run] != '&')
			run++;
		if (run) {
			em_sb_add(sb, (const char *)p, run);
			p += run;
			continue;
		}
		if (*p >= 0x80) {
			/* never reads past the NUL: it is no continuation byte */
			if (em_utf8_decode(p, 4, &n) < 0) {
				em_sb_add(sb, "\\ufffd", 6);
				p++;
			} else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
				em_sb_add(sb, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
				p += 3;
			} else {
				em_sb_add(sb, (const char *)p, n);
				p += n;
			}
			continue;
		}
		switch (*p) {
		case '"': em_sb_add(sb, "\\\"", 2); break;
		case '\\': em_sb_add(sb, "\\\\", 2); break;
		case '\n': em_sb_add(sb, "\\n", 2); break;
		case '\r': em_sb_add(sb, "\\r", 2); break;
		case '\t': em_sb_add(sb, "\\t", 2); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
			em_sb_add(sb, u, 6);
		}
		}
		p++;
	}
	em_sb_add(sb, "\"", 1);
}

char *em_sb_steal(struct em_strbuf *sb)
{
	char *b;

	if (sb->oom) {
		em_sb_free(sb);
		return NULL;
	}
	if (!sb->buf)
		em_sb_add(sb, "", 0);
	b = sb->buf;
	memset(sb, 0, sizeof(*sb));
	return b;
}

/* Everything but A-Z a-z 0-9 - _ . ~ as %XX; a space as plus or %20. */
static void url_escape(struct em_strbuf *sb, const char *s, const char *space)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			em_sb_add(sb, (const char *)p, 1);
		} else if (*p == ' ') {
			em_sb_puts(sb, space);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			em_sb_add(sb, e, 3);
		}
	}
}

void em_sb_query_escape(struct em_strbuf *sb, const char *s)
{
	url_escape(sb, s, "+");
}

void em_sb_path_escape(struct em_strbuf *sb, const char *s)
{
	url_escape(sb, s, "%20");
}

void em_sb_free_secret(struct em_strbuf *sb)
{
	if (sb->buf)
		em_wipe(sb->buf, sb->cap);
	em_sb_free(sb);
}
