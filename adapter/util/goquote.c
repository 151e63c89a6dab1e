/* goquote.c - Go's strconv.Quote (fmt %q), for messages that must read exactly as Go's. */
#include "goquote.h"

#include <string.h>

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
