/* test_gencerts.c - gen-certs: chain, SANs, usages, validity, key types, files and modes, usage errors. */
#include "harness.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "adapter/cli/cli.h"
#include "adapter/util/certgen.h"
#include "adapter/util/secret.h"
#include "adapter/util/text.h"

static X509 *load_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static EVP_PKEY *load_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

/* Verifies leaf against ca as a TLS server certificate for host. */
static int verify_for_host(X509 *ca, X509 *leaf, const char *host)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		printf("#   verify %s: %s\n", host, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

static void check_set(enum em_keytype kt, int expect_pkey_id)
{
	struct em_certs c;
	struct em_err err = {0};
	X509 *ca, *leaf;
	EVP_PKEY *key;

	EXPECT_INT(em_certs_generate("extmetrics", "monitoring", 30, kt, &c, &err), 0);
	if (!c.ca_crt) {
		TH_FAIL("generate failed: %s", err.msg);
		return;
	}
	ca = load_cert(c.ca_crt);
	leaf = load_cert(c.tls_crt);
	key = load_key(c.tls_key);
	EXPECT(ca && leaf && key);
	if (!ca || !leaf || !key)
		goto out;
	EXPECT(strstr(c.tls_key, "-----BEGIN PRIVATE KEY-----") != NULL);   /* PKCS#8 */
	EXPECT_INT(EVP_PKEY_get_base_id(key), expect_pkey_id);
	EXPECT_INT(X509_check_private_key(leaf, key), 1);
	if (expect_pkey_id == EVP_PKEY_RSA)
		EXPECT_INT(EVP_PKEY_get_bits(key), 2048);
	else
		EXPECT_INT(EVP_PKEY_get_bits(key), 256);

	/* Every name the aggregator or a client may dial, and nothing else. */
	EXPECT_INT(verify_for_host(ca, leaf, "extmetrics.monitoring.svc"), 1);
	EXPECT_INT(verify_for_host(ca, leaf, "extmetrics.monitoring.svc.cluster.local"), 1);
	EXPECT_INT(verify_for_host(ca, leaf, "extmetrics.monitoring"), 1);
	EXPECT_INT(verify_for_host(ca, leaf, "extmetrics"), 1);
	EXPECT_INT(X509_check_host(leaf, "other.monitoring.svc", 0, 0, NULL), 0);
	EXPECT_INT(X509_check_host(leaf, "extmetrics.default.svc", 0, 0, NULL), 0);

	/* CA vs leaf constraints and usages. */
	EXPECT_INT(X509_check_ca(ca), 1);
	EXPECT_INT(X509_check_ca(leaf), 0);
	EXPECT((X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) != 0);
	EXPECT((X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT) == 0);
	EXPECT((X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) != 0);
	EXPECT((X509_get_key_usage(ca) & KU_KEY_CERT_SIGN) != 0);
	EXPECT_INT(X509_get_version(leaf), 2);

	/* Validity: starts no later than now, ends 30 days (+- a minute) from now. */
	{
		int pday = 0, psec = 0;
		time_t now = time(NULL);
		EXPECT(X509_cmp_time(X509_get0_notBefore(leaf), &now) < 0);
		EXPECT_INT(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(leaf)), 1);
		EXPECT(pday == 30 || (pday == 29 && psec > 86340));
		EXPECT_INT(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(ca)), 1);
		EXPECT(pday == 30 || (pday == 29 && psec > 86340));
	}

	/* Signed by the CA, not self-signed. */
	EXPECT_INT(X509_check_issued(ca, leaf), X509_V_OK);
	EXPECT(X509_check_issued(leaf, leaf) != X509_V_OK);
out:
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(key);
	em_certs_free(&c);
	EXPECT(c.ca_crt == NULL && c.tls_key == NULL);
}

TEST(ecdsa_chain_sans_usages)
{
	check_set(EM_KEY_ECDSA_P256, EVP_PKEY_EC);
}

TEST(rsa_chain_sans_usages)
{
	check_set(EM_KEY_RSA_2048, EVP_PKEY_RSA);
}

/* serve's certificate when no TLS files are configured. */
TEST(self_signed_serving_certificate)
{
	struct em_err err = {0};
	char *crt = NULL, *pem = NULL;
	X509 *x;
	EVP_PKEY *k;

	EXPECT_INT(em_certs_selfsigned(&crt, &pem, &err), 0);
	if (!crt || !pem) {
		TH_FAIL("selfsigned failed: %s", err.msg);
		return;
	}
	x = load_cert(crt);
	k = load_key(pem);
	EXPECT(x && k);
	if (x && k) {
		EXPECT_INT(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
		EXPECT_INT(X509_check_private_key(x, k), 1);
		/* self-signed: its own issuer, signed by its own key */
		EXPECT_INT(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)), 0);
		EXPECT_INT(X509_verify(x, k), 1);
		EXPECT_INT(X509_check_ca(x), 0);
		EXPECT_INT(verify_for_host(x, x, "localhost"), 1);
		EXPECT_INT(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
		EXPECT_INT(X509_check_ip_asc(x, "::1", 0), 1);
		EXPECT_INT(X509_check_host(x, "example.com", 0, 0, NULL), 0);
		EXPECT((X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);
		{
			int pday = 0, psec = 0;
			EXPECT_INT(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(x)), 1);
			EXPECT(pday == 365 || (pday == 364 && psec > 86340));
		}
	}
	X509_free(x);
	EVP_PKEY_free(k);
	free(crt);
	em_free_secret(pem);
}

TEST(two_runs_give_distinct_cas_and_serials)
{
	struct em_certs a, b;
	struct em_err err = {0};
	X509 *xa, *xb;

	EXPECT_INT(em_certs_generate("s", "n", 1, EM_KEY_ECDSA_P256, &a, &err), 0);
	EXPECT_INT(em_certs_generate("s", "n", 1, EM_KEY_ECDSA_P256, &b, &err), 0);
	if (!a.tls_crt || !b.tls_crt)
		return;
	EXPECT(strcmp(a.ca_crt, b.ca_crt) != 0);
	xa = load_cert(a.tls_crt);
	xb = load_cert(b.tls_crt);
	EXPECT(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa), X509_get0_serialNumber(xb)) != 0);
	EXPECT(ASN1_INTEGER_get(X509_get0_serialNumber(xa)) != 0);
	X509_free(xa);
	X509_free(xb);
	em_certs_free(&a);
	em_certs_free(&b);
	em_certs_free(NULL);
}

TEST(rejects_bad_names_and_days)
{
	static const char *bad[] = {"", "Ext", "a_b", "-a", "a-", "a.b",
				    "a234567890123456789012345678901234567890123456789012345678901234"};
	struct em_certs c;
	struct em_err err = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT(!em_dns1123_label(bad[i]));
		EXPECT_INT(em_certs_generate(bad[i], "ns", 1, EM_KEY_ECDSA_P256, &c, &err), -1);
		EXPECT(strstr(err.msg, "--service") != NULL);
		EXPECT_INT(em_certs_generate("svc", bad[i], 1, EM_KEY_ECDSA_P256, &c, &err), -1);
		EXPECT(strstr(err.msg, "--namespace") != NULL);
	}
	EXPECT(em_dns1123_label("a"));
	EXPECT(em_dns1123_label("a-1"));
	EXPECT(em_dns1123_label("a23456789012345678901234567890123456789012345678901234567890123"));
	EXPECT_INT(em_certs_generate("svc", "ns", 0, EM_KEY_ECDSA_P256, &c, &err), -1);
	EXPECT(strstr(err.msg, "--days") != NULL);
	EXPECT_INT(em_certs_generate("svc", "ns", 36501, EM_KEY_ECDSA_P256, &c, &err), -1);
}

/* Decodes the base64 value of `key: ` on its own line in yaml. */
static char *yaml_b64(const char *yaml, const char *key)
{
	char pat[64];
	const char *p, *end;
	unsigned char *out;
	int n;

	snprintf(pat, sizeof(pat), "\n  %s: ", key);
	p = strstr(yaml, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	end = strchr(p, '\n');
	if (!end)
		return NULL;
	out = calloc(1, (size_t)(end - p) + 1);
	n = EVP_DecodeBlock(out, (const unsigned char *)p, (int)(end - p));
	if (n < 0) {
		free(out);
		return NULL;
	}
	return (char *)out;
}

TEST(secret_and_patch_carry_the_pems)
{
	struct em_certs c;
	struct em_err err = {0};
	char *sec, *patch, *v;

	EXPECT_INT(em_certs_generate("extmetrics", "extmetrics", 2, EM_KEY_ECDSA_P256, &c, &err), 0);
	if (!c.tls_crt)
		return;
	sec = em_certs_secret_yaml(&c, "extmetrics-tls", "extmetrics");
	patch = em_certs_apiservice_patch(&c);
	EXPECT(sec && patch);
	EXPECT(strstr(sec, "\ntype: kubernetes.io/tls\n") != NULL);
	EXPECT(strstr(sec, "\n  name: extmetrics-tls\n  namespace: extmetrics\n") != NULL);
	v = yaml_b64(sec, "tls.crt");
	/* EVP_DecodeBlock may append up to two NULs for padding: compare as strings. */
	EXPECT(v && strcmp(v, c.tls_crt) == 0);
	free(v);
	v = yaml_b64(sec, "tls.key");
	EXPECT(v && strcmp(v, c.tls_key) == 0);
	free(v);
	v = yaml_b64(sec, "ca.crt");
	EXPECT(v && strcmp(v, c.ca_crt) == 0);
	free(v);
	EXPECT(strstr(patch, "\n  name: v1beta1.external.metrics.k8s.io\n") != NULL);
	v = yaml_b64(patch, "caBundle");
	EXPECT(v && strcmp(v, c.ca_crt) == 0);
	free(v);
	free(sec);
	free(patch);
	em_certs_free(&c);
}

static int mode_of(const char *dir, const char *name)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 0777);
}

static char *slurp(const char *dir, const char *name)
{
	char p[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

TEST(command_writes_files_with_modes)
{
	char dir[] = "/tmp/em-gencerts-XXXXXX";
	char sub[200], p[400];
	char *argv[] = {"gen-certs", "--service", "extmetrics", "--namespace", "extmetrics", "--out", sub,
			"--days", "10", "--secret-name", "my-tls", NULL};
	static const char *files[] = {"tls.crt", "tls.key", "ca.crt", "secret.yaml", "apiservice-patch.yaml"};
	mode_t old = umask(0);   /* a permissive umask must not loosen the key's mode */
	char *key, *crt, *sec;
	X509 *x;
	EVP_PKEY *k;

	if (!mkdtemp(dir)) {
		TH_FAIL("mkdtemp");
		umask(old);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/out", dir);
	EXPECT_INT(em_cmd_gen_certs(11, argv), 0);
	umask(old);
	EXPECT_INT(mode_of(sub, "tls.key"), 0600);
	EXPECT_INT(mode_of(sub, "secret.yaml"), 0600);
	EXPECT_INT(mode_of(sub, "tls.crt"), 0644);
	EXPECT_INT(mode_of(sub, "ca.crt"), 0644);
	EXPECT_INT(mode_of(sub, "apiservice-patch.yaml"), 0644);
	key = slurp(sub, "tls.key");
	crt = slurp(sub, "tls.crt");
	sec = slurp(sub, "secret.yaml");
	x = crt ? load_cert(crt) : NULL;
	k = key ? load_key(key) : NULL;
	EXPECT(x && k && X509_check_private_key(x, k) == 1);
	EXPECT(sec && strstr(sec, "  name: my-tls\n") != NULL);

	/* A second run rotates: a new key replaces the old one, mode kept 0600. */
	EXPECT_INT(em_cmd_gen_certs(11, argv), 0);
	{
		char *key2 = slurp(sub, "tls.key");
		EXPECT(key2 && key && strcmp(key, key2) != 0);
		free(key2);
	}
	EXPECT_INT(mode_of(sub, "tls.key"), 0600);
	X509_free(x);
	EVP_PKEY_free(k);
	free(key);
	free(crt);
	free(sec);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", sub, files[i]);
		unlink(p);
	}
	rmdir(sub);
	rmdir(dir);
}

TEST(command_usage_errors)
{
	char *a1[] = {"gen-certs", "--service", "x", NULL};
	char *a2[] = {"gen-certs", "--service", "x", "--namespace", "y", "--days", "0", NULL};
	char *a3[] = {"gen-certs", "--service", "X_Y", "--namespace", "y", NULL};
	char *a4[] = {"gen-certs", "--bogus", NULL};
	char *a5[] = {"gen-certs", "--service", "x", "--namespace", "y", "--key-type", "dsa", NULL};
	char *a6[] = {"gen-certs", "--service", "x", "--namespace", "y", "extra", NULL};
	char *a7[] = {"gen-certs", "--service", "x", "--namespace", "y", "--out", "/proc/nonexistent/dir", NULL};

	EXPECT_INT(em_cmd_gen_certs(3, a1), 2);
	EXPECT_INT(em_cmd_gen_certs(7, a2), 2);
	EXPECT_INT(em_cmd_gen_certs(5, a3), 2);
	EXPECT_INT(em_cmd_gen_certs(2, a4), 2);
	EXPECT_INT(em_cmd_gen_certs(7, a5), 2);
	EXPECT_INT(em_cmd_gen_certs(6, a6), 2);
	EXPECT_INT(em_cmd_gen_certs(7, a7), 1);
}
