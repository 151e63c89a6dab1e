/* err.c - setting and prefixing struct em_err. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int em_err_vset(struct em_err *err, enum em_errkind kind, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->kind = kind;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
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

void em_err_prefix(struct em_err *err, const char *fmt, ...)
{
	char prefix[EM_ERR_MSG_MAX];
	char old[EM_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
}
