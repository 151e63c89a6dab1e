/* prometheus.c - the "prometheus" scaler: one PromQL instant query per poll over pooled keep-alive libcurl handles. */
#include "scaler.h"
#include "prometheus.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#ifndef EM_VERSION
#define EM_VERSION "dev"
#endif

/* A response larger than this is refused: an instant query for autoscaling
 * returns a handful of series, a huge body is a wrong query (or a hostile
 * server). With the bounded reader an answer costs about its size. */
#define EM_PROM_MAX_BODY (4u * 1024u * 1024u)
/* Idle handles (each keeping its live connection) kept per server. */
#define EM_PROM_POOL_IDLE 4

/* ------------------------------------------------------------------ options */

static const char *const multi_choices[] = {"sum", "max", "min", "avg", "items", NULL};

#define OFF(f) offsetof(struct em_prom_cfg, f)

const struct em_option em_prom_options[] = {
	{.name = "serverAddress", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(serverAddress),
	 .help = "Prometheus base URL, e.g. http://prometheus:9090 (the API path is appended)"},
	{.name = "query", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(query),
	 .help = "PromQL instant query; should return one series or a scalar"},
	{.name = "threshold", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED | EM_OPT_TARGET, .offset = OFF(threshold),
	 .help = "HPA target value"},
	{.name = "activationThreshold", .type = EM_OPT_FLOAT, .def = "0", .flags = EM_OPT_ACTIVATION,
	 .offset = OFF(activationThreshold),
	 .help = "active when value > activationThreshold"},
	{.name = "namespace", .type = EM_OPT_STRING, .offset = OFF(namespace),
	 .help = "sent as the `namespace` query parameter (Thanos / prom-label-proxy tenancy)"},
	{.name = "queryParameters", .type = EM_OPT_MAP, .offset = OFF(queryParameters),
	 .help = "extra query parameters, k=v,k2=v2"},
	{.name = "customHeaders", .type = EM_OPT_MAP, .offset = OFF(customHeaders),
	 .help = "extra request headers, Name=value,Name2=value2 (e.g. X-Scope-OrgID=tenant)"},
	{.name = "ignoreNullValues", .type = EM_OPT_BOOL, .def = "true", .offset = OFF(ignoreNullValues),
	 .help = "true: an empty result or NaN reads as 0; false (safer): an error"},
	{.name = "unsafeSsl", .type = EM_OPT_BOOL, .def = "false", .offset = OFF(unsafeSsl),
	 .help = "skip TLS certificate verification"},
	{.name = "timeout", .type = EM_OPT_DURATION, .offset = OFF(timeout_ms), .flags = EM_OPT_BOUNDED,
	 .min = 0, .max = 3600,   /* bounds of durations are in seconds */
	 .help = "HTTP timeout (Go duration or milliseconds); capped by the metric's timeout"},
	{.name = "multipleSeries", .type = EM_OPT_ENUM, .choices = multi_choices, .offset = OFF(multipleSeries),
	 .help = "extension: sum, max, min, avg or items when the query returns several series (default: error)"},
	{.name = "awsRegion", .type = EM_OPT_STRING, .offset = OFF(awsRegion),
	 .help = "Amazon Managed Prometheus SigV4 signing: not supported (rejected)"},
	{.name = "identityOwner", .type = EM_OPT_STRING, .flags = EM_OPT_IGNORED,
	 .help = "KEDA reads it and uses it for nothing here: accepted and ignored",
	 .note = "KEDA's prometheus scaler reads identityOwner and uses it for nothing"},
	{.name = "cortexOrgID", .type = EM_OPT_STRING, .flags = EM_OPT_IGNORED,
	 .help = "removed in KEDA v2.14, which ignores it since: use customHeaders X-Scope-OrgID=ID",
	 .note = "KEDA removed cortexOrgID in v2.14 (kedacore/keda#5538) and sends no X-Scope-OrgID for it "
		 "since; write customHeaders: \"X-Scope-OrgID=ID\" to send the tenant"},
	{.name = "authModes", .alias = "authMode", .type = EM_OPT_STRING, .offset = OFF(authModes),
	 .help = "comma-separated: basic, bearer, tls, custom"},
	{.name = "username", .type = EM_OPT_STRING, .offset = OFF(username),
	 .help = "basic auth user name"},
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(password),
	 .help = "basic auth password (may be empty)"},
	{.name = "bearerToken", .alias = "token", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET,
	 .offset = OFF(bearerToken), .help = "bearer token, sent as Authorization: Bearer <token>"},
	{.name = "cert", .type = EM_OPT_STRING, .offset = OFF(cert),
	 .help = "client certificate, PEM contents (tls)"},
	{.name = "key", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(key),
	 .help = "client private key, PEM contents (tls)"},
	{.name = "ca", .type = EM_OPT_STRING, .offset = OFF(ca),
	 .help = "CA bundle to verify the server, PEM contents"},
	{.name = "customAuthHeader", .type = EM_OPT_STRING, .offset = OFF(customAuthHeader),
	 .help = "header name for custom auth"},
	{.name = "customAuthValue", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(customAuthValue),
	 .help = "header value for custom auth"},
	EM_OPTIONS_END,
};

#undef OFF

/* --------------------------------------------------------------- validation */

int em_prom_parse_authmodes(const char *s, unsigned *out, struct em_err *err)
{
	unsigned bits = 0;
	const char *p = s;

	/* KEDA splits at every ',': an empty entry ("basic,") is refused too. */
	while (p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char word[32];

		/* trim */
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0)
			return em_err_set(err, EM_E_CONFIG, "incorrect value for authMode is given: \"\"");
		{
			if (n >= sizeof(word))
				return em_err_set(err, EM_E_CONFIG, "incorrect value for authMode is given: %.*s", (int)n, p);
			memcpy(word, p, n);
			word[n] = '\0';
			if (strcmp(word, "basic") == 0)
				bits |= EM_PROM_AUTH_BASIC;
			else if (strcmp(word, "bearer") == 0)
				bits |= EM_PROM_AUTH_BEARER;
			else if (strcmp(word, "tls") == 0)
				bits |= EM_PROM_AUTH_TLS;
			else if (strcmp(word, "custom") == 0)
				bits |= EM_PROM_AUTH_CUSTOM;
			else if (strcmp(word, "oauth") == 0 || strcmp(word, "apiKey") == 0)
				return em_err_set(err, EM_E_CONFIG,
						  "%s: KEDA accepts it but sends no credentials for it in the prometheus "
						  "scaler; not supported", word);
			else
				return em_err_set(err, EM_E_CONFIG, "incorrect value for authMode is given: %s", word);
		}
		p = end ? end + 1 : NULL;
	}
	if ((bits & EM_PROM_AUTH_BASIC) && (bits & EM_PROM_AUTH_BEARER))
		return em_err_set(err, EM_E_CONFIG, "both bearer and basic authentication can not be set");
	*out = bits;
	return 0;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

int em_prom_validate(void *vcfg, struct em_optdiag *d)
{
	struct em_prom_cfg *c = vcfg;
	struct em_err err = {0};
	int before = d->errors;

	if (strncmp(c->serverAddress, "http://", 7) != 0 && strncmp(c->serverAddress, "https://", 8) != 0)
		em_opt_error(d, "serverAddress", "must start with http:// or https://");
	if (!empty(c->awsRegion))
		em_opt_error(d, "awsRegion", "Amazon Managed Prometheus (SigV4 signing) is not supported by this scaler");

	c->multi = EM_PROM_MULTI_ERROR;
	if (c->multipleSeries) {
		static const struct { const char *name; enum em_prom_multi m; } map[] = {
			{"sum", EM_PROM_MULTI_SUM}, {"max", EM_PROM_MULTI_MAX}, {"min", EM_PROM_MULTI_MIN},
			{"avg", EM_PROM_MULTI_AVG}, {"items", EM_PROM_MULTI_ITEMS},
		};
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(c->multipleSeries, map[i].name) == 0)
				c->multi = map[i].m;
	}

	for (size_t i = 0; i < c->customHeaders.n; i++) {
		if (!em_http_header_name_ok(c->customHeaders.items[i].key))
			em_opt_error(d, "customHeaders", "invalid header name \"%s\"", c->customHeaders.items[i].key);
		else if (!em_http_header_value_ok(c->customHeaders.items[i].value))
			em_opt_error(d, "customHeaders", "header %s has a line break in its value",
				     c->customHeaders.items[i].key);
	}

	c->auth = 0;
	if (!empty(c->authModes) && em_prom_parse_authmodes(c->authModes, &c->auth, &err) != 0)
		return em_opt_error(d, "authModes", "%s", err.msg);

	c->bearer = c->bearerToken;
	if ((c->auth & EM_PROM_AUTH_BEARER) && empty(c->bearer))
		em_opt_error(d, "bearerToken", "bearer token is required when bearer auth is enabled");
	else if ((c->auth & EM_PROM_AUTH_BEARER) && !em_http_header_value_ok(c->bearer))
		em_opt_error(d, "bearerToken", "must not contain a line break");
	if ((c->auth & EM_PROM_AUTH_BASIC) && empty(c->username))
		em_opt_error(d, "username", "username is required when basic auth is enabled");
	if ((c->auth & EM_PROM_AUTH_TLS) && (empty(c->cert) || empty(c->key)))
		em_opt_error(d, "cert", "cert and key are required when tls auth is enabled");
	if ((c->auth & EM_PROM_AUTH_CUSTOM) && (empty(c->customAuthHeader) || empty(c->customAuthValue)))
		em_opt_error(d, "customAuthHeader",
			     "customAuthHeader and customAuthValue are required when custom auth is enabled");
	else if ((c->auth & EM_PROM_AUTH_CUSTOM) && !em_http_header_name_ok(c->customAuthHeader))
		em_opt_error(d, "customAuthHeader", "invalid header name \"%s\"", c->customAuthHeader);
	else if ((c->auth & EM_PROM_AUTH_CUSTOM) && !em_http_header_value_ok(c->customAuthValue))
		em_opt_error(d, "customAuthValue", "must not contain a line break");
	/* KEDA takes PEM contents, not paths; say so rather than fail in the TLS layer. */
	if ((c->auth & EM_PROM_AUTH_TLS) && !empty(c->cert) && !strstr(c->cert, "-----BEGIN"))
		em_opt_error(d, "cert", "expected PEM contents (read a file with fromFile)");
	if ((c->auth & EM_PROM_AUTH_TLS) && !empty(c->key) && !strstr(c->key, "-----BEGIN"))
		em_opt_error(d, "key", "expected PEM contents (read a file with fromFile)");
	if (!empty(c->ca) && !strstr(c->ca, "-----BEGIN"))
		em_opt_error(d, "ca", "expected PEM contents (read a file with fromFile)");
	return d->errors > before ? -1 : 0;
}

/* ---------------------------------------------------------- request building */

int em_prom_format_time(int64_t unix_ms, char *out, size_t cap)
{
	time_t secs = (time_t)(unix_ms / 1000);
	int ms = (int)(unix_ms % 1000);
	struct tm tm;
	char date[32];

	if (ms < 0) {
		ms += 1000;
		secs -= 1;
	}
	if (!gmtime_r(&secs, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	if ((size_t)snprintf(out, cap, "%s.%03dZ", date, ms) >= cap)
		return -1;
	return 0;
}

/* "&namespace=..&k=v" for the URL, shared by the GET and POST forms. */
static void add_extra_params(struct em_strbuf *sb, const struct em_prom_cfg *c, bool first)
{
	if (!empty(c->namespace)) {
		em_sb_puts(sb, first ? "" : "&");
		em_sb_puts(sb, "namespace=");
		em_sb_query_escape(sb, c->namespace);
		first = false;
	}
	for (size_t i = 0; i < c->queryParameters.n; i++) {
		em_sb_puts(sb, first ? "" : "&");
		em_sb_query_escape(sb, c->queryParameters.items[i].key);
		em_sb_puts(sb, "=");
		em_sb_query_escape(sb, c->queryParameters.items[i].value ? c->queryParameters.items[i].value : "");
		first = false;
	}
}

int em_prom_build_request(const struct em_prom_cfg *c, int64_t now_ms, size_t max_url, char **url, char **body)
{
	struct em_strbuf u, b, base;
	char ts[40];
	size_t blen;

	*url = NULL;
	*body = NULL;
	if (em_prom_format_time(now_ms, ts, sizeof(ts)) != 0)
		return -1;
	em_sb_init(&u);
	em_sb_init(&b);
	em_sb_init(&base);

	/* The address may end in '/'; avoid "//api" which some proxies reject. */
	blen = strlen(c->serverAddress);
	while (blen > 0 && c->serverAddress[blen - 1] == '/')
		blen--;
	em_sb_add(&base, c->serverAddress, blen);
	em_sb_puts(&base, "/api/v1/query");

	em_sb_puts(&b, "query=");
	em_sb_query_escape(&b, c->query);
	em_sb_puts(&b, "&time=");
	em_sb_query_escape(&b, ts);
	if (b.oom || base.oom)
		goto out;

	em_sb_add(&u, base.buf, base.len);
	em_sb_puts(&u, "?");
	em_sb_add(&u, b.buf, b.len);
	add_extra_params(&u, c, false);
	if (u.oom)
		goto out;
	if (u.len <= max_url) {
		*url = em_sb_steal(&u);
		em_sb_free(&b);
		em_sb_free(&base);
		return 0;
	}

	/* Too long for a GET: query and time go in the form body. */
	em_sb_reset(&u);
	em_sb_add(&u, base.buf, base.len);
	if (!empty(c->namespace) || c->queryParameters.n > 0) {
		em_sb_puts(&u, "?");
		add_extra_params(&u, c, true);
	}
	if (u.oom)
		goto out;
	*url = em_sb_steal(&u);
	*body = em_sb_steal(&b);
	em_sb_free(&base);
	return 0;
out:
	em_sb_free(&u);
	em_sb_free(&b);
	em_sb_free(&base);
	return -1;
}

/* --------------------------------------------------------- response parsing */

static int bad_json(struct em_json *j, struct em_err *err);

/* KEDA prints Go's %f of NaN/Inf: "NaN", "+Inf", "-Inf". */
static const char *nonfinite_name(double v)
{
	if (isnan(v))
		return "NaN";
	return v > 0 ? "+Inf" : "-Inf";
}

/* A Prometheus sample, [time, "value"]: "42.5", "NaN", "+Inf", "-Inf". The
 * reader is at it; it is consumed whole. */
static int parse_sample_value(struct em_json *j, const struct em_prom_cfg *c, double *out, struct em_err *err)
{
	char text[64], ex[EM_EXCERPT_BUF];
	size_t n = 0, count = 0;
	bool have = false, not_string = false;
	double v;

	if (em_json_enter(j, EM_JSON_ARRAY) != 0) {
		if (em_json_skip(j) != 0)
			return bad_json(j, err);
	} else {
		while (em_json_element(j) == 1) {
			if (++count != 2)
				continue;
			if (em_json_peek(j) != EM_JSON_STRING)
				not_string = true;
			else if (em_json_string(j, text, sizeof(text), &n) == 0)
				have = true;
			else
				return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a sample value that is not a number");
		}
		if (em_json_failed(j))
			return bad_json(j, err);
	}
	if (count == 0) {
		if (c->ignoreNullValues) {
			*out = 0;
			return 0;
		}
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "prometheus metrics 'prometheus' target may be lost, the value list is empty");
	}
	if (count < 2)
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus query %s didn't return enough values", c->query);
	if (not_string || !have)
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a sample value that is not a string");
	if (em_number_parse(text, n, &v) != 0) {
		em_excerpt(ex, sizeof(ex), text, n, 40);
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a sample value that is not a number: \"%s\"",
				  ex);
	}
	if (!isfinite(v)) {
		if (c->ignoreNullValues) {
			*out = 0;
			return 0;
		}
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus query returns %s", nonfinite_name(v));
	}
	if (em_value_check(v, EM_VALUE_GAUGE, "the prometheus sample value", err) != 0)
		return -1;
	*out = v;
	return 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct em_kv *)a)->key, ((const struct em_kv *)b)->key);
}

/* A series' labels without Prometheus' reserved "__name__"-style ones,
 * sorted by name. The reader is at the "metric" object. */
static int series_labels(struct em_json *j, struct em_kvlist *out, struct em_err *err)
{
	char key[EM_PROM_MAX_LABEL_NAME + 1];
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (em_json_enter(j, EM_JSON_OBJECT) != 0)
		return 0;
	while (em_json_member(j, key, sizeof(key)) == 1) {
		char *v;
		if (strncmp(key, "__", 2) == 0 || em_json_peek(j) != EM_JSON_STRING)
			continue;
		if (!key[0])
			return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a series label name longer than %d bytes",
					  EM_PROM_MAX_LABEL_NAME);
		if (out->n == EM_PROM_MAX_LABELS)
			return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a series with more than %d labels",
					  EM_PROM_MAX_LABELS);
		v = em_json_string_dup(j, EM_PROM_MAX_LABEL_VALUE);
		if (!v)
			return bad_json(j, err);
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct em_kv *ni = realloc(out->items, nc * sizeof(*ni));
			if (!ni) {
				free(v);
				return em_err_set(err, EM_E_INTERNAL, "out of memory");
			}
			out->items = ni;
			cap = nc;
		}
		out->items[out->n].key = strdup(key);
		out->items[out->n].value = v;
		out->n++;
		if (!out->items[out->n - 1].key)
			return em_err_set(err, EM_E_INTERNAL, "out of memory");
	}
	if (em_json_failed(j))
		return bad_json(j, err);
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), label_cmp);
	return 0;
}

static int empty_result(const struct em_prom_cfg *c, struct em_sample *out, struct em_err *err)
{
	if (!c->ignoreNullValues)
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "prometheus metrics 'prometheus' target may be lost, the result is empty");
	out->value = 0;
	return 0;
}

/* One vector element {"metric": {...}, "value": [t, "v"]}: its value, and
 * with items its labels into *labels. */
static int vector_element(struct em_json *j, const struct em_prom_cfg *c, double *v, struct em_kvlist *labels,
			  struct em_err *err)
{
	char key[16];
	bool have = false;

	if (em_json_enter(j, EM_JSON_OBJECT) != 0) {
		if (em_json_skip(j) != 0)
			return bad_json(j, err);
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a malformed vector element");
	}
	while (em_json_member(j, key, sizeof(key)) == 1) {
		if (strcmp(key, "value") == 0 && !have) {
			if (parse_sample_value(j, c, v, err) != 0)
				return -1;
			have = true;
		} else if (strcmp(key, "metric") == 0 && labels && !labels->items) {
			if (series_labels(j, labels, err) != 0)
				return -1;
		}
	}
	if (em_json_failed(j))
		return bad_json(j, err);
	if (!have)
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a vector element without a value");
	return 0;
}

static int parse_vector(struct em_json *j, const struct em_prom_cfg *c, struct em_sample *out, struct em_err *err)
{
	size_t n = 0, cap = 0;
	double acc = 0;

	if (em_json_enter(j, EM_JSON_ARRAY) != 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus vector result is not an array");
	while (em_json_element(j) == 1) {
		struct em_kvlist labels = {0};
		double v = 0;

		if (n == 1 && c->multi == EM_PROM_MULTI_ERROR)
			return em_err_set(err, EM_E_UNAVAILABLE,
					  "prometheus query %s returned multiple elements "
					  "(set multipleSeries to sum, max, min, avg or items)", c->query);
		if (c->multi == EM_PROM_MULTI_ITEMS) {
			if (n == EM_PROM_MAX_ITEMS)
				return em_err_set(err, EM_E_UNAVAILABLE,
						  "prometheus query %s returned more than %d series (multipleSeries: items)",
						  c->query, EM_PROM_MAX_ITEMS);
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct em_series *ns = realloc(out->series, nc * sizeof(*ns));
				if (!ns)
					return em_err_set(err, EM_E_INTERNAL, "out of memory");
				out->series = ns;
				cap = nc;
			}
		}
		if (vector_element(j, c, &v, c->multi == EM_PROM_MULTI_ITEMS ? &labels : NULL, err) != 0) {
			em_kvlist_free(&labels);
			return -1;
		}
		if (c->multi == EM_PROM_MULTI_ITEMS) {
			out->series[n].labels = labels;
			out->series[n].value = v;
			out->n_series = n + 1;
		}
		if (n == 0)
			acc = v;
		else if (c->multi == EM_PROM_MULTI_MAX)
			acc = v > acc ? v : acc;
		else if (c->multi == EM_PROM_MULTI_MIN)
			acc = v < acc ? v : acc;
		else
			acc += v;   /* sum, avg, items */
		n++;
	}
	if (em_json_failed(j))
		return bad_json(j, err);
	if (n == 0)
		return empty_result(c, out, err);
	if (c->multi == EM_PROM_MULTI_AVG)
		acc /= (double)n;
	/* each value is bounded, their sum may not be */
	if (em_value_check(acc, EM_VALUE_GAUGE, "the sum of the prometheus series", err) != 0)
		return -1;
	out->value = acc;
	return 0;
}

/* What the top of an answer says; the result is read once its type is known. */
struct answer {
	char status[32];
	char *error_type, *error;
	char result_type[32];
	bool has_result;
	struct em_json result;          /* a reader at data.result */
};

static int read_answer(struct em_json *j, struct answer *a)
{
	char key[16];

	/* valid JSON but no object: an answer without a status */
	if (em_json_enter(j, EM_JSON_OBJECT) != 0)
		return em_json_skip(j) == 0 ? em_json_end(j) : -1;
	while (em_json_member(j, key, sizeof(key)) == 1) {
		if (strcmp(key, "status") == 0) {
			em_json_string(j, a->status, sizeof(a->status), NULL);
		} else if (strcmp(key, "errorType") == 0 && !a->error_type) {
			a->error_type = em_json_string_dup(j, EM_PROM_MAX_ERROR_TEXT);
		} else if (strcmp(key, "error") == 0 && !a->error) {
			a->error = em_json_string_dup(j, EM_PROM_MAX_ERROR_TEXT);
		} else if (strcmp(key, "data") == 0 && em_json_enter(j, EM_JSON_OBJECT) == 0) {
			while (em_json_member(j, key, sizeof(key)) == 1) {
				if (strcmp(key, "resultType") == 0) {
					em_json_string(j, a->result_type, sizeof(a->result_type), NULL);
				} else if (strcmp(key, "result") == 0 && !a->has_result) {
					/* resultType may come after it: keep a reader here, skip */
					a->result = *j;
					a->has_result = true;
				}
			}
		}
	}
	return em_json_end(j);
}

static int bad_json(struct em_json *j, struct em_err *err)
{
	char why[96];

	em_json_error(j, why, sizeof(why));
	return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned %s", why);
}

/* The secrets of c, and the basic credentials as sent on the wire; *basic
 * (free with em_free_secret) holds the latter. Returns the count. */
static size_t prom_secrets(const struct em_prom_cfg *c, const char *out[5], char **basic)
{
	size_t n = 0;

	*basic = NULL;
	if (c->password && *c->password)
		out[n++] = c->password;
	if (c->bearer && *c->bearer)
		out[n++] = c->bearer;
	if (c->customAuthValue && *c->customAuthValue)
		out[n++] = c->customAuthValue;
	if (c->key && *c->key)
		out[n++] = c->key;
	/* a server may echo the Authorization header it got */
	if ((c->auth & EM_PROM_AUTH_BASIC) && (*basic = em_http_basic_credentials(c->username, c->password)))
		out[n++] = *basic;
	return n;
}

void em_prom_scrub(const struct em_prom_cfg *c, char *msg, size_t cap)
{
	const char *secrets[5];
	char *basic;
	size_t n = prom_secrets(c, secrets, &basic);

	em_scrub(msg, cap, secrets, n);
	em_free_secret(basic);
}

int em_prom_parse_response(const char *body, size_t len, long http_status, const struct em_prom_cfg *c,
			struct em_sample *out, struct em_err *err)
{
	struct answer a = {0};
	struct em_json j;
	const char *secrets[5];
	char *basic;
	struct em_secret_scope scope;
	char ex1[EM_EXCERPT_BUF], ex2[EM_EXCERPT_BUF];
	int rc = -1, valid;

	memset(out, 0, sizeof(*out));
	/* everything quoted from the answer is scrubbed of c's secrets while whole */
	em_secret_scope_enter(&scope, secrets, prom_secrets(c, secrets, &basic));
	em_json_init(&j, body, len);
	valid = len > 0 && read_answer(&j, &a) == 0;

	if (valid && strcmp(a.status, "error") == 0) {
		em_excerpt(ex1, sizeof(ex1), a.error_type ? a.error_type : "unknown", SIZE_MAX, 64);
		em_excerpt(ex2, sizeof(ex2), a.error ? a.error : "(none)", SIZE_MAX, EM_EXCERPT_MAX);
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus query api returned error. status: %ld, errorType: %s, error: %s",
			   http_status, ex1, ex2);
		goto out;
	}
	if (http_status < 200 || http_status > 299) {
		size_t n = body ? strnlen(body, len) : 0;
		while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' ' || body[n - 1] == '\t'))
			n--;
		em_excerpt(ex1, sizeof(ex1), body, n, EM_EXCERPT_MAX);
		if (ex1[0])
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus query api returned error. status: %ld: %s",
				   http_status, ex1);
		else
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus query api returned error. status: %ld", http_status);
		goto out;
	}
	if (!valid) {
		if (len == 0)
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned invalid JSON: empty body");
		else
			bad_json(&j, err);
		goto out;
	}
	if (strcmp(a.status, "success") != 0) {
		em_excerpt(ex1, sizeof(ex1), a.status[0] ? a.status : "(none)", SIZE_MAX, 32);
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned status \"%s\"", ex1);
		goto out;
	}
	if (!a.result_type[0]) {
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus response has no data.resultType");
		goto out;
	}
	if (strcmp(a.result_type, "vector") == 0) {
		rc = parse_vector(&a.result, c, out, err);
	} else if (strcmp(a.result_type, "scalar") == 0) {
		/* KEDA cannot decode scalars (e.g. `scalar(...)`, `vector(1) > bool 0`); we can. */
		rc = a.has_result ? parse_sample_value(&a.result, c, &out->value, err)
				  : em_err_set(err, EM_E_UNAVAILABLE, "prometheus scalar result is missing");
	} else if (strcmp(a.result_type, "matrix") == 0) {
		/* KEDA reads a matrix as an empty value list (0 with ignoreNullValues): refuse instead. */
		em_err_set(err, EM_E_UNAVAILABLE,
			   "prometheus query %s returned a range vector (matrix); use an instant vector, e.g. wrap it in "
			   "max_over_time(...) or rate(...)", c->query);
	} else {
		em_excerpt(ex1, sizeof(ex1), a.result_type, SIZE_MAX, 32);
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus query %s returned a %s; expected a vector or scalar",
			   c->query, ex1);
	}
	if (rc == 0)
		out->active = out->value > c->activationThreshold;
out:
	if (rc != 0)
		em_sample_free(out);
	em_secret_scope_leave(&scope);
	em_free_secret(basic);
	em_free_secret(a.error_type);
	em_free_secret(a.error);
	return rc;
}

/* ------------------------------------------------------------------ instance */

struct prom_inst {
	const struct em_prom_cfg *cfg;
	struct em_http_client *http;      /* shared per serverAddress: keep-alive across polls */
	struct em_http_headers headers;   /* custom + auth headers, built once (secret: wiped) */
};

static void prom_close(void *vinst)
{
	struct prom_inst *in = vinst;

	if (!in)
		return;
	em_http_headers_free(&in->headers);
	em_http_client_put(in->http);
	free(in);
}

static bool has_header(const struct em_kvlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->items[i].key, name) == 0)
			return true;
	return false;
}

static void *prom_open(const void *vcfg, struct em_err *err)
{
	const struct em_prom_cfg *c = vcfg;
	struct prom_inst *in;

	in = calloc(1, sizeof(*in));
	if (!in)
		goto out;
	in->cfg = c;
	in->http = em_http_client_get(c->serverAddress);
	if (!in->http)
		goto out;
	em_http_header_add(&in->headers, "Accept", "application/json");
	for (size_t i = 0; i < c->customHeaders.n; i++)
		em_http_header_add(&in->headers, c->customHeaders.items[i].key, c->customHeaders.items[i].value);
	if (c->auth & EM_PROM_AUTH_BEARER)
		em_http_header_auth(&in->headers, "Bearer", c->bearer);
	/* Basic credentials go in this wiped header list, built once, rather
	 * than to CURLOPT_USERNAME/PASSWORD: curl would copy the password at
	 * every poll and free the copies unwiped. A custom Authorization
	 * header wins, as it did with curl's own basic auth. */
	if ((c->auth & EM_PROM_AUTH_BASIC) && !has_header(&c->customHeaders, "Authorization"))
		em_http_header_basic(&in->headers, c->username, c->password);
	if (c->auth & EM_PROM_AUTH_CUSTOM)
		em_http_header_add(&in->headers, c->customAuthHeader, c->customAuthValue);
	if (in->headers.oom)
		goto out;
	return in;
out:
	prom_close(in);
	em_err_set(err, EM_E_INTERNAL, "out of memory");
	return NULL;
}

static struct em_sm_family fam_requests =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_prometheus_requests_total",
		     "Prometheus query API requests by HTTP status (\"error\": no response).");
static struct em_sm_family fam_connections =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_prometheus_connections_total",
		     "New TCP connections opened to Prometheus (keep-alive reuses them).");

static void count_request(const char *code)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "code=\"%s\"", code);
	em_sm_add(em_sm_series(&fam_requests, labels), 1);
}

static int prom_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct prom_inst *in = vinst;
	const struct em_prom_cfg *c = in->cfg;
	char *url = NULL, *form = NULL;
	int64_t tmo = ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000;
	struct em_http_tls tls = {.insecure = c->unsafeSsl, .ca_pem = c->ca};
	struct em_http_resp resp = {0};
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (c->timeout_ms > 0 && c->timeout_ms < tmo)
		tmo = c->timeout_ms;
	if (c->auth & EM_PROM_AUTH_TLS) {
		tls.cert_pem = c->cert;
		tls.key_pem = c->key;
	}
	if (em_prom_build_request(c, ctx->now_ms, EM_PROM_MAX_GET_URL, &url, &form) != 0) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	struct em_http_req req = {
		.url = url, .headers = &in->headers, .body = form, .body_len = form ? strlen(form) : 0,
		.timeout_ms = tmo, .user_agent = "extmetrics/" EM_VERSION, .max_body = EM_PROM_MAX_BODY, .tls = &tls,
		.keepalive = true, .compressed = true,
	};
	if (em_http_do(in->http, &req, &resp) != 0 && resp.fail == EM_HTTP_SETUP) {
		em_err_set(err, EM_E_INTERNAL, "libcurl: %s (TLS blobs need libcurl >= 7.77)", resp.error);
		goto out;
	}
	if (resp.connects > 0)
		em_sm_add(em_sm_series(&fam_connections, ""), (double)resp.connects);
	if (resp.fail != EM_HTTP_OK) {
		count_request("error");
		if (resp.fail == EM_HTTP_TIMEOUT)
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus query timed out after %lld ms", (long long)tmo);
		else if (resp.fail == EM_HTTP_TOO_BIG)
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus response is larger than %u bytes", EM_PROM_MAX_BODY);
		else
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus request failed: %s", resp.error);
		goto out;
	}
	{
		char code[16];
		snprintf(code, sizeof(code), "%ld", resp.status);
		count_request(code);
	}
	ret = em_prom_parse_response(resp.body, resp.len, resp.status, c, out, err);
out:
	if (ret != 0)
		em_prom_scrub(c, err->msg, sizeof(err->msg));
	em_http_resp_free(&resp);
	free(url);
	free(form);
	return ret;
}

const struct em_scaler em_scaler_prometheus = {
	.type = "prometheus",
	.options = em_prom_options,
	.config_size = sizeof(struct em_prom_cfg),
	.summary = "PromQL instant query against Prometheus (or Thanos, Mimir, VictoriaMetrics)",
	.validate = em_prom_validate,
	.open = prom_open,
	.fetch = prom_fetch,
	.close = prom_close,
};
