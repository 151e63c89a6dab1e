/* test_metrics_api.c - unit tests of metrics-api's pure parts: KEDA's value table, GJSON, YAML, Prometheus, quantities. */
#include "harness.h"

#include "scalers/metrics_api/metrics_api.h"

extern const struct em_scaler em_scaler_metrics_api;

static const char json_in[] = "{\"components\":[{\"id\": \"82328e93e\", \"tasks\": 32, \"str\": \"64\", \"k\":\"1k\","
			      "\"wrong\":\"NaN\"}],\"count\":2.43}";
static const char yaml_in[] = "{components: [{id: 82328e93e, tasks: 32, str: '64', k: 1k, wrong: NaN}], count: 2.43}";
/* KEDA's test body: indented lines, no newline at the end */
static const char prom_in[] = "# HELP backend_queue_size Total number of items\n"
			      "\t# TYPE backend_queue_size counter\n"
			      "\tbackend_queue_size{queueName=\"zero\"} 0\n"
			      "\tbackend_queue_size{queueName=\"one\"} 1\n"
			      "\tbackend_queue_size{queueName=\"two\", instance=\"random\"} 2\n"
			      "\tbackend_queue_size{queueName=\"two\", instance=\"zero\"} 20\n"
			      "\t# HELP random_metric Random metric generate to include noise\n"
			      "\t# TYPE random_metric counter\n"
			      "\trandom_metric 10";

static int value(enum ma_format f, const char *body, const char *path, double *v, struct em_err *err)
{
	struct ma_selector sel = {0};
	int rc;

	if (f == MA_PROMETHEUS && ma_selector_parse(path, &sel, err) != 0)
		return -2;
	if (f == MA_JSON && ma_gjson_check(path, err) != 0)
		return -2;
	rc = ma_value(f, body, strlen(body), path, &sel, v, err);
	ma_selector_free(&sel);
	return rc;
}

TEST(keda_get_value_from_response_table)
{
	static const struct {
		enum ma_format f;
		const char *body, *path;
		double want;
		bool err;
	} cases[] = {
		{MA_JSON, json_in, "count", 2.43, false},
		{MA_JSON, json_in, "components.0.str", 64, false},
		{MA_JSON, json_in, "components.0.tasks", 32, false},
		{MA_JSON, json_in, "components.0.wrong", 0, true},
		{MA_YAML, yaml_in, "count", 2.43, false},
		{MA_YAML, yaml_in, "components.0.str", 64, false},
		{MA_YAML, yaml_in, "components.0.tasks", 32, false},
		{MA_YAML, yaml_in, "components.0.wrong", 0, true},
		{MA_PROMETHEUS, prom_in, "random_metric", 10, false},
		{MA_PROMETHEUS, prom_in, "backend_queue_size{queueName=\"one\"}", 1, false},
		{MA_PROMETHEUS, prom_in, "backend_queue_size{queueName=\"two\"}", 2, false},
		{MA_PROMETHEUS, prom_in, "backend_queue_size{queueName=\"two\", instance=\"zero\"}", 20, false},
		{MA_PROMETHEUS, prom_in, "backend_queue_size{invalid=test}", 0, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct em_err err = {0};
		double v = -1;
		int rc = value(cases[i].f, cases[i].body, cases[i].path, &v, &err);
		if ((rc != 0) != cases[i].err || (rc == 0 && fabs(v - cases[i].want) > 1e-9))
			TH_FAIL("case %zu %s: rc %d v %g (%s)", i, cases[i].path, rc, v, err.msg);
	}
}

TEST(gjson_paths)
{
	static const char body[] = "{\"name\": {\"first\": \"Tom\", \"last\": \"Anderson\"}, \"age\": 37, \"k.v\": 5,"
				   "\"children\": [\"Sara\", \"Alex\", \"Jack\"], \"fav.movie\": \"Deer Hunter\","
				   "\"friends\": [{\"first\": \"Dale\", \"age\": 44, \"nets\": [\"ig\", \"fb\"], \"q\": \"2Ki\"},"
				   "{\"first\": \"Roger\", \"age\": 68, \"q\": \"250m\"},"
				   "{\"first\": \"Jane\", \"age\": 47, \"q\": \"1e3\", \"on\": true}],"
				   "\"big\": 12345678901234567890123, \"neg\": -3, \"nul\": null, \"t\": true}";
	static const struct {
		const char *path;
		double want;
		const char *err;   /* NULL: a value */
	} cases[] = {
		{"age", 37, NULL},
		{"children.#", 3, NULL},
		{"friends.1.age", 68, NULL},
		{"friends.#(first==\"Jane\").age", 47, NULL},
		{"friends.#(age>45).age", 68, NULL},
		{"friends.#(age>=47).q", 0.25, NULL},
		{"friends.#(first%\"D*\").q", 2048, NULL},
		{"friends.#(first!%\"D*\").age", 68, NULL},
		{"friends.#(on==true).age", 47, NULL},
		{"friends.#(nets).age", 44, NULL},
		{"friends.0.nets.#", 2, NULL},
		{"friends.2.q", 1000, NULL},
		{"k\\.v", 5, NULL},
		{"a?e", 37, NULL},
		{"ag*", 37, NULL},
		{"neg", -3, NULL},
		{"friends.#.age", 0, "got JSON"},
		{"friends.#(age>40)#.age", 0, "got JSON"},
		{"name", 0, "got JSON"},
		{"name.first", 0, "not parseable as a Quantity"},
		{"missing", 0, "got Null"},
		{"nul", 0, "got Null"},
		{"t", 0, "got True"},
		{"children.7", 0, "got Null"},
		{"friends.#(first==\"Nobody\").age", 0, "got Null"},
		{"big", 0, "beyond the largest value served"},
		{"age.#", 0, "got Null"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct em_err err = {0};
		double v = -1;
		int rc = value(MA_JSON, body, cases[i].path, &v, &err);
		if (cases[i].err ? (rc == 0 || !strstr(err.msg, cases[i].err)) : (rc != 0 || fabs(v - cases[i].want) > 1e-9))
			TH_FAIL("%s: rc %d v %g (%s)", cases[i].path, rc, v, err.msg);
	}
	{
		static const char *const bad[] = {"", "@reverse", "a|b", "[a,b]", "a.#(x==", "a.#(x=~1)", "a..b", "a.",
						  "a.#(==1)", "a.#(x==\"1)", "a.#(x>\"1\"", "a.#(x%1)"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct em_err err = {0};
			if (ma_gjson_check(bad[i], &err) == 0)
				TH_FAIL("%s passed the check", bad[i]);
			else if (strncmp(err.msg, "valueLocation: ", 15) != 0)
				TH_FAIL("%s: %s", bad[i], err.msg);
		}
	}
}

TEST(json_answers_that_are_errors)
{
	static const char *const bad[] = {"", "{", "[1,2", "{\"a\": 1, \"a\": 2}", "{\"a\": NaN}", "\"a\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct em_err err = {0};
		double v;
		if (value(MA_JSON, bad[i], "a", &v, &err) == 0 || err.kind != EM_E_UNAVAILABLE)
			TH_FAIL("%s: accepted or wrong kind (%s)", bad[i], err.msg);
	}
}

TEST(yaml_scalars_and_paths)
{
	static const char body[] = "a:\n  b: 0x1F\n  c: 1_000\n  d: .inf\n  e: ~\n  f: true\n  g: \"12\"\n  h: 1.5e3\n"
				   "  i: [10, 20, {j: 5Mi}]\n  k: !!str 7\n  n: -4\nlist: &x [1, 2]\nref: *x\n";
	static const struct {
		const char *path;
		double want;
		const char *err;
	} cases[] = {
		{"a.b", 31, NULL},
		{"a.c", 1000, NULL},
		{"a.g", 12, NULL},
		{"a.h", 1500, NULL},
		{"a.i.1", 20, NULL},
		{"a.i.2.j", 5242880, NULL},
		{"a.k", 7, NULL},
		{"a.n", -4, NULL},
		{"ref.1", 2, NULL},
		{"a.d", 0, "+Inf"},
		{"a.e", 0, "<nil>"},
		{"a.f", 0, "bool"},
		{"a.i", 0, "does not lead to a value"},
		{"a.zz", 0, "not found"},
		{"a.i.01", 0, "not found"},
		{"a.b.c", 0, "goes past a scalar"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct em_err err = {0};
		double v = -1;
		int rc = value(MA_YAML, body, cases[i].path, &v, &err);
		if (cases[i].err ? (rc == 0 || !strstr(err.msg, cases[i].err)) : (rc != 0 || fabs(v - cases[i].want) > 1e-9))
			TH_FAIL("%s: rc %d v %g (%s)", cases[i].path, rc, v, err.msg);
	}
	{
		struct em_err err = {0};
		double v;
		EXPECT(value(MA_YAML, "- 1\n- 2\n", "0", &v, &err) != 0);
		EXPECT(value(MA_YAML, "a: [1\n", "a", &v, &err) != 0 && strstr(err.msg, "not YAML"));
	}
}

TEST(prometheus_text_and_selectors)
{
	static const char body[] = "# HELP q Queue.\n# TYPE q gauge\nq{name=\"a\",zone=\"x\"} 3 1700000000000\n"
				   "q{name=\"b\",zone=\"y\",} 4\nq{name=\"c\"} NaN\n"
				   "# TYPE lat summary\nlat{quantile=\"0.5\"} 1\nlat_sum 5\nlat_count 2\n"
				   "esc{v=\"a\\\"b\\\\c\"} 9\r\n";
	static const struct {
		const char *sel;
		double want;
		const char *err;
	} cases[] = {
		{"q", 3, NULL},
		{"q{name=\"b\"}", 4, NULL},
		{"q{name!=\"a\"}", 4, NULL},
		{"q{zone=~\"y|z\"}", 4, NULL},
		{"q{zone!~\"x\"}", 4, NULL},
		{"{__name__=\"q\", name='b'}", 4, NULL},
		{"q{missing=\"\"}", 3, NULL},
		{"esc{v=\"a\\\"b\\\\c\"}", 9, NULL},
		{"lat_sum", 5, NULL},
		{"q{name=\"c\"}", 0, "NaN"},
		{"lat", 0, "not found"},
		{"nope", 0, "not found"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct em_err err = {0};
		double v = -1;
		int rc = value(MA_PROMETHEUS, body, cases[i].sel, &v, &err);
		if (cases[i].err ? (rc == 0 || !strstr(err.msg, cases[i].err)) : (rc != 0 || fabs(v - cases[i].want) > 1e-9))
			TH_FAIL("%s: rc %d v %g (%s)", cases[i].sel, rc, v, err.msg);
	}
	{
		static const char *const badsel[] = {"", "{}", "q{", "q{a=b}", "q{a=\"x\"", "q{a=~\"(\"}", "q x",
						     "{__name__!=\"q\"}", "q{__name__=\"r\"}"};
		for (size_t i = 0; i < sizeof(badsel) / sizeof(badsel[0]); i++) {
			struct ma_selector s;
			struct em_err err = {0};
			if (ma_selector_parse(badsel[i], &s, &err) == 0) {
				TH_FAIL("%s parsed", badsel[i]);
				ma_selector_free(&s);
			}
		}
	}
	{
		static const char *const badtext[] = {"q{a=\"1\" 3\n", "q 3 x\n", "q\n", "1q 3\n", "q{a=1} 3\n",
						      "# TYPE q gauge\n# TYPE q gauge\nq 1\n", "q abc\n"};
		for (size_t i = 0; i < sizeof(badtext) / sizeof(badtext[0]); i++) {
			struct em_err err = {0};
			double v;
			if (value(MA_PROMETHEUS, badtext[i], "q", &v, &err) == 0 || !strstr(err.msg, "parsing error"))
				TH_FAIL("%s: accepted (%s)", badtext[i], err.msg);
		}
	}
}

TEST(quantities_as_apimachinery_parses_them)
{
	static const struct {
		const char *s;
		double want;
		bool ok;
	} cases[] = {
		{"1", 1, true}, {"1.5", 1.5, true}, {".5", 0.5, true}, {"5.", 5, true}, {"-2k", -2000, true},
		{"+3", 3, true}, {"250m", 0.25, true}, {"10Ki", 10240, true}, {"1Mi", 1048576, true},
		{"2Gi", 2147483648.0, true}, {"1e3", 1000, true}, {"1E-2", 0.01, true}, {"1.5e+2", 150, true},
		{"7n", 7e-9, true}, {"3u", 3e-6, true}, {"1M", 1e6, true}, {"1T", 1e12, true}, {"1E", 1e18, true},
		{"", 0, false}, {".", 0, false}, {"k", 0, false}, {"1K", 0, false}, {"1ki", 0, false}, {"1 ", 0, false},
		{" 1", 0, false}, {"1e", 0, false}, {"1e+", 0, false}, {"1.5.5", 0, false}, {"NaN", 0, false},
		{"0x10", 0, false}, {"1Kix", 0, false}, {"--1", 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = -99;
		int rc = ma_quantity_parse(cases[i].s, strlen(cases[i].s), &v);
		if ((rc == 0) != cases[i].ok || (rc == 0 && fabs(v - cases[i].want) > 1e-9 * fabs(cases[i].want)))
			TH_FAIL("\"%s\": rc %d v %g", cases[i].s, rc, v);
	}
}

static int load(void *cfg, struct em_err *err, const char *const *kv)
{
	struct em_rawopt items[32];
	struct em_rawopts raw = {items, 0};
	char keys[32][64];
	struct em_optdiag d;

	em_optdiag_to_err(&d, err);
	memset(cfg, 0, em_scaler_metrics_api.config_size);
	for (size_t i = 0; kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		snprintf(keys[i], sizeof(keys[i]), "%.*s", (int)(eq - kv[i]), kv[i]);
		items[raw.n++] = (struct em_rawopt){.name = keys[i], .value = eq + 1};
	}
	if (em_options_parse(em_scaler_metrics_api.options, &raw, cfg, &d) != 0)
		return -1;
	return em_scaler_metrics_api.validate(cfg, &d);
}

#define BASE "url=http://dummy:1230/api/v1/", "valueLocation=metric"

TEST(keda_metadata_and_auth_tables)
{
	static const struct {
		const char *kv[10];
		bool ok;
	} cases[] = {
		{{NULL}, false},
		{{"url=http://dummy:1230/api/v1/", "valueLocation=metric.test", "targetValue=42"}, true},
		{{BASE, "targetValue=aa"}, false},
		{{BASE, "targetValue=1", "activationTargetValue=aa"}, false},
		{{"url=http://dummy:1230/api/v1/", "targetValue=1"}, false},
		{{"valueLocation=metric", "targetValue=1"}, false},
		{{BASE}, false},
		{{BASE, "targetValue=42", "timeout=1000"}, true},
		{{BASE, "targetValue=42", "timeout=-1"}, false},
		{{BASE, "targetValue=42", "timeout=a"}, false},
		{{BASE, "targetValue=42", "authMode=apiKey", "apiKey=apiikey"}, true},
		{{BASE, "targetValue=42", "authMode=apiKey", "apiKey=k", "method=query"}, true},
		{{BASE, "targetValue=42", "authMode=apiKey", "apiKey=k", "method=header", "keyParamName=custom"}, true},
		{{BASE, "targetValue=42", "authMode=apiKey", "apiKey=k", "method=body"}, false},
		{{BASE, "targetValue=42", "authMode=apiKey"}, false},
		{{BASE, "targetValue=42", "authMode=basic", "username=user", "password=pass"}, true},
		{{BASE, "targetValue=42", "authMode=basic"}, false},
		{{BASE, "targetValue=42", "authMode=bearer", "token=bearerTokenValue"}, true},
		{{BASE, "targetValue=42", "authMode=bearer"}, false},
		{{BASE, "targetValue=42", "authMode=bearer,basic", "token=t", "username=u"}, false},
		{{BASE, "targetValue=42", "authMode=tls", "cert=c"}, false},
		{{BASE, "targetValue=42", "authMode=oauth"}, false},
		{{BASE, "targetValue=42", "authMode=custom", "customAuthHeader=X-T", "customAuthValue=v"}, true},
		{{BASE, "targetValue=42", "authMode=custom", "customAuthHeader=X T", "customAuthValue=v"}, false},
		{{BASE, "targetValue=42", "unsafeSsl=true"}, true},
		{{BASE, "targetValue=42", "unsafeSsl=yes"}, false},
		{{BASE, "targetValue=42", "format=xml"}, false},
		{{BASE, "targetValue=42", "format=toml"}, false},
		{{BASE, "targetValue=42", "aggregateFromKubeServiceEndpoints=true"}, false},
		{{"url=ftp://x/", "valueLocation=a", "targetValue=1"}, false},
		{{"url=http://x/", "valueLocation=q{a=\"b\"}", "format=prometheus", "targetValue=1"}, true},
		{{"url=http://x/", "valueLocation=q{a=b}", "format=prometheus", "targetValue=1"}, false},
		{{"url=http://x/", "valueLocation=@this", "targetValue=1"}, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cfg[1024];
		struct em_err err = {0};
		int rc;
		EXPECT(em_scaler_metrics_api.config_size <= sizeof(cfg));
		rc = load(cfg, &err, cases[i].kv);
		if ((rc == 0) != cases[i].ok)
			TH_FAIL("case %zu: rc %d %s", i, rc, err.msg);
		em_options_free(em_scaler_metrics_api.options, cfg);
	}
}
