/* http.c - the one libcurl client: a request described as data, a capped body, connections kept between calls. */
#include "http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "keyed.h"
#include "secret.h"
#include "strbuf.h"

/* Idle handles kept per client, each with its live connection. */
#define IDLE_HANDLES 4
#define DEFAULT_MAX_BODY (16u << 20)

int em_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void em_http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- headers ---------------------------------------------------------------- */

/* Appends prefix + value as one line. The text is built in a buffer wiped
 * afterwards, and the value goes in last, so no realloc leaves a copy of it. */
static void append(struct em_http_headers *h, const char *prefix, const char *value)
{
	struct em_strbuf sb;
	struct curl_slist *n = NULL;

	em_sb_init(&sb);
	em_sb_puts(&sb, prefix);
	if (value)
		em_sb_puts(&sb, value);
	if (!sb.oom)
		n = curl_slist_append(h->list, sb.buf);
	if (sb.buf)
		em_wipe(sb.buf, sb.cap);
	em_sb_free(&sb);
	if (n)
		h->list = n;
	else
		h->oom = true;
}

char *em_http_basic_credentials(const char *user, const char *password)
{
	size_t ul = strlen(user ? user : ""), pl = strlen(password ? password : ""), n = ul + 1 + pl;
	unsigned char *plain = malloc(n + 1);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (!plain || !out) {
		free(plain);
		free(out);
		return NULL;
	}
	memcpy(plain, user ? user : "", ul);
	plain[ul] = ':';
	memcpy(plain + ul + 1, password ? password : "", pl);
	EVP_EncodeBlock((unsigned char *)out, plain, (int)n);
	em_wipe(plain, n);
	free(plain);
	return out;
}

bool em_http_header_name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

bool em_http_header_value_ok(const char *s)
{
	for (; s && *s; s++)
		if (*s == '\r' || *s == '\n')
			return false;
	return true;
}

void em_http_header_add(struct em_http_headers *h, const char *name, const char *value)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	/* libcurl drops "Name:" with nothing after it; "Name;" sends it empty. */
	em_sb_printf(&sb, "%s%s", name, value && *value ? ": " : ";");
	append(h, sb.oom ? "" : sb.buf, value && *value ? value : NULL);
	h->oom |= sb.oom;
	em_sb_free(&sb);
}

void em_http_header_auth(struct em_http_headers *h, const char *scheme, const char *credentials)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_printf(&sb, "Authorization: %s ", scheme);
	append(h, sb.oom ? "" : sb.buf, credentials);
	h->oom |= sb.oom;
	em_sb_free(&sb);
}

void em_http_header_basic(struct em_http_headers *h, const char *user, const char *password)
{
	char *cred = em_http_basic_credentials(user, password);

	if (cred)
		em_http_header_auth(h, "Basic", cred);
	else
		h->oom = true;
	em_free_secret(cred);
}

void em_http_header_line(struct em_http_headers *h, const char *line)
{
	append(h, line, NULL);
}

void em_http_headers_wipe(struct em_http_headers *h)
{
	for (struct curl_slist *l = h ? h->list : NULL; l; l = l->next)
		if (l->data)
			em_wipe(l->data, strlen(l->data));
}

void em_http_headers_free(struct em_http_headers *h)
{
	if (!h)
		return;
	em_http_headers_wipe(h);
	curl_slist_free_all(h->list);
	h->list = NULL;
	h->oom = false;
}

/* ---- clients ----------------------------------------------------------------- */

struct em_http_client {
	struct em_keyed k;                         /* first: em_http_client_get's clients are em_keyed's */
	CURLSH *share;                             /* NULL without EM_HTTP_SHARED */
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	pthread_mutex_t mu;                        /* guards idle */
	CURL *idle[IDLE_HANDLES];
	size_t nidle;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
	struct em_http_client *c = u;

	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
	struct em_http_client *c = u;

	(void)h;
	pthread_mutex_unlock(&c->share_mu[data]);
}

static struct em_keyed_set shared_clients = EM_KEYED_SET_INIT;

static int client_init(void *obj)
{
	struct em_http_client *c = obj;

	pthread_mutex_init(&c->mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	return 0;
}

static void client_fini(void *obj)
{
	struct em_http_client *c = obj;

	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	pthread_mutex_destroy(&c->mu);
}

struct em_http_client *em_http_client_get(const char *key)
{
	return em_keyed_get(&shared_clients, key, sizeof(struct em_http_client), client_init);
}

void em_http_client_put(struct em_http_client *c)
{
	em_keyed_put(&shared_clients, c, client_fini);
}

struct em_http_client *em_http_client_new(unsigned flags)
{
	struct em_http_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	client_init(c);
	if (flags & EM_HTTP_SHARED) {
		c->share = curl_share_init();
		if (!c->share) {
			em_http_client_free(c);
			return NULL;
		}
		curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	}
	return c;
}

void em_http_client_free(struct em_http_client *c)
{
	if (!c)
		return;
	/* the handles first: a share still in use is not freed */
	for (; c->nidle > 0; c->nidle--)
		curl_easy_cleanup(c->idle[c->nidle - 1]);
	if (c->share)
		curl_share_cleanup(c->share);
	client_fini(c);
	free(c);
}

static CURL *handle_take(struct em_http_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->nidle > 0)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->mu);
	return h ? h : curl_easy_init();
}

static void handle_give(struct em_http_client *c, CURL *h)
{
	if (!h)
		return;
	/* Drops every option (pointers into this request) but keeps the live
	 * connection for the next call. */
	curl_easy_reset(h);
	pthread_mutex_lock(&c->mu);
	if (c->nidle < IDLE_HANDLES) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

/* ---- one exchange ------------------------------------------------------------- */

struct sink {
	struct em_strbuf sb;
	size_t max;
	bool too_big;
	const char *capture;          /* header name */
	char *captured;               /* resp->header */
	size_t captured_cap;
};

/* The one capped body reader: a body over max ends the transfer. */
static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	struct sink *s = u;
	size_t add = size * n;

	if (s->sb.len + add > s->max) {
		s->too_big = true;
		return 0;
	}
	em_sb_add(&s->sb, p, add);
	return s->sb.oom ? 0 : add;
}

static size_t on_header(char *p, size_t size, size_t n, void *u)
{
	struct sink *s = u;
	size_t len = size * n, nl = strlen(s->capture);
	const char *v;

	if (len <= nl || strncasecmp(p, s->capture, nl) != 0 || p[nl] != ':')
		return len;
	v = p + nl + 1;
	len -= nl + 1;
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (len >= s->captured_cap)
		len = s->captured_cap - 1;
	memcpy(s->captured, v, len);
	s->captured[len] = '\0';
	return size * n;
}

static CURLcode set_tls(CURL *h, const struct em_http_tls *t)
{
	CURLcode rc = CURLE_OK;

	if (t->tls12)
		rc |= curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (t->insecure) {
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->ca_file)
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
	if (t->ca_pem && *t->ca_pem) {
		struct curl_blob b = {.data = (void *)t->ca_pem, .len = strlen(t->ca_pem), .flags = CURL_BLOB_NOCOPY};
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	if (t->cert_pem && t->key_pem) {
		struct curl_blob cb = {.data = (void *)t->cert_pem, .len = strlen(t->cert_pem), .flags = CURL_BLOB_NOCOPY};
		struct curl_blob kb = {.data = (void *)t->key_pem, .len = strlen(t->key_pem), .flags = CURL_BLOB_NOCOPY};
		rc |= curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		rc |= curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		rc |= curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
		rc |= curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		if (t->key_password && *t->key_password)
			rc |= curl_easy_setopt(h, CURLOPT_KEYPASSWD, t->key_password);
	}
	return rc;
}

static int fail(struct em_http_resp *resp, enum em_http_fail f, const char *what)
{
	resp->fail = f;
	snprintf(resp->error, sizeof(resp->error), "%s", what);
	return -1;
}

int em_http_do(struct em_http_client *c, const struct em_http_req *r, struct em_http_resp *resp)
{
	struct sink s = {.max = r->max_body ? r->max_body : DEFAULT_MAX_BODY, .capture = r->capture_header, .captured = resp->header,
			 .captured_cap = sizeof(resp->header)};
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *method = r->method ? r->method : r->body ? "POST" : "GET";
	int64_t cto = r->connect_timeout_ms > 0 ? r->connect_timeout_ms : r->timeout_ms;
	CURLcode cc = CURLE_OK;
	CURL *h;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	if (r->headers && r->headers->oom)
		return fail(resp, EM_HTTP_SETUP, "out of memory");
	h = handle_take(c);
	if (!h)
		return fail(resp, EM_HTTP_SETUP, "curl_easy_init failed");
	em_sb_init(&s.sb);
	cc |= curl_easy_setopt(h, CURLOPT_URL, r->url);
	cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
	cc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cto);
	cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, r->protocols ? r->protocols : "http,https");
	cc |= curl_easy_setopt(h, CURLOPT_USERAGENT, r->user_agent ? r->user_agent : "extmetrics");
	cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	cc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	cc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	if (r->headers)
		cc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers->list);
	if (r->capture_header) {
		cc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		cc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
	}
	if (c->share)
		cc |= curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	if (r->keepalive)
		cc |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (r->compressed)
		cc |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (strcmp(method, "GET") != 0) {
		cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		if (strcmp(method, "POST") != 0)
			cc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (r->tls)
		cc |= set_tls(h, r->tls);
	if (cc != CURLE_OK) {
		fail(resp, EM_HTTP_SETUP, "libcurl rejected an option");
		goto out;
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &resp->connects);
	if (cc != CURLE_OK) {
		fail(resp, s.too_big ? EM_HTTP_TOO_BIG : cc == CURLE_OPERATION_TIMEDOUT ? EM_HTTP_TIMEOUT : EM_HTTP_NETWORK,
		     s.sb.oom ? "out of memory" : errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status >= 300 && resp->status < 400) {
		char *loc = NULL;
		if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
			snprintf(resp->redirect, sizeof(resp->redirect), "%s", loc);
	}
	resp->len = s.sb.len;
	resp->body = em_sb_steal(&s.sb);
	if (!resp->body) {
		fail(resp, EM_HTTP_SETUP, "out of memory");
		goto out;
	}
	rc = 0;
out:
	handle_give(c, h);
	if (s.sb.buf)
		em_wipe(s.sb.buf, s.sb.len);
	em_sb_free(&s.sb);
	return rc;
}

int em_http_fail_err(const struct em_http_resp *r, const struct em_http_req *req, const char *what, const char *where,
		     struct em_err *err)
{
	if (r->fail == EM_HTTP_TIMEOUT)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: no answer within %lld ms from %s", what,
				  (long long)req->timeout_ms, where);
	if (r->fail == EM_HTTP_TOO_BIG)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: the answer from %s is larger than %zu bytes", what, where,
				  req->max_body ? req->max_body : (size_t)DEFAULT_MAX_BODY);
	return em_err_set(err, r->fail == EM_HTTP_SETUP ? EM_E_INTERNAL : EM_E_UNAVAILABLE, "%s: %s (%s)", what,
			  r->error, where);
}

void em_http_code_label(const struct em_http_resp *r, char *out, size_t cap)
{
	if (r->fail != EM_HTTP_OK)
		snprintf(out, cap, "code=\"error\"");
	else
		snprintf(out, cap, "code=\"%ld\"", r->status);
}

void em_http_resp_free(struct em_http_resp *r)
{
	if (!r)
		return;
	if (r->body)
		em_wipe(r->body, r->len);
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
