/* tlscreds.c - the serving certificate as GnuTLS credentials, reloaded when its files change, naming the client CAs. */
#include "tlscreds.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/x509.h>

#include "adapter/log.h"
#include "adapter/selfmetrics.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/clock.h"
#include "adapter/util/files.h"
#include "adapter/util/secret.h"

#define CHECK_EVERY_MS 1000
#define MAX_PEM (1 << 20)

struct em_tlscred {
	atomic_int refs;
	gnutls_certificate_credentials_t cred;
};

struct em_tlscreds {
	char *cert_file, *key_file;
	pthread_mutex_t mu;              /* guards everything below */
	char *cert_pem, *key_pem;        /* the pair in use */
	char cert_sig[128], key_sig[128];
	uint64_t ca_gen;
	struct em_tlscred *cur;
	int64_t next_check_ms;
	struct em_complain complain;
};

static struct em_sm_family fam_expiry =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_serving_certificate_expiry_timestamp_seconds",
		     "Unix time the serving certificate in use (its first one) expires; follows rotations.");

/* The expiry of the first certificate of pem (the leaf) as an own metric:
 * what the certificate-expiry alert watches. */
static void publish_expiry(const char *pem)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
	time_t until;

	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    (until = gnutls_x509_crt_get_expiration_time(crt)) != (time_t)-1)
		em_sm_set(em_sm_series(&fam_expiry, NULL), (double)until);
	gnutls_x509_crt_deinit(crt);
}

static struct em_tlscred *cred_new(const char *cert_pem, const char *key_pem, const char *ca_pem, char *why,
				   size_t cap)
{
	struct em_tlscred *c = calloc(1, sizeof(*c));
	gnutls_datum_t cd = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
	gnutls_datum_t kd = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
	int r;

	if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
		snprintf(why, cap, "out of memory");
		free(c);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	/* Also checks that the key belongs to the certificate. */
	r = gnutls_certificate_set_x509_key_mem2(c->cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		snprintf(why, cap, "certificate/key: %s", gnutls_strerror(r));
		gnutls_certificate_free_credentials(c->cred);
		free(c);
		return NULL;
	}
	if (ca_pem && *ca_pem) {
		/* Only to name acceptable CAs in the CertificateRequest (as Go's
		 * ClientCAs do); chains are verified by auth with OpenSSL. */
		gnutls_datum_t ad = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
		r = gnutls_certificate_set_x509_trust_mem(c->cred, &ad, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			em_warn("tls: cannot list the client CAs in the certificate request: %s", gnutls_strerror(r));
	}
	return c;
}

void em_tlscred_release(struct em_tlscred *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	gnutls_certificate_free_credentials(c->cred);
	free(c);
}

gnutls_certificate_credentials_t em_tlscred_gnutls(const struct em_tlscred *c)
{
	return c->cred;
}

struct em_tlscreds *em_tlscreds_new(const char *cert_file, const char *key_file, const char *cert_pem,
				    const char *key_pem, struct em_err *err)
{
	struct em_tlscreds *t = calloc(1, sizeof(*t));
	char why[256];

	if (!t) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	if (cert_file && key_file) {
		/* Signatures first, then the contents: a change in between is seen
		 * at the next check instead of being missed. */
		t->cert_file = strdup(cert_file);
		t->key_file = strdup(key_file);
		em_file_sig(cert_file, t->cert_sig, sizeof(t->cert_sig));
		em_file_sig(key_file, t->key_sig, sizeof(t->key_sig));
		t->cert_pem = em_read_file(cert_file, MAX_PEM, 0, NULL, why, sizeof(why));
		t->key_pem = t->cert_pem ? em_read_file(key_file, MAX_PEM, 0, NULL, why, sizeof(why)) : NULL;
	}
	if (!t->cert_pem || !t->key_pem) {
		free(t->cert_pem);
		em_free_secret(t->key_pem);
		t->cert_pem = strdup(cert_pem);
		t->key_pem = strdup(key_pem);
	}
	if (!t->cert_pem || !t->key_pem || (cert_file && key_file && (!t->cert_file || !t->key_file))) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	t->cur = cred_new(t->cert_pem, t->key_pem, NULL, why, sizeof(why));
	if (!t->cur && (strcmp(t->cert_pem, cert_pem) != 0 || strcmp(t->key_pem, key_pem) != 0)) {
		/* The files changed since the caller read them, half-way: use the
		 * caller's pair; the next check loads the files again. */
		free(t->cert_pem);
		em_free_secret(t->key_pem);
		t->cert_pem = strdup(cert_pem);
		t->key_pem = strdup(key_pem);
		t->cert_sig[0] = t->key_sig[0] = '\0';
		if (t->cert_pem && t->key_pem)
			t->cur = cred_new(t->cert_pem, t->key_pem, NULL, why, sizeof(why));
	}
	if (!t->cur) {
		em_err_set(err, EM_E_CONFIG, "TLS %s", why);
		goto out;
	}
	publish_expiry(t->cert_pem);
	t->next_check_ms = em_mono_ms() + CHECK_EVERY_MS;
	return t;
out:
	em_tlscreds_free(t);
	return NULL;
}

void em_tlscreds_free(struct em_tlscreds *t)
{
	if (!t)
		return;
	em_tlscred_release(t->cur);
	free(t->cert_file);
	free(t->key_file);
	free(t->cert_pem);
	em_free_secret(t->key_pem);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Under t->mu: loads changed files; true when the pair in use changed. */
static bool reload_files(struct em_tlscreds *t, int64_t now)
{
	char cs[128], ks[128], why[256];
	char *cert, *key;
	struct em_tlscred *probe;

	if (!t->cert_file)
		return false;
	em_file_sig(t->cert_file, cs, sizeof(cs));
	em_file_sig(t->key_file, ks, sizeof(ks));
	if (strcmp(cs, t->cert_sig) == 0 && strcmp(ks, t->key_sig) == 0)
		return false;
	cert = em_read_file(t->cert_file, MAX_PEM, 0, NULL, why, sizeof(why));
	key = cert ? em_read_file(t->key_file, MAX_PEM, 0, NULL, why, sizeof(why)) : NULL;
	probe = key ? cred_new(cert, key, NULL, why, sizeof(why)) : NULL;
	if (!probe) {
		/* Perhaps half-way through a rotation: retried next second. */
		em_complain(&t->complain, now, EM_LOG_WARN, "tls: keeping the current serving certificate: %s", why);
		free(cert);
		em_free_secret(key);
		return false;
	}
	em_tlscred_release(probe);
	free(t->cert_pem);
	em_free_secret(t->key_pem);
	t->cert_pem = cert;
	t->key_pem = key;
	snprintf(t->cert_sig, sizeof(t->cert_sig), "%s", cs);
	snprintf(t->key_sig, sizeof(t->key_sig), "%s", ks);
	em_complain_release(&t->complain, "tls: serving certificate files load again");
	em_info("tls: serving certificate reloaded from %s", t->cert_file);
	publish_expiry(cert);
	return true;
}

struct em_tlscred *em_tlscreds_acquire(struct em_tlscreds *t, struct em_auth *auth)
{
	struct em_tlscred *c;
	int64_t now = em_mono_ms();
	uint64_t gen = em_auth_ca_generation(auth);
	bool rebuild = false;

	pthread_mutex_lock(&t->mu);
	if (now >= t->next_check_ms) {
		t->next_check_ms = now + CHECK_EVERY_MS;
		rebuild = reload_files(t, now);
	}
	if (gen != t->ca_gen)
		rebuild = true;
	if (rebuild) {
		char why[256];
		uint64_t g = 0;
		char *ca = em_auth_ca_pem(auth, &g);
		struct em_tlscred *n = cred_new(t->cert_pem, t->key_pem, ca, why, sizeof(why));
		if (n) {
			em_tlscred_release(t->cur);
			t->cur = n;
			t->ca_gen = g ? g : gen;
		} else {
			em_complain(&t->complain, now, EM_LOG_WARN, "tls: keeping the current credentials: %s", why);
		}
		free(ca);
	}
	c = t->cur;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&t->mu);
	return c;
}
