/* sigv4.c - AWS Signature Version 4: canonical request, string to sign, signing key cache. */
#include "scalers/scaler.h"
#include "sigv4.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* Text is built in em_strbuf: this file and the test driver that compiles it
 * alone depend only on adapter/util's err.c, strbuf.c, text.c, secret.c and OpenSSL. */

static void b_putc(struct em_strbuf *b, char c)
{
	em_sb_add(b, &c, 1);
}

/* ------------------------------------------------------------------ */
/* Credentials */

static void wipe_str(char **s)
{
	em_free_secret(*s);
	*s = NULL;
}

void em_aws_creds_wipe(struct em_aws_creds *c)
{
	if (!c)
		return;
	wipe_str(&c->access_key_id);
	wipe_str(&c->secret_access_key);
	wipe_str(&c->session_token);
	c->expires_ms = 0;
}

int em_aws_creds_copy(struct em_aws_creds *dst, const struct em_aws_creds *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->expires_ms = src->expires_ms;
	if (src->access_key_id && !(dst->access_key_id = strdup(src->access_key_id)))
		goto out;
	if (src->secret_access_key && !(dst->secret_access_key = strdup(src->secret_access_key)))
		goto out;
	if (src->session_token && !(dst->session_token = strdup(src->session_token)))
		goto out;
	return 0;
out:
	em_aws_creds_wipe(dst);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Hashing */

void em_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	static const char digits[] = "0123456789abcdef";

	SHA256(data ? data : (const void *)"", len, md);
	for (size_t i = 0; i < sizeof(md); i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
	unsigned int olen = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
static int derive_key(const char *secret, const char *date, const char *region, const char *service,
		      unsigned char out[32])
{
	size_t slen = strlen(secret);
	unsigned char *k0 = malloc(slen + 4);
	unsigned char k[32];

	if (!k0)
		return -1;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	hmac(k0, slen + 4, date, strlen(date), k);
	em_wipe(k0, slen + 4);
	free(k0);
	hmac(k, 32, region, strlen(region), k);
	hmac(k, 32, service, strlen(service), k);
	hmac(k, 32, "aws4_request", 12, out);
	em_wipe(k, sizeof(k));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Signing key cache: a small array, least recently used entry evicted. */

struct cache_entry {
	char *secret;
	char *region;
	char *service;
	char date[9];
	unsigned char key[32];
	uint64_t used;
};

struct em_sigv4_cache {
	pthread_mutex_t mu;
	struct cache_entry *e;
	size_t cap, n;
	uint64_t tick, hits, misses;
};

static void entry_wipe(struct cache_entry *e)
{
	wipe_str(&e->secret);
	free(e->region);
	free(e->service);
	em_wipe(e, sizeof(*e));
}

struct em_sigv4_cache *em_sigv4_cache_new(size_t capacity)
{
	struct em_sigv4_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = capacity ? capacity : 1;
	c->e = calloc(c->cap, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void em_sigv4_cache_free(struct em_sigv4_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_wipe(&c->e[i]);
	free(c->e);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void em_sigv4_cache_stats(struct em_sigv4_cache *c, uint64_t *hits, uint64_t *misses, size_t *entries)
{
	pthread_mutex_lock(&c->mu);
	if (hits)
		*hits = c->hits;
	if (misses)
		*misses = c->misses;
	if (entries)
		*entries = c->n;
	pthread_mutex_unlock(&c->mu);
}

static int signing_key(struct em_sigv4_cache *c, const char *secret, const char *date, const char *region,
		       const char *service, unsigned char out[32])
{
	struct cache_entry *slot;

	if (!c)
		return derive_key(secret, date, region, service, out);
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		struct cache_entry *e = &c->e[i];
		if (strcmp(e->date, date) == 0 && strcmp(e->region, region) == 0 &&
		    strcmp(e->service, service) == 0 && strcmp(e->secret, secret) == 0) {
			e->used = ++c->tick;
			c->hits++;
			memcpy(out, e->key, 32);
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
	}
	c->misses++;
	if (derive_key(secret, date, region, service, out) != 0) {
		pthread_mutex_unlock(&c->mu);
		return -1;
	}
	if (c->n < c->cap) {
		slot = &c->e[c->n++];
	} else {
		slot = &c->e[0];
		for (size_t i = 1; i < c->n; i++)
			if (c->e[i].used < slot->used)
				slot = &c->e[i];
		entry_wipe(slot);
	}
	slot->secret = strdup(secret);
	slot->region = strdup(region);
	slot->service = strdup(service);
	if (!slot->secret || !slot->region || !slot->service) {
		/* Not cached, but the key is still good for this request. */
		entry_wipe(slot);
		*slot = c->e[--c->n];
		memset(&c->e[c->n], 0, sizeof(c->e[c->n]));
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	snprintf(slot->date, sizeof(slot->date), "%s", date);
	memcpy(slot->key, out, 32);
	slot->used = ++c->tick;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* ------------------------------------------------------------------ */
/* URL pieces */

struct url {
	bool https;
	char host[300];        /* as signed: lowercase, [v6], :port unless default */
	const char *path;      /* raw, up to path_len */
	size_t path_len;
	const char *query;     /* raw, without '?', up to query_len */
	size_t query_len;
};

static int parse_url(const char *u, struct url *out)
{
	const char *p, *auth, *auth_end, *at, *h, *h_end, *port = NULL;
	size_t hlen;
	long portnum = -1;

	memset(out, 0, sizeof(*out));
	if (strncasecmp(u, "https://", 8) == 0) {
		out->https = true;
		auth = u + 8;
	} else if (strncasecmp(u, "http://", 7) == 0) {
		auth = u + 7;
	} else {
		return -1;
	}
	auth_end = auth + strcspn(auth, "/?#");
	/* userinfo is never part of Host */
	h = auth;
	for (at = auth; at < auth_end; at++)
		if (*at == '@')
			h = at + 1;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(auth_end - h));
		if (!rb)
			return -1;
		h_end = rb + 1;
		if (h_end < auth_end && *h_end == ':')
			port = h_end + 1;
	} else {
		const char *colon = memchr(h, ':', (size_t)(auth_end - h));
		h_end = colon ? colon : auth_end;
		if (colon)
			port = colon + 1;
	}
	hlen = (size_t)(h_end - h);
	if (hlen == 0 || hlen >= sizeof(out->host) - 8)
		return -1;
	if (port && port < auth_end) {
		portnum = 0;
		for (const char *q = port; q < auth_end; q++) {
			if (*q < '0' || *q > '9' || portnum > 65535)
				return -1;
			portnum = portnum * 10 + (*q - '0');
		}
		if (portnum > 65535)
			return -1;
	}
	for (size_t i = 0; i < hlen; i++)
		out->host[i] = (char)tolower((unsigned char)h[i]);
	out->host[hlen] = '\0';
	if (portnum >= 0 && portnum != (out->https ? 443 : 80))
		snprintf(out->host + hlen, sizeof(out->host) - hlen, ":%ld", portnum);

	p = auth_end;
	out->path = p;
	out->path_len = strcspn(p, "?#");
	p += out->path_len;
	if (*p == '?') {
		out->query = p + 1;
		out->query_len = strcspn(p + 1, "#");
	}
	return 0;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.' || c == '~';
}

/* RFC 3986 encoding of bytes: unreserved kept, `/` kept when keep_slash. */
static void uri_encode(struct em_strbuf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			b_putc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			em_sb_add(b, e, 3);
		}
	}
}

/* Dot segments and empty segments removed; leading `/` kept; trailing `/`
 * kept when something remains (what AWS's services expect, and what the
 * SDKs send). Then every byte but unreserved ones and `/` is encoded, which
 * double-encodes an already encoded path as SigV4 requires outside S3. */
char *em_sigv4_canonical_path(const char *raw, size_t len)
{
	struct em_strbuf b = {0};
	const char **seg = NULL;
	size_t *seglen = NULL, nseg = 0;
	char *out = NULL;

	if (len == 0)
		return strdup("/");
	seg = calloc(len / 2 + 2, sizeof(*seg));
	seglen = calloc(len / 2 + 2, sizeof(*seglen));
	if (!seg || !seglen)
		goto out;
	for (size_t i = 0; i <= len;) {
		size_t j = i;
		while (j < len && raw[j] != '/')
			j++;
		size_t l = j - i;
		if (l == 0 || (l == 1 && raw[i] == '.')) {
			/* empty or "." */
		} else if (l == 2 && raw[i] == '.' && raw[i + 1] == '.') {
			if (nseg)
				nseg--;
		} else {
			seg[nseg] = raw + i;
			seglen[nseg++] = l;
		}
		i = j + 1;
	}
	if (raw[0] == '/')
		b_putc(&b, '/');
	for (size_t i = 0; i < nseg; i++) {
		if (i)
			b_putc(&b, '/');
		uri_encode(&b, seg[i], seglen[i], false);
	}
	if (raw[len - 1] == '/' && nseg)
		b_putc(&b, '/');
	out = em_sb_steal(&b);
	b.buf = NULL;
out:
	free(b.buf);
	free(seg);
	free(seglen);
	return out;
}

struct qpair {
	char *k, *v;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

/* Encodes one decoded component: decode, then strict RFC 3986 encode. */
static char *reencode(const char *s, size_t n)
{
	struct em_strbuf e = {0};
	char *d = malloc(n + 1);
	size_t dl;

	if (!d)
		return NULL;
	/* `+` stays `+`: AWS reads it literally. */
	dl = em_percent_decode(s, n, d, false, NULL);
	uri_encode(&e, d, dl, false);
	free(d);
	return em_sb_steal(&e);
}

char *em_sigv4_canonical_query(const char *raw, size_t len)
{
	struct qpair *pairs = NULL;
	size_t n = 0, cap = 0;
	struct em_strbuf b = {0};
	char *out = NULL;

	for (size_t i = 0; i < len;) {
		size_t j = i, eq;
		while (j < len && raw[j] != '&')
			j++;
		if (j > i) { /* "a&&b": empty parameters are dropped */
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct qpair *np = realloc(pairs, nc * sizeof(*np));
				if (!np)
					goto out;
				pairs = np;
				cap = nc;
			}
			eq = i;
			while (eq < j && raw[eq] != '=')
				eq++;
			pairs[n].k = reencode(raw + i, eq - i);
			pairs[n].v = eq < j ? reencode(raw + eq + 1, j - eq - 1) : strdup("");
			n++;
			if (!pairs[n - 1].k || !pairs[n - 1].v)
				goto out;
		}
		i = j + 1;
	}
	if (n)
		qsort(pairs, n, sizeof(*pairs), qpair_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			b_putc(&b, '&');
		em_sb_puts(&b, pairs[i].k);
		b_putc(&b, '=');
		em_sb_puts(&b, pairs[i].v);
	}
	out = em_sb_steal(&b);
	b.buf = NULL;
out:
	free(b.buf);
	for (size_t i = 0; i < n; i++) {
		free(pairs[i].k);
		free(pairs[i].v);
	}
	free(pairs);
	return out;
}

/* ------------------------------------------------------------------ */
/* Headers */

/* Not signed: hop-by-hop headers that proxies may change, and User-Agent
 * (the same list as the AWS SDKs). */
static const char *const unsigned_headers[] = {
	"authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
	"te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", NULL,
};

struct shdr {
	char *name;       /* lowercase */
	struct em_strbuf value; /* trimmed values, repeated headers joined with ',' */
	size_t order;
};

static bool ws(unsigned char c)
{
	/* Python's str.split() whitespace in ASCII, which the SDKs' Trimall uses */
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
	       (c >= 0x1c && c <= 0x1f);
}

/* Trimall: leading/trailing whitespace dropped, inner runs become one space. */
static void trimall(struct em_strbuf *b, const char *v)
{
	bool first = true;

	while (*v) {
		while (*v && ws((unsigned char)*v))
			v++;
		if (!*v)
			break;
		const char *s = v;
		while (*v && !ws((unsigned char)*v))
			v++;
		if (!first)
			b_putc(b, ' ');
		em_sb_add(b, s, (size_t)(v - s));
		first = false;
	}
	if (!b->buf && !b->oom)
		em_sb_add(b, "", 0);
}

static int shdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct shdr *)a)->name, ((const struct shdr *)b)->name);
}

struct hset {
	struct shdr *h;
	size_t n, cap;
};

static void hset_free(struct hset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->h[i].name);
		if (s->h[i].value.buf)
			em_wipe(s->h[i].value.buf, s->h[i].value.len);
		free(s->h[i].value.buf);
	}
	free(s->h);
	memset(s, 0, sizeof(*s));
}

static struct shdr *hset_find(struct hset *s, const char *lname)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->h[i].name, lname) == 0)
			return &s->h[i];
	return NULL;
}

static int hset_add(struct hset *s, const char *name, const char *value)
{
	size_t nl = strlen(name);
	char *lname = malloc(nl + 1);
	struct shdr *h;

	if (!lname)
		return -1;
	for (size_t i = 0; i <= nl; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	h = hset_find(s, lname);
	if (h) {
		free(lname);
		b_putc(&h->value, ',');
		trimall(&h->value, value);
		return h->value.oom ? -1 : 0;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		struct shdr *nh = realloc(s->h, nc * sizeof(*nh));
		if (!nh) {
			free(lname);
			return -1;
		}
		s->h = nh;
		s->cap = nc;
	}
	h = &s->h[s->n++];
	memset(h, 0, sizeof(*h));
	h->name = lname;
	trimall(&h->value, value);
	return h->value.oom ? -1 : 0;
}

static bool is_unsigned_header(const char *name)
{
	for (size_t i = 0; unsigned_headers[i]; i++)
		if (strcasecmp(name, unsigned_headers[i]) == 0)
			return true;
	return false;
}

static void amz_date(int64_t now_s, char out[17])
{
	time_t t = (time_t)now_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		snprintf(out, 17, "19700101T000000Z");
}

/* Builds the set of headers to sign; host_out gets the Host value signed. */
static int build_headers(const struct em_sigv4_req *req, const struct em_aws_creds *creds, const struct url *u,
			 const char *date, const char *payload_hash, struct hset *hs, struct em_err *err)
{
	bool has_token = creds->session_token && creds->session_token[0];

	for (size_t i = 0; i < req->n_headers; i++) {
		const char *n = req->headers[i].name;
		if (is_unsigned_header(n))
			continue;
		if (strcasecmp(n, "date") == 0)
			return em_err_set(err, EM_E_INTERNAL, "sigv4: a Date header is not supported, X-Amz-Date is set");
		/* ours replace the caller's */
		if (strcasecmp(n, "x-amz-date") == 0 || (has_token && strcasecmp(n, "x-amz-security-token") == 0) ||
		    (req->content_sha256 && strcasecmp(n, "x-amz-content-sha256") == 0))
			continue;
		if (hset_add(hs, n, req->headers[i].value ? req->headers[i].value : "") != 0)
			goto out;
	}
	if (!hset_find(hs, "host") && hset_add(hs, "host", u->host) != 0)
		goto out;
	if (hset_add(hs, "x-amz-date", date) != 0)
		goto out;
	if (has_token && hset_add(hs, "x-amz-security-token", creds->session_token) != 0)
		goto out;
	if (req->content_sha256 && hset_add(hs, "x-amz-content-sha256", payload_hash) != 0)
		goto out;
	qsort(hs->h, hs->n, sizeof(*hs->h), shdr_cmp);
	return 0;
out:
	return em_err_set(err, EM_E_INTERNAL, "sigv4: out of memory");
}

/* ------------------------------------------------------------------ */
/* Canonical request */

static char *canonical_request(const struct em_sigv4_req *req, const struct em_aws_creds *creds,
			       const struct url *u, const char *date, const char *payload_hash,
			       char **signed_headers, struct em_err *err)
{
	struct hset hs = {0};
	struct em_strbuf b = {0}, sh = {0};
	char *path = NULL, *query = NULL, *text = NULL;
	bool headers = false;

	if (build_headers(req, creds, u, date, payload_hash, &hs, err) != 0)
		goto out;
	headers = true;
	path = em_sigv4_canonical_path(u->path, u->path_len);
	query = em_sigv4_canonical_query(u->query ? u->query : "", u->query_len);
	if (!path || !query)
		goto out;
	for (const char *m = req->method; *m; m++)
		b_putc(&b, (char)toupper((unsigned char)*m));
	b_putc(&b, '\n');
	em_sb_puts(&b, path);
	b_putc(&b, '\n');
	em_sb_puts(&b, query);
	b_putc(&b, '\n');
	for (size_t i = 0; i < hs.n; i++) {
		em_sb_puts(&b, hs.h[i].name);
		b_putc(&b, ':');
		em_sb_add(&b, hs.h[i].value.buf, hs.h[i].value.len);
		b_putc(&b, '\n');
		if (i)
			b_putc(&sh, ';');
		em_sb_puts(&sh, hs.h[i].name);
	}
	b_putc(&b, '\n');
	em_sb_puts(&b, sh.buf ? sh.buf : "");
	b_putc(&b, '\n');
	em_sb_puts(&b, payload_hash);
	if (b.oom || sh.oom)
		goto out;
	text = b.buf;
	b.buf = NULL;
	if (signed_headers) {
		*signed_headers = sh.buf;
		sh.buf = NULL;
	}
out:
	if (!text && headers)   /* past the headers only memory can run out */
		em_err_set(err, EM_E_INTERNAL, "sigv4: out of memory");
	if (b.buf)
		em_wipe(b.buf, b.len);
	free(b.buf);
	free(sh.buf);
	free(path);
	free(query);
	hset_free(&hs);
	return text;
}

static int check_req(const struct em_sigv4_req *req, const struct em_aws_creds *creds, struct url *u,
		     struct em_err *err)
{
	if (!req->method || !req->method[0] || !req->url || !req->region || !req->region[0] || !req->service ||
	    !req->service[0])
		return em_err_set(err, EM_E_INTERNAL, "sigv4: method, URL, region and service are required");
	if (!creds || !creds->access_key_id || !creds->access_key_id[0] || !creds->secret_access_key ||
	    !creds->secret_access_key[0])
		return em_err_set(err, EM_E_UNAUTHORIZED, "sigv4: no access key");
	if (parse_url(req->url, u) != 0)
		return em_err_set(err, EM_E_INTERNAL, "sigv4: cannot parse URL host: %.200s", req->url);
	return 0;
}

char *em_sigv4_canonical_request(const struct em_sigv4_req *req, const struct em_aws_creds *creds,
				 char **signed_headers, struct em_err *err)
{
	struct url u;
	char date[17], hash[65];

	if (check_req(req, creds, &u, err) != 0)
		return NULL;
	amz_date(req->now_s, date);
	em_sha256_hex(req->payload, req->payload_len, hash);
	return canonical_request(req, creds, &u, date, hash, signed_headers, err);
}

/* ------------------------------------------------------------------ */
/* Signing */

static int out_add(struct em_sigv4_out *out, const char *name, const char *value)
{
	if (out->n >= EM_SIGV4_MAX_OUT || !(out->h[out->n].value = strdup(value)))
		return -1;
	out->h[out->n++].name = name;
	return 0;
}

int em_sigv4_sign(const struct em_sigv4_req *req, const struct em_aws_creds *creds,
		  struct em_sigv4_cache *cache, struct em_sigv4_out *res, struct em_err *err)
{
	struct url u;
	char date[17], day[9], hash[65], crhash[65], sig[65];
	char *cr = NULL, *sh = NULL, *auth = NULL;
	struct em_strbuf sts = {0}, ab = {0};
	unsigned char key[32], mac[32];
	const char *host = NULL;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (check_req(req, creds, &u, err) != 0)
		return -1;
	amz_date(req->now_s, date);
	memcpy(day, date, 8);
	day[8] = '\0';
	em_sha256_hex(req->payload, req->payload_len, hash);
	cr = canonical_request(req, creds, &u, date, hash, &sh, err);
	if (!cr)
		goto out;
	em_sha256_hex(cr, strlen(cr), crhash);

	em_sb_puts(&sts, "AWS4-HMAC-SHA256\n");
	em_sb_puts(&sts, date);
	b_putc(&sts, '\n');
	em_sb_puts(&sts, day);
	b_putc(&sts, '/');
	em_sb_puts(&sts, req->region);
	b_putc(&sts, '/');
	em_sb_puts(&sts, req->service);
	em_sb_puts(&sts, "/aws4_request\n");
	em_sb_puts(&sts, crhash);
	if (sts.oom)
		goto out;
	if (signing_key(cache, creds->secret_access_key, day, req->region, req->service, key) != 0)
		goto out;
	hmac(key, sizeof(key), sts.buf, sts.len, mac);
	em_wipe(key, sizeof(key));
	for (size_t i = 0; i < 32; i++)
		snprintf(sig + 2 * i, 3, "%02x", mac[i]);

	em_sb_puts(&ab, "AWS4-HMAC-SHA256 Credential=");
	em_sb_puts(&ab, creds->access_key_id);
	b_putc(&ab, '/');
	em_sb_puts(&ab, day);
	b_putc(&ab, '/');
	em_sb_puts(&ab, req->region);
	b_putc(&ab, '/');
	em_sb_puts(&ab, req->service);
	em_sb_puts(&ab, "/aws4_request, SignedHeaders=");
	em_sb_puts(&ab, sh);
	em_sb_puts(&ab, ", Signature=");
	em_sb_puts(&ab, sig);
	if (ab.oom)
		goto out;
	auth = ab.buf;
	ab.buf = NULL;

	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, "host") == 0)
			host = req->headers[i].value;
	if (!host && out_add(res, "Host", u.host) != 0)
		goto out;
	if (out_add(res, "X-Amz-Date", date) != 0)
		goto out;
	if (creds->session_token && creds->session_token[0] &&
	    out_add(res, "X-Amz-Security-Token", creds->session_token) != 0)
		goto out;
	if (req->content_sha256 && out_add(res, "X-Amz-Content-Sha256", hash) != 0)
		goto out;
	if (out_add(res, "Authorization", auth) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && cr)   /* past the canonical request only memory can run out */
		em_err_set(err, EM_E_INTERNAL, "sigv4: out of memory");
	if (rc != 0)
		em_sigv4_out_free(res);
	em_wipe(mac, sizeof(mac));
	if (cr)
		em_wipe(cr, strlen(cr));
	free(cr);
	free(sh);
	free(auth);
	free(sts.buf);
	free(ab.buf);
	return rc;
}

const char *em_sigv4_out_get(const struct em_sigv4_out *out, const char *name)
{
	for (size_t i = 0; i < out->n; i++)
		if (strcasecmp(out->h[i].name, name) == 0)
			return out->h[i].value;
	return NULL;
}

void em_sigv4_out_free(struct em_sigv4_out *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < out->n; i++)
		wipe_str(&out->h[i].value);
	memset(out, 0, sizeof(*out));
}
