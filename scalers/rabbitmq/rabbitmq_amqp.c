/* rabbitmq_amqp.c - AMQP for the rabbitmq scaler (librabbitmq): shared connections, passive declares under the deadline. */
#include "rabbitmq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>

static bool empty(const char *s)
{
	return !s || !*s;
}

/* Where and as whom to connect (the pool's shared data of a target). */
struct amqp_target {
	struct rmq_uri uri;        /* user and password after the auth params' override */
	bool external;             /* SASL EXTERNAL: the client certificate is the identity */
	bool custom_tls;           /* tls: enable: the auth params' material and unsafeSsl */
	bool verify;
	char *ca, *cert, *key, *key_password;
};

static void target_free(void *v)
{
	struct amqp_target *t = v;

	if (!t)
		return;
	rmq_uri_free(&t->uri);
	free(t->ca);
	free(t->cert);
	em_free_secret(t->key);
	em_free_secret(t->key_password);
	free(t);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*oom = true;
	return d;
}

static void *target_new(const void *arg)
{
	const struct amqp_target *s = arg;
	struct amqp_target *t = calloc(1, sizeof(*t));
	bool oom = false;

	if (!t)
		return NULL;
	*t = *s;
	t->uri.user = dup_or_null(s->uri.user, &oom);
	t->uri.password = dup_or_null(s->uri.password, &oom);
	t->uri.vhost = dup_or_null(s->uri.vhost, &oom);
	t->ca = dup_or_null(s->ca, &oom);
	t->cert = dup_or_null(s->cert, &oom);
	t->key = dup_or_null(s->key, &oom);
	t->key_password = dup_or_null(s->key_password, &oom);
	if (oom) {
		target_free(t);
		return NULL;
	}
	return t;
}

struct amqp_conn {
	amqp_connection_state_t st;
	bool channel_open;
};

static void set_timeout(amqp_connection_state_t st, int64_t deadline)
{
	int64_t left = deadline - em_mono_ms();
	struct timeval tv;

	if (left < 1)
		left = 1;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	amqp_set_rpc_timeout(st, &tv);
	amqp_set_handshake_timeout(st, &tv);
}

static void conn_close(void *v)
{
	struct amqp_conn *c = v;

	if (!c)
		return;
	if (c->st)
		amqp_destroy_connection(c->st);   /* closes the socket: never waits on the server */
	free(c);
}

static const struct em_pool_ops amqp_pool_ops = {
	.kind = "rabbitmq",
	.close = conn_close,
	.shared_new = target_new,
	.shared_free = target_free,
};

/* An RPC's failure in amqp091-go's words: `Exception (404) Reason: "..."`.
 * Returns 1 when the channel was closed by the server (the connection
 * lives on), 2 when the connection is gone or in an unknown state. */
static int reply_error(struct amqp_conn *c, amqp_rpc_reply_t r, char *msg, size_t cap)
{
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		snprintf(msg, cap, "%s", r.library_error == AMQP_STATUS_TIMEOUT ? "no answer in time"
					 : amqp_error_string2(r.library_error));
		return 2;
	}
	if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION) {
		snprintf(msg, cap, "no reply");
		return 2;
	}
	if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *m = r.reply.decoded;
		amqp_channel_close_ok_t ok = {0};
		snprintf(msg, cap, "Exception (%u) Reason: \"%.*s\"", m->reply_code,
			 (int)(m->reply_text.len > 300 ? 300 : m->reply_text.len), (const char *)m->reply_text.bytes);
		c->channel_open = false;
		/* the channel can be opened again once its close is acknowledged */
		return amqp_send_method(c->st, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) == AMQP_STATUS_OK ? 1 : 2;
	}
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *m = r.reply.decoded;
		amqp_connection_close_ok_t ok = {0};
		snprintf(msg, cap, "Exception (%u) Reason: \"%.*s\"", m->reply_code,
			 (int)(m->reply_text.len > 300 ? 300 : m->reply_text.len), (const char *)m->reply_text.bytes);
		amqp_send_method(c->st, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		return 2;
	}
	snprintf(msg, cap, "unexpected server method 0x%08x", (unsigned)r.reply.id);
	return 2;
}

static int open_channel(struct amqp_conn *c, int64_t deadline, char *msg, size_t cap)
{
	set_timeout(c->st, deadline);
	amqp_channel_open(c->st, 1);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c->st);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		return reply_error(c, r, msg, cap);
	c->channel_open = true;
	return 0;
}

static int tls_setup(amqp_socket_t *sock, const struct amqp_target *t, char *msg, size_t cap)
{
	SSL_CTX *ctx = amqp_ssl_socket_get_context(sock);
	struct em_tls_pem m = {.ca = t->ca, .cert = t->cert, .key = t->key, .key_password = t->key_password};
	struct em_err err;

	amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST);
	amqp_ssl_socket_set_verify_peer(sock, t->verify);
	amqp_ssl_socket_set_verify_hostname(sock, t->verify);
	if (!ctx) {
		snprintf(msg, cap, "no TLS context");
		return -1;
	}
	SSL_CTX_set_default_verify_paths(ctx);
	if (t->custom_tls && em_tls_pem_load(ctx, &m, &err) != 0) {
		snprintf(msg, cap, "%s", err.msg);
		return -1;
	}
	return 0;
}

static struct amqp_conn *amqp_connect(const struct amqp_target *t, int64_t deadline, char *msg, size_t cap)
{
	struct amqp_conn *c = calloc(1, sizeof(*c));
	amqp_socket_t *sock;
	amqp_table_entry_t prop = {.key = amqp_cstring_bytes("connection_name"),
				   .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("extmetrics")}};
	amqp_table_t props = {.num_entries = 1, .entries = &prop};
	amqp_rpc_reply_t r;
	struct timeval tv;
	int64_t left = deadline - em_mono_ms();
	int st;

	if (!c || !(c->st = amqp_new_connection())) {
		snprintf(msg, cap, "out of memory");
		free(c);
		return NULL;
	}
	if (t->uri.connect_timeout_ms > 0 && t->uri.connect_timeout_ms < left)
		left = t->uri.connect_timeout_ms;
	sock = t->uri.tls ? amqp_ssl_socket_new(c->st) : amqp_tcp_socket_new(c->st);
	if (!sock) {
		snprintf(msg, cap, "out of memory");
		goto out;
	}
	if (t->uri.tls && tls_setup(sock, t, msg, cap) != 0)
		goto out;
	tv.tv_sec = (time_t)((left > 0 ? left : 1) / 1000);
	tv.tv_usec = (suseconds_t)((left > 0 ? left : 1) % 1000) * 1000;
	st = amqp_socket_open_noblock(sock, t->uri.host, t->uri.port, &tv);
	if (st != AMQP_STATUS_OK) {
		/* librabbitmq keeps the system's reason (refused, unreachable) to itself */
		snprintf(msg, cap, "dial %s:%d: could not connect: %s", t->uri.host, t->uri.port,
			 st == AMQP_STATUS_TIMEOUT ? "i/o timeout" : amqp_error_string2(st));
		goto out;
	}
	set_timeout(c->st, deadline);
	/* heartbeat 0: polls are minutes apart at most and the library only
	 * answers heartbeats inside a call; the server must not expect them */
	/* EXTERNAL: RabbitMQ ignores the response (the certificate is the
	 * identity); librabbitmq 0.11 fails to allocate an empty one */
	if (t->external)
		r = amqp_login_with_properties(c->st, t->uri.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, &props,
					       AMQP_SASL_METHOD_EXTERNAL, "extmetrics");
	else
		r = amqp_login_with_properties(c->st, t->uri.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, &props,
					       AMQP_SASL_METHOD_PLAIN, t->uri.user, t->uri.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		char why[400];
		reply_error(c, r, why, sizeof(why));
		/* RabbitMQ drops a refused login without a close (authentication_failure_close off) */
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_CONNECTION_CLOSED)
			snprintf(why, sizeof(why), "the server closed the connection during the handshake (wrong "
				 "credentials or vhost?)");
		snprintf(msg, cap, "%s:%d: %s", t->uri.host, t->uri.port, why);
		goto out;
	}
	if (open_channel(c, deadline, msg, cap) != 0)
		goto out;
	return c;
out:
	conn_close(c);
	return NULL;
}

/* ------------------------------------------------------------------ public */

void rmq_amqp_global_init(void)
{
	amqp_set_initialize_ssl_library(0);
}

struct rmq_amqp {
	struct em_pool *pool;
};

void rmq_amqp_close(struct rmq_amqp *a)
{
	if (!a)
		return;
	em_pool_put(a->pool);
	free(a);
}

/* The pool key: every field that makes a connection differ (it holds the
 * password and key: em_pool wipes it). */
static char *target_key(const struct amqp_target *t)
{
	struct em_strbuf sb;
	const char *parts[] = {t->uri.host, t->uri.user, t->uri.password, t->uri.vhost, t->ca, t->cert, t->key,
			       t->key_password};

	em_sb_init(&sb);
	em_sb_printf(&sb, "%d|%d|%d|%d|%d|%lld", t->uri.tls, t->uri.port, t->external, t->custom_tls, t->verify,
		     (long long)t->uri.connect_timeout_ms);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		em_sb_add(&sb, "\x1f", 1);
		em_sb_puts(&sb, parts[i] ? parts[i] : "");
	}
	if (sb.oom) {
		em_sb_free_secret(&sb);
		return NULL;
	}
	return em_sb_steal(&sb);
}

struct rmq_amqp *rmq_amqp_open(const struct rmq_cfg *c, struct em_err *err)
{
	struct rmq_amqp *a = calloc(1, sizeof(*a));
	struct amqp_target t = {0};
	bool has_url_password;
	char *key = NULL;

	if (!a) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (rmq_parse_uri(c->host, &t.uri, err) != 0) {
		free(a);
		return NULL;
	}
	has_url_password = t.uri.has_password;
	if (!empty(c->vhostName)) {
		free(t.uri.vhost);
		t.uri.vhost = strdup(c->vhostName);
	}
	if (!empty(c->username) && !empty(c->password)) {
		em_free_secret(t.uri.user);
		em_free_secret(t.uri.password);
		t.uri.user = strdup(c->username);
		t.uri.password = strdup(c->password);
	}
	/* KEDA: EXTERNAL with a client certificate and no credentials given */
	t.custom_tls = c->tls_on;
	t.external = c->tls_on && empty(c->username) && !empty(c->cert) && !empty(c->key) && !has_url_password;
	t.verify = !(c->tls_on && c->unsafeSsl);
	if (c->tls_on) {
		t.ca = c->ca;
		t.cert = c->cert;
		t.key = c->key;
		t.key_password = c->keyPassword;
	}
	if (t.uri.vhost && t.uri.user && t.uri.password)
		key = target_key(&t);
	a->pool = key ? em_pool_get(&amqp_pool_ops, key, &t) : NULL;
	em_free_secret(key);
	t.ca = t.cert = t.key = t.key_password = NULL;   /* borrowed from c */
	rmq_uri_free(&t.uri);
	if (!a->pool) {
		free(a);
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	return a;
}

static struct em_sm_family fam_connects =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_rabbitmq_connects_total", "AMQP connection attempts to RabbitMQ by result.");
static struct em_sm_family fam_declares =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_rabbitmq_declares_total", "Passive queue declares sent to RabbitMQ by result.");

int rmq_amqp_count(struct rmq_amqp *a, const char *queue, int64_t deadline, int64_t *out, struct em_err *err)
{
	const struct amqp_target *t = em_pool_shared(a->pool);
	struct amqp_conn *c;
	void *vc = NULL;
	char msg[EM_ERR_MSG_MAX - 96];
	int slot, rc = -1;

	slot = em_pool_acquire(a->pool, deadline, &vc, err);
	if (slot < 0) {
		em_err_prefix(err, "error establishing connection to RabbitMQ");
		return -1;
	}
	c = vc;
	/* A reused connection may have died since the last poll (a broker
	 * restart): then one retry on a fresh one; the declare is passive. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false;
		int e = 0;

		if (!c) {
			int64_t wait_ms;
			char last[256];
			if (em_pool_may_connect(a->pool, last, sizeof(last), &wait_ms) != 0) {
				em_err_set(err, EM_E_UNAVAILABLE, "error establishing connection to RabbitMQ: %s (next attempt "
					   "in %lld ms)", last, (long long)wait_ms);
				em_pool_connected(a->pool, slot);
				break;
			}
			c = amqp_connect(t, deadline, msg, sizeof(msg));
			em_pool_connected(a->pool, slot);
			em_pool_connect_result(a->pool, c ? NULL : msg);
			em_sm_count_result(&fam_connects, c ? "ok" : "error");
			if (!c) {
				em_err_set(err, EM_E_UNAVAILABLE, "error establishing connection to RabbitMQ: %s", msg);
				break;
			}
			fresh = true;
		}
		if (!c->channel_open)
			e = open_channel(c, deadline, msg, sizeof(msg));
		if (e == 0) {
			amqp_queue_declare_ok_t *ok;
			amqp_rpc_reply_t r;
			set_timeout(c->st, deadline);
			ok = amqp_queue_declare(c->st, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
			r = amqp_get_rpc_reply(c->st);
			if (r.reply_type == AMQP_RESPONSE_NORMAL && ok) {
				*out = (int64_t)ok->message_count;
				rc = 0;
			} else {
				e = reply_error(c, r, msg, sizeof(msg));
			}
			amqp_maybe_release_buffers(c->st);
		}
		if (rc == 0)
			break;
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: %s", msg);
		if (e == 2) {
			conn_close(c);
			c = NULL;
		}
		/* a closed channel is the server's answer (no such queue, no
		 * access): no retry; a dead connection gets one on a fresh one */
		if (e == 1 || fresh || em_mono_ms() >= deadline)
			break;
	}
	em_sm_count_result(&fam_declares, rc == 0 ? "ok" : "error");
	em_pool_release(a->pool, slot, c);
	return rc;
}
