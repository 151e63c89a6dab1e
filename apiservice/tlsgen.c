/* tlsgen.c - a self-signed serving certificate made in memory at start-up (OpenSSL). */
#include "tlsgen.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "adapter/util/secret.h"

static char *bio_to_str(BIO *b)
{
	char *data = NULL, *out;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0)
		return NULL;
	out = malloc((size_t)n + 1);
	if (!out)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

int em_tlsgen_selfsigned(char **cert_pem, char **key_pem, struct em_err *err)
{
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	BIO *cb = NULL, *kb = NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char host[256] = "localhost", san[512];
	int rc = -1;

	*cert_pem = *key_pem = NULL;
	pkey = EVP_EC_gen("P-256");
	cert = X509_new();
	if (!pkey || !cert)
		goto fail;
	X509_set_version(cert, 2);
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto fail;
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
	X509_set_pubkey(cert, pkey);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"extmetrics", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (gethostname(host, sizeof(host) - 1) != 0 || strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(host))
		snprintf(host, sizeof(host), "localhost");
	snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1", host);
	if (add_ext(cert, NID_subject_alt_name, san) || add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") || add_ext(cert, NID_ext_key_usage, "serverAuth"))
		goto fail;
	if (!X509_sign(cert, pkey, EVP_sha256()))
		goto fail;
	cb = BIO_new(BIO_s_mem());
	kb = BIO_new(BIO_s_secmem() ? BIO_s_secmem() : BIO_s_mem());
	if (!cb || !kb || !PEM_write_bio_X509(cb, cert) || !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL))
		goto fail;
	*cert_pem = bio_to_str(cb);
	*key_pem = bio_to_str(kb);
	if (!*cert_pem || !*key_pem)
		goto fail;
	rc = 0;
fail:
	if (rc != 0) {
		free(*cert_pem);
		em_tlsgen_free_key(*key_pem);
		*cert_pem = *key_pem = NULL;
		em_err_set(err, EM_E_INTERNAL, "cannot make a self-signed certificate");
	}
	BN_free(bn);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return rc;
}

void em_tlsgen_free_key(char *key_pem)
{
	if (!key_pem)
		return;
	em_free_secret(key_pem);
}
