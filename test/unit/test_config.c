/* test_config.c - the YAML config loader: valid files, and every error with file:line:col: key. */
#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

#include "adapter/cli/cli.h"
#include "adapter/config.h"
#include "adapter/log.h"

#define HEAD "server:\n  auth: {mode: none}\n"
#define CRON_MD "{timezone: UTC, start: \"0 8 * * *\", end: \"0 18 * * *\", desiredReplicas: \"2\"}"

static struct em_config *load(const char *text, struct em_errlist *errs)
{
	em_log_setup(EM_LOG_ERROR, false);
	return em_config_load_mem("t.yaml", text, strlen(text), errs);
}

/* Expects loading to fail with exactly this first error. */
static void expect_error(const char *text, const char *want)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(text, &errs);

	EXPECT(c == NULL);
	EXPECT(errs.n >= 1);
	if (errs.n >= 1)
		EXPECT_STR(errs.msgs[0], want);
	em_config_free(c);
	em_errlist_free(&errs);
}

TEST(valid_config_with_defaults)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "defaults: {pollingInterval: 10s, timeout: 2s}\n"
				       "metrics:\n"
				       "  - name: nightly-batch\n"
				       "    namespaces: [\"batch\"]\n"
				       "    type: cron\n"
				       "    metadata: " CRON_MD "\n"
				       "    labels: {team: data}\n"
				       "    staleAfter: 90s\n"
				       "    fallback: {failureThreshold: 3, value: \"10\"}\n"
				       "  - name: other\n"
				       "    namespaces: [\"*\"]\n"
				       "    type: cron\n"
				       "    pollingInterval: 1m30s\n"
				       "    metadata: " CRON_MD "\n",
				   &errs);

	EXPECT(c != NULL);
	EXPECT_INT(errs.n, 0);
	if (!c)
		return;
	EXPECT_INT(c->server.auth.mode, EM_AUTH_NONE);
	EXPECT_INT(c->n_metrics, 2);
	EXPECT_STR(c->metrics[0].name, "nightly-batch");
	EXPECT_INT(c->metrics[0].polling_ms, 10000);
	EXPECT_INT(c->metrics[0].timeout_ms, 2000);
	EXPECT_INT(c->metrics[0].stale_ms, 90000);
	EXPECT(c->metrics[0].has_fallback);
	EXPECT_INT(c->metrics[0].fallback_threshold, 3);
	EXPECT_DBL(c->metrics[0].fallback_value, 10, 0);
	EXPECT_STR(em_kvlist_get(&c->metrics[0].labels, "team"), "data");
	EXPECT(em_metric_allows_ns(&c->metrics[0], "batch"));
	EXPECT(!em_metric_allows_ns(&c->metrics[0], "default"));
	EXPECT(em_metric_allows_ns(&c->metrics[1], "anything"));
	EXPECT_INT(c->metrics[1].polling_ms, 90000);
	EXPECT_INT(c->metrics[1].stale_ms, 270000); /* 3 x pollingInterval */
	EXPECT_INT(c->metrics[1].idle_ms, 900000);
	EXPECT_INT(c->metrics[0].max_instances_per_ns, 100);  /* one namespace: all of maxInstances */
	EXPECT_INT(c->metrics[1].max_instances_per_ns, 25);   /* "*": a quarter */
	EXPECT(!c->metrics[1].templated);
	EXPECT(strcmp(c->metrics[0].fingerprint, c->metrics[1].fingerprint) != 0);
	em_config_free(c);
}

TEST(yaml_syntax_error_has_position)
{
	expect_error(HEAD "metrics: [\n", "t.yaml:4:1: -: YAML: did not find expected node content while parsing a flow node");
}

TEST(a_tab_in_the_indentation_is_named_as_one)
{
	/* libyaml's own words for most of these: "found character that cannot start any token" */
	expect_error(HEAD "metrics:\n\t- name: x\n",
		     "t.yaml:4:1: -: YAML: a tab character indents this line: YAML indents with spaces only (the file has "
		     "tabs in the indentation of line 4)");
	expect_error(HEAD "metrics:\n  - name: x\n    metadata:\n  \t  a: b\n\t  c: d\n",
		     "t.yaml:6:3: -: YAML: a tab character indents this line: YAML indents with spaces only (the file has "
		     "tabs in the indentation of lines 6, 7)");
	expect_error(HEAD "metrics:\n\t- a\n\t- b\n\t- c\n\t- d\n\t- e\n\t- f\n\t- g\n",
		     "t.yaml:4:1: -: YAML: a tab character indents this line: YAML indents with spaces only (the file has "
		     "tabs in the indentation of lines 4, 5, 6, 7, 8 and 2 more)");
	/* a tab after a key is no indentation: other errors keep libyaml's words */
	expect_error(HEAD "metrics: [\t\n", "t.yaml:4:1: -: YAML: did not find expected node content while parsing a flow node");
}

TEST(server_auth_must_be_explicit)
{
	expect_error("server: {listen: \"127.0.0.1:1\"}\nmetrics: []\n",
		     "t.yaml:1:9: auth: missing: set server.auth (write `auth: {mode: none}` explicitly to serve without authentication)");
}

TEST(unknown_top_level_key)
{
	expect_error(HEAD "metric: []\nmetrics: []\n", "t.yaml:3:1: metric: unknown key in the top level (did you mean metrics?)");
}

TEST(unknown_metric_key)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n    metdata: {}\n",
		     "t.yaml:7:5: metdata: unknown key in metric (did you mean metadata?)");
}

TEST(unknown_scaler_type)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: kafka\n", &errs);

	EXPECT(c == NULL);
	EXPECT(errs.n == 1);
	if (errs.n)
		EXPECT(strncmp(errs.msgs[0], "t.yaml:6:11: type: unknown scaler type \"kafka\" (known: ", 54) == 0);
	em_errlist_free(&errs);
}

TEST(missing_required_parameter_points_at_metadata)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
			  "    metadata: {timezone: UTC, start: \"0 8 * * *\", end: \"0 9 * * *\"}\n",
		     "t.yaml:4:5: desiredReplicas: missing required parameter \"desiredReplicas\"");
}

TEST(unknown_metadata_key_points_at_value)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
			  "    metadata:\n      timezone: UTC\n      start: \"0 8 * * *\"\n      end: \"0 9 * * *\"\n"
			  "      desiredReplicas: \"2\"\n      desiredReplica: \"3\"\n",
		     "t.yaml:12:23: desiredReplica: unknown parameter \"desiredReplica\" (did you mean \"desiredReplicas\"?)");
}

TEST(bad_integer_points_at_value)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
			  "    metadata:\n      timezone: UTC\n      start: \"0 8 * * *\"\n      end: \"0 9 * * *\"\n"
			  "      desiredReplicas: \"5.5\"\n",
		     "t.yaml:11:24: desiredReplicas: invalid integer \"5.5\"");
}

TEST(duplicate_metric_names)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n    metadata: " CRON_MD "\n"
			  "  - name: a\n    namespaces: [x]\n    type: cron\n    metadata: " CRON_MD "\n",
		     "t.yaml:8:11: name: duplicate metric name \"a\" (first defined at line 4)");
}

TEST(namespaces_required)
{
	expect_error(HEAD "metrics:\n  - name: a\n    type: cron\n    metadata: " CRON_MD "\n",
		     "t.yaml:4:5: namespaces: missing required key (list the namespaces allowed to read this metric, or [\"*\"])");
}

TEST(bad_duration)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n    pollingInterval: soon\n"
			  "    metadata: " CRON_MD "\n",
		     "t.yaml:7:22: pollingInterval: invalid duration \"soon\" (e.g. 30s, 1m30s, 500ms)");
}

TEST(config_durations_need_a_unit)
{
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n    pollingInterval: 30\n"
			  "    metadata: " CRON_MD "\n",
		     "t.yaml:7:22: pollingInterval: duration \"30\" needs a unit (e.g. 30s)");
}

TEST(metric_name_with_slash)
{
	expect_error(HEAD "metrics:\n  - name: a/b\n    namespaces: [x]\n    type: cron\n    metadata: " CRON_MD "\n",
		     "t.yaml:4:11: name: must not contain '/' or '%' nor be '.' or '..' (the HPA rejects such names)");
}

TEST(metric_name_with_uppercase)
{
	expect_error(HEAD "metrics:\n  - name: queueName2\n    namespaces: [x]\n    type: cron\n    metadata: " CRON_MD "\n",
		     "t.yaml:4:11: name: must be lowercase: the HPA controller (client-go) lowercases the metric name "
		     "in its request URL, so \"queueName2\" could never be asked for");
}

TEST(max_instances_per_namespace_and_fallback_bounds)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics:\n  - name: a\n    namespaces: [x, y]\n    type: cron\n"
				       "    maxInstances: 10\n    maxInstancesPerNamespace: 4\n    metadata: " CRON_MD "\n"
				       "  - name: b\n    namespaces: [x, y]\n    type: cron\n    maxInstances: 2\n"
				       "    metadata: " CRON_MD "\n",
				   &errs);

	EXPECT(c != NULL);
	if (c) {
		EXPECT_INT(c->metrics[0].max_instances_per_ns, 4);
		EXPECT_INT(c->metrics[1].max_instances_per_ns, 1);   /* (2 + 3) / 4 */
		EXPECT(strcmp(c->metrics[0].fingerprint, c->metrics[1].fingerprint) != 0);
	}
	em_config_free(c);
	/* a templated instance nobody asks for goes after 2 polls, a minute at least */
	c = load(HEAD "metrics:\n  - name: t\n    namespaces: [x]\n    type: cron\n    pollingInterval: 45s\n"
		      "    metadata: {timezone: UTC, start: \"0 6 * * *\", end: \"0 7 * * *\", desiredReplicas: \"${selector.n}\"}\n"
		      "  - name: u\n    namespaces: [x]\n    type: cron\n    pollingInterval: 5s\n"
		      "    metadata: {timezone: UTC, start: \"0 6 * * *\", end: \"0 7 * * *\", desiredReplicas: \"${selector.n}\"}\n",
		 &errs);
	EXPECT(c != NULL);
	if (c) {
		EXPECT(c->metrics[0].templated && c->metrics[1].templated);
		EXPECT_INT(c->metrics[0].idle_ms, 90000);
		EXPECT_INT(c->metrics[1].idle_ms, 60000);
	}
	em_config_free(c);
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n    maxInstances: 10\n"
			  "    maxInstancesPerNamespace: 11\n    metadata: " CRON_MD "\n",
		     "t.yaml:8:31: maxInstancesPerNamespace: must be between 1 and 10");
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
			  "    fallback: {value: \"1e300\"}\n    metadata: " CRON_MD "\n",
		     "t.yaml:7:23: value: must be a non-negative number of at most 2^53");
}

TEST(every_error_is_reported_not_just_the_first)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
				       "    timeout: never\n    maxInstances: \"0\"\n",
				   &errs);

	/* timeout, maxInstances, and the four keys cron needs */
	EXPECT(c == NULL);
	EXPECT_INT(errs.n, 6);
	em_errlist_free(&errs);
}

TEST(from_env_metadata_and_value_sources)
{
	struct em_errlist errs = {0};
	struct em_config *c;
	char path[] = "/tmp/emcfgXXXXXX";
	int fd = mkstemp(path);

	EXPECT(fd >= 0);
	EXPECT(write(fd, "Europe/Berlin\n", 14) == 14);
	close(fd);
	setenv("EM_TEST_START", "0 7 * * *", 1);
	{
		char text[1024];
		snprintf(text, sizeof(text),
			 HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
			      "    metadata: {startFromEnv: EM_TEST_START, end: \"0 9 * * *\", desiredReplicas: \"2\"}\n"
			      "    auth:\n      params:\n        timezone: {fromFile: %s}\n",
			 path);
		c = load(text, &errs);
	}
	EXPECT(c != NULL);
	if (c) {
		const struct em_rawopts *r = &c->metrics[0].raw;
		int seen = 0;
		for (size_t i = 0; i < r->n; i++) {
			if (strcmp(r->items[i].name, "start") == 0) {
				EXPECT_STR(r->items[i].value, "0 7 * * *");
				seen++;
			}
			if (strcmp(r->items[i].name, "timezone") == 0) {
				EXPECT_STR(r->items[i].value, "Europe/Berlin"); /* trailing newline dropped */
				seen++;
			}
		}
		EXPECT_INT(seen, 2);
	}
	em_config_free(c);
	em_errlist_free(&errs);
	unlink(path);
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n"
			  "    metadata: {startFromEnv: EM_TEST_UNSET_VAR, end: \"0 9 * * *\", desiredReplicas: \"2\", timezone: UTC}\n",
		     "t.yaml:7:30: startFromEnv: environment variable EM_TEST_UNSET_VAR is not set");
}

TEST(templates_fill_namespace_and_selector)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics:\n  - name: a\n    namespaces: [\"*\"]\n    type: cron\n"
				       "    metadata: {timezone: \"${selector.tz}\", start: \"0 8 * * *\", end: \"0 9 * * *\","
				       " desiredReplicas: \"2\"}\n",
				   &errs);
	struct em_rawopts out = {0};
	struct em_kv kv = {.key = "tz", .value = "UTC"};
	struct em_kvlist sel = {.items = &kv, .n = 1}, none = {0};
	struct em_err err = {0};

	EXPECT(c != NULL);
	if (!c)
		return;
	EXPECT(c->metrics[0].templated);
	EXPECT_INT(em_template_fill(&c->metrics[0], "ns1", &sel, &out, &err), 0);
	for (size_t i = 0; i < out.n; i++)
		if (strcmp(out.items[i].name, "timezone") == 0)
			EXPECT_STR(out.items[i].value, "UTC");
	em_rawopts_free(&out);
	EXPECT_INT(em_template_fill(&c->metrics[0], "ns1", &none, &out, &err), -1);
	EXPECT_INT(err.kind, EM_E_BADREQUEST);
	EXPECT_STR(err.msg, "metric a needs a labelSelector with tz=VALUE");
	em_config_free(c);
}

TEST(demo_config_is_valid)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(em_demo_config, &errs);

	EXPECT(c != NULL);
	EXPECT_INT(errs.n, 0);
	for (size_t i = 0; i < errs.n; i++)
		printf("# %s\n", errs.msgs[i]);
	em_config_free(c);
	em_errlist_free(&errs);
}

TEST(option_parsers)
{
	int64_t ms;
	bool b;
	struct em_kvlist m;

	EXPECT_INT(em_parse_duration_ms("1h2m3.5s", &ms), 0);
	EXPECT_INT(ms, 3723500);
	EXPECT_INT(em_parse_duration_ms("300ms", &ms), 0);
	EXPECT_INT(ms, 300);
	EXPECT_INT(em_parse_duration_ms("2500", &ms), 0);
	EXPECT_INT(ms, 2500);
	EXPECT_INT(em_parse_duration_ms("3x", &ms), -1);
	EXPECT_INT(em_parse_duration_ms("", &ms), -1);
	EXPECT_INT(em_parse_bool("True", &b), 0);
	EXPECT(b);
	EXPECT_INT(em_parse_bool("yes", &b), -1);
	EXPECT_INT(em_parse_map(" a = 1 ,b=2", &m), 0);
	EXPECT_INT(m.n, 2);
	EXPECT_STR(em_kvlist_get(&m, "a"), "1");
	EXPECT_STR(em_kvlist_get(&m, "b"), "2");
	em_kvlist_free(&m);
	/* KEDA's map rules: exactly one '=' per entry, no empty entry */
	EXPECT_INT(em_parse_map("novalue", &m), -1);
	EXPECT_INT(em_parse_map("a=1,", &m), -1);
	EXPECT_INT(em_parse_map("a=1,,b=2", &m), -1);
	EXPECT_INT(em_parse_map("a=b=c", &m), -1);
	EXPECT_INT(em_parse_map("=v", &m), -1);
	EXPECT_INT(m.n, 0);
}

TEST(settings_rows_are_well_formed)
{
	for (const struct em_setting *s = em_settings; s->name; s++) {
		const char *dot = strrchr(s->name, '.');
		const struct em_setting *sec = NULL;
		int64_t v;
		bool b;

		/* its section is a SECTION row listed before it */
		for (const struct em_setting *t = em_settings; dot && t < s; t++)
			if (strlen(t->name) == (size_t)(dot - s->name) && strncmp(t->name, s->name, (size_t)(dot - s->name)) == 0)
				sec = t;
		if (dot && (!sec || sec->type != EM_SET_SECTION))
			TH_FAIL("%s: its section is not listed before it", s->name);
		for (const struct em_setting *t = em_settings; t < s; t++)
			if (strcmp(t->name, s->name) == 0)
				TH_FAIL("%s: twice", s->name);
		/* every default parses as its type */
		if (!s->def)
			continue;
		if (s->type == EM_SET_DURATION && (em_parse_duration_ms(s->def, &v) != 0 || v <= 0))
			TH_FAIL("%s: default %s", s->name, s->def);
		if (s->type == EM_SET_INT && (em_parse_int(s->def, &v) != 0 || v < s->min || v > s->max))
			TH_FAIL("%s: default %s", s->name, s->def);
		if (s->type == EM_SET_BOOL && em_parse_bool(s->def, &b) != 0)
			TH_FAIL("%s: default %s", s->name, s->def);
		if (s->type == EM_SET_ENUM) {
			bool found = false;
			for (const struct em_set_choice *ch = s->choices; ch->name; ch++)
				found |= strcmp(ch->name, s->def) == 0;
			if (!found)
				TH_FAIL("%s: default %s is not a choice", s->name, s->def);
		}
	}
}

TEST(settings_defaults_come_from_the_table)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics: []\n", &errs);

	EXPECT(c != NULL);
	if (!c)
		return;
	EXPECT_STR(c->server.listen, "127.0.0.1:6443");
	EXPECT_STR(c->server.metrics_listen, "127.0.0.1:9022");
	EXPECT_INT(c->server.threads, 4);
	EXPECT_INT(c->def_polling_ms, 30000);
	EXPECT_INT(c->def_timeout_ms, 3000);
	EXPECT(c->server.cert_file == NULL);
	EXPECT_INT(c->server.connection_memory, 0);   /* the server picks 64 or 256 KiB by authentication */
	em_config_free(c);
}

TEST(connection_memory_limit_is_bounded)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "  connectionMemoryLimit: 1048576\nmetrics: []\n", &errs);

	EXPECT(c != NULL);
	if (c)
		EXPECT_INT(c->server.connection_memory, 1048576);
	em_config_free(c);
	expect_error(HEAD "  connectionMemoryLimit: 4194305\nmetrics: []\n",
		     "t.yaml:3:26: connectionMemoryLimit: must be between 16384 and 4194304");
}

/* What a reload of text after base would say needs a restart. */
static size_t restart_needed(const char *base, const char *text, char *names, size_t cap)
{
	struct em_errlist errs = {0};
	struct em_config *a = load(base, &errs), *b = load(text, &errs);
	char **old = a ? em_settings_values(a) : NULL;
	struct em_strbuf sb;
	size_t n = 0;

	EXPECT(a && b && old && errs.n == 0);
	em_sb_init(&sb);
	if (a && b && old)
		n = em_settings_restart_needed(old, b, &sb);
	snprintf(names, cap, "%s", sb.buf ? sb.buf : "");
	em_sb_free(&sb);
	em_settings_values_free(old);
	em_config_free(a);
	em_config_free(b);
	em_errlist_free(&errs);
	return n;
}

TEST(reload_names_the_settings_that_need_a_restart)
{
	char names[512];

	EXPECT_INT(restart_needed(HEAD "metrics: []\n", HEAD "metrics: []\n", names, sizeof(names)), 0);
	/* writing a default out changes nothing */
	EXPECT_INT(restart_needed(HEAD "metrics: []\n", HEAD "  threads: 4\nmetrics: []\n", names, sizeof(names)), 0);
	/* defaults: a reload applies them (through each metric) */
	EXPECT_INT(restart_needed(HEAD "metrics: []\n", HEAD "defaults: {pollingInterval: 5s}\nmetrics: []\n", names,
				  sizeof(names)), 0);
	EXPECT_INT(restart_needed(HEAD "metrics: []\n",
				  "server:\n  threads: 2\n  listen: \"127.0.0.1:1\"\n  auth: {mode: none}\nmetrics: []\n",
				  names, sizeof(names)), 2);
	EXPECT_STR(names, "server.listen, server.threads");
	EXPECT_INT(restart_needed("server:\n  auth: {mode: clientCert, clientCAFile: /dev/null}\nmetrics: []\n",
				  "server:\n  auth:\n    mode: clientCert\n    clientCAFile: /dev/null\n"
				  "    authorization: {mode: static, users: [a]}\nmetrics: []\n",
				  names, sizeof(names)), 3);
	EXPECT_STR(names, "server.auth.authorization.mode, server.auth.authorization.users, "
			  "server.auth.authorization.rules");
}

/* The README's promise: a bad threshold no longer hides behind a missing query. */
TEST(every_error_of_a_metric_at_its_key)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: prometheus\n"
				       "    metadata:\n      serverAddress: \"prometheus:9090\"\n      threshold: \"ten\"\n"
				       "      metricName: old\n      querry: up\n",
				   &errs);

	/* (cross-key checks like serverAddress's scheme run once the keys themselves parse) */
	EXPECT(c == NULL);
	EXPECT_INT(errs.n, 3);
	if (errs.n == 3) {
		EXPECT_STR(errs.msgs[0], "t.yaml:11:15: querry: unknown parameter \"querry\" (did you mean \"query\"?)");
		EXPECT_STR(errs.msgs[1], "t.yaml:4:5: query: missing required parameter \"query\"");
		EXPECT_STR(errs.msgs[2], "t.yaml:9:18: threshold: invalid number \"ten\"");
	}
	/* metricName: accepted, with a warning at its line */
	EXPECT_INT(errs.nwarns, 1);
	if (errs.nwarns)
		EXPECT(strncmp(errs.warns[0], "t.yaml:10:19: metricName: warning: ignored: KEDA removed metricName", 67) == 0);
	em_errlist_free(&errs);
}

/* validate() runs only on options that parsed: its errors come with the rest when they did. */
TEST(validate_errors_all_reported)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: postgresql\n"
				       "    metadata: {query: \"select 1\", host: db}\n",
				   &errs);

	EXPECT(c == NULL);
	EXPECT_INT(errs.n, 5);
	if (errs.n == 5) {
		EXPECT_STR(errs.msgs[0], "t.yaml:4:5: targetQueryValue: no targetQueryValue given");
		EXPECT_STR(errs.msgs[4], "t.yaml:4:5: sslmode: no sslmode given");
	}
	em_errlist_free(&errs);
}

TEST(a_pasted_scaledobject_gets_a_hint)
{
	expect_error("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec:\n  triggers: []\n",
		     "t.yaml:2:7: kind: this is a Kubernetes object (kind: ScaledObject), not an extmetrics config; "
		     "convert KEDA ScaledObjects with `extmetrics import-keda FILE`");
	expect_error(HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: cron\n    metadata: " CRON_MD "\n"
			  "    authenticationRef: {name: x}\n",
		     "t.yaml:8:5: authenticationRef: unknown key in metric (KEDA's reference to a TriggerAuthentication: "
		     "write its parameters under auth.params (`extmetrics import-keda` translates them))");
}

/* check-config --skip-secrets: Secrets mounted only in the cluster do not stop a check. */
TEST(skip_secrets_reads_no_value_source)
{
	static const char text[] = HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: postgresql\n"
				   "    metadata: {query: \"select 1\", targetQueryValue: \"1\", passwordFromEnv: NO_SUCH_VAR_X1,\n"
				   "               host: db, port: \"5432\", userName: u, dbName: d, sslmode: disable}\n"
				   "    auth:\n      params:\n        connection: {fromFile: /no/such/dir/conn}\n";
	struct em_errlist errs = {0};
	struct em_config *c = em_config_load_mem_ex("t.yaml", text, strlen(text), 0, &errs);

	EXPECT(c == NULL);
	EXPECT_INT(errs.n, 2);   /* the variable and the file */
	em_errlist_free(&errs);
	c = em_config_load_mem_ex("t.yaml", text, strlen(text), EM_CFG_SKIP_SECRETS, &errs);
	EXPECT(c != NULL);
	EXPECT_INT(errs.n, 0);
	em_config_free(c);
	em_errlist_free(&errs);
	/* everything else is still checked */
	{
		static const char bad[] = HEAD "metrics:\n  - name: a\n    namespaces: [x]\n    type: postgresql\n"
					  "    metadata: {query: \"select 1\", passwordFromEnv: NO_SUCH_VAR_X1}\n"
					  "    auth:\n      params:\n        connection: {fromFile: /no/such/dir/conn}\n";
		c = em_config_load_mem_ex("t.yaml", bad, strlen(bad), EM_CFG_SKIP_SECRETS, &errs);
		EXPECT(c == NULL);
		EXPECT_INT(errs.n, 1);
		if (errs.n)
			EXPECT_STR(errs.msgs[0], "t.yaml:4:5: targetQueryValue: no targetQueryValue given");
		em_errlist_free(&errs);
	}
}
