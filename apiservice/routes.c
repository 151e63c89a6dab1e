/* routes.c - the external.metrics.k8s.io routes and their table: discovery, version, metric values, errors. */
#include "api.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "quantity.h"
#include "selector.h"
#include "status.h"
#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/text.h"

#define GROUP "external.metrics.k8s.io"
#define GV GROUP "/v1beta1"
#define PREFIX "/apis/" GV "/namespaces/"
#define MAX_SELECTOR 4096

/* The platform /version reports, in Go's GOOS/GOARCH words, from the
 * compiler's own macros: the target this binary was built for. */
#if defined(__linux__)
#define GOOS "linux"
#elif defined(__APPLE__)
#define GOOS "darwin"
#elif defined(__FreeBSD__)
#define GOOS "freebsd"
#else
#define GOOS "unknown"
#endif
#if defined(__x86_64__)
#define GOARCH "amd64"
#elif defined(__aarch64__)
#define GOARCH "arm64"
#elif defined(__i386__)
#define GOARCH "386"
#elif defined(__arm__)
#define GOARCH "arm"
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define GOARCH "ppc64le"
#elif defined(__s390x__)
#define GOARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define GOARCH "riscv64"
#else
#define GOARCH "unknown"
#endif

static const char api_group[] =
	"{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"" GROUP "\",\"versions\":[{\"groupVersion\":\"" GV
	"\",\"version\":\"v1beta1\"}],\"preferredVersion\":{\"groupVersion\":\"" GV "\",\"version\":\"v1beta1\"}}";

static const char resource_list[] =
	"{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"" GV "\",\"resources\":[{\"name\":"
	"\"externalmetrics\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"ExternalMetricValueList\","
	"\"verbs\":[\"get\"]}]}\n";

static void set_body(struct em_api_resp *resp, int code, char *body)
{
	resp->code = body ? code : 500;
	resp->body = body;
	resp->content_type = "application/json";
}

static void set_error(struct em_api_resp *resp, const struct em_err *err)
{
	set_body(resp, em_status_code(err->kind), em_status_json(err));
}

static void set_static(struct em_api_resp *resp, const char *text)
{
	set_body(resp, 200, strdup(text));
}

/* JSON is acceptable unless the client lists types and none of them is JSON
 * or a wildcard (protobuf-first clients also list * / *). */
static bool accepts_json(const char *accept)
{
	const char *p = accept;

	if (!accept || !*accept)
		return true;
	while (*p) {
		size_t n;
		char type[128];
		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ",;");
		snprintf(type, sizeof(type), "%.*s", (int)n, p);
		for (char *e = type + strlen(type); e > type && e[-1] == ' ';)
			*--e = '\0';
		if (strcasecmp(type, "application/json") == 0 || strcasecmp(type, "*/*") == 0 ||
		    strcasecmp(type, "application/*") == 0)
			return true;
		p += n;
		p += strcspn(p, ",");
	}
	return false;
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct em_kv *)a)->key, ((const struct em_kv *)b)->key);
}

/* Adds the labels of add to out; an existing key is replaced only with override. */
static void merge_labels(struct em_kv *out, size_t *n, size_t cap, const struct em_kvlist *add, bool override)
{
	for (size_t i = 0; add && i < add->n; i++) {
		size_t j;
		for (j = 0; j < *n; j++)
			if (strcmp(out[j].key, add->items[i].key) == 0)
				break;
		if (j < *n && !override)
			continue;
		if (j == *n) {
			if (*n == cap)
				continue;
			(*n)++;
		}
		out[j] = add->items[i];
	}
}

/* A series' metricLabels, sorted: the metric's static labels, then the
 * series' own (which win), then the selector's equality requirements on keys
 * neither has (KEDA-style selectors name the HPA, not the series). A
 * requirement never overrides a label: team=ops does not match team: data. */
static size_t series_labels(struct em_kv *out, size_t cap, const struct em_kvlist *static_labels,
			    const struct em_kvlist *own, const struct em_kvlist *eq)
{
	size_t n = 0;

	merge_labels(out, &n, cap, static_labels, true);
	merge_labels(out, &n, cap, own, true);
	merge_labels(out, &n, cap, eq, false);
	qsort(out, n, sizeof(out[0]), cmp_kv);
	return n;
}

/* The own labels (static + series) of the first few series, for the 404 of
 * a selector that matches none: "{k=v,k=v}, {k=v} and 2 more". */
static void describe_series(struct em_strbuf *sb, const struct em_sample *s, const struct em_kvlist *static_labels)
{
	struct em_kv labels[128];
	size_t n = s->n_series ? s->n_series : 1;

	for (size_t i = 0; i < n && i < 3; i++) {
		size_t nl = series_labels(labels, 128, static_labels, s->n_series ? &s->series[i].labels : NULL, NULL);
		em_sb_puts(sb, i ? ", {" : "{");
		for (size_t j = 0; j < nl; j++)
			em_sb_printf(sb, "%s%s=%s", j ? "," : "", labels[j].key, labels[j].value);
		em_sb_puts(sb, "}");
	}
	if (n > 3)
		em_sb_printf(sb, " and %zu more", n - 3);
}

static void add_item(struct em_strbuf *sb, bool *first, const char *metric, const struct em_kv *labels, size_t nl,
		     const char *ts, double value)
{
	char q[64];

	em_quantity_format(value, q, sizeof(q));
	em_sb_puts(sb, *first ? "" : ",");
	*first = false;
	em_sb_puts(sb, "{\"metricName\":");
	em_sb_json_str(sb, metric);
	em_sb_puts(sb, ",\"metricLabels\":{");
	for (size_t i = 0; i < nl; i++) {
		em_sb_puts(sb, i ? "," : "");
		em_sb_json_str(sb, labels[i].key);
		em_sb_puts(sb, ":");
		em_sb_json_str(sb, labels[i].value);
	}
	em_sb_printf(sb, "},\"timestamp\":\"%s\",\"value\":\"%s\"}", ts, q);
}

static void handle_metric(struct em_registry *reg, const struct em_api_req *req, const char *ns, const char *metric,
			  struct em_api_resp *resp)
{
	struct em_selector sel = {0};
	struct em_kvlist eq = {0};
	struct em_lookup lk = {0};
	struct em_err err = {0};
	struct em_strbuf sb;
	struct em_kv labels[128];
	char ts[32];
	bool first = true;
	size_t matched = 0;
	const struct em_sample *s;

	em_sb_init(&sb);
	/* Namespaces are DNS-1123 labels. Checked before anything else: the
	 * name may reach a query through ${namespace}. */
	if (!em_dns1123_label(ns)) {
		em_err_set(&err, EM_E_BADREQUEST,
			   "invalid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric "
			   "characters or '-', and must start and end with an alphanumeric character");
		goto out;
	}
	if (req->label_selector && strlen(req->label_selector) > MAX_SELECTOR) {
		em_err_set(&err, EM_E_BADREQUEST, "labelSelector is longer than %d bytes", MAX_SELECTOR);
		goto out;
	}
	if (em_selector_parse(req->label_selector, &sel, &err) != 0)
		goto out;
	if (em_selector_equalities(&sel, &eq) != 0) {
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	switch (em_registry_get(reg, ns, metric, &eq, req->waiter, &lk, &err)) {
	case 0:
		break;
	case EM_REG_WAIT:
		resp->suspend = true;
		goto out;
	default:
		goto out;
	}
	s = &lk.served.sample;
	em_rfc3339(lk.served.time_ms, ts, sizeof(ts));
	em_sb_puts(&sb, "{\"kind\":\"ExternalMetricValueList\",\"apiVersion\":\"" GV "\",\"metadata\":{},\"items\":[");
	for (size_t i = 0; i < (s->n_series ? s->n_series : 1); i++) {
		const struct em_kvlist *own = s->n_series ? &s->series[i].labels : NULL;
		struct em_kvlist as_list = {.items = labels};
		as_list.n = series_labels(labels, 128, &lk.def->labels, own, &eq);
		if (!em_selector_matches(&sel, &as_list))
			continue;
		add_item(&sb, &first, metric, labels, as_list.n, ts,
			 !s->active ? 0 : s->n_series ? s->series[i].value : s->value);
		matched++;
	}
	em_sb_puts(&sb, "]}\n");
	if (matched == 0) {
		/* Say what to change: kubectl describe hpa shows this text. */
		em_sb_reset(&sb);
		describe_series(&sb, s, &lk.def->labels);
		em_err_set(&err, EM_E_NOTFOUND,
			   "the server could not find the metric %s for namespace %s: labelSelector \"%s\" matches none "
			   "of its series' labels: %s",
			   metric, ns, req->label_selector ? req->label_selector : "", sb.buf ? sb.buf : "");
		goto out;
	}
	set_body(resp, 200, em_sb_steal(&sb));
out:
	if (err.kind != EM_OK)   /* every failure above set err */
		set_error(resp, &err);
	em_sb_free(&sb);
	em_lookup_release(reg, &lk);
	em_kvlist_free(&eq);
	em_selector_free(&sel);
}

/* ---- the routes ------------------------------------------------------- */

static void serve_health(struct em_registry *reg, const struct em_api_req *req, const struct em_route_params *params,
			 struct em_api_resp *resp)
{
	resp->code = 200;
	resp->body = strdup("ok");
	resp->content_type = "text/plain; charset=utf-8";
}

static void serve_group_list(struct em_registry *reg, const struct em_api_req *req,
			     const struct em_route_params *params, struct em_api_resp *resp)
{
	struct em_strbuf sb;

	/* Plain APIGroupList even for the aggregated-discovery Accept: the
	 * aggregator then falls back to the group-version document. */
	em_sb_init(&sb);
	em_sb_printf(&sb, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[%s]}\n", api_group);
	set_body(resp, 200, em_sb_steal(&sb));
}

static void serve_group(struct em_registry *reg, const struct em_api_req *req, const struct em_route_params *params,
			struct em_api_resp *resp)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_printf(&sb, "%s\n", api_group);
	set_body(resp, 200, em_sb_steal(&sb));
}

static void serve_resources(struct em_registry *reg, const struct em_api_req *req,
			    const struct em_route_params *params, struct em_api_resp *resp)
{
	set_static(resp, resource_list);
}

static void serve_version(struct em_registry *reg, const struct em_api_req *req, const struct em_route_params *params,
			  struct em_api_resp *resp)
{
	set_static(resp, "{\"major\":\"1\",\"minor\":\"30\",\"gitVersion\":\"v1.30.0-extmetrics-" EM_VERSION "\","
			 "\"gitCommit\":\"\",\"gitTreeState\":\"clean\",\"buildDate\":\"\",\"goVersion\":\"\","
			 "\"compiler\":\"gc\",\"platform\":\"" GOOS "/" GOARCH "\"}\n");
}

static void serve_metric(struct em_registry *reg, const struct em_api_req *req, const struct em_route_params *params,
			 struct em_api_resp *resp)
{
	/* The HTTP layer has percent-decoded the path once already. */
	char *ns = strndup(params->v[0], params->len[0]), *metric = strndup(params->v[1], params->len[1]);
	struct em_err err = {0};

	if (ns && metric) {
		handle_metric(reg, req, ns, metric, resp);
	} else {
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		set_error(resp, &err);
	}
	free(ns);
	free(metric);
}

/* First match wins. Paths Kubernetes grants every authenticated user
 * (system:discovery: /api, /apis two levels deep, /openapi, /version) are
 * EM_PATH_DISCOVERY even where nothing is served here. */
static const struct em_route routes[] = {
	/* path                                   match            depth access             label              plain serve */
	{"/healthz",                              EM_ROUTE_EXACT,  0, EM_PATH_HEALTH,    "health",          true,  serve_health},
	{"/livez",                                EM_ROUTE_EXACT,  0, EM_PATH_HEALTH,    "health",          true,  serve_health},
	{"/readyz",                               EM_ROUTE_EXACT,  0, EM_PATH_HEALTH,    "health",          true,  serve_health},
	{"/apis",                                 EM_ROUTE_DIR,    0, EM_PATH_DISCOVERY, "discovery",       false, serve_group_list},
	{"/apis/" GROUP,                          EM_ROUTE_DIR,    0, EM_PATH_DISCOVERY, "discovery",       false, serve_group},
	{"/apis/" GV,                             EM_ROUTE_DIR,    0, EM_PATH_DISCOVERY, "discovery",       false, serve_resources},
	{PREFIX "{namespace}/{metric}",           EM_ROUTE_PARAMS, 0, EM_PATH_METRIC,    "external_metric", false, serve_metric},
	{"/version",                              EM_ROUTE_DIR,    0, EM_PATH_DISCOVERY, "version",         false, serve_version},
	{"/openapi",                              EM_ROUTE_TREE,  -1, EM_PATH_DISCOVERY, "openapi",         false, NULL},
	{"/apis",                                 EM_ROUTE_TREE,   2, EM_PATH_DISCOVERY, "other",           false, NULL},
	{"/api",                                  EM_ROUTE_TREE,   1, EM_PATH_DISCOVERY, "other",           false, NULL},
	{NULL,                                    EM_ROUTE_ANY,    0, EM_PATH_OTHER,     "other",           false, NULL},
};

/* Segments of path below prefix ("/apis/a/b" below "/apis" -> 2); empty
 * ones do not count, so a trailing slash adds none. -1 when path is
 * neither prefix nor below it. */
static int depth_below(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	int segs = 0;
	const char *p;

	if (strncmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return -1;
	for (p = path + n; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		segs++;
		p += strcspn(p, "/");
	}
	return segs;
}

static bool match_params(const char *pat, const char *path, struct em_route_params *params)
{
	params->n = 0;
	while (*pat) {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			size_t n = strcspn(path, "/");
			if (!close || n == 0 || params->n == EM_ROUTE_MAX_PARAMS)
				return false;
			params->v[params->n] = path;
			params->len[params->n++] = n;
			pat = close + 1;
			path += n;
			continue;
		}
		if (*pat != *path)
			return false;
		pat++;
		path++;
	}
	return *path == '\0';
}

static bool route_matches(const struct em_route *r, const char *path, struct em_route_params *params)
{
	size_t n;
	int d;

	switch (r->match) {
	case EM_ROUTE_EXACT:
		return strcmp(path, r->path) == 0;
	case EM_ROUTE_DIR:
		n = strlen(r->path);
		return strncmp(path, r->path, n) == 0 && (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'));
	case EM_ROUTE_TREE:
		d = depth_below(path, r->path);
		return d >= 0 && (r->depth < 0 || d <= r->depth);
	case EM_ROUTE_PARAMS:
		return match_params(r->path, path, params);
	case EM_ROUTE_ANY:
		return true;
	}
	return false;
}

const struct em_route *em_route_find(const char *path, struct em_route_params *params)
{
	struct em_route_params scratch;
	const struct em_route *r = routes;

	if (!params)
		params = &scratch;
	memset(params, 0, sizeof(*params));
	while (!route_matches(r, path, params))
		r++;
	return r;
}

void em_api_handle(struct em_registry *reg, const struct em_api_req *req, struct em_api_resp *resp)
{
	struct em_route_params params;
	const struct em_route *rt = em_route_find(req->path, &params);
	struct em_err err = {0};

	memset(resp, 0, sizeof(*resp));
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		em_err_set(&err, EM_E_METHOD, "the server does not allow this method on the requested resource");
	else if (!rt->plain && !accepts_json(req->accept))
		em_err_set(&err, EM_E_NOTACCEPTABLE, "only the following media types are accepted: application/json");
	else if (!rt->serve)
		em_err_set(&err, EM_E_NOTFOUND, "the server could not find the requested resource");
	else
		rt->serve(reg, req, &params, resp);
	if (err.kind != EM_OK)
		set_error(resp, &err);
	resp->handler = rt->label;
}
