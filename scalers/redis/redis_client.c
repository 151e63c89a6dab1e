/* redis_client.c - Redis connections: pooled per server and identity, TCP or TLS, under the fetch deadline; cluster, sentinel. */
#include "redis_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>


static bool empty(const char *s)
{
	return !s || !*s;
}

/* ---------------------------------------------------------------- transport */

/* One connection to one server. */
struct rds_conn {
	int fd;
	SSL *ssl;
	void *rd;   /* the reply reader */
};

static void conn_close(void *vc)
{
	struct rds_conn *c = vc;

	if (!c)
		return;
	if (c->ssl) {
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->rd)
		rds_reader_free(c->rd);
	free(c);
}

/* What a node target shares: where and as whom to connect. */
struct rds_node {
	struct rds_addr addr;
	char name[300];            /* host:port for messages */
	char *username, *password;
	int64_t db;
	SSL_CTX *ctx;              /* NULL: plain TCP */
	bool verify;
	const char *label;         /* "redis", "redis sentinel" */
};

struct rds_node_spec {
	const struct rds_addr *addr;
	const char *username, *password;
	int64_t db;
	SSL_CTX *ctx;
	bool verify;
	const char *label;
};

static void node_free(void *v)
{
	struct rds_node *n = v;

	if (!n)
		return;
	em_free_secret(n->username);
	em_free_secret(n->password);
	SSL_CTX_free(n->ctx);
	free(n);
}

static void *node_new(const void *arg)
{
	const struct rds_node_spec *s = arg;
	struct rds_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->addr = *s->addr;
	snprintf(n->name, sizeof(n->name), strchr(n->addr.host, ':') ? "[%s]:%s" : "%s:%s", n->addr.host,
		 n->addr.port);
	n->db = s->db;
	n->verify = s->verify;
	n->label = s->label;
	if ((s->username && !(n->username = strdup(s->username))) ||
	    (s->password && !(n->password = strdup(s->password)))) {
		node_free(n);
		return NULL;
	}
	if (s->ctx) {
		SSL_CTX_up_ref(s->ctx);
		n->ctx = s->ctx;
	}
	return n;
}

static const struct em_pool_ops node_ops = {
	.kind = "redis",
	.close = conn_close,
	.shared_new = node_new,
	.shared_free = node_free,
};

static struct em_sm_family fam_connects =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_redis_connects_total", "Connection attempts to Redis servers by result.");
static struct em_sm_family fam_commands =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_redis_commands_total", "Round trips of scaler commands to Redis by result.");

/* Go-like text of an errno ("connection refused"). */
static void errno_text(int e, char *out, size_t cap)
{
	char buf[128];
	const char *s = strerror_r(e, buf, sizeof(buf));

	snprintf(out, cap, "%s", s);
	if (out[0])
		out[0] = (char)tolower((unsigned char)out[0]);
}

static int tcp_connect(const struct rds_node *nd, int64_t deadline, char *msg, size_t cap)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	const char *host = nd->addr.host[0] ? nd->addr.host : "localhost";
	int fd = -1, gai;

	/* The system resolver blocks (its own timeouts apply), as libpq's does. */
	gai = getaddrinfo(host, nd->addr.port, &hints, &res);
	if (gai != 0) {
		snprintf(msg, cap, "dial tcp: lookup %s: %s", host,
			 gai == EAI_NONAME ? "no such host" : gai_strerror(gai));
		return -1;
	}
	snprintf(msg, cap, "dial tcp %s: no address", nd->name);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char ip[INET6_ADDRSTRLEN] = "?", why[96];
		int rc, soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
		else if (ai->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof(ip));
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			errno_text(errno, why, sizeof(why));
			snprintf(msg, cap, "dial tcp %s: socket: %s", nd->name, why);
			continue;
		}
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc != 0 && errno == EINPROGRESS) {
			int w = em_pool_wait_fd(fd, POLLOUT, deadline);
			if (w == 0) {
				snprintf(msg, cap, "dial tcp %s: i/o timeout", nd->name);
				close(fd);
				fd = -1;
				break;
			}
			if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
				soerr = errno ? errno : EIO;
			rc = soerr ? -1 : 0;
			errno = soerr;
		}
		if (rc == 0)
			break;
		errno_text(errno, why, sizeof(why));
		snprintf(msg, cap, strchr(ip, ':') ? "dial tcp [%s]:%s: connect: %s" : "dial tcp %s:%s: connect: %s", ip,
			 nd->addr.port, why);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	return fd;
}

/* Waits for what an SSL call wants; 1 ready, 0 deadline, -1 error (why
 * set when given: the TLS alert or system error, "EOF"). */
static int ssl_wait(struct rds_conn *c, int rc, int64_t deadline, char *why, size_t cap)
{
	int e = errno;

	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return em_pool_wait_fd(c->fd, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE:
		return em_pool_wait_fd(c->fd, POLLOUT, deadline);
	case SSL_ERROR_ZERO_RETURN:
		if (why)
			snprintf(why, cap, "EOF (the server closed the connection)");
		return -1;
	case SSL_ERROR_SYSCALL:
		if (why) {
			if (e)
				errno_text(e, why, cap);
			else
				snprintf(why, cap, "EOF (the server closed the connection)");
		}
		ERR_clear_error();
		return -1;
	default:
		if (why)
			em_ssl_reason(why, cap);
		ERR_clear_error();
		return -1;
	}
}

static int tls_handshake(struct rds_conn *c, const struct rds_node *nd, int64_t deadline, char *msg, size_t cap)
{
	unsigned char tmp[16];
	bool ip = inet_pton(AF_INET, nd->addr.host, tmp) == 1 || inet_pton(AF_INET6, nd->addr.host, tmp) == 1;

	ERR_clear_error();
	c->ssl = SSL_new(nd->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		snprintf(msg, cap, "tls: out of memory");
		return -1;
	}
	if (!ip && nd->addr.host[0])
		SSL_set_tlsext_host_name(c->ssl, nd->addr.host);
	if (nd->verify) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		const char *h = nd->addr.host[0] ? nd->addr.host : "localhost";
		if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, h) : X509_VERIFY_PARAM_set1_host(vp, h, 0)) != 1) {
			snprintf(msg, cap, "tls: cannot verify host %s", h);
			return -1;
		}
	}
	for (;;) {
		int rc = SSL_connect(c->ssl), w;
		if (rc == 1)
			return 0;
		w = ssl_wait(c, rc, deadline, NULL, 0);
		if (w > 0)
			continue;
		if (w == 0) {
			snprintf(msg, cap, "tls: handshake with %s: i/o timeout", nd->name);
		} else {
			long vr = SSL_get_verify_result(c->ssl);
			char why[160];
			em_ssl_reason(why, sizeof(why));
			if (vr != X509_V_OK)
				snprintf(msg, cap, "tls: handshake with %s failed: certificate verify failed: %s", nd->name,
					 X509_verify_cert_error_string(vr));
			else
				snprintf(msg, cap, "tls: handshake with %s failed: %s", nd->name, why);
		}
		ERR_clear_error();
		return -1;
	}
}

/* Writes all of buf before the deadline. 0 ok, 0 < timeout, -1 error (msg set). */
static int conn_write(struct rds_conn *c, const char *buf, size_t len, int64_t deadline, const char *name, char *msg,
		      size_t cap)
{
	size_t off = 0;
	char why[160] = "connection broken";

	while (off < len) {
		int r;
		if (c->ssl) {
			ERR_clear_error();
			int rc = SSL_write(c->ssl, buf + off, (int)(len - off > 1u << 30 ? 1u << 30 : len - off));
			if (rc > 0) {
				off += (size_t)rc;
				continue;
			}
			r = ssl_wait(c, rc, deadline, why, sizeof(why));
		} else {
			ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
			if (w > 0) {
				off += (size_t)w;
				continue;
			}
			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				errno_text(errno, why, sizeof(why));
				r = -1;
			} else {
				r = em_pool_wait_fd(c->fd, POLLOUT, deadline);
			}
		}
		if (r == 0) {
			snprintf(msg, cap, "write tcp %s: i/o timeout", name);
			return 1;
		}
		if (r < 0) {
			snprintf(msg, cap, "write tcp %s: %s", name, why);
			return -1;
		}
	}
	return 0;
}

/* Outcome of a round trip. */
enum rt_rc {
	RT_OK = 0,
	RT_LOST,      /* the connection broke before any reply byte: a retry on a new one is safe */
	RT_BROKEN,    /* it broke or spoke garbage midway */
	RT_TIMEOUT,   /* the deadline passed */
};

/* Sends n commands and reads n replies. The connection is unusable unless RT_OK. */
static enum rt_rc conn_roundtrip(struct rds_conn *c, const char *name, size_t n, const struct rds_cmd *cmds,
				 int64_t deadline, struct rds_reply **replies, char *msg, size_t cap)
{
	char *out = NULL, buf[16384];
	size_t out_len = 0, got = 0, fed = 0;
	struct em_err perr = {0};
	enum rt_rc rc = RT_OK;

	for (size_t i = 0; i < n; i++)
		replies[i] = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t lens[6];
		char *one = NULL, *grown;
		int l;
		for (int a = 0; a < cmds[i].argc; a++)
			lens[a] = strlen(cmds[i].argv[a]);
		l = redisFormatCommandArgv(&one, cmds[i].argc, (const char **)cmds[i].argv, lens);
		grown = l > 0 ? realloc(out, out_len + (size_t)l) : NULL;
		if (!grown) {
			redisFreeCommand(one);
			free(out);
			snprintf(msg, cap, "out of memory");
			return RT_BROKEN;
		}
		out = grown;
		memcpy(out + out_len, one, (size_t)l);
		out_len += (size_t)l;
		redisFreeCommand(one);
	}
	switch (conn_write(c, out, out_len, deadline, name, msg, cap)) {
	case 0:
		break;
	case 1:
		free(out);
		return RT_TIMEOUT;
	default:
		free(out);
		return RT_LOST;
	}
	free(out);
	while (got < n) {
		char why[160] = "EOF (the server closed the connection)";
		ssize_t r;
		int w;
		if (c->ssl) {
			ERR_clear_error();
			int rr = SSL_read(c->ssl, buf, sizeof(buf));
			if (rr > 0) {
				r = rr;
			} else {
				w = ssl_wait(c, rr, deadline, why, sizeof(why));
				if (w > 0)
					continue;
				r = w == 0 ? -2 : -1;
			}
		} else {
			r = recv(c->fd, buf, sizeof(buf), 0);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				w = em_pool_wait_fd(c->fd, POLLIN, deadline);
				if (w > 0)
					continue;
				r = w == 0 ? -2 : -1;
			} else if (r < 0) {
				errno_text(errno, why, sizeof(why));
			}
		}
		if (r == -2) {
			snprintf(msg, cap, "read tcp %s: i/o timeout", name);
			rc = RT_TIMEOUT;
			break;
		}
		if (r <= 0) {
			snprintf(msg, cap, "read tcp %s: %s", name, why);
			rc = fed == 0 ? RT_LOST : RT_BROKEN;
			break;
		}
		fed += (size_t)r;
		if (fed > RDS_MAX_REPLY_BYTES) {
			snprintf(msg, cap, "redis %s: reply larger than %u bytes", name, RDS_MAX_REPLY_BYTES);
			rc = RT_BROKEN;
			break;
		}
		if (rds_reader_feed(c->rd, buf, (size_t)r) != 0 || rds_reader_take(c->rd, n, &got, replies, &perr)) {
			snprintf(msg, cap, "redis %s: %s", name, perr.msg[0] ? perr.msg : "invalid reply");
			rc = RT_BROKEN;
			break;
		}
	}
	if (rc != RT_OK)
		for (size_t i = 0; i < n; i++) {
			rds_reply_free(replies[i]);
			replies[i] = NULL;
		}
	return rc;
}

/* Opens, secures and authenticates a connection to the node. NULL with msg set. */
static struct rds_conn *conn_open(const struct rds_node *nd, int64_t deadline, char *msg, size_t cap)
{
	struct rds_conn *c = calloc(1, sizeof(*c));
	struct rds_cmd hs[2];
	struct rds_reply *rep[2] = {NULL, NULL};
	char dbs[24];
	size_t n = 0;

	if (!c) {
		snprintf(msg, cap, "out of memory");
		return NULL;
	}
	c->fd = tcp_connect(nd, deadline, msg, cap);
	if (c->fd < 0)
		goto out;
	if (nd->ctx && tls_handshake(c, nd, deadline, msg, cap) != 0)
		goto out;
	c->rd = rds_reader_new();
	if (!c->rd) {
		snprintf(msg, cap, "out of memory");
		goto out;
	}
	if (!empty(nd->username))
		hs[n++] = (struct rds_cmd){3, {"AUTH", nd->username, nd->password ? nd->password : ""}};
	else if (!empty(nd->password))
		hs[n++] = (struct rds_cmd){2, {"AUTH", nd->password}};
	if (nd->db != 0) {
		snprintf(dbs, sizeof(dbs), "%lld", (long long)nd->db);
		hs[n++] = (struct rds_cmd){2, {"SELECT", dbs}};
	}
	if (n == 0)
		return c;
	if (conn_roundtrip(c, nd->name, n, hs, deadline, rep, msg, cap) != RT_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (rep[i]->type == RDS_ERROR) {
			snprintf(msg, cap, "%.300s", rep[i]->str);
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		rds_reply_free(rep[i]);
	return c;
out:
	for (size_t i = 0; i < n; i++)
		rds_reply_free(rep[i]);
	conn_close(c);
	return NULL;
}

/* How a node call failed. */
enum node_rc {
	NODE_OK = 0,
	NODE_DOWN,      /* could not connect (or back-off): another node may serve */
	NODE_FAILED,    /* connected, then broke or timed out */
};

/* One round trip on a pooled connection of the node: a reused connection
 * that turns out dead (server restart) is replaced once, the commands being
 * read-only. */
static enum node_rc node_run(struct em_pool *pool, size_t n, const struct rds_cmd *cmds, int64_t deadline,
			     struct rds_reply **replies, struct em_err *err)
{
	const struct rds_node *nd = em_pool_shared(pool);
	char msg[EM_ERR_MSG_MAX - 64];
	void *vc = NULL;
	struct rds_conn *c;
	enum node_rc out = NODE_FAILED;
	int slot = em_pool_acquire(pool, deadline, &vc, err);

	if (slot < 0) {
		em_err_prefix(err, "%s %s", nd->label, nd->name);
		return NODE_FAILED;
	}
	c = vc;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false;
		enum rt_rc rt;

		if (!c) {
			int64_t wait_ms;
			char last[256];
			if (em_pool_may_connect(pool, last, sizeof(last), &wait_ms) != 0) {
				em_err_set(err, EM_E_UNAVAILABLE, "connection to %s failed: %s (next attempt in %lld ms)",
					   nd->label, last, (long long)wait_ms);
				em_pool_connected(pool, slot);
				out = NODE_DOWN;
				break;
			}
			c = conn_open(nd, deadline, msg, sizeof(msg));
			em_pool_connected(pool, slot);
			em_pool_connect_result(pool, c ? NULL : msg);
			em_sm_count_result(&fam_connects, c ? "ok" : "error");
			if (!c) {
				em_err_set(err, EM_E_UNAVAILABLE, "connection to %s failed: %s", nd->label, msg);
				out = NODE_DOWN;
				break;
			}
			fresh = true;
		}
		rt = conn_roundtrip(c, nd->name, n, cmds, deadline, replies, msg, sizeof(msg));
		if (rt == RT_OK) {
			out = NODE_OK;
			break;
		}
		conn_close(c);
		c = NULL;
		if (rt == RT_TIMEOUT) {
			em_err_set(err, EM_E_UNAVAILABLE, "%s (no answer in time; connection closed)", msg);
			break;
		}
		em_err_set(err, EM_E_UNAVAILABLE, "%s", msg);
		if (fresh || rt != RT_LOST)
			break;
	}
	em_pool_release(pool, slot, c);
	return out;
}

/* ------------------------------------------------------------------- client */

struct rds_client {
	enum rds_mode mode;
	pthread_mutex_t mu;
	struct rds_addrs addrs;
	char *username, *password, *s_username, *s_password, *master;
	int64_t db;
	SSL_CTX *ctx;
	bool verify;
	char tls_id[2 * EVP_MAX_MD_SIZE + 1];   /* digest of the TLS settings: part of pool keys */
	struct em_pool *node;                   /* the node that answered last */
	char server[300];
};

static char *dup_or_null(const char *s)
{
	return empty(s) ? NULL : strdup(s);
}

void rds_client_free(struct rds_client *cl)
{
	if (!cl)
		return;
	em_pool_put(cl->node);
	em_free_secret(cl->username);
	em_free_secret(cl->password);
	em_free_secret(cl->s_username);
	em_free_secret(cl->s_password);
	free(cl->master);
	SSL_CTX_free(cl->ctx);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}

struct rds_client *rds_client_new(const struct rds_conn_cfg *c, enum rds_mode mode, struct em_err *err)
{
	struct rds_client *cl = calloc(1, sizeof(*cl));
	bool on = false;

	if (!cl) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&cl->mu, NULL);
	cl->mode = mode;
	cl->db = c->databaseIndex;
	if (rds_parse_addrs(c, &cl->addrs, err) != 0 || rds_tls_enabled(c, &on, err) != 0)
		goto out;
	if ((!empty(c->username) && !(cl->username = dup_or_null(c->username))) ||
	    (!empty(c->password) && !(cl->password = dup_or_null(c->password))) ||
	    (!empty(c->sentinelUsername) && !(cl->s_username = dup_or_null(c->sentinelUsername))) ||
	    (!empty(c->sentinelPassword) && !(cl->s_password = dup_or_null(c->sentinelPassword))) ||
	    (!empty(c->sentinelMaster) && !(cl->master = dup_or_null(c->sentinelMaster)))) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	if (on && !(cl->ctx = rds_tls_ctx_new(c, err)))
		goto out;
	cl->verify = on && !c->unsafeSsl;
	rds_tls_id(c, on, cl->tls_id, sizeof(cl->tls_id));
	return cl;
out:
	rds_client_free(cl);
	return NULL;
}

const char *rds_client_server(const struct rds_client *cl)
{
	return cl->server;
}

/* The pool of one node with these credentials. NULL: out of memory. */
static struct em_pool *node_get(struct rds_client *cl, const struct rds_addr *a, bool sentinel)
{
	struct rds_node_spec s = {
		.addr = a,
		.username = sentinel ? cl->s_username : cl->username,
		.password = sentinel ? cl->s_password : cl->password,
		.db = sentinel ? 0 : cl->db,
		.ctx = cl->ctx,
		.verify = cl->verify,
		.label = sentinel ? "redis sentinel" : cl->mode == RDS_CLUSTER ? "redis cluster node" : "redis",
	};
	char key[1024];
	struct em_pool *p;
	int n;

	/* \x1f cannot appear in a host, port or number; a password with it only
	 * makes a key that matches no other. */
	n = snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%lld\x1f%s\x1f%s\x1f%s", s.label, a->host, a->port,
		     (long long)s.db, cl->tls_id, s.username ? s.username : "", s.password ? s.password : "");
	if (n < 0 || (size_t)n >= sizeof(key)) {
		/* very long credentials: key on their digest-free full text in a heap copy */
		char *big = malloc((size_t)n + 1);
		if (!big)
			return NULL;
		snprintf(big, (size_t)n + 1, "%s\x1f%s\x1f%s\x1f%lld\x1f%s\x1f%s\x1f%s", s.label, a->host, a->port,
			 (long long)s.db, cl->tls_id, s.username ? s.username : "", s.password ? s.password : "");
		p = em_pool_get(&node_ops, big, &s);
		em_free_secret(big);
		return p;
	}
	p = em_pool_get(&node_ops, key, &s);
	em_wipe(key, sizeof(key));
	return p;
}

static void set_node(struct rds_client *cl, struct em_pool *p)
{
	const struct rds_node *nd;

	if (cl->node == p) {
		em_pool_put(p);
		return;
	}
	em_pool_put(cl->node);
	cl->node = p;
	nd = em_pool_shared(p);
	snprintf(cl->server, sizeof(cl->server), "%s", nd ? nd->name : "");
}

static void free_replies(size_t n, struct rds_reply **replies)
{
	for (size_t i = 0; i < n; i++) {
		rds_reply_free(replies[i]);
		replies[i] = NULL;
	}
}

static int oom(struct em_err *err)
{
	return em_err_set(err, EM_E_INTERNAL, "out of memory");
}

/* Runs the commands on the node at a, which becomes the current one. */
static int run_at(struct rds_client *cl, const struct rds_addr *a, size_t n, const struct rds_cmd *cmds,
		  int64_t deadline, struct rds_reply **replies, struct em_err *err)
{
	struct em_pool *p = node_get(cl, a, false);

	if (!p)
		return oom(err);
	set_node(cl, p);
	return node_run(cl->node, n, cmds, deadline, replies, err) == NODE_OK ? 0 : -1;
}

/* Sentinel: asks the sentinels in order for the master's address. */
static int sentinel_master(struct rds_client *cl, int64_t deadline, struct rds_addr *out, struct em_err *err)
{
	struct rds_cmd q = {3, {"SENTINEL", "get-master-addr-by-name", cl->master}};
	struct em_err last = {0};

	for (size_t i = 0; i < cl->addrs.n; i++) {
		struct em_pool *sp = node_get(cl, &cl->addrs.a[i], true);
		struct rds_reply *r = NULL;
		enum node_rc rc;

		if (!sp)
			return oom(err);
		rc = node_run(sp, 1, &q, deadline, &r, &last);
		em_pool_put(sp);
		if (rc != NODE_OK)
			continue;
		if (r->type == RDS_ARRAY && r->elements == 2 && r->element[0]->type == RDS_STRING &&
		    r->element[1]->type == RDS_STRING) {
			char hp[300];
			snprintf(hp, sizeof(hp), strchr(r->element[0]->str, ':') ? "[%s]:%s" : "%s:%s",
				 r->element[0]->str, r->element[1]->str);
			if (rds_split_hostport(hp, strlen(hp), out) == 0) {
				rds_reply_free(r);
				return 0;
			}
			em_err_set(&last, EM_E_UNAVAILABLE, "connection to redis sentinel failed: unusable master "
				   "address \"%.100s\"", hp);
		} else if (r->type == RDS_NIL) {
			em_err_set(&last, EM_E_UNAVAILABLE, "connection to redis sentinel failed: no master named "
				   "\"%.100s\" is monitored", cl->master);
		} else if (r->type == RDS_ERROR) {
			em_err_set(&last, EM_E_UNAVAILABLE, "connection to redis sentinel failed: %.300s", r->str);
		} else {
			em_err_set(&last, EM_E_UNAVAILABLE, "connection to redis sentinel failed: unexpected reply "
				   "to SENTINEL get-master-addr-by-name");
		}
		rds_reply_free(r);
	}
	return em_err_set(err, EM_E_UNAVAILABLE, "%s",
			  last.msg[0] ? last.msg : "connection to redis sentinel failed: no sentinel answered");
}

/* Cluster: the current node, else the seeds in order until one answers. */
static int cluster_run(struct rds_client *cl, size_t n, const struct rds_cmd *cmds, int64_t deadline,
		       struct rds_reply **replies, struct em_err *err)
{
	struct rds_cmd withask[RDS_MAX_CMDS + 1];
	struct rds_reply *rep[RDS_MAX_CMDS + 1];

	for (int hop = 0; hop <= RDS_MAX_HOPS; hop++) {
		struct rds_addr to;
		bool ask = false;
		enum node_rc rc = NODE_DOWN;

		if (cl->node) {
			rc = node_run(cl->node, n, cmds, deadline, replies, err);
			if (rc != NODE_OK) {
				em_pool_put(cl->node);
				cl->node = NULL;
				cl->server[0] = '\0';
			}
			/* connected but hung or broke: the next poll starts from the seeds */
			if (rc == NODE_FAILED)
				return -1;
		}
		if (rc != NODE_OK) {
			/* no node yet, or it is down (failover): the seeds in order */
			for (size_t i = 0; i < cl->addrs.n && rc != NODE_OK; i++) {
				struct em_pool *p = node_get(cl, &cl->addrs.a[i], false);
				if (!p)
					return oom(err);
				rc = node_run(p, n, cmds, deadline, replies, err);
				if (rc == NODE_OK)
					set_node(cl, p);
				else
					em_pool_put(p);
			}
			if (rc != NODE_OK)
				return -1;
		}
		if (rds_redirect(replies[0], &ask, &to) != 0)
			return 0;
		free_replies(n, replies);
		if (!to.host[0]) {
			/* the node did not say its address: it is the one we asked */
			const struct rds_node *nd = em_pool_shared(cl->node);
			snprintf(to.host, sizeof(to.host), "%s", nd->addr.host);
		}
		if (!ask) {
			struct em_pool *p = node_get(cl, &to, false);
			if (!p)
				return oom(err);
			set_node(cl, p);
			continue;
		}
		/* ASK: this command only, on that node, after ASKING */
		{
			struct em_pool *p = node_get(cl, &to, false);
			if (!p)
				return oom(err);
			withask[0] = (struct rds_cmd){1, {"ASKING"}};
			memcpy(withask + 1, cmds, n * sizeof(*cmds));
			rc = node_run(p, n + 1, withask, deadline, rep, err);
			em_pool_put(p);
			if (rc != NODE_OK)
				return -1;
			rds_reply_free(rep[0]);
			memcpy(replies, rep + 1, n * sizeof(*replies));
			return 0;
		}
	}
	free_replies(n, replies);
	return em_err_set(err, EM_E_UNAVAILABLE, "redis cluster: more than %d redirects (is the cluster resharding?)",
			  RDS_MAX_HOPS);
}

int rds_client_run(struct rds_client *cl, size_t n, const struct rds_cmd *cmds, int64_t deadline_ms,
		   struct rds_reply **replies, struct em_err *err)
{
	struct rds_addr master;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		replies[i] = NULL;
	if (n == 0 || n > RDS_MAX_CMDS)
		return em_err_set(err, EM_E_INTERNAL, "redis: bad command count");
	pthread_mutex_lock(&cl->mu);
	switch (cl->mode) {
	case RDS_STANDALONE:
		rc = run_at(cl, &cl->addrs.a[0], n, cmds, deadline_ms, replies, err);
		break;
	case RDS_CLUSTER:
		rc = cluster_run(cl, n, cmds, deadline_ms, replies, err);
		break;
	case RDS_SENTINEL:
		/* asked every time: a failover shows at the next poll */
		if (sentinel_master(cl, deadline_ms, &master, err) == 0)
			rc = run_at(cl, &master, n, cmds, deadline_ms, replies, err);
		break;
	}
	pthread_mutex_unlock(&cl->mu);
	if (rc != 0)
		free_replies(n, replies);
	else
		em_sm_count_result(&fam_commands, "ok");
	if (rc != 0)
		em_sm_count_result(&fam_commands, "error");
	return rc;
}

void rds_inst_close(void *vinst)
{
	struct rds_inst *in = vinst;

	if (!in)
		return;
	rds_client_free(in->cl);
	free(in);
}

void *rds_inst_open(const void *cfg, struct em_err *err)
{
	const struct rds_conn_cfg *c = cfg;   /* the config's first member */
	struct rds_inst *in = calloc(1, sizeof(*in));

	if (!in) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	in->cfg = cfg;
	in->cl = rds_client_new(c, c->mode, err);
	if (!in->cl) {
		rds_inst_close(in);
		return NULL;
	}
	return in;
}
