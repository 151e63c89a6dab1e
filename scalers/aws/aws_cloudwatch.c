/* aws_cloudwatch.c - the KEDA `aws-cloudwatch` scaler: GetMetricData, up to 500 metrics per call. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws_http.h"
#include "credentials.h"
#include "endpoints.h"
#include "aws_cloudwatch.h"
#include "aws_parse.h"
#include "scalers/scaler.h"

#define MAX_QUERIES 500   /* GetMetricData's limit per call */
#define MAX_PAGES 20
/* A page holds at most 100,800 data points (GetMetricData's limit), about
 * 4 MiB of JSON; it is read with the bounded reader, not into a tree. */
#define CW_MAX_BODY (8u * 1024u * 1024u)
/* Seconds from Go's zero time (0001-01-01) to the Unix epoch: KEDA truncates
 * the window end with time.Truncate, which counts from the zero time. */
#define GO_ZERO_TO_UNIX 62135596800LL

struct cw_cfg {
	char *ns;
	char *metric_name;
	char *dimension_name;
	char *dimension_value;
	char *expression;
	double target;
	double activation;
	double min_value;
	bool ignore_null;
	int64_t collection_time;
	char *stat;
	char *unit;
	int64_t stat_period;
	int64_t end_offset;
	char *account_id;
	char *region;
	char *endpoint;
	struct em_aws_auth_cfg auth;
};

static const struct em_option cw_options[] = {
	{.name = "namespace", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, ns),
	 .help = "metric namespace, e.g. AWS/SQS (required without expression)"},
	{.name = "metricName", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, metric_name),
	 .help = "metric name (required without expression)"},
	{.name = "dimensionName", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, dimension_name),
	 .help = "dimension names, `;`-separated (required without expression)"},
	{.name = "dimensionValue", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, dimension_value),
	 .help = "dimension values, `;`-separated, as many as names"},
	{.name = "expression", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, expression),
	 .help = "Metrics Insights query or metric math expression instead of namespace/metricName/dimensions"},
	{.name = "targetMetricValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED | EM_OPT_TARGET,
	 .offset = offsetof(struct cw_cfg, target),
	 .help = "target value per replica (the HPA's AverageValue)"},
	{.name = "activationTargetMetricValue", .type = EM_OPT_FLOAT, .def = "0", .flags = EM_OPT_ACTIVATION,
	 .offset = offsetof(struct cw_cfg, activation), .help = "active (scale from zero) when the value is above this"},
	{.name = "minMetricValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED, .offset = offsetof(struct cw_cfg, min_value),
	 .help = "value served when CloudWatch has no data points (with ignoreNullValues)"},
	{.name = "ignoreNullValues", .type = EM_OPT_BOOL, .def = "true", .offset = offsetof(struct cw_cfg, ignore_null),
	 .help = "no data points: serve minMetricValue (true) or fail (false)"},
	{.name = "metricCollectionTime", .type = EM_OPT_SECONDS, .def = "300",
	 .offset = offsetof(struct cw_cfg, collection_time), .help = "window length in seconds, a multiple of metricStatPeriod"},
	{.name = "metricStat", .type = EM_OPT_STRING, .def = "Average", .offset = offsetof(struct cw_cfg, stat),
	 .help = "statistic: Average, Sum, Minimum, Maximum, SampleCount or an extended one like p95"},
	{.name = "metricStatPeriod", .type = EM_OPT_SECONDS, .def = "300", .offset = offsetof(struct cw_cfg, stat_period),
	 .help = "period in seconds: 1, 5, 10, 30, or a multiple of 60"},
	{.name = "metricUnit", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, unit),
	 .help = "unit filter (a CloudWatch StandardUnit)"},
	{.name = "metricEndTimeOffset", .type = EM_OPT_SECONDS, .def = "0", .offset = offsetof(struct cw_cfg, end_offset),
	 .help = "seconds the window end is moved back (late data points)"},
	{.name = "awsAccountId", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, account_id),
	 .help = "source account of the metric (CloudWatch cross-account observability)"},
	{.name = "awsRegion", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = offsetof(struct cw_cfg, region),
	 .help = "region of the metrics (signing and the default endpoint)"},
	{.name = "awsEndpoint", .type = EM_OPT_STRING, .offset = offsetof(struct cw_cfg, endpoint),
	 .help = "endpoint override; else AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, regional"},
	EM_AWS_AUTH_OPTIONS(struct cw_cfg, auth),
	EM_OPTIONS_END,
};

/* types.StandardUnit("").Values() in KEDA's message order. */
static const char *const units[] = {
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None", NULL,
};

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

static size_t count_parts(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == ';';
	return n;
}

/* Statistics CloudWatch knows: the five standard ones and the extended
 * forms (p99, p99.9, tm90, tm(10%:90%), TC(..), IQM, ...). KEDA passes any
 * text through and lets the first call fail; we catch typos at load. */
static bool stat_ok(const char *s)
{
	static const char *const std[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum", "IQM", NULL};
	static const char *const ext[] = {"p", "tm", "wm", "tc", "ts", "pr", "TM", "WM", "TC", "TS", "PR", NULL};

	for (size_t i = 0; std[i]; i++)
		if (strcmp(s, std[i]) == 0)
			return true;
	for (size_t i = 0; ext[i]; i++) {
		size_t l = strlen(ext[i]);
		if (strncmp(s, ext[i], l) == 0 && (s[l] == '(' || (s[l] >= '0' && s[l] <= '9')))
			return true;
	}
	return false;
}

static int check_period(int64_t p, struct em_optdiag *d)
{
	if (p < 1)
		return em_opt_error(d, "metricStatPeriod",
				    "metricStatPeriod can not be smaller than 1, however, %lld is provided", (long long)p);
	if (p <= 60) {
		if (p == 1 || p == 5 || p == 10 || p == 30 || p == 60)
			return 0;
		return em_opt_error(d, "metricStatPeriod",
				    "metricStatPeriod < 60 has to be one of [1, 5, 10, 30], however, %lld is provided",
				    (long long)p);
	}
	if (p % 60 != 0)
		return em_opt_error(d, "metricStatPeriod",
				    "metricStatPeriod >= 60 has to be a multiple of 60, however, %lld is provided",
				    (long long)p);
	return 0;
}

/* KEDA's Validate() (pkg/scalers/aws_cloudwatch_scaler.go), messages after
 * the key; KEDA stops at its first, we report each independent one. */
static int cw_validate(void *p, struct em_optdiag *d)
{
	struct cw_cfg *c = p;
	int before = d->errors;

	if (!nz(c->expression)) {
		if (!nz(c->ns))
			em_opt_error(d, "namespace", "namespace not given");
		if (!nz(c->metric_name))
			em_opt_error(d, "metricName", "metric name not given");
		if (!nz(c->dimension_name))
			em_opt_error(d, "dimensionName", "dimension name not given");
		if (!nz(c->dimension_value))
			em_opt_error(d, "dimensionValue", "dimension value not given");
		if (nz(c->dimension_name) && nz(c->dimension_value) &&
		    count_parts(c->dimension_name) != count_parts(c->dimension_value))
			em_opt_error(d, "dimensionValue", "dimensionName and dimensionValue are not matching in size");
		if (nz(c->unit)) {
			bool ok = false;
			char list[512];
			size_t off = 0;
			for (size_t i = 0; units[i]; i++)
				ok |= strcmp(units[i], c->unit) == 0;
			if (!ok) {
				for (size_t i = 0; units[i] && off < sizeof(list); i++)
					off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? " " : "", units[i]);
				em_opt_error(d, "metricUnit", "metricUnit '%s' is not one of [%s]", c->unit, list);
			}
		}
	}
	if (check_period(c->stat_period, d) == 0 && (c->collection_time < 0 || c->collection_time % c->stat_period != 0))
		em_opt_error(d, "metricCollectionTime",
			     "metricCollectionTime must be greater than 0 and a multiple of metricStatPeriod(%lld), %lld is "
			     "given", (long long)c->stat_period, (long long)c->collection_time);
	if (c->end_offset < 0)
		em_opt_error(d, "metricEndTimeOffset", "must not be negative, %lld is given", (long long)c->end_offset);
	if (!stat_ok(c->stat))
		em_opt_error(d, "metricStat",
			     "'%s' is not a statistic (SampleCount, Average, Sum, Minimum, Maximum, or an extended one like "
			     "p95)", c->stat);
	em_aws_region_check("awsRegion", c->region, d);
	em_aws_auth_validate(&c->auth, d);
	return d->errors > before ? -1 : 0;
}

struct cw_inst {
	const struct cw_cfg *cfg;
	struct em_aws_identity *id;
	char endpoint[512];
	char *key;    /* batch key: identity, endpoint, region, window */
	char *query;  /* this metric's query without Id, canonical JSON: equal text = same query */
};

static void cw_close(void *p)
{
	struct cw_inst *c = p;

	if (!c)
		return;
	em_aws_identity_close(c->id);
	free(c->key);
	free(c->query);
	free(c);
}

/* The MetricDataQuery of a metric, without its Id. */
static json_t *build_query(const struct cw_cfg *c)
{
	json_t *q, *dims;

	if (nz(c->expression)) {
		q = json_pack("{s:s, s:I}", "Expression", c->expression, "Period", (json_int_t)c->stat_period);
	} else {
		char *names = strdup(c->dimension_name), *values = strdup(c->dimension_value);
		char *sn = NULL, *sv = NULL, *n, *v;
		dims = json_array();
		if (!names || !values || !dims) {
			free(names);
			free(values);
			json_decref(dims);
			return NULL;
		}
		/* strsep keeps empty parts, as Go's strings.Split does */
		for (sn = names, sv = values; (n = strsep(&sn, ";")) != NULL && (v = strsep(&sv, ";")) != NULL;)
			json_array_append_new(dims, json_pack("{s:s, s:s}", "Name", n, "Value", v));
		free(names);
		free(values);
		json_t *stat = json_pack("{s:{s:s, s:s, s:o}, s:I, s:s}", "Metric", "Namespace", c->ns, "MetricName",
					 c->metric_name, "Dimensions", dims, "Period", (json_int_t)c->stat_period, "Stat",
					 c->stat);
		if (stat && nz(c->unit))
			json_object_set_new(stat, "Unit", json_string(c->unit));
		q = json_pack("{s:o, s:b}", "MetricStat", stat, "ReturnData", 1);
	}
	if (q && nz(c->account_id))
		json_object_set_new(q, "AccountId", json_string(c->account_id));
	return q;
}

static void *cw_open(const void *p, struct em_err *err)
{
	const struct cw_cfg *cfg = p;
	struct cw_inst *c = calloc(1, sizeof(*c));
	json_t *q = NULL;
	size_t kl;

	if (!c) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	c->cfg = cfg;
	if (em_aws_endpoint(&em_aws_cloudwatch, cfg->region, cfg->endpoint, NULL, c->endpoint, sizeof(c->endpoint),
			    err) != 0)
		goto out;
	q = build_query(cfg);
	c->query = q ? json_dumps(q, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(q);
	if (!c->query) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	c->id = em_aws_identity_open(&cfg->auth, cfg->region, err);
	if (!c->id)
		goto out;
	kl = strlen(em_aws_identity_key(c->id)) + strlen(c->endpoint) + strlen(cfg->region) + 80;
	c->key = malloc(kl);
	if (!c->key) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(c->key, kl, "%s|%s|%s|%lld/%lld/%lld", em_aws_identity_key(c->id), c->endpoint, cfg->region,
		 (long long)cfg->collection_time, (long long)cfg->stat_period, (long long)cfg->end_offset);
	return c;
out:
	cw_close(c);
	return NULL;
}

static const char *cw_batch_key(void *p)
{
	return ((struct cw_inst *)p)->key;
}

void em_cw_window(int64_t now_ms, int64_t period_s, int64_t offset_s, int64_t collection_s, int64_t *start_s,
		  int64_t *end_s)
{
	int64_t t = now_ms / 1000 - (now_ms % 1000 < 0) - offset_s + GO_ZERO_TO_UNIX;

	t -= ((t % period_s) + period_s) % period_s;
	*end_s = t - GO_ZERO_TO_UNIX;
	*start_s = *end_s - collection_s;
}

/* One GetMetricData call (following NextToken) for queries[0..nq). */
static int get_metric_data(struct cw_inst *first, json_t *queries, struct em_cw_result *res, size_t nq,
			   int64_t start, int64_t end, int64_t deadline, struct em_err *err)
{
	char *next = NULL;
	int rc = -1, prc;

	for (int page = 0; page < MAX_PAGES; page++) {
		struct em_aws_resp resp = {0};
		json_t *req = json_pack("{s:o, s:I, s:I, s:s}", "MetricDataQueries", json_incref(queries), "StartTime",
					(json_int_t)start, "EndTime", (json_int_t)end, "ScanBy", "TimestampDescending");
		char *body;

		if (req && next)
			json_object_set_new(req, "NextToken", json_string(next));
		body = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		if (!body) {
			em_err_set(err, EM_E_INTERNAL, "out of memory");
			goto out;
		}
		struct em_aws_api_req r = {
			.svc = &em_aws_cloudwatch, .region = first->cfg->region, .endpoint = first->endpoint,
			.operation = "GetMetricData", .target = "GraniteServiceVersion20100801.GetMetricData",
			.content_type = "application/x-amz-json-1.0", .body = body, .body_len = strlen(body),
			.timeout_ms = deadline - em_mono_ms(), .backoff_key = first->key, .max_body = CW_MAX_BODY,
		};
		int crc = em_aws_api_call(first->id, &r, &resp, err);
		free(body);
		if (crc != 0) {
			em_aws_resp_free(&resp);
			goto out;
		}
		free(next);
		prc = em_cw_parse_page(resp.body, resp.len, res, nq, &next, err);
		em_aws_resp_free(&resp);
		if (prc != 0)
			goto out;
		if (!next) {
			rc = 0;
			goto out;
		}
	}
	rc = 0; /* more pages than we follow: what we have is the newest data */
out:
	free(next);
	return rc;
}

static void cw_fetch_batch(void **insts, size_t n, const struct em_fetch_ctx *ctx, struct em_sample *outs,
			   struct em_err *errs, int *rcs)
{
	struct cw_inst *first = insts[0];
	const struct cw_cfg *cfg = first->cfg;
	int64_t deadline = em_mono_ms() + ctx->timeout_ms, start, end;
	size_t *slot_of = calloc(n, sizeof(*slot_of));
	struct em_cw_result *slots = calloc(n, sizeof(*slots));
	size_t nslots = 0;

	if (!slot_of || !slots) {
		for (size_t i = 0; i < n; i++)
			rcs[i] = em_err_set(&errs[i], EM_E_INTERNAL, "out of memory");
		goto out;
	}
	em_cw_window(ctx->now_ms, cfg->stat_period, cfg->end_offset, cfg->collection_time, &start, &end);

	/* Identical queries (two metrics on the same CloudWatch metric) are
	 * asked for once: CloudWatch bills per query. */
	for (size_t i = 0; i < n; i++) {
		struct cw_inst *c = insts[i];
		size_t k;
		for (k = 0; k < i; k++)
			if (strcmp(((struct cw_inst *)insts[k])->query, c->query) == 0)
				break;
		slot_of[i] = k < i ? slot_of[k] : nslots++;
	}

	/* Calls of up to MAX_QUERIES distinct queries each. */
	for (size_t base = 0; base < nslots; base += MAX_QUERIES) {
		size_t nq = nslots - base < MAX_QUERIES ? nslots - base : MAX_QUERIES;
		json_t *queries = json_array();
		struct em_err err = {0};
		bool oom = !queries;

		for (size_t q = 0; q < nq && !oom; q++) {
			size_t idx = 0;
			while (slot_of[idx] != base + q)
				idx++;
			json_t *qj = json_loads(((struct cw_inst *)insts[idx])->query, 0, NULL);
			char id[24];
			snprintf(id, sizeof(id), "m%zu", q);
			if (!qj || json_object_set_new(qj, "Id", json_string(id)) != 0 ||
			    json_array_append_new(queries, qj) != 0)
				oom = true;
		}
		int rc = oom ? em_err_set(&err, EM_E_INTERNAL, "out of memory")
			     : get_metric_data(first, queries, slots + base, nq, start, end, deadline, &err);
		json_decref(queries);
		if (rc != 0) {
			for (size_t i = 0; i < n; i++) {
				if (slot_of[i] >= base && slot_of[i] < base + nq) {
					errs[i] = err;
					rcs[i] = -1;
				}
			}
			for (size_t q = 0; q < nq; q++)
				slots[base + q].failed = true;
		}
	}

	for (size_t i = 0; i < n; i++) {
		struct cw_inst *c = insts[i];
		struct em_cw_result *s = &slots[slot_of[i]];
		if (s->failed)
			continue;
		memset(&outs[i], 0, sizeof(outs[i]));
		if (s->status[0]) {
			rcs[i] = em_err_set(&errs[i], EM_E_UNAVAILABLE, "cloudwatch:GetMetricData: query status %s%s%s",
					    s->status, s->message[0] ? ": " : "", s->message);
			continue;
		}
		if (!s->has_value) {
			/* KEDA errors only when a result came with no values; an
			 * empty MetricDataResults list gives minMetricValue whatever
			 * ignoreNullValues says. */
			if (!c->cfg->ignore_null && s->seen) {
				rcs[i] = em_err_set(&errs[i], EM_E_UNAVAILABLE,
						    "empty metric data received, ignoreNullValues is false, returning error");
				continue;
			}
			outs[i].value = c->cfg->min_value;
		} else if (em_value_check(s->value, EM_VALUE_GAUGE, "the CloudWatch value", &errs[i]) != 0) {
			rcs[i] = -1;
			continue;
		} else {
			outs[i].value = s->value;
		}
		outs[i].active = outs[i].value > c->cfg->activation;
		rcs[i] = 0;
	}
out:
	free(slot_of);
	free(slots);
}

const struct em_scaler em_scaler_aws_cloudwatch = {
	.type = "aws-cloudwatch",
	.options = cw_options,
	.config_size = sizeof(struct cw_cfg),
	.summary = "newest CloudWatch data point (GetMetricData); metrics sharing a window go in one call of up to 500",
	.flags = EM_SCALER_BATCH,
	.global_init = em_aws_global_init,
	.global_cleanup = em_aws_global_cleanup,
	.validate = cw_validate,
	.open = cw_open,
	.close = cw_close,
	.batch_key = cw_batch_key,
	.fetch_batch = cw_fetch_batch,
};
