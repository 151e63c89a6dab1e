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

#endif
