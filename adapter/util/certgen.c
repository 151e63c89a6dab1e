/* certgen.c - certificates made with OpenSSL: the APIService's CA and serving pair (gen-certs), serve's self-signed one. */
#include "certgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "secret.h"
#include "text.h"

/* Appends OpenSSL's queued error text to err's message, so a failure says why. */
static int ossl_fail(struct em_err *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return em_err_set(err, EM_E_INTERNAL, "%s: %s", what, buf);
}

static char *bio_to_str(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || !data)
		return NULL;
	return strndup(data, (size_t)n);
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct em_err *err)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

	if (!ext)
		return ossl_fail(err, "X509V3_EXT_conf_nid");
	if (!X509_add_ext(x, ext, -1)) {
		X509_EXTENSION_free(ext);
		return ossl_fail(err, "X509_add_ext");
	}
	X509_EXTENSION_free(ext);
	return 0;
}

/* A random positive 127-bit serial, as RFC 5280 asks for (<= 20 octets). */
static int set_serial(X509 *x, struct em_err *err)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ossl_fail(err, "RAND_bytes");
	raw[0] &= 0x7f;
	raw[0] |= 0x01;   /* never zero, never negative */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		ossl_fail(err, "serial number");
		goto out;
	}
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* Builds and signs one certificate. issuer == NULL makes it self-signed
 * (signed by key). san == NULL for none. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int days,
		       bool ca, const char *san, struct em_err *err)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;

	if (!x) {
		ossl_fail(err, "X509_new");
		return NULL;
	}
	if (!X509_set_version(x, 2) || set_serial(x, err) != 0)
		goto out;
	/* An hour of slack for clocks that lag behind this machine's. */
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL)) {
		ossl_fail(err, "validity");
		goto out;
	}
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
		ossl_fail(err, "subject");
		goto out;
	}
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(x, key)) {
		ossl_fail(err, "issuer/public key");
		goto out;
	}

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE", err) ||
	    add_ext(x, &ctx, NID_key_usage,
		    ca ? "critical,keyCertSign,cRLSign"
		       : (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? "critical,digitalSignature,keyEncipherment"
								    : "critical,digitalSignature"),
		    err) ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err))
		goto out;
	/* The subject key id must exist before a self-signed AKID can copy it. */
	if (add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err))
		goto out;
	if (!ca && add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err))
		goto out;
	if (san && add_ext(x, &ctx, NID_subject_alt_name, san, err))
		goto out;

	if (!X509_sign(x, issuer_key, EVP_sha256())) {
		ossl_fail(err, "X509_sign");
		goto out;
	}
	return x;
out:
	X509_free(x);
	return NULL;
}

static EVP_PKEY *gen_key(enum em_keytype kt, struct em_err *err)
{
	EVP_PKEY *k = kt == EM_KEY_RSA_2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");

	if (!k)
		ossl_fail(err, "key generation");
	return k;
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x))
		s = bio_to_str(b);
	BIO_free(b);
	return s;
}

/* PKCS#8 PEM, through OpenSSL's secure heap when it has one; the BIO's copy is wiped. */
static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_secmem() ? BIO_s_secmem() : BIO_s_mem());
	char *s = NULL, *data = NULL;
	long n;

	if (!b)
		return NULL;
	if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		s = bio_to_str(b);
	n = BIO_get_mem_data(b, &data);
	if (n > 0 && data)
		em_wipe(data, (size_t)n);
	BIO_free(b);
	return s;
}

void em_certs_free(struct em_certs *c)
{
	if (!c)
		return;
	free(c->ca_crt);
	free(c->tls_crt);
	em_free_secret(c->tls_key);
	memset(c, 0, sizeof(*c));
}

int em_certs_generate(const char *service, const char *ns, int days, enum em_keytype kt,
		      struct em_certs *out, struct em_err *err)
{
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *crt = NULL;
	char cn[160], ca_cn[200], san[512];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!em_dns1123_label(service))
		return em_err_set(err, EM_E_CONFIG, "--service: \"%s\" is not a DNS-1123 label", service ? service : "");
	if (!em_dns1123_label(ns))
		return em_err_set(err, EM_E_CONFIG, "--namespace: \"%s\" is not a DNS-1123 label", ns ? ns : "");
	if (days < 1 || days > EM_CERTS_MAX_DAYS)
		return em_err_set(err, EM_E_CONFIG, "--days: %d is not in 1..%d", days, EM_CERTS_MAX_DAYS);

	snprintf(cn, sizeof(cn), "%s.%s.svc", service, ns);
	/* Timestamped like kubeadm's CAs, so two generations are told apart. */
	snprintf(ca_cn, sizeof(ca_cn), "%s-ca@%lld", service, (long long)time(NULL));
	snprintf(san, sizeof(san), "DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local,DNS:%s.%s,DNS:%s", service, ns,
		 service, ns, service, ns, service);

	if (!(ca_key = gen_key(kt, err)) || !(key = gen_key(kt, err)))
		goto out;
	if (!(ca = make_cert(ca_key, ca_cn, NULL, ca_key, days, true, NULL, err)))
		goto out;
	if (!(crt = make_cert(key, cn, ca, ca_key, days, false, san, err)))
		goto out;
	out->ca_crt = cert_pem(ca);
	out->tls_crt = cert_pem(crt);
	out->tls_key = key_pem(key);
	if (!out->ca_crt || !out->tls_crt || !out->tls_key) {
		ossl_fail(err, "PEM encoding");
		goto out;
	}
	rc = 0;
out:
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	if (rc != 0)
		em_certs_free(out);
	return rc;
}

int em_certs_selfsigned(char **cert, char **key, struct em_err *err)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	char host[256] = "localhost", san[512];
	int rc = -1;

	*cert = *key = NULL;
	if (gethostname(host, sizeof(host) - 1) != 0 || strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(host))
		snprintf(host, sizeof(host), "localhost");
	snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1", host);
	if (!(k = gen_key(EM_KEY_ECDSA_P256, err)) || !(x = make_cert(k, "extmetrics", NULL, k, 365, false, san, err)))
		goto out;
	*cert = cert_pem(x);
	*key = key_pem(k);
	if (!*cert || !*key) {
		ossl_fail(err, "PEM encoding");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0) {
		free(*cert);
		em_free_secret(*key);
		*cert = *key = NULL;
		em_err_prefix(err, "cannot make a self-signed certificate");
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}
