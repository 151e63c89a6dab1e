/* test_prometheus.c - unit tests of the prometheus scaler's pure parts: URLs, escaping, auth modes, response parsing. */
#include "harness.h"
#include "optdiag.h"

#include <curl/curl.h>

#include "adapter/util/http.h"
#include "adapter/util/secret.h"
#include "scalers/prometheus.h"

/* A config as em_options_parse + validate would leave it (defaults applied). */
static struct em_prom_cfg cfg_default(void)
{
	struct em_prom_cfg c;

	memset(&c, 0, sizeof(c));
	c.serverAddress = "http://127.0.0.1:9090";
	c.query = "sum(queue_depth)";
	c.threshold = 10;
	c.ignoreNullValues = true;
	return c;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int parse(const struct em_prom_cfg *c, long status, const char *body, struct em_sample *s, struct em_err *e)
{
	em_err_clear(e);
	return em_prom_parse_response(body, strlen(body), status, c, s, e);
}

/* ---------------------------------------------------------------- escaping */

static void check_escape(const char *in, const char *want)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_query_escape(&sb, in);
	EXPECT_STR(sb.buf ? sb.buf : "", want);
	em_sb_free(&sb);
}

TEST(query_escape_like_go)
{
	check_escape("abcXYZ019-_.~", "abcXYZ019-_.~");
	check_escape("a b", "a+b");
	check_escape("sum(rate(http_requests_total{job=\"api\"}[2m]))",
		     "sum%28rate%28http_requests_total%7Bjob%3D%22api%22%7D%5B2m%5D%29%29");
	check_escape("a+b&c=d/e?f#g%h", "a%2Bb%26c%3Dd%2Fe%3Ff%23g%25h");
	check_escape("\xc3\xa9\n", "%C3%A9%0A");
	check_escape("", "");
}

TEST(format_time_rfc3339_millis)
{
	char buf[40];

	EXPECT_INT(em_prom_format_time(0, buf, sizeof(buf)), 0);
	EXPECT_STR(buf, "1970-01-01T00:00:00.000Z");
	EXPECT_INT(em_prom_format_time(1787227200250LL, buf, sizeof(buf)), 0);
	EXPECT_STR(buf, "2026-08-20T12:00:00.250Z");
	EXPECT_INT(em_prom_format_time(-1, buf, sizeof(buf)), 0);
	EXPECT_STR(buf, "1969-12-31T23:59:59.999Z");
	EXPECT_INT(em_prom_format_time(0, buf, 10), -1);
}

/* --------------------------------------------------------------- requests */

TEST(build_get_request)
{
	struct em_prom_cfg c = cfg_default();
	char *url, *body;

	c.serverAddress = "http://prom:9090/";
	c.query = "up{job=\"a b\"}";
	EXPECT_INT(em_prom_build_request(&c, 1787227200000LL, EM_PROM_MAX_GET_URL, &url, &body), 0);
	EXPECT_STR(url, "http://prom:9090/api/v1/query?query=up%7Bjob%3D%22a+b%22%7D&time=2026-08-20T12%3A00%3A00.000Z");
	EXPECT(body == NULL);
	free(url);
	free(body);
}

TEST(build_get_with_namespace_and_params)
{
	struct em_prom_cfg c = cfg_default();
	struct em_kv kv[] = {{"dedup", "true"}, {"partial response", "a&b"}};
	char *url, *body;

	c.serverAddress = "https://thanos.example/prefix";
	c.namespace = "team-a";
	c.queryParameters.items = kv;
	c.queryParameters.n = 2;
	EXPECT_INT(em_prom_build_request(&c, 0, EM_PROM_MAX_GET_URL, &url, &body), 0);
	EXPECT_STR(url, "https://thanos.example/prefix/api/v1/query?query=sum%28queue_depth%29"
			"&time=1970-01-01T00%3A00%3A00.000Z&namespace=team-a&dedup=true&partial+response=a%26b");
	EXPECT(body == NULL);
	free(url);
	free(body);
}

TEST(build_post_when_url_too_long)
{
	struct em_prom_cfg c = cfg_default();
	struct em_kv kv[] = {{"dedup", "true"}};
	char *url, *body, *q;
	size_t n = 6000;

	q = malloc(n + 1);
	memset(q, 'a', n);
	q[n] = '\0';
	c.query = q;
	c.namespace = "ns";
	c.queryParameters.items = kv;
	c.queryParameters.n = 1;
	EXPECT_INT(em_prom_build_request(&c, 0, EM_PROM_MAX_GET_URL, &url, &body), 0);
	/* query and time move to the form body; tenancy parameters stay in the URL */
	EXPECT_STR(url, "http://127.0.0.1:9090/api/v1/query?namespace=ns&dedup=true");
	EXPECT(body != NULL);
	EXPECT(body && strncmp(body, "query=aaaa", 10) == 0);
	EXPECT(body && strlen(body) == strlen("query=") + n + strlen("&time=1970-01-01T00%3A00%3A00.000Z"));
	EXPECT(body && strstr(body, "&time=1970-01-01T00%3A00%3A00.000Z") != NULL);
	free(url);
	free(body);

	/* Without extra parameters the URL has no '?'. */
	c.namespace = NULL;
	c.queryParameters.n = 0;
	EXPECT_INT(em_prom_build_request(&c, 0, EM_PROM_MAX_GET_URL, &url, &body), 0);
	EXPECT_STR(url, "http://127.0.0.1:9090/api/v1/query");
	EXPECT(body != NULL);
	free(url);
	free(body);

	/* The limit is inclusive: a URL of exactly max_url bytes is still a GET. */
	c.query = "x";
	EXPECT_INT(em_prom_build_request(&c, 0, 10000, &url, &body), 0);
	{
		size_t len = strlen(url);
		char *url2, *body2;
		free(url);
		free(body);
		EXPECT_INT(em_prom_build_request(&c, 0, len, &url2, &body2), 0);
		EXPECT(body2 == NULL);
		free(url2);
		free(body2);
		EXPECT_INT(em_prom_build_request(&c, 0, len - 1, &url2, &body2), 0);
		EXPECT(body2 != NULL);
		free(url2);
		free(body2);
	}
	free(q);
}

/* A selector value substituted into a PromQL string literal is limited by the
 * label value grammar to [A-Za-z0-9_.-]: none of those characters is special
 * inside "..." nor in the URL, so the query keeps its shape and the escaped
 * URL carries the value verbatim. */
TEST(selector_value_cannot_break_out_of_string)
{
	const char *allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_query_escape(&sb, allowed);
	EXPECT_STR(sb.buf, allowed);
	em_sb_free(&sb);
	for (const char *p = allowed; *p; p++)
		EXPECT(*p != '"' && *p != '\\' && *p != '}' && *p != '{' && *p != ',' && *p != '\'' && *p != '`');
}

/* ------------------------------------------------------------- auth modes */

TEST(authmodes_parse)
{
	unsigned m = 0;
	struct em_err e;

	EXPECT_INT(em_prom_parse_authmodes("basic", &m, &e), 0);
	EXPECT_INT(m, EM_PROM_AUTH_BASIC);
	EXPECT_INT(em_prom_parse_authmodes(" tls , basic ", &m, &e), 0);
	EXPECT_INT(m, EM_PROM_AUTH_TLS | EM_PROM_AUTH_BASIC);
	EXPECT_INT(em_prom_parse_authmodes("bearer,custom,tls", &m, &e), 0);
	EXPECT_INT(m, EM_PROM_AUTH_BEARER | EM_PROM_AUTH_CUSTOM | EM_PROM_AUTH_TLS);
	EXPECT_INT(em_prom_parse_authmodes("bearer,basic", &m, &e), -1);
	EXPECT_STR(e.msg, "both bearer and basic authentication can not be set");
	EXPECT_INT(e.kind, EM_E_CONFIG);
	EXPECT_INT(em_prom_parse_authmodes("basic,digest", &m, &e), -1);
	EXPECT_STR(e.msg, "incorrect value for authMode is given: digest");
	EXPECT_INT(em_prom_parse_authmodes("basic,", &m, &e), -1);   /* KEDA: an empty entry is not in the enum */
	EXPECT_INT(em_prom_parse_authmodes("oauth", &m, &e), -1);
	EXPECT_STR(e.msg, "oauth: KEDA accepts it but sends no credentials for it in the prometheus scaler; not supported");
}

TEST(validate_auth_requirements)
{
	struct em_prom_cfg c;
	struct th_diag t;

	c = cfg_default();
	c.authModes = "bearer";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "bearerToken: bearer token is required when bearer auth is enabled");

	c = cfg_default();
	c.authModes = "bearer";
	c.bearerToken = "t0k";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), 0);
	EXPECT_INT(c.auth, EM_PROM_AUTH_BEARER);
	EXPECT_STR(c.bearer, "t0k");

	c = cfg_default();
	c.authModes = "basic";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "username: username is required when basic auth is enabled");
	c.username = "u";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), 0);
	EXPECT_INT(c.auth, EM_PROM_AUTH_BASIC);

	c = cfg_default();
	c.authModes = "custom";
	c.customAuthHeader = "X-Api-Key";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "customAuthHeader: customAuthHeader and customAuthValue are required when custom auth is enabled");
	c.customAuthValue = "v\r\nX-Evil: 1";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "customAuthValue: must not contain a line break");
	c.customAuthValue = "v";
	c.customAuthHeader = "Bad Header";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);

	c = cfg_default();
	c.authModes = "tls";
	c.cert = "-----BEGIN CERTIFICATE-----\n";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "cert: cert and key are required when tls auth is enabled");
	c.key = "/etc/tls/key.pem";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "key: expected PEM contents (read a file with fromFile)");
	c.key = "-----BEGIN PRIVATE KEY-----\n";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), 0);

	/* every problem at once */
	c = cfg_default();
	c.serverAddress = "p:9090";
	c.authModes = "tls,custom";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.errs, "serverAddress: must start with http:// or https://\n"
			   "cert: cert and key are required when tls auth is enabled\n"
			   "customAuthHeader: customAuthHeader and customAuthValue are required when custom auth is enabled\n");
}

TEST(validate_other_keys)
{
	struct em_prom_cfg c;
	struct th_diag t;
	struct em_kv bad[] = {{"X-Ok", "1"}, {"X Bad", "2"}};
	struct em_kv good[] = {{"X-Scope-OrgID", "tenant-1"}, {"X-Empty", ""}};

	c = cfg_default();
	c.serverAddress = "prometheus:9090";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "serverAddress: must start with http:// or https://");

	c = cfg_default();
	c.awsRegion = "us-east-1";
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT(starts_with(t.first, "awsRegion: "));

	c = cfg_default();
	c.customHeaders.items = bad;
	c.customHeaders.n = 2;
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "customHeaders: invalid header name \"X Bad\"");
	c.customHeaders.items = good;
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), 0);

	const char *names[] = {"sum", "max", "min", "avg", "items"};
	enum em_prom_multi want[] = {EM_PROM_MULTI_SUM, EM_PROM_MULTI_MAX, EM_PROM_MULTI_MIN, EM_PROM_MULTI_AVG, EM_PROM_MULTI_ITEMS};
	for (int i = 0; i < 5; i++) {
		c = cfg_default();
		c.multipleSeries = (char *)names[i];
		EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), 0);
		EXPECT_INT(c.multi, want[i]);
	}
	c = cfg_default();
	EXPECT_INT(em_prom_validate(&c, th_diag_init(&t)), 0);
	EXPECT_INT(c.multi, EM_PROM_MULTI_ERROR);
	EXPECT_INT(c.auth, 0);
}

TEST(option_table_flags)
{
	/* Secrets must be flagged so the core never logs them. */
	const char *secret[] = {"password", "bearerToken", "token", "key", "customAuthValue"};
	const char *keys[] = {"serverAddress", "query", "threshold", "activationThreshold", "namespace",
			      "queryParameters", "customHeaders", "ignoreNullValues", "unsafeSsl", "timeout",
			      "authModes", "username", "password", "bearerToken", "cert", "key", "ca",
			      "customAuthHeader", "customAuthValue", "multipleSeries"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct em_option *o = NULL;
		for (const struct em_option *p = em_prom_options; p->name; p++)
			if (strcmp(p->name, keys[i]) == 0)
				o = p;
		if (!o) {
			TH_FAIL("key %s missing from the option table", keys[i]);
			continue;
		}
		bool want_secret = false;
		for (size_t j = 0; j < sizeof(secret) / sizeof(secret[0]); j++)
			if (strcmp(secret[j], keys[i]) == 0)
				want_secret = true;
		if (want_secret != ((o->flags & EM_OPT_SECRET) != 0))
			TH_FAIL("key %s secret flag is %d", keys[i], (o->flags & EM_OPT_SECRET) != 0);
	}
	EXPECT(em_scaler_find("prometheus") == &em_scaler_prometheus);
}

/* ---------------------------------------------------------------- parsing */

#define VEC1(v) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" \
	"{\"metric\":{\"queue\":\"orders\"},\"value\":[1787227200.5,\"" v "\"]}]}}"

TEST(parse_single_vector)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	EXPECT_INT(parse(&c, 200, VEC1("42.5"), &s, &e), 0);
	EXPECT_DBL(s.value, 42.5, 0);
	EXPECT_INT(s.n_series, 0);
	EXPECT(s.active);
	em_sample_free(&s);

	EXPECT_INT(parse(&c, 200, VEC1("-3"), &s, &e), 0);
	EXPECT_DBL(s.value, -3, 0);
	EXPECT(!s.active);
	em_sample_free(&s);

	EXPECT_INT(parse(&c, 200, VEC1("1e3"), &s, &e), 0);
	EXPECT_DBL(s.value, 1000, 0);
	em_sample_free(&s);
}

TEST(parse_activation_is_strict)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	c.activationThreshold = 5;
	EXPECT_INT(parse(&c, 200, VEC1("5"), &s, &e), 0);
	EXPECT(!s.active);
	em_sample_free(&s);
	EXPECT_INT(parse(&c, 200, VEC1("5.001"), &s, &e), 0);
	EXPECT(s.active);
	em_sample_free(&s);
}

TEST(parse_scalar)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1787227200,\"7\"]}}",
			 &s, &e), 0);
	EXPECT_DBL(s.value, 7, 0);
	EXPECT_INT(s.n_series, 0);
	em_sample_free(&s);

	c.ignoreNullValues = false;
	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"NaN\"]}}",
			 &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query returns NaN");
}

TEST(parse_empty_result)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;
	const char *body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";

	c.activationThreshold = -1;
	EXPECT_INT(parse(&c, 200, body, &s, &e), 0);
	EXPECT_DBL(s.value, 0, 0);
	EXPECT(s.active);   /* 0 > -1 */
	em_sample_free(&s);

	c.ignoreNullValues = false;
	EXPECT_INT(parse(&c, 200, body, &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus metrics 'prometheus' target may be lost, the result is empty");
	EXPECT_INT(e.kind, EM_E_UNAVAILABLE);

	/* an element with an empty value list, like KEDA */
	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[]}]}}",
			 &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus metrics 'prometheus' target may be lost, the value list is empty");
}

TEST(parse_nan_and_inf)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	EXPECT_INT(parse(&c, 200, VEC1("NaN"), &s, &e), 0);
	EXPECT_DBL(s.value, 0, 0);
	em_sample_free(&s);
	EXPECT_INT(parse(&c, 200, VEC1("+Inf"), &s, &e), 0);
	EXPECT_DBL(s.value, 0, 0);
	em_sample_free(&s);

	c.ignoreNullValues = false;
	EXPECT_INT(parse(&c, 200, VEC1("NaN"), &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query returns NaN");
	EXPECT_INT(parse(&c, 200, VEC1("+Inf"), &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query returns +Inf");
	EXPECT_INT(parse(&c, 200, VEC1("-Inf"), &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query returns -Inf");
	EXPECT_INT(parse(&c, 200, VEC1("12abc"), &s, &e), -1);
	EXPECT(strstr(e.msg, "not a number") != NULL);
}

TEST(parse_matrix_and_string_rejected)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
				  "\"values\":[[1,\"1\"],[2,\"2\"]]}]}}", &s, &e), -1);
	EXPECT(strstr(e.msg, "returned a range vector (matrix)") != NULL);
	EXPECT(strstr(e.msg, "sum(queue_depth)") != NULL);
	EXPECT_INT(s.n_series, 0);
	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"x\"]}}",
			 &s, &e), -1);
	EXPECT(strstr(e.msg, "returned a string") != NULL);
}

#define VEC3 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" \
	"{\"metric\":{\"__name__\":\"queue_depth\",\"queue\":\"b\",\"job\":\"x\"},\"value\":[1,\"2\"]}," \
	"{\"metric\":{\"__name__\":\"queue_depth\",\"queue\":\"a\",\"job\":\"x\"},\"value\":[1,\"10\"]}," \
	"{\"metric\":{\"queue\":\"c\"},\"value\":[1,\"3\"]}]}}"

TEST(parse_multiple_series)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;
	struct { enum em_prom_multi m; double want; } cases[] = {
		{EM_PROM_MULTI_SUM, 15}, {EM_PROM_MULTI_MAX, 10}, {EM_PROM_MULTI_MIN, 2}, {EM_PROM_MULTI_AVG, 5},
	};

	EXPECT_INT(parse(&c, 200, VEC3, &s, &e), -1);
	EXPECT(starts_with(e.msg, "prometheus query sum(queue_depth) returned multiple elements"));
	EXPECT_INT(e.kind, EM_E_UNAVAILABLE);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c.multi = cases[i].m;
		EXPECT_INT(parse(&c, 200, VEC3, &s, &e), 0);
		EXPECT_DBL(s.value, cases[i].want, 1e-12);
		EXPECT_INT(s.n_series, 0);
		em_sample_free(&s);
	}
}

TEST(parse_items)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	c.multi = EM_PROM_MULTI_ITEMS;
	c.activationThreshold = 14;
	EXPECT_INT(parse(&c, 200, VEC3, &s, &e), 0);
	EXPECT_DBL(s.value, 15, 0);
	EXPECT(s.active);
	EXPECT_INT(s.n_series, 3);
	if (s.n_series == 3) {
		/* Prometheus' order is kept; labels sorted, __name__ dropped */
		EXPECT_DBL(s.series[0].value, 2, 0);
		EXPECT_INT(s.series[0].labels.n, 2);
		EXPECT_STR(s.series[0].labels.items[0].key, "job");
		EXPECT_STR(s.series[0].labels.items[0].value, "x");
		EXPECT_STR(s.series[0].labels.items[1].key, "queue");
		EXPECT_STR(s.series[0].labels.items[1].value, "b");
		EXPECT_DBL(s.series[1].value, 10, 0);
		EXPECT_STR(s.series[1].labels.items[1].value, "a");
		EXPECT_DBL(s.series[2].value, 3, 0);
		EXPECT_INT(s.series[2].labels.n, 1);
		EXPECT_STR(s.series[2].labels.items[0].value, "c");
	}
	em_sample_free(&s);

	/* one series is still an item with its labels */
	EXPECT_INT(parse(&c, 200, VEC1("4"), &s, &e), 0);
	EXPECT_INT(s.n_series, 1);
	EXPECT_DBL(s.value, 4, 0);
	EXPECT(s.n_series == 1 && s.series[0].labels.n == 1);
	em_sample_free(&s);

	/* a NaN among items fails the whole fetch when nulls are not ignored */
	c.ignoreNullValues = false;
	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
				  "{\"metric\":{\"q\":\"a\"},\"value\":[1,\"1\"]},{\"metric\":{\"q\":\"b\"},\"value\":[1,\"NaN\"]}]}}",
			 &s, &e), -1);
	EXPECT_INT(s.n_series, 0);
	EXPECT(s.series == NULL);
}

TEST(parse_error_bodies)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;

	EXPECT_INT(parse(&c, 400,
			 "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error: unexpected end of input\"}",
			 &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query api returned error. status: 400, errorType: bad_data, "
			  "error: 1:5: parse error: unexpected end of input");
	EXPECT_INT(e.kind, EM_E_UNAVAILABLE);

	EXPECT_INT(parse(&c, 503, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out in expression evaluation\"}",
			 &s, &e), -1);
	EXPECT(strstr(e.msg, "status: 503, errorType: timeout") != NULL);

	EXPECT_INT(parse(&c, 401, "Unauthorized\n", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query api returned error. status: 401: Unauthorized");

	EXPECT_INT(parse(&c, 502, "", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query api returned error. status: 502");

	/* the JSON error says where, never what: no body text in messages */
	EXPECT_INT(parse(&c, 200, "<html>not json</html>", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus returned invalid JSON at byte 0: unexpected character");
	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[tok-secret]}}", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus returned invalid JSON at byte 60: unexpected character");

	EXPECT_INT(parse(&c, 200, "{\"status\":\"success\",\"data\":{}}", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus response has no data.resultType");

	EXPECT_INT(parse(&c, 200, "[1,2]", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus returned status \"(none)\"");
}

TEST(parse_long_error_is_an_excerpt)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_puts(&sb, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"");
	for (int i = 0; i < 2000; i++)
		em_sb_puts(&sb, "x");
	em_sb_puts(&sb, "\"}");
	EXPECT_INT(em_prom_parse_response(sb.buf, sb.len, 400, &c, &s, &e), -1);
	/* backend text is quoted as a short excerpt */
	EXPECT(strlen(e.msg) < 300);
	EXPECT(strstr(e.msg, "error: xxxxxxxxxx") != NULL);
	EXPECT(strcmp(e.msg + strlen(e.msg) - 4, "x...") == 0);
	em_sb_free(&sb);
}

/* ------------------------------------------------ through the option parser */

static int parse_opts(const struct em_rawopt *items, size_t n, struct em_prom_cfg *c, struct th_diag *t)
{
	struct em_rawopts raw = {(struct em_rawopt *)items, n};

	memset(c, 0, sizeof(*c));
	if (em_options_parse(em_prom_options, &raw, c, th_diag_init(t)) != 0)
		return -1;
	return em_prom_validate(c, &t->d);
}

/* ------------------------------------------------------------------ secrets */

TEST(basic_credentials_rfc7617)
{
	char *b;

	b = em_http_basic_credentials("Aladdin", "open sesame");   /* RFC 7617 section 2 */
	EXPECT_STR(b, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	em_free_secret(b);
	b = em_http_basic_credentials("test", "123\xc2\xa3");        /* RFC 7617 section 2.1, UTF-8 */
	EXPECT_STR(b, "dGVzdDoxMjPCow==");
	em_free_secret(b);
	b = em_http_basic_credentials("alice", "");
	EXPECT_STR(b, "YWxpY2U6");
	em_free_secret(b);
	b = em_http_basic_credentials("alice", NULL);
	EXPECT_STR(b, "YWxpY2U6");
	em_free_secret(b);
}

TEST(header_list_is_wiped)
{
	struct em_http_headers h = {0};
	const char *lines[] = {"Accept: application/json", "Authorization: Bearer tok-123-secret", "X-Api-Key: k"};
	size_t lens[3];
	int i = 0;

	em_http_header_add(&h, "Accept", "application/json");
	em_http_header_auth(&h, "Bearer", "tok-123-secret");
	em_http_header_add(&h, "X-Api-Key", "k");
	EXPECT(!h.oom);
	for (struct curl_slist *p = h.list; p && i < 3; p = p->next, i++) {
		EXPECT_STR(p->data, lines[i]);
		lens[i] = strlen(lines[i]);
	}
	EXPECT_INT(i, 3);
	i = 0;
	em_http_headers_wipe(&h);
	for (struct curl_slist *p = h.list; p && i < 3; p = p->next, i++)
		for (size_t k = 0; k < lens[i]; k++)
			if (p->data[k] != 0) {
				TH_FAIL("header %d byte %zu not wiped", i, k);
				break;
			}
	EXPECT_INT(i, 3);
	em_http_headers_free(&h);
	EXPECT(h.list == NULL);
	em_http_headers_wipe(NULL);
}

/* A server that echoes the credentials it got in its error body: the
 * message holds none of them, not even the part before the length cut. */
TEST(echoed_secrets_are_scrubbed_before_the_cut)
{
	struct em_prom_cfg c = cfg_default();
	struct em_sample s;
	struct em_err e;
	char body[1024];
	char *b64;

	c.auth = EM_PROM_AUTH_BEARER;
	c.bearer = c.bearerToken = "tok-0123456789-secret";
	/* the token straddles the 160-byte snippet limit */
	snprintf(body, sizeof(body), "%-140s Bearer %s", "Unauthorized:", c.bearer);
	EXPECT_INT(parse(&c, 401, body, &s, &e), -1);
	EXPECT(strstr(e.msg, "status: 401: Unauthorized:") != NULL);
	EXPECT(strstr(e.msg, "tok-0") == NULL);

	snprintf(body, sizeof(body), "Unauthorized, got Bearer %s", c.bearer);
	EXPECT_INT(parse(&c, 401, body, &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query api returned error. status: 401: Unauthorized, got Bearer ***");

	c = cfg_default();
	c.auth = EM_PROM_AUTH_BASIC;
	c.username = "alice";
	c.password = "pw-Zq84w";
	b64 = em_http_basic_credentials(c.username, c.password);
	snprintf(body, sizeof(body), "denied: Authorization: Basic %s", b64);
	EXPECT_INT(parse(&c, 403, body, &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query api returned error. status: 403: denied: Authorization: Basic ***");
	em_free_secret(b64);

	/* JSON errors too, cut at the error's 512 bytes */
	c = cfg_default();
	c.auth = EM_PROM_AUTH_CUSTOM;
	c.customAuthHeader = "X-Api-Key";
	c.customAuthValue = "custom-value-Zq83z-0123456789";
	snprintf(body, sizeof(body),
		 "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"%-420s key %s\"}", "x",
		 c.customAuthValue);
	EXPECT_INT(parse(&c, 400, body, &s, &e), -1);
	EXPECT(starts_with(e.msg, "prometheus query api returned error. status: 400, errorType: bad_data"));
	EXPECT(strstr(e.msg, "custom-") == NULL);

	/* and the password itself, the client key */
	c = cfg_default();
	c.password = "plain-pw-Zq85";
	c.key = "-----BEGIN PRIVATE KEY-----abc";
	EXPECT_INT(parse(&c, 500, "echo plain-pw-Zq85 -----BEGIN PRIVATE KEY-----abc", &s, &e), -1);
	EXPECT_STR(e.msg, "prometheus query api returned error. status: 500: echo *** ***");
}

TEST(keda_metadata_parses)
{
	/* A KEDA trigger's metadata and TriggerAuthentication params, verbatim. */
	const struct em_rawopt meta[] = {
		{.name = "serverAddress", .value = "http://prometheus:9090"},
		{.name = "query", .value = "sum(rate(http_requests_total{deployment=\"my-deployment\"}[2m]))"},
		{.name = "threshold", .value = "100.50"},
		{.name = "activationThreshold", .value = "5.5"},
		{.name = "namespace", .value = "example-namespace"},
		{.name = "customHeaders", .value = "X-Client-Id=cid,X-Tenant-Id=tid,X-Organization-Id=oid"},
		{.name = "ignoreNullValues", .value = "false"},
		{.name = "queryParameters", .value = "key-1=value-1,key-2=value-2"},
		{.name = "unsafeSsl", .value = "false"},
		{.name = "timeout", .value = "1000"},
		{.name = "authModes", .value = "basic"},
		{.name = "username", .value = "user"},
		{.name = "password", .value = "pass word"},
	};
	struct em_prom_cfg c;
	struct th_diag t;

	EXPECT_INT(parse_opts(meta, sizeof(meta) / sizeof(meta[0]), &c, &t), 0);
	EXPECT_STR(t.errs, "");
	EXPECT_STR(t.warns, "");
	EXPECT_DBL(c.threshold, 100.5, 0);
	EXPECT_DBL(c.activationThreshold, 5.5, 0);
	EXPECT_INT(c.timeout_ms, 1000);
	EXPECT(!c.ignoreNullValues);
	EXPECT_INT(c.customHeaders.n, 3);
	EXPECT_INT(c.queryParameters.n, 2);
	EXPECT_INT(c.auth, EM_PROM_AUTH_BASIC);
	EXPECT_STR(c.password, "pass word");
	{
		const char *sec[8];
		size_t n = em_options_secrets(em_prom_options, &c, sec, 8);
		EXPECT_INT(n, 1);
		EXPECT_STR(n ? sec[0] : "", "pass word");
	}
	em_options_free(em_prom_options, &c);
}

TEST(defaults_and_errors_from_the_parser)
{
	const struct em_rawopt minimal[] = {
		{.name = "serverAddress", .value = "http://p:9090"}, {.name = "query", .value = "up"}, {.name = "threshold", .value = "3"},
	};
	const struct em_rawopt no_threshold[] = {{.name = "serverAddress", .value = "http://p:9090"}, {.name = "query", .value = "up"}};
	const struct em_rawopt bad_multi[] = {
		{.name = "serverAddress", .value = "http://p:9090"}, {.name = "query", .value = "up"}, {.name = "threshold", .value = "3"},
		{.name = "multipleSeries", .value = "median"},
	};
	const struct em_rawopt unknown[] = {
		{.name = "serverAddress", .value = "http://p:9090"}, {.name = "query", .value = "up"}, {.name = "threshold", .value = "3"},
		{.name = "metricName", .value = "x"},
	};
	const struct em_rawopt dur[] = {
		{.name = "serverAddress", .value = "http://p:9090"}, {.name = "query", .value = "up"}, {.name = "threshold", .value = "3"},
		{.name = "timeout", .value = "2s500ms"},
	};
	struct em_prom_cfg c;
	struct th_diag t;

	EXPECT_INT(parse_opts(minimal, 3, &c, &t), 0);
	EXPECT(c.ignoreNullValues);        /* KEDA default true */
	EXPECT(!c.unsafeSsl);
	EXPECT_DBL(c.activationThreshold, 0, 0);
	EXPECT_INT(c.timeout_ms, 0);       /* the metric's timeout applies */
	EXPECT_INT(c.multi, EM_PROM_MULTI_ERROR);
	em_options_free(em_prom_options, &c);

	EXPECT_INT(parse_opts(no_threshold, 2, &c, &t), -1);
	EXPECT_STR(t.first, "threshold: missing required parameter \"threshold\"");
	em_options_free(em_prom_options, &c);

	EXPECT_INT(parse_opts(bad_multi, 4, &c, &t), -1);
	EXPECT(strstr(t.first, "sum, max, min, avg, items") != NULL);
	em_options_free(em_prom_options, &c);

	/* KEDA removed metricName and ignores it: a warning */
	EXPECT_INT(parse_opts(unknown, 4, &c, &t), 0);
	EXPECT(strncmp(t.warns, "metricName: ignored: KEDA removed metricName from trigger metadata", 66) == 0);
	em_options_free(em_prom_options, &c);

	EXPECT_INT(parse_opts(dur, 4, &c, &t), 0);
	EXPECT_INT(c.timeout_ms, 2500);
	em_options_free(em_prom_options, &c);
}
