/* kubeclient.c - a small HTTPS client for the Kubernetes API: in-cluster defaults, token file, fail-fast back-off. */
#include "kubeclient.h"

#include <curl/curl.h>
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
#include "adapter/util/secret.h"

#define MAX_RESPONSE (4 << 20)
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 5000

struct em_kube {
	char *url;
	char *ca_file;         /* NULL: system CAs */
	char *token_file;      /* NULL: no token */
	int64_t timeout_ms;
	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
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

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
	struct em_kube *k = u;

	(void)h;
	(void)access;
	pthread_mutex_lock(&k->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
	struct em_kube *k = u;

	(void)h;
	pthread_mutex_unlock(&k->share_mu[data]);
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
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&k->share_mu[i], NULL);
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
		goto fail;
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
	k->share = curl_share_init();
	if (!k->url || (ca_file && !k->ca_file) || (token_file && !k->token_file) || !k->share) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto fail;
	}
	curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return k;
fail:
	em_kube_free(k);
	return NULL;
}

void em_kube_free(struct em_kube *k)
{
	if (!k)
		return;
	if (k->share)
		curl_share_cleanup(k->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&k->share_mu[i]);
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
	char *t = em_read_file(path, 16 * 1024, false, NULL, why, cap);
	size_t n;

	if (!t)
		return NULL;
	n = strlen(t);
	while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
		t[--n] = '\0';
	if (!n || strpbrk(t, "\r\n")) {
		snprintf(why, cap, "the token file %s is empty or holds several lines", path);
		em_free_secret(t);
		return NULL;
	}
	return t;
}

struct sink {
	struct em_strbuf sb;
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	struct sink *s = u;

	if (s->sb.len + size * n > MAX_RESPONSE) {
		s->too_big = true;
		return 0;
	}
	em_sb_add(&s->sb, p, size * n);
	return size * n;
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
	struct sink s = {0};
	struct curl_slist *hdrs = NULL;
	char url[2048], why[512], auth_hdr[16400];
	char *token = NULL;
	CURL *h = NULL;
	CURLcode cc;
	long code = 0;
	int rc = -1;
	int64_t now = em_mono_ms();

	*resp = NULL;
	pthread_mutex_lock(&k->mu);
	if (now < k->retry_at_ms) {
		pthread_mutex_unlock(&k->mu);
		return em_err_set(err, EM_E_UNAVAILABLE, "Kubernetes API: unreachable (backing off)");
	}
	pthread_mutex_unlock(&k->mu);
	em_sb_init(&s.sb);
	snprintf(url, sizeof(url), "%s%s", k->url, path);
	if (k->token_file) {
		token = read_token(k->token_file, why, sizeof(why));
		if (!token) {
			rc = failed(k, why, err);
			goto out;
		}
		snprintf(auth_hdr, sizeof(auth_hdr), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth_hdr);
		memset(auth_hdr, 0, sizeof(auth_hdr));
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	h = curl_easy_init();
	if (!h || !hdrs) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, k->share);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "extmetrics");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(k->timeout_ms < 2000 ? k->timeout_ms : 2000));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (k->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, k->ca_file);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s %s: %s", body ? "POST" : "GET", path,
			 s.too_big ? "response too large" : curl_easy_strerror(cc));
		rc = failed(k, why, err);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		char ex[256];
		excerpt(s.sb.buf, ex, sizeof(ex));
		snprintf(why, sizeof(why), "%s %s answered %ld: %s", body ? "POST" : "GET", path, code, ex);
		rc = failed(k, why, err);
		goto out;
	}
	pthread_mutex_lock(&k->mu);
	k->backoff_ms = 0;
	k->retry_at_ms = 0;
	em_complain_release(&k->complain, "Kubernetes API %s: reachable again", k->url);
	pthread_mutex_unlock(&k->mu);
	*resp = em_sb_steal(&s.sb);
	rc = *resp ? 0 : em_err_set(err, EM_E_INTERNAL, "out of memory");
out:
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	em_sb_free(&s.sb);
	return rc;
}
