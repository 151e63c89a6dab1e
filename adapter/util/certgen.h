/* gencerts.h - `extmetrics gen-certs`: a CA and an APIService serving certificate made with OpenSSL. */
#ifndef EM_GENCERTS_H
#define EM_GENCERTS_H

#include <stdbool.h>

#include "err.h"

enum em_keytype { EM_KEY_ECDSA_P256 = 0, EM_KEY_RSA_2048 };

/* PEM texts of one generated set. The CA's private key is not kept: it is
 * used once to sign and then freed, so nothing can mint more certificates
 * that the APIService would trust. Rotation = run gen-certs again. */
struct em_certs {
	char *ca_crt;
	char *tls_crt;
	char *tls_key;   /* PKCS#8 */
};

/* Creates a self-signed CA and a serving certificate signed by it, valid for
 * `days` days (both), subject CN NAME.NS.svc, SANs NAME.NS.svc,
 * NAME.NS.svc.cluster.local, NAME.NS and NAME, EKU serverAuth. service and ns
 * must be DNS-1123 labels. 0 or -1 with err set. */
int em_certs_generate(const char *service, const char *ns, int days, enum em_keytype kt,
		      struct em_certs *out, struct em_err *err);
void em_certs_free(struct em_certs *c);                /* NULL-safe; leaves c zeroed */

/* Returns malloc'd YAML: a kubernetes.io/tls Secret (tls.crt, tls.key,
 * ca.crt), or the APIService v1beta1.external.metrics.k8s.io merge patch
 * setting spec.caBundle. NULL when out of memory. */
char *em_certs_secret_yaml(const struct em_certs *c, const char *secret_name, const char *ns);
char *em_certs_apiservice_patch(const struct em_certs *c);

/* True when s is a DNS-1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends. */
bool em_dns1123_label(const char *s);

/* `extmetrics gen-certs --service NAME --namespace NS [--out DIR] [--days N]
 * [--secret-name S] [--key-type ecdsa|rsa]`. Exit codes: 0 written,
 * 1 failure (OpenSSL or I/O, message on stderr), 2 usage error. */
int em_cmd_gen_certs(int argc, char **argv);

#endif
