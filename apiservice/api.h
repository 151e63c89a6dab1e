/* api.h - the Kubernetes-facing routes and their one table, independent of the HTTP library. */
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

/* ---- the route table (routes.c) ----------------------------------------
 * One row per route, read by routing (em_api_handle), authorization
 * (apiservice/auth: who may call it) and accounting (server.c: the label of
 * extmetrics_http_requests_total). */

/* Who may call a route. */
enum em_path_kind {
	EM_PATH_HEALTH,      /* anyone: no authentication */
	EM_PATH_DISCOVERY,   /* any authenticated user (Kubernetes' system:discovery paths) */
	EM_PATH_METRIC,      /* a resource request: the authorizer decides (SubjectAccessReview, static rules) */
	EM_PATH_OTHER,       /* a non-resource request: the authorizer decides */
};

enum em_route_match {
	EM_ROUTE_EXACT,      /* the path itself */
	EM_ROUTE_DIR,        /* the path, with or without one trailing slash */
	EM_ROUTE_TREE,       /* the path or below it, at most .depth segments deeper (-1: any) */
	EM_ROUTE_PARAMS,     /* the path where each {name} is one non-empty segment, captured */
	EM_ROUTE_ANY,        /* everything (the last row) */
};

#define EM_ROUTE_MAX_PARAMS 2

/* The {name} segments of an EM_ROUTE_PARAMS match, in order (not
 * NUL-terminated: they point into the path). */
struct em_route_params {
	const char *v[EM_ROUTE_MAX_PARAMS];
	size_t len[EM_ROUTE_MAX_PARAMS];
	size_t n;
};

struct em_route {
	const char *path;
	enum em_route_match match;
	int depth;                      /* EM_ROUTE_TREE */
	enum em_path_kind access;
	const char *label;              /* handler label in extmetrics_http_requests_total */
	bool plain;                     /* answers text/plain: no Accept negotiation */
	/* Fills resp; NULL: 404 NotFound (a path authorization knows, nothing served) */
	void (*serve)(struct em_registry *reg, const struct em_api_req *req, const struct em_route_params *params,
		      struct em_api_resp *resp);
};

/* The route of path: the first row that matches (the last matches
 * everything). params, when non-NULL, gets its {name} segments. */
const struct em_route *em_route_find(const char *path, struct em_route_params *params);

#endif
