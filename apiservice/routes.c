/* routes.c - the external.metrics.k8s.io routes: discovery, version, metric values, errors. */
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

static void set_body(struct em_api_resp *resp, int code, const char *handler, char *body)
{
	resp->code = body ? code : 500;
	resp->body = body;
	resp->content_type = "application/json";
	resp->handler = handler;
}

static void set_error(struct em_api_resp *resp, const char *handler, const struct em_err *err)
{
	set_body(resp, em_status_code(err->kind), handler, em_status_json(err));
}

static void set_static(struct em_api_resp *resp, const char *handler, const char *text)
{
	set_body(resp, 200, handler, strdup(text));
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

bool em_api_metric_path(const char *path, char **ns, char **metric)
{
	const char *rest, *slash;

	*ns = *metric = NULL;
	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0)
		return false;
	rest = path + strlen(PREFIX);
	slash = strchr(rest, '/');
	if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/'))
		return false;
	/* The HTTP layer has percent-decoded the path once already. */
	*ns = strndup(rest, (size_t)(slash - rest));
	*metric = strdup(slash + 1);
	if (!*ns || !*metric) {
		free(*ns);
		free(*metric);
		*ns = *metric = NULL;
		return false;
	}
	return true;
}

static void rfc3339(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct em_kv *)a)->key, ((const struct em_kv *)b)->key);
}

/* Static labels, then selector equalities, then series labels; later ones win. */
static void merge_labels(struct em_kv *out, size_t *n, size_t cap, const struct em_kvlist *add)
{
	for (size_t i = 0; add && i < add->n; i++) {
		size_t j;
		for (j = 0; j < *n; j++)
			if (strcmp(out[j].key, add->items[i].key) == 0)
				break;
		if (j == *n) {
			if (*n == cap)
				continue;
			(*n)++;
		}
		out[j] = add->items[i];
	}
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
		goto fail;
	}
	if (req->label_selector && strlen(req->label_selector) > MAX_SELECTOR) {
		em_err_set(&err, EM_E_BADREQUEST, "labelSelector is longer than %d bytes", MAX_SELECTOR);
		goto fail;
	}
	if (em_selector_parse(req->label_selector, &sel, &err) != 0)
		goto fail;
	if (em_selector_equalities(&sel, &eq) != 0) {
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		goto fail;
	}
	switch (em_registry_get(reg, ns, metric, &eq, req->waiter, &lk, &err)) {
	case 0:
		break;
	case EM_REG_WAIT:
		resp->suspend = true;
		resp->handler = "external_metric";
		goto out;
	default:
		goto fail;
	}
	s = &lk.served.sample;
	rfc3339(lk.served.time_ms, ts, sizeof(ts));
	em_sb_puts(&sb, "{\"kind\":\"ExternalMetricValueList\",\"apiVersion\":\"" GV "\",\"metadata\":{},\"items\":[");
	if (s->n_series == 0) {
		size_t nl = 0;
		struct em_kvlist as_list;
		merge_labels(labels, &nl, 128, &lk.def->labels);
		merge_labels(labels, &nl, 128, &eq);
		qsort(labels, nl, sizeof(labels[0]), cmp_kv);
		as_list.items = labels;
		as_list.n = nl;
		if (em_selector_matches(&sel, &as_list)) {
			add_item(&sb, &first, metric, labels, nl, ts, s->active ? s->value : 0);
			matched++;
		}
	}
	for (size_t i = 0; i < s->n_series; i++) {
		size_t nl = 0;
		struct em_kvlist as_list;
		merge_labels(labels, &nl, 128, &lk.def->labels);
		merge_labels(labels, &nl, 128, &eq);
		merge_labels(labels, &nl, 128, &s->series[i].labels);
		qsort(labels, nl, sizeof(labels[0]), cmp_kv);
		as_list.items = labels;
		as_list.n = nl;
		if (!em_selector_matches(&sel, &as_list))
			continue;
		add_item(&sb, &first, metric, labels, nl, ts, s->active ? s->series[i].value : 0);
		matched++;
	}
	em_sb_puts(&sb, "]}\n");
	if (matched == 0) {
		em_err_set(&err, EM_E_NOTFOUND, "the server could not find the metric %s for namespace %s", metric, ns);
		goto fail;
	}
	set_body(resp, 200, "external_metric", em_sb_steal(&sb));
	goto out;
fail:
	set_error(resp, "external_metric", &err);
out:
	em_sb_free(&sb);
	em_lookup_release(reg, &lk);
	em_kvlist_free(&eq);
	em_selector_free(&sel);
}

void em_api_handle(struct em_registry *reg, const struct em_api_req *req, struct em_api_resp *resp)
{
	struct em_err err = {0};
	const char *p = req->path;
	char *ns = NULL, *metric = NULL;

	memset(resp, 0, sizeof(*resp));
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		em_err_set(&err, EM_E_METHOD, "the server does not allow this method on the requested resource");
		set_error(resp, "other", &err);
		return;
	}
	if (strcmp(p, "/healthz") == 0 || strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0) {
		resp->code = 200;
		resp->body = strdup("ok");
		resp->content_type = "text/plain; charset=utf-8";
		resp->handler = "health";
		return;
	}
	if (!accepts_json(req->accept)) {
		em_err_set(&err, EM_E_NOTACCEPTABLE, "only the following media types are accepted: application/json");
		set_error(resp, "other", &err);
		return;
	}
	if (strcmp(p, "/apis") == 0 || strcmp(p, "/apis/") == 0) {
		struct em_strbuf sb;
		/* Plain APIGroupList even for the aggregated-discovery Accept: the
		 * aggregator then falls back to the group-version document. */
		em_sb_init(&sb);
		em_sb_printf(&sb, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[%s]}\n", api_group);
		set_body(resp, 200, "discovery", em_sb_steal(&sb));
	} else if (strcmp(p, "/apis/" GROUP) == 0 || strcmp(p, "/apis/" GROUP "/") == 0) {
		struct em_strbuf sb;
		em_sb_init(&sb);
		em_sb_printf(&sb, "%s\n", api_group);
		set_body(resp, 200, "discovery", em_sb_steal(&sb));
	} else if (strcmp(p, "/apis/" GV) == 0 || strcmp(p, "/apis/" GV "/") == 0) {
		set_static(resp, "discovery", resource_list);
	} else if (strcmp(p, "/version") == 0 || strcmp(p, "/version/") == 0) {
		set_static(resp, "version",
			   "{\"major\":\"1\",\"minor\":\"30\",\"gitVersion\":\"v1.30.0-extmetrics-" EM_VERSION "\","
			   "\"gitCommit\":\"\",\"gitTreeState\":\"clean\",\"buildDate\":\"\",\"goVersion\":\"\","
			   "\"compiler\":\"gc\",\"platform\":\"" GOOS "/" GOARCH "\"}\n");
	} else if (em_api_metric_path(p, &ns, &metric)) {
		handle_metric(reg, req, ns, metric, resp);
	} else {
		em_err_set(&err, EM_E_NOTFOUND, "the server could not find the requested resource");
		set_error(resp, strncmp(p, "/openapi/", 9) == 0 ? "openapi" : "other", &err);
	}
	free(ns);
	free(metric);
}
