/* tlspem.h - client TLS material from PEM texts (extra CAs, a certificate chain, a maybe encrypted key) into OpenSSL. */
#ifndef EM_TLSPEM_H
#define EM_TLSPEM_H

#include <stddef.h>

#include "err.h"

/* KEDA's TLS auth parameters, PEM contents (not paths); NULL or "": absent. */
struct em_tls_pem {
	const char *ca;             /* trusted besides the system CAs */
	const char *cert;           /* client certificate, then intermediates */
	const char *key;            /* its private key */
	const char *key_password;   /* for an encrypted key */
};

/* Adds m's CAs to ctx's store and sets its client certificate, chain and
 * key. 0, or -1 with a config error naming the key first ("ca: ...",
 * "cert: ...", "key: ..."), never quoting the key or its password. */
struct ssl_ctx_st;
int em_tls_pem_load(struct ssl_ctx_st *ctx, const struct em_tls_pem *m, struct em_err *err);

/* em_tls_pem_load into a throw-away context: the material loads (checked
 * when a config is read, so that it does not fail at every poll). */
int em_tls_pem_check(const struct em_tls_pem *m, struct em_err *err);

/* The first OpenSSL error of this thread as text; the queue is cleared. */
void em_ssl_reason(char *out, size_t cap);

#endif
