/* rabbitmq.c - the "rabbitmq" scaler: a queue's length or rates from the management API or a passive AMQP declare. */
#include "rabbitmq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EM_VERSION
#define EM_VERSION "dev"
#endif

static bool empty(const char *s)
{
	return !s || !*s;
}

/* ------------------------------------------------------------------ secrets */

void rmq_scrub(const struct rmq_cfg *c, char *msg, size_t cap)
{
	struct rmq_http_target t = {0};
	struct rmq_uri u = {0};
	struct em_err ignored;
	const char *secrets[8];
	size_t n = 0;
	char *basic = NULL;

	secrets[n++] = c->host;
	if (c->proto == RMQ_AMQP && rmq_parse_uri(c->host, &u, &ignored) == 0 && u.has_password)
		secrets[n++] = u.password;
	if (c->proto == RMQ_HTTP && rmq_http_target_parse(c->host, c->vhostName, &t, &ignored) == 0 && t.password)
		secrets[n++] = t.password;
	if (!empty(c->password))
		secrets[n++] = c->password;
	if (!empty(c->keyPassword))
		secrets[n++] = c->keyPassword;
	if (!empty(c->key))
		secrets[n++] = c->key;
	/* a proxy may echo the Authorization header it got */
	if (c->proto == RMQ_HTTP && (basic = em_http_basic_credentials(!empty(c->username) ? c->username : t.user,
								       !empty(c->password) ? c->password : t.password)))
		secrets[n++] = basic;
	for (size_t i = 0; i < n; i++)
		if (!secrets[i])
			secrets[i] = "";
	em_scrub(msg, cap, secrets, n);
	em_free_secret(basic);
	rmq_uri_free(&u);
	rmq_http_target_free(&t);
}

/* ------------------------------------------------------------------ HTTP */

struct rmq_inst {
	const struct rmq_cfg *cfg;
	struct rmq_amqp *amqp;           /* AMQP */
	struct em_http_client *http;     /* HTTP: shared per server */
	char *url;
	struct em_http_headers headers;  /* Authorization (secret: wiped) */
};

static void rmq_close(void *vinst)
{
	struct rmq_inst *in = vinst;

	if (!in)
		return;
	rmq_amqp_close(in->amqp);
	em_http_client_put(in->http);
	em_http_headers_free(&in->headers);
	free(in->url);
	free(in);
}

static int http_open(struct rmq_inst *in, struct em_err *err)
{
	const struct rmq_cfg *c = in->cfg;
	struct rmq_http_target t;
	const char *user, *pass;
	int rc = -1;

	if (rmq_http_target_parse(c->host, c->vhostName, &t, err) != 0)
		return -1;
	in->url = rmq_queue_url(&t, c);
	in->http = em_http_client_get(t.base);
	/* KEDA: username and password replace the URL's credentials; Go sends
	 * the URL's userinfo as basic auth */
	user = !empty(c->username) ? c->username : t.user;
	pass = !empty(c->username) ? c->password : t.password;
	em_http_header_add(&in->headers, "Accept", "application/json");
	if (user)
		em_http_header_basic(&in->headers, user, pass);
	if (in->url && in->http && !in->headers.oom)
		rc = 0;
	else
		em_err_set(err, EM_E_INTERNAL, "out of memory");
	rmq_http_target_free(&t);
	return rc;
}

static void *rmq_open(const void *vcfg, struct em_err *err)
{
	const struct rmq_cfg *c = vcfg;
	struct rmq_inst *in = calloc(1, sizeof(*in));

	if (!in) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	in->cfg = c;
	if (c->proto == RMQ_AMQP ? !(in->amqp = rmq_amqp_open(c, err)) : http_open(in, err) != 0) {
		rmq_close(in);
		return NULL;
	}
	return in;
}

static struct em_sm_family fam_requests = EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_rabbitmq_http_requests_total",
	"RabbitMQ management API requests by HTTP status (\"error\": no response).");

/* A printable one-line excerpt of an error answer (scrubbed by the caller). */
static void excerpt(const char *body, size_t len, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 1 < cap; i++) {
		unsigned char ch = (unsigned char)body[i];
		out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
	}
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
}

static int http_fetch(struct rmq_inst *in, int64_t tmo, struct rmq_queue *q, struct em_err *err)
{
	const struct rmq_cfg *c = in->cfg;
	struct em_http_tls tls = {.tls12 = true, .insecure = c->unsafeSsl};
	struct em_http_resp resp = {0};
	int rc = -1;

	if (c->tls_on) {
		tls.ca_pem = c->ca;
		tls.cert_pem = c->cert;
		tls.key_pem = c->key;
		tls.key_password = c->keyPassword;
	}
	struct em_http_req req = {
		.url = in->url, .headers = &in->headers, .timeout_ms = tmo, .user_agent = "extmetrics/" EM_VERSION,
		.max_body = RMQ_MAX_BODY, .tls = &tls, .keepalive = true, .compressed = true,
	};
	em_http_do(in->http, &req, &resp);
	{
		char label[32];
		em_http_code_label(&resp, label, sizeof(label));
		em_sm_add(em_sm_series(&fam_requests, label), 1);
	}
	if (resp.fail != EM_HTTP_OK) {
		em_http_fail_err(&resp, &req, "error inspecting RabbitMQ", in->url, err);
		goto out;
	}
	if (resp.status != 200) {
		char snip[4096];
		excerpt(resp.body, resp.len, snip, sizeof(snip));
		rmq_scrub(c, snip, sizeof(snip));
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: error requesting RabbitMQ API status: %ld, "
			   "response: %.200s, from: %s", resp.status, snip, in->url);
		em_wipe(snip, sizeof(snip));
		goto out;
	}
	rc = rmq_parse_queue_json(resp.body, resp.len, c->useRegex, c->op, q, err);
out:
	em_http_resp_free(&resp);
	return rc;
}

static int rmq_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct rmq_inst *in = vinst;
	const struct rmq_cfg *c = in->cfg;
	int64_t tmo = ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000;
	struct rmq_queue q = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (c->timeout_ms > 0 && c->timeout_ms < tmo)
		tmo = c->timeout_ms;
	if (c->proto == RMQ_AMQP) {
		rc = rmq_amqp_count(in->amqp, c->queueName, em_mono_ms() + tmo, &q.messages, err);
		q.ready = q.messages;   /* AMQP counts ready messages only */
	} else {
		rc = http_fetch(in, tmo, &q, err);
	}
	if (rc != 0) {
		rmq_scrub(c, err->msg, sizeof(err->msg));
		return -1;
	}
	rmq_mode_value(c, &q, &out->value, &out->active);
	return 0;
}

/* librabbitmq would set OpenSSL up and tear it down again with its first
 * and last TLS connection, on poller threads; OpenSSL 3 sets itself up. */
static int rmq_global_init(struct em_err *err)
{
	(void)err;
	rmq_amqp_global_init();
	return 0;
}

/* import-keda: the target KEDA's validateTrigger reads from the metadata:
 * the deprecated queueLength alone, else value (required with a mode;
 * without mode, value and queueLength: QueueLength with 20). */
static const char *rmq_target_key(const char *(*get)(const void *md, const char *key), const void *md,
				  const char **def)
{
	const char *ql = get(md, "queueLength"), *mode = get(md, "mode"), *v = get(md, "value");

	*def = NULL;
	if (ql && *ql && strspn(ql, "0. ") != strlen(ql) && (!mode || !*mode) && (!v || !*v))
		return "queueLength";
	if ((!mode || !*mode) && (!v || !*v) && (!ql || !*ql))
		*def = "20";
	return "value";
}

/* rmq_validate stops at its first problem; the core takes them as option errors. */
static int rmq_validate_options(void *cfg, struct em_optdiag *d)
{
	struct em_err err = {0};

	return rmq_validate(cfg, &err) == 0 ? 0 : em_opt_error_err(d, &err);
}

const struct em_scaler em_scaler_rabbitmq = {
	.type = "rabbitmq",
	.options = rmq_options,
	.config_size = sizeof(struct rmq_cfg),
	.summary = "RabbitMQ queue length or message rates, from the management API or AMQP (passive declare on "
		   "shared connections)",
	.global_init = rmq_global_init,
	.target_key = rmq_target_key,
	.validate = rmq_validate_options,
	.open = rmq_open,
	.fetch = rmq_fetch,
	.close = rmq_close,
};
