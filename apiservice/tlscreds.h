/* tlscreds.h - the serving certificate as GnuTLS credentials, reloaded when its files change, naming the client CAs. */
#ifndef EM_TLSCREDS_H
#define EM_TLSCREDS_H

#include <gnutls/gnutls.h>

#include "apiservice/auth/auth.h"
#include "adapter/util/err.h"

struct em_tlscreds;   /* the current credentials and where they come from */
struct em_tlscred;    /* one immutable set, shared by the connections made with it */

/* cert_pem/key_pem: the initial certificate chain and key. cert_file and
 * key_file (both or neither): where newer ones appear; NULL = never reloaded
 * (the in-memory self-signed certificate). */
struct em_tlscreds *em_tlscreds_new(const char *cert_file, const char *key_file, const char *cert_pem,
				    const char *key_pem, struct em_err *err);
void em_tlscreds_free(struct em_tlscreds *t);   /* NULL-safe; connections keep their sets */

/* The set for a new connection, referenced. At most once a second it checks
 * whether the files changed and loads them (a pair that does not load, e.g.
 * half-written, keeps the previous set and is retried); when auth's client
 * CAs changed, a set naming the new ones in the CertificateRequest is made. */
struct em_tlscred *em_tlscreds_acquire(struct em_tlscreds *t, struct em_auth *auth);
gnutls_certificate_credentials_t em_tlscred_gnutls(const struct em_tlscred *c);
void em_tlscred_release(struct em_tlscred *c);   /* NULL-safe */

#endif
