/* tlspem.c - client TLS material from PEM texts (extra CAs, a certificate chain, a maybe encrypted key) into OpenSSL. */
#include "tlspem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

static bool empty(const char *s)
{
	return !s || !*s;
}

static int pem_password(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n = pw ? strlen(pw) : 0;

	(void)rwflag;
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

void em_ssl_reason(char *out, size_t cap)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(out, cap, "%s", r ? r : "unknown error");
	ERR_clear_error();
}

int em_tls_pem_load(SSL_CTX *ctx, const struct em_tls_pem *m, struct em_err *err)
{
	char why[160];
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1;

	ERR_clear_error();
	if (!empty(m->ca)) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		int n = 0;
		b = BIO_new_mem_buf(m->ca, -1);
		while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			X509_STORE_add_cert(st, x);
			X509_free(x);
			x = NULL;
			n++;
		}
		BIO_free(b);
		b = NULL;
		ERR_clear_error();
		if (n == 0) {
			em_err_set(err, EM_E_CONFIG, "ca: error appending CA certs (no PEM certificate in it)");
			goto out;
		}
	}
	if (!empty(m->cert)) {
		X509 *extra;
		b = BIO_new_mem_buf(m->cert, -1);
		x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
			em_ssl_reason(why, sizeof(why));
			em_err_set(err, EM_E_CONFIG, "cert: error parse X509KeyPair: %s", why);
			goto out;
		}
		/* the rest of the PEM: intermediate certificates */
		while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1)
				X509_free(extra);
		ERR_clear_error();
		BIO_free(b);
		b = BIO_new_mem_buf(m->key ? m->key : "", -1);
		k = b ? PEM_read_bio_PrivateKey(b, NULL, pem_password, m->key_password ? (char *)m->key_password : (char *)"")
		      : NULL;
		if (!k) {
			em_ssl_reason(why, sizeof(why));
			em_err_set(err, EM_E_CONFIG, "key: error decrypt X509Key or parse it: %s%s", why,
				   empty(m->key_password) ? " (an encrypted key needs keyPassword)" : "");
			goto out;
		}
		if (SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			em_ssl_reason(why, sizeof(why));
			em_err_set(err, EM_E_CONFIG, "key: error parse X509KeyPair: %s", why);
			goto out;
		}
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

int em_tls_pem_check(const struct em_tls_pem *m, struct em_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	if (!ctx)
		return em_err_set(err, EM_E_CONFIG, "out of memory");
	rc = em_tls_pem_load(ctx, m, err);
	SSL_CTX_free(ctx);
	return rc;
}
