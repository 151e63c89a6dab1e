/* goquote.h - Go's strconv.Quote (fmt %q), for messages that must read exactly as Go's. */
#ifndef EM_GOQUOTE_H
#define EM_GOQUOTE_H

#include <stddef.h>

#include "strbuf.h"

/* Appends s as Go's strconv.Quote writes it: printable runes as they
 * are, \a \b \f \n \r \t \v, other controls as \xNN, other runes as \uNNNN
 * or \UNNNNNNNN, invalid bytes as \xNN. */
void em_go_quote(struct em_strbuf *sb, const char *s);

/* The same into out (cap bytes); a text that does not fit is cut and still
 * closed with a quote. */
void em_go_quote_to(char *out, size_t cap, const char *s);

/* The longest excerpt of outside text a message quotes, in bytes of the
 * original. */
#define EM_EXCERPT_MAX 120

/* An excerpt of outside text (a backend's answer, a value it sent) for a
 * message: s[0..n) (up to a NUL) scrubbed of the secrets in scope while
 * whole (secret.h), cut to max bytes (at most EM_EXCERPT_MAX), and escaped
 * as inside strconv.Quote (control characters, quotes, backslashes and
 * invalid UTF-8), without the surrounding quotes; a cut text ends in
 * "...". Always NUL-terminated in out (cap bytes; EM_EXCERPT_BUF always
 * suffices). */
#define EM_EXCERPT_BUF (4 * EM_EXCERPT_MAX + 8)
void em_excerpt(char *out, size_t cap, const char *s, size_t n, size_t max);

#endif
