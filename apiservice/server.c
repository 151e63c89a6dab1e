/* server.c - the HTTPS API listener and the plain-HTTP metrics/health listener (libmicrohttpd). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "server.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "connguard.h"
#include "httpstrict.h"
#include "apiservice/auth/auth.h"
#include "adapter/log.h"
#include "adapter/selfmetrics.h"
#include "status.h"
#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/text.h"
#include "tlscreds.h"

/* TLS 1.2 and 1.3 only, AEAD ciphers, forward secrecy. */
#define TLS_PRIORITIES                                                                                  \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-RSA:-DHE-RSA:%SERVER_PRECEDENCE"

#define MAX_URL 8192
#define MAX_PEER_CERTS 10
/* Request headers are parsed inside each connection's memory pool (plus a
 * 56-byte record per header). The aggregator forwards one X-Remote-Group header
 * per group of the user: with request-header authentication the pool is
 * 256 KiB by default (about 2,300 groups of 30 characters), else 64 KiB
 * (server.connectionMemoryLimit sets it). Not more: libmicrohttpd zeroes the
 * whole pool between two requests of a kept-alive connection, so a kept
 * connection holds all of it (~65 kB idle at 64 KiB, ~258 kB at 256 KiB: idle
 * connections are not free), and every request pays for zeroing it (1 MiB of
 * headers would need 3 MiB: 4 x the CPU per request). */
#define POOL_SMALL (64 * 1024)
#define POOL_FRONT_PROXY (256 * 1024)

struct em_server {
	struct MHD_Daemon *api;
	struct MHD_Daemon *metrics;
	struct em_registry *reg;
	atomic_int inflight;
	atomic_int ready;
	atomic_int stopping;           /* new connections are closed at accept */
	MHD_socket api_sock;
	struct em_auth *auth;          /* NULL: auth mode none */
	struct em_tlscreds *tls;       /* the serving certificate, reloaded when its files change */
	struct em_connguard *api_guard, *metrics_guard;   /* request deadlines, connection limits */
};

int em_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct em_err *err)
{
	char host[128];
	const char *colon;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!s || !*s)
		return em_err_set(err, EM_E_CONFIG, "empty listen address");
	colon = strrchr(s, ':');
	if (!colon)
		return em_err_set(err, EM_E_CONFIG, "listen address \"%s\" must be ADDR:PORT", s);
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || end == colon + 1)
		return em_err_set(err, EM_E_CONFIG, "listen address \"%s\": bad port", s);
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (colon - s < 2 || colon[-1] != ']')
			return em_err_set(err, EM_E_CONFIG, "listen address \"%s\": bad IPv6 form", s);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s - 2), s + 1);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return em_err_set(err, EM_E_CONFIG, "listen address \"%s\": bad IPv6 address", s);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (!*host || strcmp(host, "0.0.0.0") == 0)
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (strcmp(host, "localhost") == 0)
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return em_err_set(err, EM_E_CONFIG, "listen address \"%s\": bad IPv4 address", s);
		*len = sizeof(*a);
	}
	return 0;
}

static enum MHD_Result queue(struct MHD_Connection *c, int code, const char *ctype, char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *b = body ? body : "";

	r = MHD_create_response_from_buffer(strlen(b), (void *)b, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-cache, private");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, (unsigned)code, r);
	MHD_destroy_response(r);
	return ret;
}

static struct em_sm_family fam_requests =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_http_requests_total", "HTTP requests served by the API, by code and handler.");
static struct em_sm_family fam_duration =
	EM_SM_FAMILY(EM_SM_HISTOGRAM, "extmetrics_http_request_duration_seconds", "Time to answer an API request.");

static void account(const char *handler, int code, double secs)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "code=\"%d\",handler=\"%s\"", code, handler);
	em_sm_add(em_sm_series(&fam_requests, labels), 1);
	snprintf(labels, sizeof(labels), "handler=\"%s\"", handler);
	em_sm_observe(em_sm_series(&fam_duration, labels), secs);
}

/* ---- authentication hooks ------------------------------------------------ */

struct hdrs {
	struct em_header *v;
	size_t n, cap;
	bool oom;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct hdrs *h = cls;

	(void)kind;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 32;
		struct em_header *n = realloc(h->v, cap * sizeof(*n));
		if (!n) {
			h->oom = true;
			return MHD_NO;
		}
		h->v = n;
		h->cap = cap;
	}
	h->v[h->n].name = key;
	h->v[h->n].value = value ? value : "";
	h->n++;
	return MHD_YES;
}

/* What a connection holds from its start to its close: the guard's handle
 * and, on the TLS listener, the credentials it was given and what auth has
 * already verified about its client. */
struct conn_ctx {
	struct em_conn *guard;       /* NULL: refused by the guard (being shut) */
	const char *uri_end;         /* where the current request's raw target ended (httpstrict.h) */
	struct em_tlscred *cred;
	struct em_auth_conn *auth;   /* NULL without auth */
};

/* Hands the request's headers and the peer's certificate chain to auth.
 * Identity headers (X-Remote-User...) are read there and nowhere else: the
 * routes never see request headers beyond Accept. */
static void authenticate(struct em_server *s, struct MHD_Connection *c, const char *url, const char *method,
			 struct em_auth_result *ar)
{
	struct hdrs h = {0};
	struct em_cert_der chain[MAX_PEER_CERTS];
	struct em_auth_request r = {.method = method, .path = url, .chain = chain};
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const union MHD_ConnectionInfo *sc = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const struct conn_ctx *cc = sc ? sc->socket_context : NULL;

	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &h);
	if (h.oom) {
		struct em_err err;
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		memset(ar, 0, sizeof(*ar));
		ar->code = 500;
		ar->body = em_status_json(&err);
		free(h.v);
		return;
	}
	r.headers = h.v;
	r.n_headers = h.n;
	r.conn = cc ? cc->auth : NULL;
	if (ci && ci->tls_session) {
		unsigned n = 0;
		const gnutls_datum_t *peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
		for (unsigned i = 0; peers && i < n && i < MAX_PEER_CERTS; i++) {
			chain[i].data = peers[i].data;
			chain[i].len = peers[i].size;
			r.n_chain++;
		}
	}
	em_auth_check(s->auth, &r, ar);
	free(h.v);
}

/* ---- connections: the guard's deadlines and limits ----------------------- */

/* A connection's context (its socket context); NULL when out of memory. */
static struct conn_ctx *ctx_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The guard's handle of a connection. */
static struct em_conn *conn_of(struct MHD_Connection *c)
{
	const struct conn_ctx *cc = ctx_of(c);

	return cc ? cc->guard : NULL;
}

/* A new connection's context; the guard may refuse it (it is then shut and
 * libmicrohttpd closes it). NULL when out of memory. */
static struct conn_ctx *conn_open(struct em_connguard *g, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct conn_ctx *cc = calloc(1, sizeof(*cc));

	if (cc && g && fd)
		cc->guard = em_connguard_open(g, fd->connect_fd, peer ? peer->client_addr : NULL);
	return cc;
}

static void conn_close(struct em_connguard *g, struct conn_ctx *cc)
{
	if (!cc)
		return;
	em_tlscred_release(cc->cred);
	em_auth_conn_free(cc->auth);
	em_connguard_close(g, cc->guard);
	free(cc);
}

static void on_metrics_connection(void *cls, struct MHD_Connection *c, void **socket_context,
				  enum MHD_ConnectionNotificationCode toe)
{
	struct em_server *s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = conn_open(s->metrics_guard, c);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_close(s->metrics_guard, *socket_context);
		*socket_context = NULL;
	}
}

/* The request line is in: where its target ended, for the NUL check (see
 * httpstrict.h); a control character in it makes the check fail. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct conn_ctx *cc = ctx_of(c);
	size_t n = strlen(uri);
	bool ctl = false;

	(void)cls;
	for (size_t i = 0; i < n && !ctl; i++)
		ctl = (unsigned char)uri[i] < 0x20 || uri[i] == 0x7f;
	if (cc)
		cc->uri_end = ctl ? uri : uri + n + 1;
	return NULL;
}

static const char *uri_end_of(struct MHD_Connection *c)
{
	const struct conn_ctx *cc = ctx_of(c);

	return cc ? cc->uri_end : NULL;
}

/* The first call for a request: its head is refused with 400, and the
 * connection closed, when ambiguous. */
static enum MHD_Result refuse_ambiguous(struct MHD_Connection *c, const char *method, const char *version, bool json)
{
	const char *why = em_http_mhd_head_problem(c, method, version, uri_end_of(c));
	struct MHD_Response *r;
	struct em_err err;
	char *body;
	enum MHD_Result ret;

	if (!why)
		return MHD_YES;
	em_err_set(&err, EM_E_BADREQUEST, "bad request: %s", why);
	body = json ? em_status_json(&err) : NULL;
	if (!json && (body = malloc(strlen(err.msg) + 2)) != NULL)
		snprintf(body, strlen(err.msg) + 2, "%s\n", err.msg);
	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", json ? "application/json" : "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(c, 400, r);
	MHD_destroy_response(r);
	if (json)
		account("other", 400, 0);
	return ret == MHD_YES ? MHD_YES : MHD_NO;
}

/* Every new TLS connection gets the current credentials (so a rotated
 * certificate is served to new connections while open ones keep theirs)
 * and, when certificates authenticate, a request for the client's. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct em_server *s = cls;
	struct conn_ctx *cc;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		gnutls_session_t sess;

		*socket_context = cc = conn_open(s->api_guard, c);
		if (!cc || !cc->guard || !ci || !ci->tls_session || !s->tls)
			return;
		sess = (gnutls_session_t)ci->tls_session;
		cc->cred = em_tlscreds_acquire(s->tls, s->auth);
		if (gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, em_tlscred_gnutls(cc->cred)) < 0) {
			em_tlscred_release(cc->cred);   /* MHD's start-up credentials stay */
			cc->cred = NULL;
			return;
		}
		if (em_auth_wants_client_certs(s->auth))
			gnutls_certificate_server_set_request(sess, GNUTLS_CERT_REQUEST);
		if (s->auth)
			cc->auth = em_auth_conn_new();
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_close(s->api_guard, *socket_context);
		*socket_context = NULL;
	}
}

/* Percent-decodes the path and query values in place, once. %00 stays as
 * it is: a NUL would silently cut the C string ("always-on%00junk"). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	size_t n = em_percent_decode(s, strlen(s), s, true, NULL);

	(void)cls;
	(void)c;
	s[n] = '\0';
	return n;
}

/* One API request, from its first callback to MHD's completion notice. */
struct req_state {
	struct em_server *s;
	struct MHD_Connection *c;
	struct em_waiter w;            /* parked for a metric's first sample */
	double t0;
	bool authed;                   /* authentication and authorization passed */
	bool counted;                  /* in s->inflight */
	char *user;
};

static void resume_request(void *arg)
{
	struct req_state *st = arg;

	MHD_resume_connection(st->c);
}

static void request_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
	struct em_server *s = cls;
	struct req_state *st = *state;

	(void)toe;
	/* the connection waits for its next request: a deadline again */
	em_connguard_idle(s->api_guard, conn_of(c));
	if (!st)
		return;
	if (st->counted)
		atomic_fetch_sub(&s->inflight, 1);
	free(st->user);
	free(st);
	*state = NULL;
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				   const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct em_server *s = cls;
	struct em_api_req req = {0};
	struct em_api_resp resp = {0};
	struct req_state *st = *state;
	enum MHD_Result ret;

	/* Answer once the whole request is in (a response queued earlier makes
	 * MHD close the connection); a body is swallowed. */
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		st->s = s;
		st->c = c;
		st->t0 = em_mono_seconds();
		st->w.wake = resume_request;
		st->w.arg = st;
		*state = st;
		return refuse_ambiguous(c, method, version, true);
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	em_connguard_busy(s->api_guard, conn_of(c));
	if (!st->counted) {
		atomic_fetch_add(&s->inflight, 1);
		st->counted = true;
	}
	req.method = method;
	req.path = url;
	req.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	req.label_selector = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
	req.waiter = &st->w;
	if (strlen(url) > MAX_URL) {
		struct em_err err;
		em_err_set(&err, EM_E_BADREQUEST, "request URL too long");
		resp.code = 400;
		resp.body = em_status_json(&err);
		resp.handler = "other";
		resp.content_type = "application/json";
	} else if (s->auth && !st->authed) {
		struct em_auth_result ar;
		authenticate(s, c, url, method, &ar);
		if (ar.code) {
			resp.code = ar.code;
			resp.body = ar.body;
			ar.body = NULL;
			resp.content_type = "application/json";
			resp.handler = em_route_find(url, NULL)->label;
		} else {
			st->authed = true;
			st->user = ar.user ? strdup(ar.user) : NULL;
			req.user = st->user;
			em_api_handle(s->reg, &req, &resp);
		}
		em_auth_result_free(&ar);
	} else {
		req.user = st->user;
		em_api_handle(s->reg, &req, &resp);
	}
	if (resp.suspend) {
		/* A metric's first sample is on its way: park this connection (no
		 * thread waits) until the fetch ends, the timeout passes or we stop. */
		MHD_suspend_connection(c);
		em_registry_wait_arm(s->reg, &st->w);
		return MHD_YES;
	}
	ret = queue(c, resp.code, resp.content_type, resp.body);
	account(resp.handler ? resp.handler : "other", resp.code, em_mono_seconds() - st->t0);
	return ret;
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				       const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct em_server *s = cls;
	static int marker;

	if (*state == NULL) {
		*state = &marker;
		return refuse_ambiguous(c, method, version, false);
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	em_connguard_busy(s->metrics_guard, conn_of(c));
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return queue(c, 405, "text/plain; charset=utf-8", strdup("method not allowed\n"));
	if (strcmp(url, "/metrics") == 0) {
		struct em_strbuf sb;
		em_sb_init(&sb);
		em_selfmetrics_render(&sb);
		return queue(c, 200, "text/plain; version=0.0.4; charset=utf-8", em_sb_steal(&sb));
	}
	if (strcmp(url, "/status") == 0) {
		struct em_strbuf sb;
		em_sb_init(&sb);
		em_registry_status(s->reg, &sb);
		return queue(c, 200, "application/json", em_sb_steal(&sb));
	}
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)
		return queue(c, 200, "text/plain; charset=utf-8", strdup("ok\n"));
	if (strcmp(url, "/readyz") == 0) {
		if (atomic_load(&s->ready))
			return queue(c, 200, "text/plain; charset=utf-8", strdup("ok\n"));
		return queue(c, 503, "text/plain; charset=utf-8", strdup("not ready\n"));
	}
	return queue(c, 404, "text/plain; charset=utf-8", strdup("not found\n"));
}

static void metrics_completed(void *cls, struct MHD_Connection *c, void **state,
			      enum MHD_RequestTerminationCode toe)
{
	struct em_server *s = cls;

	(void)state;
	(void)toe;
	em_connguard_idle(s->metrics_guard, conn_of(c));
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	em_debug("http: %s", buf);
}

/* While stopping, a new connection is closed as soon as it is accepted. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	const struct em_server *s = cls;

	(void)addr;
	(void)addrlen;
	return atomic_load(&s->stopping) ? MHD_NO : MHD_YES;
}

struct em_server *em_server_start(struct em_registry *reg, const struct em_server_opts *o, struct em_err *err)
{
	struct em_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t len;
	size_t pool = POOL_SMALL;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;

	if (!s) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	s->reg = reg;
	if (o->conf && o->conf->connection_memory > 0)
		pool = (size_t)o->conf->connection_memory;
	else if (o->conf && (o->conf->auth.from_cluster || o->conf->auth.rh_ca_file))
		pool = POOL_FRONT_PROXY;
	if (o->in_process) {
		flags = (flags & ~(unsigned)MHD_USE_TLS) | MHD_USE_NO_LISTEN_SOCKET;
		memset(&ss, 0, sizeof(ss));
	} else if (em_parse_listen(o->listen, &ss, &len, err) != 0) {
		goto out;
	}
	if (o->conf && o->conf->auth.mode != EM_AUTH_NONE && o->conf->auth.mode != EM_AUTH_UNSET) {
		s->auth = em_auth_new(&o->conf->auth, err);
		if (!s->auth)
			goto out;
	}
	s->tls = o->in_process ? NULL : em_tlscreds_new(o->cert_file, o->key_file, o->cert_pem, o->key_pem, err);
	if (!s->tls && !o->in_process)
		goto out;
	s->api_guard = em_connguard_new(&(struct em_connguard_limits){
		.head_timeout_ms = EM_CONNGUARD_HEAD_TIMEOUT_MS, .idle_timeout_ms = EM_CONNGUARD_IDLE_TIMEOUT_MS,
		.per_ip = EM_CONNGUARD_PER_IP, .max = EM_CONNGUARD_MAX, .listener = "api"});
	if (!s->api_guard) {
		em_err_set(err, EM_E_INTERNAL, "cannot start the connection guard");
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem listen_tls[] = {
		{MHD_OPTION_SOCK_ADDR, 0, &ss},
		{MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->cert_pem},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->key_pem},
		{MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
		{MHD_OPTION_END, 0, NULL},
	};
	s->api = MHD_start_daemon(flags, 0, accept_policy, s, api_handler, s,
				  MHD_OPTION_ARRAY, o->in_process ? listen_tls + 4 : listen_tls,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 0 ? o->threads : 4),
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				  /* the guard keeps below this, with room for connections it shut and MHD
				   * has yet to close; per IP it evicts rather than refuses (connguard.h) */
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)(EM_CONNGUARD_MAX + 256),
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
				  MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				  MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
				  MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
				  MHD_OPTION_END);
	if (!s->api) {
		em_err_set(err, EM_E_INTERNAL, "cannot listen on %s (HTTPS): address in use, or bad certificate/key",
			   o->listen);
		goto out;
	}
	if (o->metrics_listen && *o->metrics_listen) {
		unsigned mflags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
		if (em_parse_listen(o->metrics_listen, &ss, &len, err) != 0)
			goto out;
		if (ss.ss_family == AF_INET6)
			mflags |= MHD_USE_IPv6;
		s->metrics_guard = em_connguard_new(&(struct em_connguard_limits){
			.head_timeout_ms = EM_CONNGUARD_HEAD_TIMEOUT_MS, .idle_timeout_ms = EM_CONNGUARD_IDLE_TIMEOUT_MS,
			.per_ip = 64, .max = 256, .listener = "metrics"});
		if (!s->metrics_guard) {
			em_err_set(err, EM_E_INTERNAL, "cannot start the connection guard");
			goto out;
		}
		s->metrics = MHD_start_daemon(mflags, 0, NULL, NULL, metrics_handler, s,
					      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
					      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
					      MHD_OPTION_CONNECTION_LIMIT, (unsigned)(256 + 64),
					      MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
					      MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
					      MHD_OPTION_NOTIFY_CONNECTION, on_metrics_connection, s,
					      MHD_OPTION_NOTIFY_COMPLETED, metrics_completed, s,
					      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
					      MHD_OPTION_END);
		if (!s->metrics) {
			em_err_set(err, EM_E_INTERNAL, "cannot listen on %s (metrics)", o->metrics_listen);
			goto out;
		}
	}
	(void)len;
	return s;
out:
	em_server_stop(s, 0);
	return NULL;
}

int em_server_add_connection(struct em_server *s, int fd)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	return MHD_add_connection(s->api, fd, (struct sockaddr *)&peer, sizeof(peer)) == MHD_YES ? 0 : -1;
}

void em_server_set_ready(struct em_server *s, int ready)
{
	atomic_store(&s->ready, ready);
}

void em_server_stop(struct em_server *s, int grace_ms)
{
	if (!s)
		return;
	atomic_store(&s->ready, 0);
	atomic_store(&s->stopping, 1);
	if (s->api) {
		/* Not MHD_quiesce_daemon: with a thread pool on epoll, libmicrohttpd
		 * 0.9.75 aborts when a worker drops the listening socket from its epoll
		 * set before quiesce does ("Failed to remove listen FD from epoll set").
		 * New connections are closed by accept_policy instead; in-flight
		 * requests finish (up to grace_ms); idle keep-alive connections are
		 * closed by MHD_stop_daemon. */
		for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < grace_ms; waited += 20)
			em_sleep_ms(20);
		MHD_stop_daemon(s->api);
	}
	if (s->metrics)
		MHD_stop_daemon(s->metrics);
	em_connguard_free(s->api_guard);
	em_connguard_free(s->metrics_guard);
	em_auth_free(s->auth);
	em_tlscreds_free(s->tls);
	free(s);
}
