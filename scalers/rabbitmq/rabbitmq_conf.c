/* rabbitmq_conf.c - the rabbitmq keys and KEDA's checks; AMQP URIs as amqp091-go reads them; management URLs. */
#include "rabbitmq.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------------ options */

static const char *const proto_choices[] = {"auto", "http", "amqp", NULL};

#define OFF(f) offsetof(struct rmq_cfg, f)

const struct em_option rmq_options[] = {
	{.name = "queueName", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(queueName),
	 .help = "the queue; with useRegex a regular expression over the vhost's queue names"},
	{.name = "mode", .type = EM_OPT_STRING, .def = "Unknown", .offset = OFF(mode),
	 .help = "QueueLength, MessageRate (publish rate), DeliverGetRate, PublishedToDeliveredRatio or "
		 "ExpectedQueueConsumptionTime; all but QueueLength over HTTP only"},
	{.name = "value", .type = EM_OPT_FLOAT, .flags = EM_OPT_TARGET, .def = "0", .offset = OFF(value),
	 .help = "HPA target value for mode (required with mode; without mode and queueLength: QueueLength 20)"},
	{.name = "activationValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_ACTIVATION, .def = "0", .offset = OFF(activationValue),
	 .help = "active when the value is above this (MessageRate: or the queue length is)"},
	{.name = "queueLength", .type = EM_OPT_FLOAT, .flags = EM_OPT_TARGET, .def = "0", .offset = OFF(queueLength),
	 .help = "deprecated: mode QueueLength with this value (not with mode or value)"},
	{.name = "host", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED | EM_OPT_SECRET, .offset = OFF(host),
	 .help = "amqp[s]://user:password@host:port/vhost or http[s]://user:password@host:port[/path]/vhost "
		 "(use hostFromEnv or an auth param: it holds the password)"},
	{.name = "protocol", .type = EM_OPT_ENUM, .def = "auto", .choices = proto_choices, .offset = OFF(protocol),
	 .help = "auto (from host's scheme), http (management API) or amqp (queue.declare passive)"},
	{.name = "vhostName", .type = EM_OPT_STRING, .offset = OFF(vhostName),
	 .help = "virtual host, replacing the one in host"},
	{.name = "useRegex", .type = EM_OPT_BOOL, .def = "false", .offset = OFF(useRegex),
	 .help = "queueName is a regular expression (HTTP only); the queues combined by operation"},
	{.name = "operation", .type = EM_OPT_STRING, .def = "sum", .offset = OFF(operation),
	 .help = "sum, avg or max of the queues useRegex matched"},
	{.name = "pageSize", .type = EM_OPT_INT, .def = "100", .offset = OFF(pageSize),
	 .help = "queues asked for with useRegex; more matches are an error (1 to 500)"},
	{.name = "excludeUnacknowledged", .type = EM_OPT_BOOL, .def = "false", .offset = OFF(excludeUnacknowledged),
	 .help = "QueueLength counts ready messages only (HTTP only; AMQP counts only those anyway)"},
	{.name = "timeout", .type = EM_OPT_DURATION, .flags = EM_OPT_BOUNDED, .min = 0, .max = 3600,
	 .offset = OFF(timeout_ms), .help = "HTTP timeout (Go duration or milliseconds; not with AMQP); capped by "
					   "the metric's timeout"},
	{.name = "username", .type = EM_OPT_STRING, .offset = OFF(username),
	 .help = "user name, replacing the one in host (with password)"},
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(password),
	 .help = "password, replacing the one in host (with username)"},
	{.name = "tls", .type = EM_OPT_STRING, .def = "disable", .offset = OFF(tls),
	 .help = "enable: use ca, cert, key, keyPassword and unsafeSsl (needs an amqps:// or https:// host)"},
	{.name = "ca", .type = EM_OPT_STRING, .offset = OFF(ca),
	 .help = "CA certificates (PEM contents) to verify the broker"},
	{.name = "cert", .type = EM_OPT_STRING, .offset = OFF(cert),
	 .help = "client certificate (PEM contents), with key; AMQP without credentials: SASL EXTERNAL"},
	{.name = "key", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(key),
	 .help = "client private key (PEM contents), with cert"},
	{.name = "keyPassword", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(keyPassword),
	 .help = "password of an encrypted key"},
	{.name = "unsafeSsl", .type = EM_OPT_BOOL, .def = "false", .offset = OFF(unsafeSsl),
	 .help = "skip certificate verification (https hosts; amqps with tls: enable)"},
	{.name = "workloadIdentityResource", .type = EM_OPT_STRING, .offset = OFF(workloadIdentityResource),
	 .help = "Azure Workload Identity: not supported (refused)"},
	{.name = "oauthTokenURI", .type = EM_OPT_STRING, .offset = OFF(oauthTokenURI),
	 .help = "OAuth2 client credentials: not supported (refused)"},
	{.name = "clientID", .type = EM_OPT_STRING, .offset = OFF(clientID), .help = "OAuth2: refused"},
	{.name = "clientSecret", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(clientSecret),
	 .help = "OAuth2: refused"},
	EM_OPTIONS_END,
};

#undef OFF

static bool empty(const char *s)
{
	return !s || !*s;
}

/* ---------------------------------------------------------------- URL parts */

/* A URL split as Go's net/url does, without decoding: scheme (lowercased),
 * userinfo, host, port, path, and whether a query or fragment follows. */
struct url_parts {
	char scheme[16];
	const char *user;
	size_t user_len;
	bool has_user;
	const char *host;
	size_t host_len;
	const char *port;
	size_t port_len;
	const char *path;
	size_t path_len;
	bool authority;        /* "//" followed the scheme */
	const char *rest;      /* "?..." or "#...", NULL when none */
};

static int split_url(const char *s, struct url_parts *u, const char **why)
{
	const char *p = s, *auth, *aend, *at = NULL, *hp;
	size_t n;

	memset(u, 0, sizeof(*u));
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			*why = "net/url: invalid control character in URL";
			return -1;
		}
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':' || p == s || !isalpha((unsigned char)*s) || (size_t)(p - s) >= sizeof(u->scheme)) {
		*why = "missing protocol scheme";
		return -1;
	}
	for (size_t i = 0; i < (size_t)(p - s); i++)
		u->scheme[i] = (char)tolower((unsigned char)s[i]);
	p++;
	if (strncmp(p, "//", 2) == 0) {
		u->authority = true;
		auth = p + 2;
		aend = auth + strcspn(auth, "/?#");
		for (const char *q = auth; q < aend; q++)
			if (*q == '@')
				at = q;
		if (at) {
			u->has_user = true;
			u->user = auth;
			u->user_len = (size_t)(at - auth);
			hp = at + 1;
		} else {
			hp = auth;
		}
		n = (size_t)(aend - hp);
		if (n > 0 && hp[0] == '[') {
			const char *rb = memchr(hp, ']', n);
			if (!rb) {
				*why = "missing ']' in host";
				return -1;
			}
			u->host = hp + 1;
			u->host_len = (size_t)(rb - hp) - 1;
			if (rb + 1 < aend && rb[1] != ':') {
				*why = "invalid port after host";
				return -1;
			}
			if (rb + 1 < aend) {
				u->port = rb + 2;
				u->port_len = (size_t)(aend - rb - 2);
			}
		} else {
			const char *colon = memchr(hp, ':', n);
			u->host = hp;
			u->host_len = colon ? (size_t)(colon - hp) : n;
			if (colon) {
				u->port = colon + 1;
				u->port_len = (size_t)(aend - colon - 1);
			}
		}
		for (size_t i = 0; i < u->port_len; i++)
			if (!isdigit((unsigned char)u->port[i])) {
				*why = "invalid port";
				return -1;
			}
		for (size_t i = 0; i < u->host_len; i++)
			if (u->host[i] == ' ' || u->host[i] == '%' || (!u->port && u->host[i] == ':')) {
				*why = "invalid character in host name";
				return -1;
			}
		p = aend;
	}
	u->path = p;
	u->path_len = strcspn(p, "?#");
	u->rest = p[u->path_len] ? p + u->path_len : NULL;
	return 0;
}

/* A malloc'd percent-decoded copy of s[0..n); NULL on a bad escape (or out of memory). */
static char *decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t bad = 0, len;

	if (!out)
		return NULL;
	len = em_percent_decode(s, n, out, true, &bad);
	out[len] = '\0';
	if (bad || memchr(out, '\0', len)) {
		em_free_secret(out);
		return NULL;
	}
	return out;
}

static int port_of(const struct url_parts *u, int def, int *out)
{
	long v = 0;

	if (!u->port || u->port_len == 0) {
		*out = def;
		return 0;
	}
	if (u->port_len > 5)
		return -1;
	for (size_t i = 0; i < u->port_len; i++)
		v = v * 10 + (u->port[i] - '0');
	if (v < 1 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

/* ------------------------------------------------------------------ AMQP URI */

void rmq_uri_free(struct rmq_uri *u)
{
	if (!u)
		return;
	em_free_secret(u->user);
	em_free_secret(u->password);
	free(u->vhost);
	memset(u, 0, sizeof(*u));
}

/* The query parameters amqp091-go reads: the TLS files and mechanisms are
 * auth params here; heartbeat and channel_max have no effect on a poll. */
static int uri_params(const char *q, struct rmq_uri *out, struct em_err *err)
{
	while (q && *q) {
		size_t n = strcspn(q, "&"), kl = strcspn(q, "=&");
		const char *v = q + kl + (q[kl] == '=' ? 1 : 0);
		size_t vl = q[kl] == '=' ? n - kl - 1 : 0;
		char key[32];

		snprintf(key, sizeof(key), "%.*s", (int)(kl < 31 ? kl : 31), q);
		if (!strcmp(key, "certfile") || !strcmp(key, "keyfile") || !strcmp(key, "cacertfile") ||
		    !strcmp(key, "server_name_indication") || !strcmp(key, "auth_mechanism"))
			return em_err_set(err, EM_E_CONFIG, "host: the URI parameter %s is not supported: give the tls, ca, "
					  "cert and key auth params (a client certificate without credentials means "
					  "SASL EXTERNAL)", key);
		if (!strcmp(key, "heartbeat") || !strcmp(key, "connection_timeout") || !strcmp(key, "channel_max")) {
			int64_t iv;
			char num[24];
			if (vl == 0 || vl >= sizeof(num))
				return em_err_set(err, EM_E_CONFIG, "host: %s is not an integer", key);
			memcpy(num, v, vl);
			num[vl] = '\0';
			if (em_parse_int(num, &iv) != 0 || iv < 0 || (!strcmp(key, "channel_max") && iv > 65535))
				return em_err_set(err, EM_E_CONFIG, "host: %s is not %s", key,
						  strcmp(key, "channel_max") ? "an integer" : "an uint16");
			if (!strcmp(key, "connection_timeout"))
				out->connect_timeout_ms = iv;
		}
		q += n + (q[n] == '&' ? 1 : 0);
	}
	return 0;
}

int rmq_parse_uri(const char *uri, struct rmq_uri *out, struct em_err *err)
{
	struct url_parts u;
	const char *why = NULL;
	char *path = NULL;

	memset(out, 0, sizeof(*out));
	if (strchr(uri, ' '))
		return em_err_set(err, EM_E_CONFIG, "host: error parsing RabbitMQ connection string: URI must not contain "
				  "whitespace");
	if (split_url(uri, &u, &why) != 0)
		return em_err_set(err, EM_E_CONFIG, "host: error parsing RabbitMQ connection string: %s", why);
	if (strcmp(u.scheme, "amqp") != 0 && strcmp(u.scheme, "amqps") != 0)
		return em_err_set(err, EM_E_CONFIG, "host: AMQP scheme must be either 'amqp://' or 'amqps://'");
	out->tls = strcmp(u.scheme, "amqps") == 0;
	if (u.host_len >= sizeof(out->host))
		goto out;
	if (u.host_len == 0)
		snprintf(out->host, sizeof(out->host), "localhost");
	else
		memcpy(out->host, u.host, u.host_len);
	if (port_of(&u, out->tls ? 5671 : 5672, &out->port) != 0)
		return em_err_set(err, EM_E_CONFIG, "host: the port must be a number from 1 to 65535");
	if (u.has_user) {
		const char *colon = memchr(u.user, ':', u.user_len);
		size_t ul = colon ? (size_t)(colon - u.user) : u.user_len;
		out->user = decode(u.user, ul);
		out->password = colon ? decode(colon + 1, u.user_len - ul - 1) : strdup("guest");
		out->has_password = colon != NULL;
		if (!out->user || !out->password)
			goto out;
	} else if (!(out->user = strdup("guest")) || !(out->password = strdup("guest"))) {
		goto out;
	}
	path = decode(u.path, u.path_len);
	if (!path)
		goto out;
	if (path[0] == '/') {
		if (u.host_len == 0 && strncmp(path, "///", 3) == 0)
			out->vhost = strdup(strlen(path) > 3 ? path + 3 : "/");
		else
			out->vhost = strdup(strlen(path) > 1 ? path + 1 : "/");
	} else {
		out->vhost = strdup(*path ? path : "/");
	}
	free(path);
	if (!out->vhost)
		goto out;
	if (u.rest && u.rest[0] == '?' && uri_params(u.rest + 1, out, err) != 0) {
		rmq_uri_free(out);
		return -1;
	}
	return 0;
out:
	rmq_uri_free(out);
	return em_err_set(err, EM_E_CONFIG, "host: error parsing RabbitMQ connection string: invalid escape or host "
			  "name");
}

/* ------------------------------------------------------------------ HTTP */

void rmq_http_target_free(struct rmq_http_target *t)
{
	if (!t)
		return;
	free(t->base);
	free(t->vhost_path);
	em_free_secret(t->user);
	em_free_secret(t->password);
	memset(t, 0, sizeof(*t));
}

void rmq_vhost_and_path(const char *rawpath, const char *vhostName, char **vhost_path, char **path)
{
	const char *last = strrchr(rawpath, '/');
	const char *seg = last ? last + 1 : rawpath;
	size_t prefix = last ? (size_t)(last - rawpath) : 0;
	struct em_strbuf v, p;
	char **stack = NULL;
	size_t n = 0;

	em_sb_init(&v);
	em_sb_init(&p);
	/* path.Join of the segments before the last: empty and "." ones
	 * dropped, ".." taking the one before it away */
	for (size_t i = 0; i < prefix;) {
		size_t l = strcspn(rawpath + i, "/");
		if (l > prefix - i)
			l = prefix - i;
		if (l == 2 && strncmp(rawpath + i, "..", 2) == 0) {
			if (n > 0)
				free(stack[--n]);
		} else if (l > 0 && !(l == 1 && rawpath[i] == '.')) {
			char *s = strndup(rawpath + i, l), **ns = realloc(stack, (n + 1) * sizeof(*stack));
			if (ns)
				stack = ns;
			if (s && ns)
				stack[n++] = s;
			else
				free(s);
		}
		i += l + 1;
	}
	for (size_t i = 0; i < n; i++) {
		em_sb_puts(&p, "/");
		em_sb_puts(&p, stack[i]);
		free(stack[i]);
	}
	free(stack);
	em_sb_puts(&v, "/");
	/* KEDA query-escapes it (a space as '+', which RabbitMQ reads as a
	 * plus): escaped as a path segment instead */
	if (!empty(vhostName))
		em_sb_path_escape(&v, vhostName);
	else
		em_sb_puts(&v, seg);
	if (v.len == 1)
		em_sb_puts(&v, "%2F");
	em_sb_puts(&p, "");
	*vhost_path = v.oom ? NULL : em_sb_steal(&v);
	*path = p.oom ? NULL : em_sb_steal(&p);
	em_sb_free(&v);
	em_sb_free(&p);
}

int rmq_http_target_parse(const char *host, const char *vhostName, struct rmq_http_target *out, struct em_err *err)
{
	struct url_parts u;
	const char *why = NULL;
	char *raw = NULL, *sub = NULL;
	struct em_strbuf b;

	memset(out, 0, sizeof(*out));
	if (split_url(host, &u, &why) != 0)
		return em_err_set(err, EM_E_CONFIG, "host: %s", why);
	if ((strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0) || !u.authority || u.host_len == 0)
		return em_err_set(err, EM_E_CONFIG, "host: the HTTP protocol needs an http:// or https:// URL with a host");
	if (u.rest)
		return em_err_set(err, EM_E_CONFIG, "host: no query or fragment: the API path is appended to the URL");
	out->https = u.scheme[4] == 's';
	if (u.port) {
		int port;
		if (port_of(&u, 0, &port) != 0)
			return em_err_set(err, EM_E_CONFIG, "host: the port must be a number from 1 to 65535");
	}
	if (u.has_user) {
		const char *colon = memchr(u.user, ':', u.user_len);
		size_t ul = colon ? (size_t)(colon - u.user) : u.user_len;
		out->user = decode(u.user, ul);
		out->password = decode(colon ? colon + 1 : "", colon ? u.user_len - ul - 1 : 0);
		if (!out->user || !out->password) {
			rmq_http_target_free(out);
			return em_err_set(err, EM_E_CONFIG, "host: invalid escape in the user information");
		}
	}
	raw = strndup(u.path, u.path_len);
	if (raw)
		rmq_vhost_and_path(raw, vhostName, &out->vhost_path, &sub);
	free(raw);
	em_sb_init(&b);
	em_sb_puts(&b, u.scheme);
	em_sb_puts(&b, "://");
	/* the authority less its userinfo, as written */
	em_sb_add(&b, u.host - (u.host > host && u.host[-1] == '[' ? 1 : 0),
		  (size_t)((u.port ? u.port + u.port_len : u.host + u.host_len + (u.host[u.host_len] == ']')) -
			   (u.host - (u.host > host && u.host[-1] == '[' ? 1 : 0))));
	em_sb_puts(&b, sub ? sub : "");
	free(sub);
	out->base = b.oom ? NULL : em_sb_steal(&b);
	em_sb_free(&b);
	if (!out->base || !out->vhost_path) {
		rmq_http_target_free(out);
		return em_err_set(err, EM_E_CONFIG, "out of memory");
	}
	return 0;
}

char *rmq_queue_url(const struct rmq_http_target *t, const struct rmq_cfg *c)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_puts(&sb, t->base);
	em_sb_puts(&sb, "/api/queues");
	em_sb_puts(&sb, t->vhost_path);
	if (c->useRegex) {
		em_sb_puts(&sb, "?page=1&use_regex=true&pagination=false&name=");
		em_sb_query_escape(&sb, c->queueName);
		em_sb_printf(&sb, "&page_size=%lld", (long long)c->pageSize);
	} else {
		em_sb_puts(&sb, "/");
		em_sb_path_escape(&sb, c->queueName);
	}
	return sb.oom ? (em_sb_free(&sb), NULL) : em_sb_steal(&sb);
}

/* --------------------------------------------------------------- validation */

static const struct {
	const char *name;
	enum rmq_mode m;
} modes[] = {
	{"QueueLength", RMQ_QUEUE_LENGTH},
	{"MessageRate", RMQ_MESSAGE_RATE},
	{"DeliverGetRate", RMQ_DELIVER_GET_RATE},
	{"PublishedToDeliveredRatio", RMQ_PUBLISHED_TO_DELIVERED_RATIO},
	{"ExpectedQueueConsumptionTime", RMQ_EXPECTED_CONSUMPTION_TIME},
};

/* KEDA's validateTrigger: the mode and its value, or the deprecated queueLength. */
static int validate_trigger(struct rmq_cfg *c, struct em_err *err)
{
	bool unknown = strcmp(c->mode, "Unknown") == 0;

	c->m = 0;
	if (c->queueLength == 0 && unknown && c->value == 0) {
		c->m = RMQ_QUEUE_LENGTH;
		c->value = 20;
		return 0;
	}
	if (c->queueLength != 0 && (!unknown || c->value != 0))
		return em_err_set(err, EM_E_CONFIG, "queueLength: queueLength is deprecated; use mode and value");
	if (c->queueLength != 0) {
		c->m = RMQ_QUEUE_LENGTH;
		c->value = c->queueLength;
		return 0;
	}
	if (unknown)
		return em_err_set(err, EM_E_CONFIG, "mode: mode must be specified");
	if (c->value == 0)
		return em_err_set(err, EM_E_CONFIG, "value: value must be specified");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(c->mode, modes[i].name) == 0)
			c->m = modes[i].m;
	if (!c->m)
		return em_err_set(err, EM_E_CONFIG, "mode: trigger mode %.60s must be one of QueueLength, MessageRate, "
				  "DeliverGetRate, PublishedToDeliveredRatio or ExpectedQueueConsumptionTime", c->mode);
	if (c->m != RMQ_QUEUE_LENGTH && c->proto != RMQ_HTTP)
		return em_err_set(err, EM_E_CONFIG, "mode: protocol amqp not supported; must be HTTP to use trigger mode %s",
				  c->mode);
	if (c->proto == RMQ_AMQP && c->timeout_ms != 0)
		return em_err_set(err, EM_E_CONFIG, "timeout: AMQP protocol doesn't support custom timeouts (the metric's "
				  "timeout applies)");
	return 0;
}

int rmq_validate(void *vcfg, struct em_err *err)
{
	struct rmq_cfg *c = vcfg;
	struct url_parts u;
	const char *why;

	if (strcmp(c->tls, "enable") != 0 && strcmp(c->tls, "disable") != 0)
		return em_err_set(err, EM_E_CONFIG, "tls: incorrect value for TLS given: %.40s (enable or disable)", c->tls);
	c->tls_on = strcmp(c->tls, "enable") == 0;
	if (empty(c->cert) != empty(c->key))
		return em_err_set(err, EM_E_CONFIG, "%s: both key and certificate must be provided",
				  empty(c->cert) ? "cert" : "key");
	if (c->pageSize < 1)
		return em_err_set(err, EM_E_CONFIG, "pageSize: pageSize should be 1 or greater");
	if (c->pageSize > RMQ_MAX_PAGE_SIZE)
		return em_err_set(err, EM_E_CONFIG, "pageSize: at most %d (the answer lists every queue with its "
				  "statistics)", RMQ_MAX_PAGE_SIZE);
	if (empty(c->username) != empty(c->password))
		return em_err_set(err, EM_E_CONFIG, "%s: username and password must be given together",
				  empty(c->username) ? "username" : "password");
	if (!empty(c->workloadIdentityResource))
		return em_err_set(err, EM_E_CONFIG, "workloadIdentityResource: Azure Workload Identity is not supported "
				  "by extmetrics");
	if (!empty(c->oauthTokenURI) || !empty(c->clientID) || !empty(c->clientSecret))
		return em_err_set(err, EM_E_CONFIG, "%s: OAuth2 client credentials are not supported by extmetrics "
				  "(use username and password)", !empty(c->oauthTokenURI) ? "oauthTokenURI"
				  : !empty(c->clientID) ? "clientID" : "clientSecret");
	if (split_url(c->host, &u, &why) != 0)
		return em_err_set(err, EM_E_CONFIG, "host: can't parse host to find protocol: %s", why);
	if (strcmp(c->protocol, "auto") == 0) {
		if (!strcmp(u.scheme, "amqp") || !strcmp(u.scheme, "amqps"))
			c->proto = RMQ_AMQP;
		else if (!strcmp(u.scheme, "http") || !strcmp(u.scheme, "https"))
			c->proto = RMQ_HTTP;
		else
			return em_err_set(err, EM_E_CONFIG, "host: unknown host URL scheme: `%.20s`", u.scheme);
	} else {
		c->proto = strcmp(c->protocol, "http") == 0 ? RMQ_HTTP : RMQ_AMQP;
	}
	if (c->useRegex && c->proto != RMQ_HTTP)
		return em_err_set(err, EM_E_CONFIG, "useRegex: configure useRegex=true only with HTTP protocol");
	if (c->excludeUnacknowledged && c->proto != RMQ_HTTP)
		return em_err_set(err, EM_E_CONFIG,
				  "excludeUnacknowledged: configure excludeUnacknowledged=true only with HTTP protocol");
	if (validate_trigger(c, err) != 0)
		return -1;
	/* KEDA finds an unknown operation at the first poll; here at load. */
	if (!strcmp(c->operation, "sum"))
		c->op = RMQ_SUM;
	else if (!strcmp(c->operation, "avg"))
		c->op = RMQ_AVG;
	else if (!strcmp(c->operation, "max"))
		c->op = RMQ_MAX;
	else
		return em_err_set(err, EM_E_CONFIG, "operation: operation mode %.40s must be one of sum, avg, max",
				  c->operation);

	if (c->proto == RMQ_AMQP) {
		struct rmq_uri uri;
		if (rmq_parse_uri(c->host, &uri, err) != 0)
			return -1;
		if (c->tls_on && !uri.tls) {
			rmq_uri_free(&uri);
			return em_err_set(err, EM_E_CONFIG, "tls: enable with an amqp:// host: the connection would not be "
					  "encrypted (use amqps://)");
		}
		rmq_uri_free(&uri);
	} else {
		struct rmq_http_target t;
		if (rmq_http_target_parse(c->host, c->vhostName, &t, err) != 0)
			return -1;
		if (c->tls_on && !t.https) {
			rmq_http_target_free(&t);
			return em_err_set(err, EM_E_CONFIG, "tls: enable with an http:// host: the connection would not be "
					  "encrypted (use https://)");
		}
		rmq_http_target_free(&t);
	}
	if (!c->tls_on) {
		static const char *const names[] = {"ca", "cert", "key", "keyPassword"};
		const char *vals[] = {c->ca, c->cert, c->key, c->keyPassword};
		for (size_t i = 0; i < 4; i++)
			if (!empty(vals[i]))
				return em_err_set(err, EM_E_CONFIG, "%s: used only with tls: enable", names[i]);
		return 0;
	}
	{
		struct em_tls_pem m = {.ca = c->ca, .cert = c->cert, .key = c->key, .key_password = c->keyPassword};
		return em_tls_pem_check(&m, err);
	}
}
