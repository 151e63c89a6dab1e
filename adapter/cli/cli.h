/* cli.h - the extmetrics commands, one file each. */
#ifndef EM_CLI_H
#define EM_CLI_H

struct em_certs;
struct em_scaler;

/* `extmetrics gen-certs --service NAME --namespace NS [--out DIR] [--days N]
 * [--secret-name S] [--key-type ecdsa|rsa]`. Exit codes: 0 written,
 * 1 failure (OpenSSL or I/O, message on stderr), 2 usage error. */
int em_cmd_gen_certs(int argc, char **argv);
/* Returns malloc'd YAML: a kubernetes.io/tls Secret (tls.crt, tls.key,
 * ca.crt), or the APIService v1beta1.external.metrics.k8s.io merge patch
 * setting spec.caBundle. NULL when out of memory. */
char *em_certs_secret_yaml(const struct em_certs *c, const char *secret_name, const char *ns);
char *em_certs_apiservice_patch(const struct em_certs *c);

/* `extmetrics scalers [TYPE]`: option tables as Markdown. */
void em_scalerdoc_print(const struct em_scaler *sc);
int em_cmd_scalers(int argc, char **argv);

#endif
