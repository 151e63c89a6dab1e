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

#include <jansson.h>

#ifndef EM_VERSION
#define EM_VERSION "dev"
#endif

/* A response larger than this is refused: an instant query for autoscaling
 * returns a handful of series, a huge body is a wrong query. */
#define EM_PROM_MAX_BODY (16u * 1024u * 1024u)
/* Idle handles (each keeping its live connection) kept per server. */
#define EM_PROM_POOL_IDLE 4

/* ------------------------------------------------------------------ options */

static const char *const multi_choices[] = {"sum", "max", "min", "avg", "items", NULL};
static const char *const owner_choices[] = {"pod", "operator", NULL};

#define OFF(f) offsetof(struct em_prom_cfg, f)

const struct em_option em_prom_options[] = {
	{.name = "serverAddress", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(serverAddress),
	 .help = "Prometheus base URL, e.g. http://prometheus:9090 (the API path is appended)"},
	{.name = "query", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(query),
	 .help = "PromQL instant query; should return one series or a scalar"},
	{.name = "threshold", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED, .offset = OFF(threshold),
	 .help = "HPA target value"},
	{.name = "activationThreshold", .type = EM_OPT_FLOAT, .def = "0", .offset = OFF(activationThreshold),
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
	{.name = "identityOwner", .type = EM_OPT_ENUM, .choices = owner_choices, .offset = OFF(identityOwner),
	 .help = "deprecated KEDA key, accepted and ignored"},
	{.name = "authModes", .type = EM_OPT_STRING, .offset = OFF(authModes),
	 .help = "comma-separated: basic, bearer, tls, custom"},
	{.name = "authMode", .type = EM_OPT_STRING, .offset = OFF(authMode),
	 .help = "alias of authModes"},
	{.name = "username", .type = EM_OPT_STRING, .offset = OFF(username),
	 .help = "basic auth user name"},
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(password),
	 .help = "basic auth password (may be empty)"},
	{.name = "bearerToken", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(bearerToken),
	 .help = "bearer token, sent as Authorization: Bearer <token>"},
	{.name = "token", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(token),
	 .help = "alias of bearerToken"},
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

	while (p && *p) {
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
		if (n > 0) {
			if (n >= sizeof(word))
				return em_err_set(err, EM_E_CONFIG,
						  "authModes: incorrect value for authMode is given: %.*s", (int)n, p);
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
						  "authModes: %s is not supported by the prometheus scaler", word);
			else
				return em_err_set(err, EM_E_CONFIG,
						  "authModes: incorrect value for authMode is given: %s", word);
		}
		p = end ? end + 1 : NULL;
	}
	if ((bits & EM_PROM_AUTH_BASIC) && (bits & EM_PROM_AUTH_BEARER))
		return em_err_set(err, EM_E_CONFIG, "authModes: both bearer and basic authentication can not be set");
	*out = bits;
	return 0;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

int em_prom_validate(void *vcfg, struct em_err *err)
{
	struct em_prom_cfg *c = vcfg;
	const char *modes;

	if (strncmp(c->serverAddress, "http://", 7) != 0 && strncmp(c->serverAddress, "https://", 8) != 0)
		return em_err_set(err, EM_E_CONFIG, "serverAddress: must start with http:// or https://");
	if (!empty(c->awsRegion))
		return em_err_set(err, EM_E_CONFIG,
				  "awsRegion: Amazon Managed Prometheus (SigV4 signing) is not supported by this scaler");

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
			return em_err_set(err, EM_E_CONFIG, "customHeaders: invalid header name \"%s\"",
					  c->customHeaders.items[i].key);
		if (!em_http_header_value_ok(c->customHeaders.items[i].value))
			return em_err_set(err, EM_E_CONFIG, "customHeaders: header %s has a line break in its value",
					  c->customHeaders.items[i].key);
	}

	if (!empty(c->authModes) && !empty(c->authMode) && strcmp(c->authModes, c->authMode) != 0)
		return em_err_set(err, EM_E_CONFIG, "authModes: authModes and authMode are both set and differ");
	modes = !empty(c->authModes) ? c->authModes : c->authMode;
	c->auth = 0;
	if (!empty(modes) && em_prom_parse_authmodes(modes, &c->auth, err) != 0)
		return -1;

	c->bearer = !empty(c->bearerToken) ? c->bearerToken : c->token;
	if ((c->auth & EM_PROM_AUTH_BEARER) && empty(c->bearer))
		return em_err_set(err, EM_E_CONFIG, "bearerToken: bearer token is required when bearer auth is enabled");
	if ((c->auth & EM_PROM_AUTH_BEARER) && !em_http_header_value_ok(c->bearer))
		return em_err_set(err, EM_E_CONFIG, "bearerToken: must not contain a line break");
	if ((c->auth & EM_PROM_AUTH_BASIC) && empty(c->username))
		return em_err_set(err, EM_E_CONFIG, "username: username is required when basic auth is enabled");
	if ((c->auth & EM_PROM_AUTH_TLS) && (empty(c->cert) || empty(c->key)))
		return em_err_set(err, EM_E_CONFIG, "cert: cert and key are required when tls auth is enabled");
	if ((c->auth & EM_PROM_AUTH_CUSTOM) && (empty(c->customAuthHeader) || empty(c->customAuthValue)))
		return em_err_set(err, EM_E_CONFIG,
				  "customAuthHeader: customAuthHeader and customAuthValue are required when custom auth is enabled");
	if ((c->auth & EM_PROM_AUTH_CUSTOM) && !em_http_header_name_ok(c->customAuthHeader))
		return em_err_set(err, EM_E_CONFIG, "customAuthHeader: invalid header name \"%s\"", c->customAuthHeader);
	if ((c->auth & EM_PROM_AUTH_CUSTOM) && !em_http_header_value_ok(c->customAuthValue))
		return em_err_set(err, EM_E_CONFIG, "customAuthValue: must not contain a line break");
	/* KEDA takes PEM contents, not paths; say so rather than fail in the TLS layer. */
	if ((c->auth & EM_PROM_AUTH_TLS) && !strstr(c->cert, "-----BEGIN"))
		return em_err_set(err, EM_E_CONFIG, "cert: expected PEM contents (read a file with fromFile)");
	if ((c->auth & EM_PROM_AUTH_TLS) && !strstr(c->key, "-----BEGIN"))
		return em_err_set(err, EM_E_CONFIG, "key: expected PEM contents (read a file with fromFile)");
	if (!empty(c->ca) && !strstr(c->ca, "-----BEGIN"))
		return em_err_set(err, EM_E_CONFIG, "ca: expected PEM contents (read a file with fromFile)");
	return 0;
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

/* KEDA prints Go's %f of NaN/Inf: "NaN", "+Inf", "-Inf". */
static const char *nonfinite_name(double v)
{
	if (isnan(v))
		return "NaN";
	return v > 0 ? "+Inf" : "-Inf";
}

/* A Prometheus sample value is a JSON string: "42.5", "NaN", "+Inf", "-Inf". */
static int parse_sample_value(json_t *pair, const struct em_prom_cfg *c, double *out, struct em_err *err)
{
	const char *s;
	char *end;
	double v;

	if (!json_is_array(pair) || json_array_size(pair) == 0) {
		if (c->ignoreNullValues) {
			*out = 0;
			return 0;
		}
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "prometheus metrics 'prometheus' target may be lost, the value list is empty");
	}
	if (json_array_size(pair) < 2)
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus query %s didn't return enough values", c->query);
	s = json_string_value(json_array_get(pair, 1));
	if (!s)
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a sample value that is not a string");
	v = strtod(s, &end);
	if (end == s || *end != '\0')
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a sample value that is not a number: \"%.40s\"",
				  s);
	if (!isfinite(v)) {
		if (c->ignoreNullValues) {
			*out = 0;
			return 0;
		}
		return em_err_set(err, EM_E_UNAVAILABLE, "prometheus query returns %s", nonfinite_name(v));
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ secrets */

void em_prom_scrub(const struct em_prom_cfg *c, char *msg, size_t cap)
{
	const char *secrets[5];
	size_t n = 0;
	char *basic = NULL;

	if (c->password && *c->password)
		secrets[n++] = c->password;
	if (c->bearer && *c->bearer)
		secrets[n++] = c->bearer;
	if (c->customAuthValue && *c->customAuthValue)
		secrets[n++] = c->customAuthValue;
	if (c->key && *c->key)
		secrets[n++] = c->key;
	/* a server may echo the Authorization header it got */
	if ((c->auth & EM_PROM_AUTH_BASIC) && (basic = em_http_basic_credentials(c->username, c->password)))
		secrets[n++] = basic;
	em_scrub(msg, cap, secrets, n);
	em_free_secret(basic);
}

/* Sets err to fmt's text scrubbed of c's secrets: formatted in full first,
 * so no secret is cut in two by the length limit of err. */
static int err_scrubbed(struct em_err *err, const struct em_prom_cfg *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int err_scrubbed(struct em_err *err, const struct em_prom_cfg *c, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	em_prom_scrub(c, buf, sizeof(buf));
	em_err_set(err, EM_E_UNAVAILABLE, "%s", buf);
	em_wipe(buf, sizeof(buf));
	return -1;
}

/* Copies a printable, single-line prefix of a non-JSON error body, scrubbed
 * of c's secrets before it is cut to cap. */
static void body_snippet(const char *body, size_t len, const struct em_prom_cfg *c, char *out, size_t cap)
{
	char buf[4096];
	size_t j = 0;

	for (size_t i = 0; i < len && j + 1 < sizeof(buf); i++) {
		unsigned char ch = (unsigned char)body[i];
		buf[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
	}
	buf[j] = '\0';
	em_prom_scrub(c, buf, sizeof(buf));
	j = strlen(buf) < cap ? strlen(buf) : cap - 1;
	memcpy(out, buf, j);
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
	em_wipe(buf, sizeof(buf));
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct em_kv *)a)->key, ((const struct em_kv *)b)->key);
}

/* Series labels without Prometheus' reserved "__name__"-style ones, sorted by name. */
static int series_labels(json_t *metric, struct em_kvlist *out)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(metric) || json_object_size(metric) == 0)
		return 0;
	out->items = calloc(json_object_size(metric), sizeof(*out->items));
	if (!out->items)
		return -1;
	json_object_foreach(metric, k, v) {
		if (strncmp(k, "__", 2) == 0 || !json_is_string(v))
			continue;
		out->items[n].key = strdup(k);
		out->items[n].value = strdup(json_string_value(v));
		out->n = ++n;
		if (!out->items[n - 1].key || !out->items[n - 1].value)
			return -1;
	}
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

static int parse_vector(json_t *result, const struct em_prom_cfg *c, struct em_sample *out, struct em_err *err)
{
	size_t n = json_array_size(result);
	double acc = 0;

	if (n == 0)
		return empty_result(c, out, err);
	if (n > 1 && c->multi == EM_PROM_MULTI_ERROR)
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "prometheus query %s returned multiple elements (set multipleSeries to sum, max, min, avg or items)",
				  c->query);
	if (c->multi == EM_PROM_MULTI_ITEMS) {
		out->series = calloc(n, sizeof(*out->series));
		if (!out->series)
			return em_err_set(err, EM_E_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		json_t *el = json_array_get(result, i);
		double v;

		if (!json_is_object(el))
			return em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned a malformed vector element");
		if (parse_sample_value(json_object_get(el, "value"), c, &v, err) != 0)
			return -1;
		if (c->multi == EM_PROM_MULTI_ITEMS) {
			out->n_series = i + 1;
			out->series[i].value = v;
			if (series_labels(json_object_get(el, "metric"), &out->series[i].labels) != 0)
				return em_err_set(err, EM_E_INTERNAL, "out of memory");
		}
		if (i == 0)
			acc = v;
		else if (c->multi == EM_PROM_MULTI_MAX)
			acc = v > acc ? v : acc;
		else if (c->multi == EM_PROM_MULTI_MIN)
			acc = v < acc ? v : acc;
		else
			acc += v;   /* sum, avg, items */
	}
	if (c->multi == EM_PROM_MULTI_AVG)
		acc /= (double)n;
	out->value = acc;
	return 0;
}

int em_prom_parse_response(const char *body, size_t len, long http_status, const struct em_prom_cfg *c,
			struct em_sample *out, struct em_err *err)
{
	json_error_t jerr;
	json_t *root = NULL, *data, *result;
	const char *status, *rtype;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > 0)
		root = json_loadb(body, len, 0, &jerr);

	status = json_string_value(json_object_get(root, "status"));
	if (status && strcmp(status, "error") == 0) {
		const char *etype = json_string_value(json_object_get(root, "errorType"));
		const char *emsg = json_string_value(json_object_get(root, "error"));
		err_scrubbed(err, c, "prometheus query api returned error. status: %ld, errorType: %s, error: %s",
			     http_status, etype ? etype : "unknown", emsg ? emsg : "(none)");
		goto out;
	}
	if (http_status < 200 || http_status > 299) {
		char snip[160];
		body_snippet(body, len, c, snip, sizeof(snip));
		if (snip[0])
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus query api returned error. status: %ld: %s",
				   http_status, snip);
		else
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus query api returned error. status: %ld", http_status);
		goto out;
	}
	if (!root) {
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned invalid JSON: %s",
			   len > 0 ? jerr.text : "empty body");
		goto out;
	}
	if (!status || strcmp(status, "success") != 0) {
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus returned status \"%s\"", status ? status : "(none)");
		goto out;
	}
	data = json_object_get(root, "data");
	rtype = json_string_value(json_object_get(data, "resultType"));
	result = json_object_get(data, "result");
	if (!rtype) {
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus response has no data.resultType");
		goto out;
	}
	if (strcmp(rtype, "vector") == 0) {
		if (!json_is_array(result)) {
			em_err_set(err, EM_E_UNAVAILABLE, "prometheus vector result is not an array");
			goto out;
		}
		rc = parse_vector(result, c, out, err);
	} else if (strcmp(rtype, "scalar") == 0) {
		/* KEDA cannot decode scalars (e.g. `scalar(...)`, `vector(1) > bool 0`); we can. */
		rc = parse_sample_value(result, c, &out->value, err);
	} else if (strcmp(rtype, "matrix") == 0) {
		/* KEDA reads a matrix as an empty value list (0 with ignoreNullValues): refuse instead. */
		em_err_set(err, EM_E_UNAVAILABLE,
			   "prometheus query %s returned a range vector (matrix); use an instant vector, e.g. wrap it in "
			   "max_over_time(...) or rate(...)", c->query);
	} else {
		em_err_set(err, EM_E_UNAVAILABLE, "prometheus query %s returned a %s; expected a vector or scalar",
			   c->query, rtype);
	}
	if (rc == 0)
		out->active = out->value > c->activationThreshold;
out:
	if (rc != 0)
		em_sample_free(out);
	json_decref(root);
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
	if ((c->auth & EM_PROM_AUTH_BASIC) && !has_header(&c->customHeaders, "Authorization")) {
		char *cred = em_http_basic_credentials(c->username, c->password);
		if (cred)
			em_http_header_auth(&in->headers, "Basic", cred);
		else
			in->headers.oom = true;
		em_free_secret(cred);
	}
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
