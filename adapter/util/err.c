/* err.c - setting and prefixing struct em_err. */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

/* The message is formatted whole and scrubbed of the secrets in scope
 * before it is cut to fit: a secret cut in two would no longer match. */
static void set_msg(struct em_err *err, char *whole)
{
	if (whole) {
		em_copy_cut(err->msg, sizeof(err->msg), whole);
		em_free_secret(whole);
	} else {
		snprintf(err->msg, sizeof(err->msg), "out of memory (formatting an error)");
	}
}

int em_err_vset(struct em_err *err, enum em_errkind kind, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->kind = kind;
	set_msg(err, em_vformat_scrubbed(fmt, ap));
	return -1;
}

int em_err_set(struct em_err *err, enum em_errkind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	em_err_vset(err, kind, fmt, ap);
	va_end(ap);
	return -1;
}

static char *format_scrubbed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format_scrubbed(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = em_vformat_scrubbed(fmt, ap);
	va_end(ap);
	return s;
}

void em_err_prefix(struct em_err *err, const char *fmt, ...)
{
	va_list ap;
	char *prefix;

	if (!err)
		return;
	va_start(ap, fmt);
	prefix = em_vformat_scrubbed(fmt, ap);
	va_end(ap);
	if (!prefix)
		return;
	set_msg(err, format_scrubbed("%s: %s", prefix, err->msg));
	em_free_secret(prefix);
}
