/* gen_certs.c - `extmetrics gen-certs`: the CA and serving certificate of the APIService as files and manifests. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "adapter/util/certgen.h"
#include "adapter/util/secret.h"
#include "adapter/util/text.h"

#define DEFAULT_DAYS 365

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
		goto out;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	return 0;
out:
	em_err_set(err, EM_E_INTERNAL, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* mkdir -p: the directories of path that are missing, the last one with
 * mode (it will hold a private key), the others as umask says. An
 * existing directory is used as it is. 0, or -1 with err naming the part. */
static int make_dirs(const char *path, mode_t mode, struct em_err *err)
{
	char buf[4096];
	size_t n = strlen(path);
	struct stat st;

	if (n == 0 || n >= sizeof(buf))
		return em_err_set(err, EM_E_INTERNAL, "--out: \"%.200s\" is not a usable directory name", path);
	memcpy(buf, path, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(buf, last ? mode : 0777) != 0 && errno != EEXIST)
			return em_err_set(err, EM_E_INTERNAL, "%s: cannot create the directory: %s", buf, strerror(errno));
		if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
			return em_err_set(err, EM_E_INTERNAL, "%s: not a directory", buf);
		if (last)
			return 0;
		*p = '/';
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: extmetrics gen-certs --service NAME --namespace NS [--out DIR] [--days N]\n"
		"                            [--secret-name NAME] [--key-type ecdsa|rsa]\n"
		"Creates a CA and a serving certificate for the APIService's Service NAME in NS\n"
		"(SANs NAME.NS.svc, NAME.NS.svc.cluster.local, NAME.NS, NAME; EKU serverAuth) and writes\n"
		"into DIR (default .; made when missing, as mkdir -p, DIR itself with mode 0700): tls.crt,\n"
		"tls.key (0600), ca.crt, secret.yaml (0600; a kubernetes.io/tls Secret named --secret-name,\n"
		"default NAME-tls) and apiservice-patch.yaml (spec.caBundle for\n"
		"v1beta1.external.metrics.k8s.io). --days (default %d) applies to both\n"
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
			if (errno || end == optarg || *end || v < 1 || v > EM_CERTS_MAX_DAYS) {
				fprintf(stderr, "gen-certs: --days: \"%s\" is not a number of days in 1..%d\n", optarg,
					EM_CERTS_MAX_DAYS);
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
		default:
			return em_cli_getopt_other("gen-certs", c, argv, usage);
		}
	}
	if (em_cli_getopt_rest("gen-certs", argc, argv) != 0)
		return 2;
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
	if (make_dirs(dir, 0700, &err) != 0) {
		fprintf(stderr, "gen-certs: %s\n", err.msg);
		return 1;
	}
	if (em_certs_generate(service, ns, days, kt, &certs, &err) != 0)
		goto out;
	secret_yaml = em_certs_secret_yaml(&certs, secret, ns);
	patch = em_certs_apiservice_patch(&certs);
	if (!secret_yaml || !patch) {
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	if (write_file(dir, "tls.key", certs.tls_key, 0600, &err) || write_file(dir, "tls.crt", certs.tls_crt, 0644, &err) ||
	    write_file(dir, "ca.crt", certs.ca_crt, 0644, &err) ||
	    write_file(dir, "secret.yaml", secret_yaml, 0600, &err) ||
	    write_file(dir, "apiservice-patch.yaml", patch, 0644, &err))
		goto out;
	printf("wrote %s/{tls.crt,tls.key,ca.crt,secret.yaml,apiservice-patch.yaml} for %s.%s.svc, valid %d days\n", dir,
	       service, ns, days);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "gen-certs: %s\n", err.msg);
	em_free_secret(secret_yaml);
	free(patch);
	em_certs_free(&certs);
	return rc;
}
