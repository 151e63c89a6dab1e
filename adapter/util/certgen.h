/* certgen.h - certificates made with OpenSSL: the APIService's CA and serving pair (gen-certs), serve's self-signed one. */
#ifndef EM_CERTGEN_H
#define EM_CERTGEN_H

#include "err.h"

enum em_keytype { EM_KEY_ECDSA_P256 = 0, EM_KEY_RSA_2048 };

#define EM_CERTS_MAX_DAYS 36500

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

/* An ECDSA P-256 key and a self-signed serving certificate (CN extmetrics)
 * for localhost, the host name, 127.0.0.1 and ::1, valid for a year: what
 * serve uses without configured TLS files. PEM strings are malloc'd; free
 * the key with em_free_secret. 0 or -1 with err set. */
int em_certs_selfsigned(char **cert_pem, char **key_pem, struct em_err *err);

#endif
