/* gencerts.c - `extmetrics gen-certs`: a CA and an APIService serving certificate made with OpenSSL. */
#include "certgen.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "secret.h"

#define DEFAULT_DAYS 365
#define MAX_DAYS 36500

bool em_dns1123_label(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

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
		goto fail;
	}
	rc = 0;
fail:
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
		goto fail;
	/* An hour of slack for clocks that lag behind this machine's. */
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL)) {
		ossl_fail(err, "validity");
		goto fail;
	}
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
		ossl_fail(err, "subject");
		goto fail;
	}
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(x, key)) {
		ossl_fail(err, "issuer/public key");
		goto fail;
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
		goto fail;
	/* The subject key id must exist before a self-signed AKID can copy it. */
	if (add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err))
		goto fail;
	if (!ca && add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err))
		goto fail;
	if (san && add_ext(x, &ctx, NID_subject_alt_name, san, err))
		goto fail;

	if (!X509_sign(x, issuer_key, EVP_sha256())) {
		ossl_fail(err, "X509_sign");
		goto fail;
	}
	return x;
fail:
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
	BIO *kb = NULL;
	char cn[160], ca_cn[200], san[512];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!em_dns1123_label(service))
		return em_err_set(err, EM_E_CONFIG, "--service: \"%s\" is not a DNS-1123 label", service ? service : "");
	if (!em_dns1123_label(ns))
		return em_err_set(err, EM_E_CONFIG, "--namespace: \"%s\" is not a DNS-1123 label", ns ? ns : "");
	if (days < 1 || days > MAX_DAYS)
		return em_err_set(err, EM_E_CONFIG, "--days: %d is not in 1..%d", days, MAX_DAYS);

	snprintf(cn, sizeof(cn), "%s.%s.svc", service, ns);
	/* Timestamped like kubeadm's CAs, so two generations are told apart. */
	snprintf(ca_cn, sizeof(ca_cn), "%s-ca@%lld", service, (long long)time(NULL));
	snprintf(san, sizeof(san), "DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local,DNS:%s.%s,DNS:%s", service, ns,
		 service, ns, service, ns, service);

	if (!(ca_key = gen_key(kt, err)) || !(key = gen_key(kt, err)))
		goto fail;
	if (!(ca = make_cert(ca_key, ca_cn, NULL, ca_key, days, true, NULL, err)))
		goto fail;
	if (!(crt = make_cert(key, cn, ca, ca_key, days, false, san, err)))
		goto fail;

	out->ca_crt = cert_pem(ca);
	out->tls_crt = cert_pem(crt);
	kb = BIO_new(BIO_s_mem());
	if (kb && PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
		out->tls_key = bio_to_str(kb);
	if (!out->ca_crt || !out->tls_crt || !out->tls_key) {
		ossl_fail(err, "PEM encoding");
		goto fail;
	}
	rc = 0;
fail:
	if (kb) {
		char *data = NULL;
		long n = BIO_get_mem_data(kb, &data);
		if (n > 0 && data)
			OPENSSL_cleanse(data, (size_t)n);
		BIO_free(kb);
	}
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	if (rc != 0)
		em_certs_free(out);
	return rc;
}

/* Base64 without line breaks, as Kubernetes `data:` and caBundle want. */
static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

char *em_certs_secret_yaml(const struct em_certs *c, const char *secret_name, const char *ns)
{
	char *crt = b64(c->tls_crt), *key = b64(c->tls_key), *ca = b64(c->ca_crt);
	char *out = NULL;

	if (crt && key && ca &&
	    asprintf(&out,
		     "# Serving certificate for the extmetrics APIService (extmetrics gen-certs).\n"
		     "apiVersion: v1\n"
		     "kind: Secret\n"
		     "metadata:\n"
		     "  name: %s\n"
		     "  namespace: %s\n"
		     "type: kubernetes.io/tls\n"
		     "data:\n"
		     "  tls.crt: %s\n"
		     "  tls.key: %s\n"
		     "  ca.crt: %s\n",
		     secret_name, ns, crt, key, ca) < 0)
		out = NULL;
	free(crt);
	em_free_secret(key);
	free(ca);
	return out;
}

char *em_certs_apiservice_patch(const struct em_certs *c)
{
	char *ca = b64(c->ca_crt);
	char *out = NULL;

	if (ca &&
	    asprintf(&out,
		     "# Merge patch: trust the generated CA (extmetrics gen-certs).\n"
		     "# kubectl patch apiservice v1beta1.external.metrics.k8s.io --type merge --patch-file apiservice-patch.yaml\n"
		     "apiVersion: apiregistration.k8s.io/v1\n"
		     "kind: APIService\n"
		     "metadata:\n"
		     "  name: v1beta1.external.metrics.k8s.io\n"
		     "spec:\n"
		     "  insecureSkipTLSVerify: false\n"
		     "  caBundle: %s\n",
		     ca) < 0)
		out = NULL;
	free(ca);
	return out;
}

/* Writes DIR/NAME with mode through a temporary file and rename(), so a
 * reader never sees half a key, and an existing file's looser mode is not kept. */
static int write_file(const char *dir, const char *name, const char *text, mode_t mode, struct em_err *err)
{
	char path[4096], tmp[4096];
	size_t len = strlen(text), off = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return em_err_set(err, EM_E_INTERNAL, "%s/%s: path too long", dir, name);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return em_err_set(err, EM_E_INTERNAL, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return 0;
fail:
	em_err_set(err, EM_E_INTERNAL, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: extmetrics gen-certs --service NAME --namespace NS [--out DIR] [--days N]\n"
		"                            [--secret-name NAME] [--key-type ecdsa|rsa]\n"
		"Creates a CA and a serving certificate for the APIService's Service NAME in NS\n"
		"(SANs NAME.NS.svc, NAME.NS.svc.cluster.local, NAME.NS, NAME; EKU serverAuth) and writes\n"
		"into DIR (default .): tls.crt, tls.key (0600), ca.crt, secret.yaml (0600; a\n"
		"kubernetes.io/tls Secret named --secret-name, default NAME-tls) and apiservice-patch.yaml\n"
		"(spec.caBundle for v1beta1.external.metrics.k8s.io). --days (default %d) applies to both\n"
		"certificates; the CA key is discarded after signing: rerun to rotate.\n"
		"Exit codes: 0 written, 1 failure, 2 usage error.\n",
		DEFAULT_DAYS);
}

int em_cmd_gen_certs(int argc, char **argv)
{
	static const struct option opts[] = {
		{"service", required_argument, NULL, 's'},
		{"namespace", required_argument, NULL, 'n'},
		{"out", required_argument, NULL, 'o'},
		{"days", required_argument, NULL, 'd'},
		{"secret-name", required_argument, NULL, 'S'},
		{"key-type", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *service = NULL, *ns = NULL, *dir = ".", *secret = NULL;
	char secret_buf[128];
	enum em_keytype kt = EM_KEY_ECDSA_P256;
	int days = DEFAULT_DAYS, c, rc = 1;
	struct em_certs certs = {0};
	struct em_err err = {0};
	char *secret_yaml = NULL, *patch = NULL;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 's': service = optarg; break;
		case 'n': ns = optarg; break;
		case 'o': dir = optarg; break;
		case 'S': secret = optarg; break;
		case 'd': {
			char *end = NULL;
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > MAX_DAYS) {
				fprintf(stderr, "gen-certs: --days: \"%s\" is not a number of days in 1..%d\n", optarg,
					MAX_DAYS);
				return 2;
			}
			days = (int)v;
			break;
		}
		case 'k':
			if (strcmp(optarg, "ecdsa") == 0) {
				kt = EM_KEY_ECDSA_P256;
			} else if (strcmp(optarg, "rsa") == 0) {
				kt = EM_KEY_RSA_2048;
			} else {
				fprintf(stderr, "gen-certs: --key-type: \"%s\": use ecdsa or rsa\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "gen-certs: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gen-certs: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!service || !ns) {
		fprintf(stderr, "gen-certs: --service and --namespace are required\n");
		usage(stderr);
		return 2;
	}
	if (!em_dns1123_label(service) || !em_dns1123_label(ns)) {
		fprintf(stderr, "gen-certs: --service and --namespace must be DNS-1123 labels (a-z, 0-9, '-')\n");
		return 2;
	}
	if (!secret) {
		snprintf(secret_buf, sizeof(secret_buf), "%s-tls", service);
		secret = secret_buf;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "gen-certs: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (em_certs_generate(service, ns, days, kt, &certs, &err) != 0)
		goto fail;
	secret_yaml = em_certs_secret_yaml(&certs, secret, ns);
	patch = em_certs_apiservice_patch(&certs);
	if (!secret_yaml || !patch) {
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		goto fail;
	}
	if (write_file(dir, "tls.key", certs.tls_key, 0600, &err) || write_file(dir, "tls.crt", certs.tls_crt, 0644, &err) ||
	    write_file(dir, "ca.crt", certs.ca_crt, 0644, &err) ||
	    write_file(dir, "secret.yaml", secret_yaml, 0600, &err) ||
	    write_file(dir, "apiservice-patch.yaml", patch, 0644, &err))
		goto fail;
	printf("wrote %s/{tls.crt,tls.key,ca.crt,secret.yaml,apiservice-patch.yaml} for %s.%s.svc, valid %d days\n", dir,
	       service, ns, days);
	rc = 0;
fail:
	if (rc != 0)
		fprintf(stderr, "gen-certs: %s\n", err.msg);
	em_free_secret(secret_yaml);
	free(patch);
	em_certs_free(&certs);
	return rc;
}
