/* strbuf.h - a growable string buffer with formatted, JSON-escaped and URL-query-escaped appends. */
#ifndef EM_STRBUF_H
#define EM_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct em_strbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;   /* set once an allocation failed; appends then do nothing */
};

void em_sb_init(struct em_strbuf *sb);
void em_sb_free(struct em_strbuf *sb);
void em_sb_free_secret(struct em_strbuf *sb);   /* wipes the whole buffer first */
void em_sb_reset(struct em_strbuf *sb);
void em_sb_add(struct em_strbuf *sb, const char *s, size_t n);
void em_sb_puts(struct em_strbuf *sb, const char *s);
void em_sb_printf(struct em_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s escaped like Go's url.QueryEscape (space as '+'). */
void em_sb_query_escape(struct em_strbuf *sb, const char *s);
/* Appends s as one URL path segment: '/' and every reserved byte escaped, space as %20. */
void em_sb_path_escape(struct em_strbuf *sb, const char *s);
/* utf8.DecodeRune: the rune at s (n > 0 bytes left) and its width; -1 and
 * width 1 for an invalid byte (overlong forms and surrogates are invalid). */
int32_t em_utf8_decode(const unsigned char *s, size_t n, size_t *width);
/* Appends s as a JSON string literal, quotes included. */
void em_sb_json_str(struct em_strbuf *sb, const char *s);
/* Returns the buffer (NUL-terminated, never NULL unless oom) and gives up ownership. */
char *em_sb_steal(struct em_strbuf *sb);

#endif
