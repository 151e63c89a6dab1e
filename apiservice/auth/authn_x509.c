/* authn_x509.c - client certificate chains verified with OpenSSL: CA pools, ClientAuth usage, subject names. */
#include "authn_x509.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/util/clock.h"

struct em_x509_pool {
	atomic_int refs;
	X509_STORE *store;
};

struct em_x509_pool *em_x509_pool_new(const char *pem, size_t len, struct em_err *err)
{
	struct em_x509_pool *p = calloc(1, sizeof(*p));
	BIO *bio = NULL;
	X509 *x;
	int n = 0;

	if (!p) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	atomic_init(&p->refs, 1);
	p->store = X509_STORE_new();
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!p->store || !bio) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		int ok = X509_STORE_add_cert(p->store, x);
		X509_free(x);
		if (!ok) {
			/* A duplicate is harmless; anything else is not. */
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
				em_err_set(err, EM_E_CONFIG, "cannot add a CA certificate to the pool");
				goto out;
			}
		}
		n++;
	}
	ERR_clear_error();   /* PEM_read ends with "no start line" */
	if (n == 0) {
		em_err_set(err, EM_E_CONFIG, "no PEM certificate found");
		goto out;
	}
	BIO_free(bio);
	return p;
out:
	ERR_clear_error();
	BIO_free(bio);
	X509_STORE_free(p->store);
	free(p);
	return NULL;
}

struct em_x509_pool *em_x509_pool_ref(struct em_x509_pool *p)
{
	if (p)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void em_x509_pool_unref(struct em_x509_pool *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	X509_STORE_free(p->store);
	free(p);
}

void em_x509_subject_free(struct em_x509_subject *s)
{
	if (!s)
		return;
	free(s->cn);
	for (size_t i = 0; i < s->n_orgs; i++)
		free(s->orgs[i]);
	free(s->orgs);
	memset(s, 0, sizeof(*s));
}

static char *entry_utf8(X509_NAME_ENTRY *e)
{
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
	char *s;

	if (n < 0)
		return NULL;
	s = strndup((const char *)u, (size_t)n);
	OPENSSL_free(u);
	return s;
}

static int read_subject(X509 *leaf, struct em_x509_subject *subj)
{
	X509_NAME *name = X509_get_subject_name(leaf);
	int cnt = name ? X509_NAME_entry_count(name) : 0;

	memset(subj, 0, sizeof(*subj));
	for (int i = 0; i < cnt; i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		char *v;

		if (nid != NID_commonName && nid != NID_organizationName)
			continue;
		if (!(v = entry_utf8(e)))
			goto out;
		if (nid == NID_commonName) {
			free(subj->cn);
			subj->cn = v;
		} else {
			char **o = realloc(subj->orgs, (subj->n_orgs + 1) * sizeof(*o));
			if (!o) {
				free(v);
				goto out;
			}
			subj->orgs = o;
			o[subj->n_orgs++] = v;
		}
	}
	if (!subj->cn && !(subj->cn = strdup("")))
		goto out;
	return 0;
out:
	em_x509_subject_free(subj);
	return -1;
}

/* Go's x509 error texts for the common cases, so logs read like Kubernetes'. */
static const char *verify_text(int code)
{
	switch (code) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "x509: certificate has expired or is not yet valid";
	case X509_V_ERR_INVALID_PURPOSE:
		return "x509: certificate specifies an incompatible key usage";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "x509: certificate signed by unknown authority";
	default:
		return NULL;
	}
}

/* The earliest notAfter of the verified chain, as Unix seconds from now_s. */
static int64_t chain_until(X509_STORE_CTX *ctx, int64_t now_s)
{
	STACK_OF(X509) *ch = X509_STORE_CTX_get0_chain(ctx);
	int64_t until = INT64_MAX;

	for (int i = 0; ch && i < sk_X509_num(ch); i++) {
		int days = 0, secs = 0;
		ASN1_TIME *from = ASN1_TIME_set(NULL, (time_t)now_s);
		int ok = from && ASN1_TIME_diff(&days, &secs, from, X509_get0_notAfter(sk_X509_value(ch, i)));
		int64_t t = now_s + (int64_t)days * 86400 + secs;
		ASN1_TIME_free(from);
		if (!ok)
			return now_s;   /* unknown: do not keep the answer */
		if (t < until)
			until = t;
	}
	return until;
}

int em_x509_verify(const struct em_x509_pool *pool, const struct em_cert_der *chain, size_t n, int64_t now_s,
		   struct em_x509_subject *subj, struct em_err *err)
{
	return em_x509_verify_until(pool, chain, n, now_s, subj, NULL, err);
}

int em_x509_verify_until(const struct em_x509_pool *pool, const struct em_cert_der *chain, size_t n, int64_t now_s,
			 struct em_x509_subject *subj, int64_t *until_s, struct em_err *err)
{
	X509 *leaf = NULL;
	STACK_OF(X509) *rest = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *vp;
	int rc = -1, code;

	memset(subj, 0, sizeof(*subj));
	if (!pool || !chain || n == 0)
		return em_err_set(err, EM_E_UNAUTHORIZED, "no client certificate");
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = chain[i].data;
		X509 *x = chain[i].len <= 0x7fffffff ? d2i_X509(NULL, &p, (long)chain[i].len) : NULL;
		if (!x) {
			em_err_set(err, EM_E_UNAUTHORIZED, "x509: malformed certificate");
			goto out;
		}
		if (i == 0) {
			leaf = x;
			continue;
		}
		if ((!rest && !(rest = sk_X509_new_null())) || !sk_X509_push(rest, x)) {
			X509_free(x);
			em_err_set(err, EM_E_INTERNAL, "out of memory");
			goto out;
		}
	}
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, pool->store, leaf, rest) != 1) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
	if (now_s)
		X509_VERIFY_PARAM_set_time(vp, (time_t)now_s);
	if (X509_verify_cert(ctx) != 1) {
		const char *t;
		code = X509_STORE_CTX_get_error(ctx);
		t = verify_text(code);
		if (t)
			em_err_set(err, EM_E_UNAUTHORIZED, "%s", t);
		else
			em_err_set(err, EM_E_UNAUTHORIZED, "x509: %s", X509_verify_cert_error_string(code));
		goto out;
	}
	if (read_subject(leaf, subj) != 0) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	if (until_s)
		*until_s = chain_until(ctx, now_s ? now_s : em_now_ms() / 1000);
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	return rc;
}
