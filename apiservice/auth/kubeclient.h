/* kubeclient.h - a small HTTPS client for the Kubernetes API: in-cluster defaults, token file, fail-fast back-off. */
#ifndef EM_KUBECLIENT_H
#define EM_KUBECLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "adapter/util/err.h"

#define EM_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct em_kube;

/* url NULL: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an
 * error when unset). ca_file NULL: the ServiceAccount's ca.crt when it
 * exists, else the system CAs. token_file NULL: the ServiceAccount's token
 * when it exists, else no Authorization header. The token file is re-read at
 * every call (projected tokens rotate). */
struct em_kube *em_kube_new(const char *url, const char *ca_file, const char *token_file, int64_t timeout_ms,
			    struct em_err *err);
void em_kube_free(struct em_kube *k);   /* NULL-safe */
const char *em_kube_url(const struct em_kube *k);

/* POSTs body (JSON) to path, or GETs path when body is NULL. Returns 0 with
 * *resp (malloc'd) for a 2xx answer; otherwise -1 with err
 * (EM_E_UNAVAILABLE), logged once with back-off. After a failure, calls
 * fail at once (fail closed) for a back-off of 1 s doubling up to 5 s, so a
 * down API does not hold every request for the timeout. Thread-safe. */
int em_kube_call(struct em_kube *k, const char *path, const char *body, char **resp, struct em_err *err);

/* https://HOST:PORT with brackets around an IPv6 host; -1 when host or port
 * is missing or out of place. */
int em_kube_incluster_url(const char *host, const char *port, char *out, size_t cap);

#endif
