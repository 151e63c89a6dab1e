/* kubeclient.c - a small HTTPS client for the Kubernetes API: in-cluster defaults, token file, fail-fast back-off. */
#include "kubeclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter/log.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/clock.h"
#include "adapter/util/files.h"
#include "adapter/util/http.h"
#include "adapter/util/secret.h"

#define MAX_RESPONSE (4 << 20)
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 5000

struct em_kube {
	char *url;
	char *ca_file;         /* NULL: system CAs */
	char *token_file;      /* NULL: no token */
	int64_t timeout_ms;
	struct em_http_client *http;
	pthread_mutex_t mu;    /* guards what follows */
	int64_t retry_at_ms;
	int64_t backoff_ms;
	struct em_complain complain;
};

int em_kube_incluster_url(const char *host, const char *port, char *out, size_t cap)
{
	char *end;
	long p;

	if (!host || !*host || !port || !*port)
		return -1;
	p = strtol(port, &end, 10);
	if (*end || p <= 0 || p > 65535 || strpbrk(host, "/[]@ "))
		return -1;
	if (strchr(host, ':'))
		snprintf(out, cap, "https://[%s]:%ld", host, p);
	else
		snprintf(out, cap, "https://%s:%ld", host, p);
	return 0;
}

struct em_kube *em_kube_new(const char *url, const char *ca_file, const char *token_file, int64_t timeout_ms,
			    struct em_err *err)
{
	struct em_kube *k = calloc(1, sizeof(*k));
	char buf[300];

	if (!k) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&k->mu, NULL);
	k->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	if (url) {
		k->url = strdup(url);
	} else if (em_kube_incluster_url(getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"), buf,
					 sizeof(buf)) == 0) {
		k->url = strdup(buf);
	} else {
		em_err_set(err, EM_E_CONFIG,
			   "the Kubernetes API is needed (fromCluster, tokenReview or subjectAccessReview) but "
			   "KUBERNETES_SERVICE_HOST/PORT are not set: run in a cluster or set "
			   "server.auth.kubernetesAPI.url");
		goto out;
	}
	/* A trailing slash would double in url + path. */
	while (k->url && strlen(k->url) > 8 && k->url[strlen(k->url) - 1] == '/')
		k->url[strlen(k->url) - 1] = '\0';
	if (ca_file)
		k->ca_file = strdup(ca_file);
	else if (access(EM_SA_DIR "/ca.crt", R_OK) == 0)
		k->ca_file = strdup(EM_SA_DIR "/ca.crt");
	if (token_file)
		k->token_file = strdup(token_file);
	else if (access(EM_SA_DIR "/token", R_OK) == 0)
		k->token_file = strdup(EM_SA_DIR "/token");
	k->http = em_http_client_new(EM_HTTP_SHARED);
	if (!k->url || (ca_file && !k->ca_file) || (token_file && !k->token_file) || !k->http) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	return k;
out:
	em_kube_free(k);
	return NULL;
}

void em_kube_free(struct em_kube *k)
{
	if (!k)
		return;
	em_http_client_free(k->http);
	pthread_mutex_destroy(&k->mu);
	free(k->url);
	free(k->ca_file);
	free(k->token_file);
	free(k);
}

const char *em_kube_url(const struct em_kube *k)
{
	return k ? k->url : NULL;
}

/* The token, trimmed; NULL with why when unreadable. Wiped by the caller. */
static char *read_token(const char *path, char *why, size_t cap)
{
	char *t = em_read_file(path, 16 * 1024, EM_READ_TRIM_SPACE, NULL, why, cap);

	if (!t)
		return NULL;
	if (!*t || strpbrk(t, "\r\n")) {
		snprintf(why, cap, "the token file %s is empty or holds several lines", path);
		em_free_secret(t);
		return NULL;
	}
	return t;
}

/* A short, printable excerpt of an error body for the log. */
static void excerpt(const char *body, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; body && body[i] && j + 1 < cap && i < 200; i++)
		out[j++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
	out[j] = '\0';
}

static int failed(struct em_kube *k, const char *what, struct em_err *err)
{
	int64_t now = em_mono_ms();

	pthread_mutex_lock(&k->mu);
	k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (k->backoff_ms > BACKOFF_MAX_MS)
		k->backoff_ms = BACKOFF_MAX_MS;
	k->retry_at_ms = now + k->backoff_ms;
	em_complain(&k->complain, now, EM_LOG_ERROR,
		    "Kubernetes API %s: %s; denying the requests that need it (fail closed)", k->url, what);
	pthread_mutex_unlock(&k->mu);
	return em_err_set(err, EM_E_UNAVAILABLE, "Kubernetes API: %s", what);
}

int em_kube_call(struct em_kube *k, const char *path, const char *body, char **resp, struct em_err *err)
{
	struct em_http_headers hdrs = {0};
	struct em_http_tls tls = {.tls12 = true, .ca_file = k->ca_file};
	struct em_http_req req = {
		.url = NULL, .headers = &hdrs, .body = body, .body_len = body ? strlen(body) : 0,
		.timeout_ms = k->timeout_ms, .connect_timeout_ms = k->timeout_ms < 2000 ? k->timeout_ms : 2000,
		.protocols = "https", .max_body = MAX_RESPONSE, .tls = &tls,
	};
	struct em_http_resp hr = {0};
	char url[2048], why[512];
	char *token = NULL;
	int rc = -1;
	int64_t now = em_mono_ms();

	*resp = NULL;
	pthread_mutex_lock(&k->mu);
	if (now < k->retry_at_ms) {
		pthread_mutex_unlock(&k->mu);
		return em_err_set(err, EM_E_UNAVAILABLE, "Kubernetes API: unreachable (backing off)");
	}
	pthread_mutex_unlock(&k->mu);
	snprintf(url, sizeof(url), "%s%s", k->url, path);
	req.url = url;
	if (k->token_file) {
		token = read_token(k->token_file, why, sizeof(why));
		if (!token) {
			rc = failed(k, why, err);
			goto out;
		}
		em_http_header_auth(&hdrs, "Bearer", token);
	}
	em_http_header_add(&hdrs, "Accept", "application/json");
	if (body)
		em_http_header_add(&hdrs, "Content-Type", "application/json");
	if (em_http_do(k->http, &req, &hr) != 0) {
		if (hr.fail == EM_HTTP_SETUP) {
			em_err_set(err, EM_E_INTERNAL, "Kubernetes API: %s", hr.error);
			goto out;
		}
		snprintf(why, sizeof(why), "%s %s: %s", body ? "POST" : "GET", path,
			 hr.fail == EM_HTTP_TOO_BIG ? "response too large" : hr.error);
		rc = failed(k, why, err);
		goto out;
	}
	if (hr.status < 200 || hr.status > 299) {
		char ex[256];
		excerpt(hr.body, ex, sizeof(ex));
		snprintf(why, sizeof(why), "%s %s answered %ld: %s", body ? "POST" : "GET", path, hr.status, ex);
		rc = failed(k, why, err);
		goto out;
	}
	pthread_mutex_lock(&k->mu);
	k->backoff_ms = 0;
	k->retry_at_ms = 0;
	em_complain_release(&k->complain, "Kubernetes API %s: reachable again", k->url);
	pthread_mutex_unlock(&k->mu);
	*resp = hr.body;
	hr.body = NULL;
	rc = 0;
out:
	em_free_secret(token);
	em_http_headers_free(&hdrs);
	em_http_resp_free(&hr);
	return rc;
}
