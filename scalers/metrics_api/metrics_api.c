/* metrics_api.c - the "metrics-api" scaler: GET a URL, read one number from its JSON, YAML or Prometheus text answer; KEDA's auth modes. */
#include "metrics_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EM_VERSION
#define EM_VERSION "dev"
#endif

enum { MA_AUTH_APIKEY = 1, MA_AUTH_BASIC = 2, MA_AUTH_TLS = 4, MA_AUTH_BEARER = 8, MA_AUTH_CUSTOM = 16 };

struct ma_cfg {
	double targetValue;
	double activationTargetValue;
	char *url;
	char *format;
	char *valueLocation;
	bool unsafeSsl;
	bool aggregateFromKubeServiceEndpoints;
	char *aggregationType;
	int64_t timeout_ms;
	char *authModes;
	char *bearerToken;
	char *username, *password;
	char *cert, *key, *ca;
	char *customAuthHeader, *customAuthValue;
	char *apiKey, *method, *keyParamName;
	char *oauthTokenURI, *clientID, *clientSecret;
	/* derived */
	enum ma_format fmt;
	unsigned auth;
};

static const char *const format_choices[] = {"json", "yaml", "prometheus", "xml", NULL};
static const char *const aggregation_choices[] = {"average", "sum", "max", "min", NULL};
static const char *const method_choices[] = {"header", "query", NULL};

#define OFF(f) offsetof(struct ma_cfg, f)

static const struct em_option ma_options[] = {
	{.name = "url", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(url),
	 .help = "http:// or https:// URL to GET"},
	{.name = "valueLocation", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(valueLocation),
	 .help = "json: a GJSON path (docs/metrics-api.md); yaml: a dotted path; prometheus: name{label=\"v\"}"},
	{.name = "targetValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_TARGET, .offset = OFF(targetValue),
	 .help = "HPA target value (required, not 0)"},
	{.name = "activationTargetValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_ACTIVATION, .def = "0",
	 .offset = OFF(activationTargetValue),
	 .help = "active when the value is above this"},
	{.name = "format", .type = EM_OPT_ENUM, .def = "json", .choices = format_choices, .offset = OFF(format),
	 .help = "json, yaml or prometheus (text exposition); xml is refused (KEDA's never reads a value)"},
	{.name = "unsafeSsl", .type = EM_OPT_BOOL, .def = "false", .offset = OFF(unsafeSsl),
	 .help = "skip TLS certificate verification"},
	{.name = "timeout", .type = EM_OPT_DURATION, .flags = EM_OPT_BOUNDED, .min = 0, .max = 3600,
	 .offset = OFF(timeout_ms), .help = "HTTP timeout (Go duration or milliseconds); capped by the metric's timeout"},
	{.name = "aggregateFromKubeServiceEndpoints", .type = EM_OPT_BOOL, .def = "false",
	 .offset = OFF(aggregateFromKubeServiceEndpoints), .help = "true is refused: not supported (yet)"},
	{.name = "aggregationType", .type = EM_OPT_ENUM, .def = "average", .choices = aggregation_choices,
	 .offset = OFF(aggregationType), .help = "only with aggregateFromKubeServiceEndpoints (accepted, no effect)"},
	{.name = "authModes", .alias = "authMode", .type = EM_OPT_STRING, .offset = OFF(authModes),
	 .help = "comma-separated: apiKey, basic, bearer, tls, custom (one of basic and bearer)"},
	{.name = "bearerToken", .alias = "token", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(bearerToken),
	 .help = "bearer: the token (Authorization: Bearer ...)"},
	{.name = "username", .type = EM_OPT_STRING, .offset = OFF(username), .help = "basic: user name"},
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(password),
	 .help = "basic: password (may be empty)"},
	{.name = "cert", .type = EM_OPT_STRING, .offset = OFF(cert), .help = "tls: client certificate (PEM contents)"},
	{.name = "key", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(key),
	 .help = "tls: client private key (PEM contents)"},
	{.name = "ca", .type = EM_OPT_STRING, .offset = OFF(ca), .help = "CA certificates (PEM contents) to verify the server"},
	{.name = "customAuthHeader", .type = EM_OPT_STRING, .offset = OFF(customAuthHeader),
	 .help = "custom: header name (KEDA parses it but never sends it; sent here)"},
	{.name = "customAuthValue", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(customAuthValue),
	 .help = "custom: header value"},
	{.name = "apiKey", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(apiKey), .help = "apiKey: the key"},
	{.name = "method", .type = EM_OPT_ENUM, .def = "header", .choices = method_choices, .offset = OFF(method),
	 .help = "apiKey: sent as a header or a query parameter"},
	{.name = "keyParamName", .type = EM_OPT_STRING, .offset = OFF(keyParamName),
	 .help = "apiKey: the header (default X-API-KEY) or query parameter (default api_key) name"},
	{.name = "oauthTokenURI", .type = EM_OPT_STRING, .offset = OFF(oauthTokenURI),
	 .help = "oauth: refused (KEDA parses it but never sends a token)"},
	{.name = "clientID", .type = EM_OPT_STRING, .offset = OFF(clientID), .help = "oauth: refused"},
	{.name = "clientSecret", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(clientSecret),
	 .help = "oauth: refused"},
	EM_OPTIONS_END,
};

#undef OFF

static bool empty(const char *s)
{
	return !s || !*s;
}

/* --------------------------------------------------------------- validation */

static int parse_modes(const char *s, unsigned *out, struct em_err *err)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"apiKey", MA_AUTH_APIKEY}, {"basic", MA_AUTH_BASIC}, {"tls", MA_AUTH_TLS},
		     {"bearer", MA_AUTH_BEARER}, {"custom", MA_AUTH_CUSTOM}};

	*out = 0;
	while (s && *s) {
		size_t n = strcspn(s, ","), b = 0, e = n;
		unsigned bit = 0;
		while (b < e && s[b] == ' ')
			b++;
		while (e > b && s[e - 1] == ' ')
			e--;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == e - b && !strncmp(s + b, names[i].name, e - b))
				bit = names[i].bit;
		if (e - b == 5 && !strncmp(s + b, "oauth", 5))
			return em_err_set(err, EM_E_CONFIG, "authModes: oauth is not supported (KEDA's metrics-api never "
					  "sends a token either)");
		if (!bit && e > b)
			return em_err_set(err, EM_E_CONFIG, "authModes: %.*s must be one of apiKey, basic, tls, bearer, "
					  "custom", (int)(e - b > 40 ? 40 : e - b), s + b);
		*out |= bit;
		s += n + (s[n] == ',');
	}
	if ((*out & MA_AUTH_BASIC) && (*out & MA_AUTH_BEARER))
		return em_err_set(err, EM_E_CONFIG, "authModes: bearer and basic are mutually exclusive");
	return 0;
}

static int ma_check(void *vcfg, struct em_err *err)
{
	struct ma_cfg *c = vcfg;
	struct ma_selector sel;

	if (c->targetValue == 0)
		return em_err_set(err, EM_E_CONFIG, "targetValue: no targetValue given in metadata");
	if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
		return em_err_set(err, EM_E_CONFIG, "url: must start with http:// or https://");
	if (strpbrk(c->url, " \t\r\n"))
		return em_err_set(err, EM_E_CONFIG, "url: must not contain spaces or line breaks (percent-encode them)");
	if (c->aggregateFromKubeServiceEndpoints)
		return em_err_set(err, EM_E_CONFIG, "aggregateFromKubeServiceEndpoints: not supported by extmetrics "
				  "(ask one URL, e.g. the Service's)");
	if (!strcmp(c->format, "xml"))
		return em_err_set(err, EM_E_CONFIG, "format: xml is not supported (KEDA's xml format never yields a "
				  "value: Go's encoding/xml cannot decode into a map)");
	c->fmt = !strcmp(c->format, "yaml") ? MA_YAML : !strcmp(c->format, "prometheus") ? MA_PROMETHEUS : MA_JSON;
	if (c->fmt == MA_JSON && ma_gjson_check(c->valueLocation, err) != 0)
		return -1;
	if (c->fmt == MA_PROMETHEUS) {
		if (ma_selector_parse(c->valueLocation, &sel, err) != 0)
			return -1;
		ma_selector_free(&sel);
	}
	if (parse_modes(c->authModes, &c->auth, err) != 0)
		return -1;
	if (!empty(c->oauthTokenURI) || !empty(c->clientID) || !empty(c->clientSecret))
		return em_err_set(err, EM_E_CONFIG, "oauthTokenURI: oauth is not supported");
	if ((c->auth & MA_AUTH_BEARER) && empty(c->bearerToken))
		return em_err_set(err, EM_E_CONFIG, "bearerToken: bearer token=<empty> is required when bearer auth is "
				  "enabled");
	if ((c->auth & MA_AUTH_BASIC) && empty(c->username))
		return em_err_set(err, EM_E_CONFIG, "username: username=<empty> is required when basic auth is enabled");
	if ((c->auth & MA_AUTH_TLS) && (empty(c->cert) || empty(c->key)))
		return em_err_set(err, EM_E_CONFIG, "%s: cert=%s and key=%s are required when tls auth is enabled",
				  empty(c->cert) ? "cert" : "key", empty(c->cert) ? "<empty>" : "<present>",
				  empty(c->key) ? "<empty>" : "<present>");
	if ((c->auth & MA_AUTH_CUSTOM) && (empty(c->customAuthHeader) || empty(c->customAuthValue)))
		return em_err_set(err, EM_E_CONFIG, "customAuthHeader: customAuthHeader and customAuthValue are required "
				  "when custom auth is enabled");
	if ((c->auth & MA_AUTH_CUSTOM) && !em_http_header_name_ok(c->customAuthHeader))
		return em_err_set(err, EM_E_CONFIG, "customAuthHeader: not a header name");
	if ((c->auth & MA_AUTH_APIKEY) && empty(c->apiKey))
		return em_err_set(err, EM_E_CONFIG, "apiKey: apiKey is required when apiKey auth is enabled");
	if ((c->auth & MA_AUTH_APIKEY) && !strcmp(c->method, "header") && !empty(c->keyParamName) &&
	    !em_http_header_name_ok(c->keyParamName))
		return em_err_set(err, EM_E_CONFIG, "keyParamName: not a header name");
	{
		const char *names[] = {"bearerToken", "customAuthValue", "apiKey", "password"};
		const char *vals[] = {c->bearerToken, c->customAuthValue, c->apiKey, c->password};
		for (size_t i = 0; i < 4; i++)
			if (!em_http_header_value_ok(vals[i]))
				return em_err_set(err, EM_E_CONFIG, "%s: must not contain a line break", names[i]);
	}
	/* PEM contents, as KEDA takes them: loaded now, not failing at every poll */
	if (!empty(c->ca) || (c->auth & MA_AUTH_TLS)) {
		struct em_tls_pem m = {.ca = c->ca};
		if (c->auth & MA_AUTH_TLS) {
			m.cert = c->cert;
			m.key = c->key;
		}
		return em_tls_pem_check(&m, err);
	}
	return 0;
}

/* ------------------------------------------------------------------ instance */

struct ma_inst {
	const struct ma_cfg *cfg;
	struct em_http_client *http;      /* shared per server */
	char *url;                        /* with the API key when it goes in the query (secret) */
	char *shown_url;                  /* for messages: the query left out */
	struct em_http_headers headers;   /* auth headers (secret: wiped) */
	struct ma_selector sel;
};

static void ma_close(void *vinst)
{
	struct ma_inst *in = vinst;

	if (!in)
		return;
	em_http_client_put(in->http);
	em_http_headers_free(&in->headers);
	em_free_secret(in->url);
	free(in->shown_url);
	ma_selector_free(&in->sel);
	free(in);
}

/* The URL with the API key set as a query parameter (Go's Query().Set:
 * an existing parameter of that name is replaced). */
static char *url_with_key(const char *url, const char *name, const char *key)
{
	const char *q = strchr(url, '?'), *frag = strchr(url, '#');
	struct em_strbuf sb;
	size_t base = frag ? (size_t)(frag - url) : strlen(url);

	if (q && frag && frag < q)
		q = NULL;
	em_sb_init(&sb);
	em_sb_add(&sb, url, q ? (size_t)(q - url) : base);
	em_sb_puts(&sb, "?");
	em_sb_query_escape(&sb, name);
	em_sb_puts(&sb, "=");
	em_sb_query_escape(&sb, key);
	for (const char *p = q ? q + 1 : NULL; p && p < url + base;) {
		size_t n = strcspn(p, "&#"), kl = strcspn(p, "=&#");
		struct em_strbuf k;
		em_sb_init(&k);
		em_sb_query_escape(&k, name);
		if (n > 0 && !(kl == k.len && !strncmp(p, k.buf, kl))) {
			em_sb_puts(&sb, "&");
			em_sb_add(&sb, p, n);
		}
		em_sb_free(&k);
		p += n;
		if (*p != '&')
			break;
		p++;
	}
	if (frag)
		em_sb_puts(&sb, frag);
	if (sb.oom) {
		em_sb_free_secret(&sb);
		return NULL;
	}
	return em_sb_steal(&sb);
}

static void *ma_open(const void *vcfg, struct em_err *err)
{
	const struct ma_cfg *c = vcfg;
	struct ma_inst *in = calloc(1, sizeof(*in));
	bool key_in_query;

	if (!in)
		goto out;
	in->cfg = c;
	key_in_query = (c->auth & MA_AUTH_APIKEY) && !strcmp(c->method, "query");
	in->url = key_in_query ? url_with_key(c->url, !empty(c->keyParamName) ? c->keyParamName : "api_key", c->apiKey)
			       : strdup(c->url);
	{
		/* for messages: no userinfo (libcurl sends it as basic auth), no query */
		const char *a = strstr(c->url, "://") + 3, *at = memchr(a, '@', strcspn(a, "/?#"));
		struct em_strbuf sb;
		char *k = strndup(c->url, (size_t)(a - c->url) + strcspn(a, "/?#"));
		em_sb_init(&sb);
		em_sb_add(&sb, c->url, (size_t)(a - c->url));
		em_sb_add(&sb, at ? at + 1 : a, strcspn(at ? at + 1 : a, "?#"));
		in->shown_url = sb.oom ? (em_sb_free(&sb), NULL) : em_sb_steal(&sb);
		/* the client is shared per scheme://authority */
		in->http = k ? em_http_client_get(k) : NULL;
		em_free_secret(k);
	}
	if (!in->url || !in->shown_url || !in->http)
		goto out;
	if (c->fmt == MA_PROMETHEUS && ma_selector_parse(c->valueLocation, &in->sel, err) != 0) {
		ma_close(in);
		return NULL;
	}
	em_http_header_add(&in->headers, "Accept", c->fmt == MA_PROMETHEUS ? "text/plain" : c->fmt == MA_YAML
						      ? "application/yaml, */*" : "application/json, */*");
	if ((c->auth & MA_AUTH_APIKEY) && !key_in_query)
		em_http_header_add(&in->headers, !empty(c->keyParamName) ? c->keyParamName : "X-API-KEY", c->apiKey);
	if (c->auth & MA_AUTH_BASIC)
		em_http_header_basic(&in->headers, c->username, c->password);
	if (c->auth & MA_AUTH_BEARER)
		em_http_header_auth(&in->headers, "Bearer", c->bearerToken);
	if (c->auth & MA_AUTH_CUSTOM)
		em_http_header_add(&in->headers, c->customAuthHeader, c->customAuthValue);
	if (in->headers.oom)
		goto out;
	return in;
out:
	ma_close(in);
	em_err_set(err, EM_E_INTERNAL, "out of memory");
	return NULL;
}

static void scrub(const struct ma_cfg *c, char *msg, size_t cap)
{
	const char *secrets[6];
	size_t n = 0;
	char *basic = (c->auth & MA_AUTH_BASIC) ? em_http_basic_credentials(c->username, c->password) : NULL;
	const char *vals[] = {c->bearerToken, c->password, c->apiKey, c->customAuthValue, c->key, basic};

	for (size_t i = 0; i < 6; i++)
		if (!empty(vals[i]))
			secrets[n++] = vals[i];
	em_scrub(msg, cap, secrets, n);
	em_free_secret(basic);
}

static struct em_sm_family fam_requests = EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_metrics_api_requests_total",
	"metrics-api requests by HTTP status (\"error\": no response).");

static int ma_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct ma_inst *in = vinst;
	const struct ma_cfg *c = in->cfg;
	int64_t tmo = ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000;
	struct em_http_tls tls = {.tls12 = true, .insecure = c->unsafeSsl, .ca_pem = c->ca};
	struct em_http_resp resp = {0};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (c->timeout_ms > 0 && c->timeout_ms < tmo)
		tmo = c->timeout_ms;
	if (c->auth & MA_AUTH_TLS) {
		tls.cert_pem = c->cert;
		tls.key_pem = c->key;
	}
	struct em_http_req req = {
		.url = in->url, .headers = &in->headers, .timeout_ms = tmo, .user_agent = "extmetrics/" EM_VERSION,
		.max_body = MA_MAX_BODY, .tls = &tls, .keepalive = true, .compressed = true,
	};
	em_http_do(in->http, &req, &resp);
	{
		char label[32];
		em_http_code_label(&resp, label, sizeof(label));
		em_sm_add(em_sm_series(&fam_requests, label), 1);
	}
	if (resp.fail != EM_HTTP_OK) {
		em_http_fail_err(&resp, &req, "error requesting metrics endpoint", in->shown_url, err);
		goto out;
	}
	if (resp.status != 200) {
		em_err_set(err, EM_E_UNAVAILABLE, "error requesting metrics endpoint: %s: api returned %ld", in->shown_url,
			   resp.status);
		goto out;
	}
	if (ma_value(c->fmt, resp.body, resp.len, c->valueLocation, &in->sel, &out->value, err) != 0) {
		em_err_prefix(err, "error requesting metrics endpoint");
		goto out;
	}
	out->active = out->value > c->activationTargetValue;
	rc = 0;
out:
	if (rc != 0)
		scrub(c, err->msg, sizeof(err->msg));
	em_http_resp_free(&resp);
	return rc;
}

/* ma_check stops at its first problem; the core takes them as option errors. */
static int ma_validate(void *cfg, struct em_optdiag *d)
{
	struct em_err err = {0};

	return ma_check(cfg, &err) == 0 ? 0 : em_opt_error_err(d, &err);
}

const struct em_scaler em_scaler_metrics_api = {
	.type = "metrics-api",
	.options = ma_options,
	.config_size = sizeof(struct ma_cfg),
	.summary = "one number from any HTTP endpoint's JSON (GJSON path), YAML or Prometheus text answer",
	.validate = ma_validate,
	.open = ma_open,
	.fetch = ma_fetch,
	.close = ma_close,
};
