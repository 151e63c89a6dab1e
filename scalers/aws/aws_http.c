/* aws_http.c - HTTP for AWS: libcurl with deadlines, SigV4 signing, error decoding, call counters. */
#include "scalers/scaler.h"
#include "aws_http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws_parse.h"

#define MAX_HEADERS 16

/* ------------------------------------------------------------------ */
/* One client for every AWS request, shared: connections, TLS sessions and
 * DNS answers are reused across poller threads, so a poll round does not
 * pay a TLS handshake per call. */

static struct em_http_client *client;
static struct em_sigv4_cache *key_cache;

static void throttled_free_all(void);

int em_aws_global_init(struct em_err *err)
{
	em_aws_creds_global_init();
	key_cache = em_sigv4_cache_new(32);
	client = em_http_client_new(EM_HTTP_SHARED);
	if (!key_cache || !client) {
		em_aws_global_cleanup();
		return em_err_set(err, EM_E_INTERNAL, "aws: out of memory");
	}
	return 0;
}

void em_aws_global_cleanup(void)
{
	/* An identity still open means an instance is (a fetch stuck at
	 * shutdown): it may still use the client. */
	if (!em_aws_creds_global_cleanup())
		return;
	em_http_client_free(client);
	client = NULL;
	em_sigv4_cache_free(key_cache);
	key_cache = NULL;
	throttled_free_all();
}

void em_aws_resp_free(struct em_aws_resp *r)
{
	if (!r)
		return;
	/* Bodies carry credential documents (STS, IMDS, Pod Identity). */
	em_wipe(r->body, r->len);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static struct em_sm_family fam_calls =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_aws_api_calls_total",
		     "AWS API calls made, by service, operation and result (HTTP status or AWS error code).");

static void count_call(const char *service, const char *operation, const char *code)
{
	char s[64], o[96], c[128], labels[320];

	em_label_escape(service ? service : "", s, sizeof(s));
	em_label_escape(operation ? operation : "", o, sizeof(o));
	em_label_escape(code, c, sizeof(c));
	snprintf(labels, sizeof(labels), "aws_service=\"%s\",operation=\"%s\",code=\"%s\"", s, o, c);
	em_sm_add(em_sm_series(&fam_calls, labels), 1);
}

static int exchange(const struct em_aws_http_req *r, char *redirect, size_t redirect_cap, struct em_aws_resp *resp,
		    struct em_err *err)
{
	struct em_http_headers hl = {0};
	struct em_sigv4_out sig = {0};
	struct em_http_resp hr = {0};
	int rc = -1;
	const char *svc = r->service_label ? r->service_label : "aws";
	const char *op = r->operation ? r->operation : "";

	memset(resp, 0, sizeof(*resp));
	if (!client) {
		count_call(svc, op, "network");
		return em_err_set(err, EM_E_INTERNAL, "%s:%s: the AWS client is not set up (em_scalers_init)", svc, op);
	}
	if (r->timeout_ms <= 0) {
		count_call(svc, op, "timeout");
		return em_err_set(err, EM_E_UNAVAILABLE, "%s:%s: no time left for the request", svc, op);
	}
	if (r->creds) {
		struct em_sigv4_req sr = {
			.method = r->method, .url = r->url, .headers = r->headers, .n_headers = r->n_headers,
			.payload = r->body, .payload_len = r->body_len, .region = r->region,
			.service = r->signing_name, .now_s = em_now_ms() / 1000,
		};
		if (em_sigv4_sign(&sr, r->creds, key_cache, &sig, err) != 0) {
			em_err_prefix(err, "%s:%s", svc, op);
			return -1;
		}
	}
	for (size_t i = 0; i < r->n_headers; i++)
		em_http_header_add(&hl, r->headers[i].name, r->headers[i].value);
	for (size_t i = 0; i < sig.n; i++)
		em_http_header_add(&hl, sig.h[i].name, sig.h[i].value);
	/* no "Expect: 100-continue" round trip for bodies over 1 KiB */
	em_http_header_line(&hl, "Expect:");
	struct em_http_req req = {
		.method = r->method, .url = r->url, .headers = &hl, .body = r->body, .body_len = r->body_len,
		.timeout_ms = r->timeout_ms, .max_body = r->max_body ? r->max_body : EM_AWS_MAX_BODY,
		.capture_header = "x-amzn-query-error",
	};
	if (em_http_do(client, &req, &hr) != 0) {
		if (hr.fail == EM_HTTP_SETUP) {
			em_err_set(err, EM_E_INTERNAL, "%s:%s: %s", svc, op, hr.error);
		} else if (hr.fail == EM_HTTP_TIMEOUT) {
			count_call(svc, op, "timeout");
			em_err_set(err, EM_E_UNAVAILABLE, "%s:%s: timed out after %lld ms", svc, op,
				   (long long)r->timeout_ms);
		} else {
			count_call(svc, op, "network");
			em_err_set(err, EM_E_UNAVAILABLE, "%s:%s: %s", svc, op,
				   hr.fail == EM_HTTP_TOO_BIG ? "answer larger than the limit" : hr.error);
		}
		goto out;
	}
	resp->status = hr.status;
	snprintf(redirect, redirect_cap, "%s", hr.redirect);
	resp->body = hr.body;
	resp->len = hr.len;
	hr.body = NULL;
	if (resp->status >= 200 && resp->status < 300) {
		char c[16];
		snprintf(c, sizeof(c), "%ld", resp->status);
		count_call(svc, op, c);
	} else {
		/* the answer may echo what was sent: its code and message are
		 * scrubbed of the request's credentials before they are cut */
		const char *sec[2] = {r->creds ? r->creds->secret_access_key : NULL,
				      r->creds ? r->creds->session_token : NULL};
		struct em_secret_scope scope;

		em_secret_scope_enter(&scope, sec, 2);
		em_aws_parse_error(resp->status, resp->body, resp->len, hr.header, resp->code, sizeof(resp->code),
				   resp->message, sizeof(resp->message));
		em_secret_scope_leave(&scope);
		count_call(svc, op, resp->code);
	}
	rc = 0;
out:
	em_http_headers_free(&hl);
	em_sigv4_out_free(&sig);
	em_http_resp_free(&hr);
	return rc;
}

/* scheme, host (lowercased) and port of url into out: "https://h:443". */
static bool origin(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://"), *host, *end, *colon;
	bool https;
	size_t n, hl;

	if (!p)
		return false;
	if ((size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0)
		https = true;
	else if ((size_t)(p - url) == 4 && strncasecmp(url, "http", 4) == 0)
		https = false;
	else
		return false;
	host = p + 3;
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)))
		return false;   /* user info: never ours */
	colon = host[0] == '[' ? memchr(host, ']', (size_t)(end - host)) : host;
	colon = colon ? memchr(colon, ':', (size_t)(end - colon)) : NULL;
	hl = (size_t)((colon ? colon : end) - host);
	n = (size_t)snprintf(out, cap, "%s://%.*s:%.*s", https ? "https" : "http", (int)hl, host,
			     colon ? (int)(end - colon - 1) : 3, colon ? colon + 1 : https ? "443" : "80");
	if (n >= cap)
		return false;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return true;
}

bool em_aws_same_origin(const char *a, const char *b)
{
	char oa[512], ob[512];

	return a && b && origin(a, oa, sizeof(oa)) && origin(b, ob, sizeof(ob)) && strcmp(oa, ob) == 0;
}

int em_aws_http(const struct em_aws_http_req *r, struct em_aws_resp *resp, struct em_err *err)
{
	int64_t deadline = em_mono_ms() + r->timeout_ms;
	struct em_aws_http_req hop = *r;
	char url[1024], next[1024] = "";
	const char *svc = r->service_label ? r->service_label : "aws";
	const char *op = r->operation ? r->operation : "";

	for (int n = 0;; n++) {
		if (exchange(&hop, next, sizeof(next), resp, err) != 0)
			return -1;
		if (resp->status != 307 && resp->status != 308)
			return 0;
		if (!next[0])
			return 0;   /* no Location: an answer like any other */
		if (!em_aws_same_origin(hop.url, next)) {
			long status = resp->status;
			char o[512];
			if (!origin(next, o, sizeof(o)))
				snprintf(o, sizeof(o), "an unreadable location");
			em_aws_resp_free(resp);
			return em_err_set(err, EM_E_UNAVAILABLE,
					  "%s:%s: HTTP %ld redirects to %.200s: not followed (requests and their "
					  "credentials go to the configured endpoint's host only)", svc, op, status, o);
		}
		if (n == EM_AWS_MAX_REDIRECTS) {
			em_aws_resp_free(resp);
			return em_err_set(err, EM_E_UNAVAILABLE, "%s:%s: more than %d redirects", svc, op,
					  EM_AWS_MAX_REDIRECTS);
		}
		snprintf(url, sizeof(url), "%s", next);
		hop.url = url;
		hop.timeout_ms = deadline - em_mono_ms();
		em_aws_resp_free(resp);
	}
}

/* ------------------------------------------------------------------ */
/* Throttling back-off per batch (backoff_key). Only batches whose last call
 * was throttled have an entry: it leaves at the first other answer. */

struct throttled {
	struct throttled *next;
	struct em_aws_backoff b;
	char code[96];     /* the throttling answer, for skipped polls' messages */
	char message[256];
	char key[];
};

static pthread_mutex_t throttled_mu = PTHREAD_MUTEX_INITIALIZER;
static struct throttled *throttled_list;

static void throttled_free_all(void)
{
	pthread_mutex_lock(&throttled_mu);
	while (throttled_list) {
		struct throttled *t = throttled_list;
		throttled_list = t->next;
		free(t);
	}
	pthread_mutex_unlock(&throttled_mu);
}

/* throttled_mu held */
static struct throttled **throttled_find(const char *key)
{
	struct throttled **pp = &throttled_list;

	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* -1 with err when this call is to be skipped. Not counted as an API call:
 * it shows as the scaler's fetch error. */
static int backoff_skip(const struct em_aws_api_req *r, struct em_err *err)
{
	struct throttled *t;
	int rc = 0;

	if (!r->backoff_key)
		return 0;
	pthread_mutex_lock(&throttled_mu);
	t = *throttled_find(r->backoff_key);
	if (t && em_aws_backoff_skip(&t->b)) {
		em_err_set(err, EM_E_UNAVAILABLE, "%s:%s: %s%s%s (backing off: poll skipped after %d throttled poll%s)",
			   r->svc->label, r->operation, t->code, t->message[0] ? ": " : "", t->message, t->b.streak,
			   t->b.streak == 1 ? "" : "s in a row");
		rc = -1;
	}
	pthread_mutex_unlock(&throttled_mu);
	return rc;
}

/* Records how a sent call ended (an answer came). */
static void backoff_note(const struct em_aws_api_req *r, const struct em_aws_resp *resp)
{
	bool throttled = em_aws_code_is_throttling(resp->code);
	struct throttled **pp, *t;

	if (!r->backoff_key)
		return;
	pthread_mutex_lock(&throttled_mu);
	pp = throttled_find(r->backoff_key);
	if (!*pp && throttled) {
		size_t kl = strlen(r->backoff_key) + 1;
		/* out of memory: no back-off, the calls still go out */
		if ((t = calloc(1, sizeof(*t) + kl)) != NULL) {
			memcpy(t->key, r->backoff_key, kl);
			*pp = t;
		}
	}
	t = *pp;
	if (t) {
		em_aws_backoff_note(&t->b, throttled);
		if (throttled) {
			snprintf(t->code, sizeof(t->code), "%s", resp->code);
			snprintf(t->message, sizeof(t->message), "%s", resp->message);
		} else {
			*pp = t->next;
			free(t);
		}
	}
	pthread_mutex_unlock(&throttled_mu);
}

static uint32_t random32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	return (uint32_t)em_mono_ms() * 2654435761u;
}

/* ------------------------------------------------------------------ */


int em_aws_api_call(struct em_aws_identity *id, const struct em_aws_api_req *r, struct em_aws_resp *resp,
		    struct em_err *err)
{
	int64_t deadline = em_mono_ms() + r->timeout_ms, throttle_delay = -1;
	struct em_aws_creds creds = {0};
	struct em_sigv4_hdr hdrs[2];
	size_t nh = 0;
	char url[1200], retried[64] = "";
	bool refreshed = false;
	const char *secrets[2] = {NULL, NULL};
	struct em_secret_scope scope;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	if ((size_t)snprintf(url, sizeof(url), "%s/", r->endpoint) >= sizeof(url))
		return em_err_set(err, EM_E_CONFIG, "%s:%s: endpoint too long", r->svc->label, r->operation);
	if (backoff_skip(r, err) != 0)
		return -1;
	em_secret_scope_enter(&scope, secrets, 2);
	if (r->content_type)
		hdrs[nh++] = (struct em_sigv4_hdr){"Content-Type", r->content_type};
	if (r->target)
		hdrs[nh++] = (struct em_sigv4_hdr){"X-Amz-Target", r->target};

	/* at most three sends: the first, one after a forced credentials
	 * refresh, one after a throttling delay */
	for (int attempt = 0; attempt < 3; attempt++) {
		struct em_aws_http_req hr = {
			.method = "POST", .url = url, .headers = hdrs, .n_headers = nh, .body = r->body,
			.body_len = r->body_len, .region = r->region, .signing_name = r->svc->signing_name,
			.service_label = r->svc->label, .operation = r->operation,
		};
		if (em_aws_identity_creds(id, deadline - em_mono_ms(), &creds, err) != 0) {
			em_err_prefix(err, "%s:%s: credentials", r->svc->label, r->operation);
			/* found while polling, whatever its cause: the backend is unusable (503) */
			if (err && err->kind != EM_E_INTERNAL)
				err->kind = EM_E_UNAVAILABLE;
			goto out;
		}
		/* the credentials are secrets in scope until the call ends: no
		 * message built meanwhile can hold any part of them */
		secrets[0] = creds.secret_access_key;
		secrets[1] = creds.session_token;
		hr.creds = &creds;
		hr.timeout_ms = deadline - em_mono_ms();
		hr.max_body = r->max_body;
		em_aws_resp_free(resp);
		if (em_aws_http(&hr, resp, err) != 0)
			goto out;
		if (resp->status >= 200 && resp->status < 300) {
			rc = 0;
			goto out;
		}
		if (!refreshed && em_aws_code_is_expired_creds(resp->code) &&
		    em_aws_identity_refresh_after_auth_error(id, creds.access_key_id, deadline - em_mono_ms())) {
			refreshed = true;
			em_aws_creds_wipe(&creds);
			continue;
		}
		if (throttle_delay < 0 && em_aws_code_is_throttling(resp->code) &&
		    (throttle_delay = em_aws_throttle_delay_ms(deadline - em_mono_ms(), random32())) >= 0) {
			snprintf(retried, sizeof(retried), " (retried once after %lld ms)", (long long)throttle_delay);
			em_aws_creds_wipe(&creds);
			em_sleep_ms(throttle_delay);
			continue;
		}
		break;
	}
	em_err_set(err, EM_E_UNAVAILABLE, "%s:%s: %s%s%s%s", r->svc->label, r->operation, resp->code,
		   resp->message[0] ? ": " : "", resp->message, em_aws_code_is_throttling(resp->code) ? retried : "");
out:
	if (resp->status != 0)
		backoff_note(r, resp);
	em_secret_scope_leave(&scope);
	em_aws_creds_wipe(&creds);
	return rc;
}
