/* goquote.c - Go's strconv.Quote (fmt %q), for messages that must read exactly as Go's. */
#include "goquote.h"

#include <stdlib.h>
#include <string.h>

#include "secret.h"

#include "uniprint.h"

void em_go_quote(struct em_strbuf *sb, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);

	em_sb_add(sb, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t w;
		int32_t r = em_utf8_decode(u + i, n - i, &w);
		const char *esc = NULL;

		switch (r) {
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		}
		if (r < 0)
			em_sb_printf(sb, "\\x%02x", u[i]);
		else if (esc)
			em_sb_puts(sb, esc);
		else if (em_rune_is_print(r))
			em_sb_add(sb, s + i, w);
		else if (r < 0x20 || r == 0x7F)
			em_sb_printf(sb, "\\x%02x", (unsigned)r);
		else if (r < 0x10000)
			em_sb_printf(sb, "\\u%04x", (unsigned)r);
		else
			em_sb_printf(sb, "\\U%08x", (unsigned)r);
		i += w;
	}
	em_sb_add(sb, "\"", 1);
}

void em_go_quote_to(char *out, size_t cap, const char *s)
{
	struct em_strbuf sb;
	size_t n;

	if (cap == 0)
		return;
	em_sb_init(&sb);
	em_go_quote(&sb, s);
	n = sb.buf && !sb.oom ? sb.len : 0;
	if (n >= cap) {
		n = cap - 1;
		if (n > 0)
			sb.buf[n - 1] = '"';
	}
	if (n)
		memcpy(out, sb.buf, n);
	out[n] = '\0';
	em_sb_free(&sb);
}

void em_excerpt(char *out, size_t cap, const char *s, size_t n, size_t max)
{
	size_t len = s ? strnlen(s, n) : 0;
	char *whole, *cut;
	struct em_strbuf sb;
	int was_cut = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (max > EM_EXCERPT_MAX)
		max = EM_EXCERPT_MAX;
	em_sb_init(&sb);
	whole = malloc(len + 1);
	cut = malloc(max + 1);
	if (whole && cut) {
		memcpy(whole, s, len);
		whole[len] = '\0';
		em_scrub_scoped(whole, len + 1);
		was_cut = em_copy_cut(cut, max + 1, whole);
		em_go_quote(&sb, cut);
	}
	if (sb.buf && !sb.oom && sb.len >= 2) {
		/* without the quotes; cut to cap, leaving room for "..." */
		size_t q = sb.len - 2, room = cap > 4 ? cap - 4 : cap - 1;
		if (q > room) {
			q = room;
			was_cut = 1;
		}
		memcpy(out, sb.buf + 1, q);
		out[q] = '\0';
		/* and again once escaped: "\f" + "uzz..." must not spell a secret "fuzz..." */
		em_scrub_scoped(out, cap);
		if (was_cut && cap > 4)
			memcpy(out + strlen(out), "...", 4);
	}
	em_sb_free(&sb);
	if (whole)
		em_wipe(whole, len);
	if (cut)
		em_wipe(cut, max);
	free(whole);
	free(cut);
}
