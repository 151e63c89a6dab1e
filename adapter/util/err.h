/* err.h - the one error type: a kind (mapped to HTTP in apiservice/status.c) and a message. */
#ifndef EM_ERR_H
#define EM_ERR_H

#include <stdarg.h>

/* Error kinds. Set once, where the error happens; apiservice/status.c maps
 * each kind to an HTTP code and a metav1.Status reason. */
enum em_errkind {
	EM_OK = 0,
	EM_E_BADREQUEST,     /* 400 BadRequest */
	EM_E_UNAUTHORIZED,   /* 401 Unauthorized */
	EM_E_FORBIDDEN,      /* 403 Forbidden */
	EM_E_NOTFOUND,       /* 404 NotFound */
	EM_E_METHOD,         /* 405 MethodNotAllowed */
	EM_E_NOTACCEPTABLE,  /* 406 NotAcceptable */
	EM_E_TOOMANY,        /* 429 TooManyRequests */
	EM_E_INTERNAL,       /* 500 InternalError */
	EM_E_UNAVAILABLE,    /* 503 ServiceUnavailable: a backend failed or timed out */
	EM_E_CONFIG,         /* invalid configuration (never reaches HTTP as such) */
};

#define EM_ERR_MSG_MAX 512

struct em_err {
	enum em_errkind kind;
	char msg[EM_ERR_MSG_MAX];
};

/* Sets err (when err is non-NULL) and returns -1, so callers can write
 * `return em_err_set(err, EM_E_X, "...")`. The message is formatted whole,
 * scrubbed of the secrets in scope (secret.h), and only then cut to fit
 * (never overflowed, never mid-character). */
int em_err_set(struct em_err *err, enum em_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int em_err_vset(struct em_err *err, enum em_errkind kind, const char *fmt, va_list ap);

/* Prefixes the existing message with "prefix: ", keeping the kind. */
void em_err_prefix(struct em_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void em_err_clear(struct em_err *err)
{
	if (err) {
		err->kind = EM_OK;
		err->msg[0] = '\0';
	}
}

#endif
