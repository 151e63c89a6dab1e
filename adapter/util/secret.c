/* secret.c - secrets: wiping them before their memory is freed, and scrubbing them from every message built from outside text. */
#include "secret.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void em_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void em_free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void em_scrub(char *msg, size_t cap, const char *const *secrets, size_t nsecrets)
{
	(void)cap; /* "***" is never longer than what it replaces */
	for (size_t i = 0; msg && i < nsecrets; i++) {
		size_t sl = secrets[i] ? strlen(secrets[i]) : 0;
		char *from = msg, *p;

		if (sl < 3)
			continue;
		/* search on after each replacement: a secret made of '*' must not loop */
		while ((p = strstr(from, secrets[i])) != NULL) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + sl, strlen(p + sl) + 1);
			from = p + 3;
		}
	}
}

static _Thread_local struct em_secret_scope *scope_top;

void em_secret_scope_enter(struct em_secret_scope *s, const char *const *v, size_t n)
{
	s->v = v;
	s->n = n;
	s->outer = scope_top;
	scope_top = s;
}

void em_secret_scope_leave(struct em_secret_scope *s)
{
	if (scope_top == s)
		scope_top = s->outer;
}

void em_scrub_scoped(char *msg, size_t cap)
{
	for (const struct em_secret_scope *s = scope_top; s; s = s->outer)
		em_scrub(msg, cap, s->v, s->n);
}

char *em_vformat_scrubbed(const char *fmt, va_list ap)
{
	va_list aq;
	int n;
	char *buf;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	vsnprintf(buf, (size_t)n + 1, fmt, ap);
	em_scrub_scoped(buf, (size_t)n + 1);
	return buf;
}

int em_copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	int cut = n >= cap;

	if (cut) {
		n = cap - 1;
		/* back off continuation bytes: no half character at the end */
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return cut;
}
