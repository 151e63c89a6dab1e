/* secret.h - secrets: wiping them before their memory is freed, and scrubbing them from every message built from outside text. */
#ifndef EM_SECRET_H
#define EM_SECRET_H

#include <stdarg.h>
#include <stddef.h>

/* Overwrites the NUL-terminated s and frees it. NULL-safe. */
void em_free_secret(char *s);
/* Overwrites n bytes of p (not optimised away). NULL-safe. */
void em_wipe(void *p, size_t n);

/* Replaces every occurrence of each secret in msg (in place) with "***".
 * Secrets shorter than 3 bytes are not searched for (they would shred
 * unrelated text). */
void em_scrub(char *msg, size_t cap, const char *const *secrets, size_t nsecrets);

/* The secrets in scope on this thread: while a scope is entered (a poller
 * thread running one fetch, an AWS call holding credentials), every
 * message built from outside text - em_err_set, em_log, em_excerpt - is
 * scrubbed of them while it is whole, before it is cut to length, so a
 * secret cut in two cannot leak its first half. Scopes nest (the inner one
 * adds to the outer); s must stay valid, and be left in reverse order. */
struct em_secret_scope {
	const char *const *v;
	size_t n;
	struct em_secret_scope *outer;
};

void em_secret_scope_enter(struct em_secret_scope *s, const char *const *v, size_t n);
void em_secret_scope_leave(struct em_secret_scope *s);
/* em_scrub of msg with every secret in scope on this thread. */
void em_scrub_scoped(char *msg, size_t cap);

/* fmt formatted whole, scrubbed of the secrets in scope, malloc'd (wipe it
 * with em_free_secret); NULL when out of memory. */
char *em_vformat_scrubbed(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Copies the NUL-terminated src into dst (cap > 0), cut to fit at a UTF-8
 * character boundary. Returns whether it was cut. */
int em_copy_cut(char *dst, size_t cap, const char *src);

#endif
