/* api.h - the Kubernetes-facing routes, independent of the HTTP library. */
#ifndef EM_API_H
#define EM_API_H

#include <stdbool.h>

#include "adapter/registry.h"

struct em_api_req {
	const char *method;
	const char *path;              /* percent-decoded by the HTTP layer or not: both work */
	const char *accept;            /* NULL when absent */
	const char *label_selector;    /* NULL when absent */
	const char *user;              /* authenticated user, for messages; NULL = anonymous */
	struct em_waiter *waiter;      /* non-NULL: park instead of blocking for a first sample */
};

struct em_api_resp {
	int code;
	char *body;                    /* malloc'd */
	const char *content_type;
	const char *handler;           /* label for extmetrics_http_requests_total */
	bool suspend;                  /* no answer yet: park the request, em_registry_wait_arm(), ask again */
};

/* Answers one request from memory (the registry's cache). Never blocks on a
 * backend except for a metric's very first sample (bounded by its timeout). */
void em_api_handle(struct em_registry *reg, const struct em_api_req *req, struct em_api_resp *resp);

/* Splits /apis/external.metrics.k8s.io/v1beta1/namespaces/NS/METRIC; returns
 * true and writes decoded ns and metric (caller frees) when path is one. */
bool em_api_metric_path(const char *path, char **ns, char **metric);

#endif
