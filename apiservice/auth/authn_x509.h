/* authn_x509.h - client certificate chains verified with OpenSSL: CA pools, ClientAuth usage, subject names. */
#ifndef EM_AUTHN_X509_H
#define EM_AUTHN_X509_H

#include <stddef.h>
#include <stdint.h>

#include "adapter/util/err.h"

/* One DER certificate as the TLS library hands it over. */
struct em_cert_der {
	const unsigned char *data;
	size_t len;
};

/* Trusted CAs (an OpenSSL X509_STORE), shared by reference. */
struct em_x509_pool;

/* Parses every certificate of a PEM bundle; fails when there is none. */
struct em_x509_pool *em_x509_pool_new(const char *pem, size_t len, struct em_err *err);
struct em_x509_pool *em_x509_pool_ref(struct em_x509_pool *p);   /* NULL-safe */
void em_x509_pool_unref(struct em_x509_pool *p);                 /* NULL-safe */

struct em_x509_subject {
	char *cn;        /* the last CommonName, as Go's pkix.Name keeps it; "" when none */
	char **orgs;     /* every Organization value, in order */
	size_t n_orgs;
};

void em_x509_subject_free(struct em_x509_subject *s);   /* NULL-safe, leaves s zeroed */

/* Verifies chain[0] (the peer's leaf; chain[1..] are intermediates it sent)
 * up to a certificate of pool, for client authentication: every certificate
 * in the chain must allow the ClientAuth extended key usage when it lists
 * any (Go's ExtKeyUsageClientAuth), and be valid at now_s (Unix seconds; 0 =
 * the current time). A pool certificate needs not be self-signed (Go trusts
 * any certificate of its roots). On success fills subj of the leaf and
 * returns 0; otherwise -1 with err (EM_E_UNAUTHORIZED) in Go's words. */
int em_x509_verify(const struct em_x509_pool *pool, const struct em_cert_der *chain, size_t n, int64_t now_s,
		   struct em_x509_subject *subj, struct em_err *err);
/* The same; on success also *until_s, the Unix time at which the verified
 * chain stops being valid (its earliest notAfter), for callers that keep
 * the answer for a connection. */
int em_x509_verify_until(const struct em_x509_pool *pool, const struct em_cert_der *chain, size_t n, int64_t now_s,
			 struct em_x509_subject *subj, int64_t *until_s, struct em_err *err);

#endif
