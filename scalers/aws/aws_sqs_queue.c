/* aws_sqs_queue.c - the KEDA `aws-sqs-queue` scaler: SQS message counts, one request per queue per poll. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws_http.h"
#include "aws_parse.h"
#include "credentials.h"
#include "endpoints.h"
#include "scalers/scaler.h"

/* A GetQueueAttributes answer is a few hundred bytes. */
#define SQS_MAX_BODY (64u * 1024u)

struct sqs_cfg {
	char *queue_url;
	int64_t queue_length;
	int64_t activation_queue_length;
	char *region;
	char *endpoint;
	bool scale_on_in_flight;
	bool scale_on_delayed;
	struct em_aws_auth_cfg auth;
};

static const struct em_option sqs_options[] = {
	{.name = "queueURL", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = offsetof(struct sqs_cfg, queue_url),
	 .help = "queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME); a bare name is taken as is"},
	{.name = "queueLength", .type = EM_OPT_INT, .def = "5", .flags = EM_OPT_TARGET,
	 .offset = offsetof(struct sqs_cfg, queue_length),
	 .help = "target messages per replica (the HPA's AverageValue)"},
	{.name = "activationQueueLength", .type = EM_OPT_INT, .def = "0", .flags = EM_OPT_ACTIVATION,
	 .offset = offsetof(struct sqs_cfg, activation_queue_length),
	 .help = "active (scale from zero) when the count is above this"},
	{.name = "awsRegion", .type = EM_OPT_STRING, .offset = offsetof(struct sqs_cfg, region),
	 .help = "region of the queue (signing and the default endpoint); absent: the one queueURL names "
		 "(KEDA requires it)"},
	{.name = "awsEndpoint", .type = EM_OPT_STRING, .offset = offsetof(struct sqs_cfg, endpoint),
	 .help = "endpoint override (VPC endpoint, LocalStack); else AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, regional"},
	{.name = "scaleOnInFlight", .type = EM_OPT_BOOL, .def = "true", .offset = offsetof(struct sqs_cfg, scale_on_in_flight),
	 .help = "count messages received but not deleted (ApproximateNumberOfMessagesNotVisible)"},
	{.name = "scaleOnDelayed", .type = EM_OPT_BOOL, .def = "false", .offset = offsetof(struct sqs_cfg, scale_on_delayed),
	 .help = "count delayed messages (ApproximateNumberOfMessagesDelayed)"},
	EM_AWS_AUTH_OPTIONS(struct sqs_cfg, auth),
	EM_OPTIONS_END,
};

static const char *const attr_visible = "ApproximateNumberOfMessages";
static const char *const attr_in_flight = "ApproximateNumberOfMessagesNotVisible";
static const char *const attr_delayed = "ApproximateNumberOfMessagesDelayed";

struct sqs_inst {
	const struct sqs_cfg *cfg;
	struct em_aws_identity *id;
	char endpoint[512];
	char *key;
};

/* KEDA's rule (url.ParseRequestURI, then the path must be /ACCOUNT/NAME):
 * not a URL -> the text is the queue name; a URL with another path is an
 * error. Writes the name into out. */
static int queue_name(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://");
	const char *path, *end;

	if (url[0] != '/' && (!p || p == url || strcspn(url, ":/") != (size_t)(p - url))) {
		snprintf(out, cap, "%s", url);
		return 0;
	}
	path = url[0] == '/' ? url : strchr(p + 3, '/');
	if (!path)
		return -1;
	end = path + strcspn(path, "?#");
	/* "/ACCOUNT/NAME": exactly two segments, the second non-empty */
	const char *s1 = path + 1, *slash = memchr(s1, '/', (size_t)(end - s1));
	if (!slash || slash + 1 >= end || memchr(slash + 1, '/', (size_t)(end - slash - 1)))
		return -1;
	snprintf(out, cap, "%.*s", (int)(end - slash - 1), slash + 1);
	return 0;
}

static int sqs_validate(void *p, struct em_optdiag *d)
{
	struct sqs_cfg *cfg = p;
	char name[256], region[64];
	int before = d->errors;

	if (queue_name(cfg->queue_url, name, sizeof(name)) != 0)
		em_opt_error(d, "queueURL", "cannot get queueName from queueURL");
	if (!cfg->region || !*cfg->region) {
		/* KEDA requires awsRegion even when the queue URL names it. */
		if (em_aws_region_from_sqs_url(cfg->queue_url, region, sizeof(region)) != 0) {
			em_opt_error(d, "awsRegion", "missing required parameter \"awsRegion\" (queueURL names no region)");
		} else if (!(cfg->region = strdup(region))) {
			em_opt_error(d, "awsRegion", "out of memory");
		}
	} else {
		em_aws_region_check("awsRegion", cfg->region, d);
	}
	em_aws_auth_validate(&cfg->auth, d);
	return d->errors > before ? -1 : 0;
}

static void sqs_close(void *p)
{
	struct sqs_inst *s = p;

	if (!s)
		return;
	em_aws_identity_close(s->id);
	free(s->key);
	free(s);
}

static void *sqs_open(const void *p, struct em_err *err)
{
	const struct sqs_cfg *cfg = p;
	struct sqs_inst *s = calloc(1, sizeof(*s));
	size_t kl;

	if (!s) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	if (em_aws_endpoint(&em_aws_sqs, cfg->region, cfg->endpoint, NULL, s->endpoint, sizeof(s->endpoint), err) != 0)
		goto out;
	s->id = em_aws_identity_open(&cfg->auth, cfg->region, err);
	if (!s->id)
		goto out;
	/* Every attribute is asked for, so metrics on one queue with different
	 * scaleOn* settings still share the request. */
	kl = strlen(em_aws_identity_key(s->id)) + strlen(s->endpoint) + strlen(cfg->region) + strlen(cfg->queue_url) + 8;
	s->key = malloc(kl);
	if (!s->key) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(s->key, kl, "%s|%s|%s|%s", em_aws_identity_key(s->id), s->endpoint, cfg->region, cfg->queue_url);
	return s;
out:
	sqs_close(s);
	return NULL;
}

static const char *sqs_batch_key(void *p)
{
	return ((struct sqs_inst *)p)->key;
}

/* The count for one metric from the shared answer. */
static int sqs_value(const struct sqs_cfg *cfg, const struct em_sqs_attrs *a, struct em_sample *out,
		     struct em_err *err)
{
	int64_t sum;

	if (em_sqs_count(a, cfg->scale_on_in_flight, cfg->scale_on_delayed, &sum, err) != 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->value = (double)sum;
	out->active = sum > cfg->activation_queue_length;
	return 0;
}

static void sqs_fetch_batch(void **insts, size_t n, const struct em_fetch_ctx *ctx, struct em_sample *outs,
			    struct em_err *errs, int *rcs)
{
	struct sqs_inst *first = insts[0];
	const struct sqs_cfg *cfg = first->cfg;
	struct em_aws_resp resp = {0};
	struct em_err err = {0};
	struct em_sqs_attrs attrs;
	json_t *req = NULL;
	char *body = NULL, name[256];

	req = json_pack("{s:s, s:[s,s,s]}", "QueueUrl", cfg->queue_url, "AttributeNames", attr_visible, attr_in_flight,
			attr_delayed);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!body) {
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	struct em_aws_api_req r = {
		.svc = &em_aws_sqs, .region = cfg->region, .endpoint = first->endpoint,
		.operation = "GetQueueAttributes", .target = "AmazonSQS.GetQueueAttributes",
		.content_type = "application/x-amz-json-1.0", .body = body, .body_len = strlen(body),
		.timeout_ms = ctx->timeout_ms, .backoff_key = first->key, .max_body = SQS_MAX_BODY,
	};
	if (em_aws_api_call(first->id, &r, &resp, &err) != 0)
		goto out;
	if (em_sqs_parse_attributes(resp.body, resp.len, &attrs, &err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct sqs_inst *s = insts[i];
		rcs[i] = sqs_value(s->cfg, &attrs, &outs[i], &errs[i]);
	}
out:
	if (err.kind != EM_OK) {   /* the whole batch failed: every instance says why */
		if (queue_name(cfg->queue_url, name, sizeof(name)) == 0)
			em_err_prefix(&err, "queue %s", name);
		for (size_t i = 0; i < n; i++) {
			errs[i] = err;
			rcs[i] = -1;
		}
	}
	json_decref(req);
	free(body);
	em_aws_resp_free(&resp);
}

const struct em_scaler em_scaler_aws_sqs_queue = {
	.type = "aws-sqs-queue",
	.options = sqs_options,
	.config_size = sizeof(struct sqs_cfg),
	.summary = "messages in an SQS queue (visible + in flight [+ delayed]); one GetQueueAttributes per queue per poll",
	.flags = EM_SCALER_BATCH,
	.global_init = em_aws_global_init,
	.global_cleanup = em_aws_global_cleanup,
	.validate = sqs_validate,
	.open = sqs_open,
	.close = sqs_close,
	.batch_key = sqs_batch_key,
	.fetch_batch = sqs_fetch_batch,
};
