/* mysql.c - the "mysql" scaler: one read-only, server-time-limited query per poll on shared MariaDB/MySQL connections. */
#include "mysql_scaler.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mysql.h>


/* ------------------------------------------------------------------ options */

#define OFF(f) offsetof(struct my_cfg, f)

const struct em_option my_options[] = {
	{.name = "query", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(query),
	 .help = "one SQL statement; the first column of the first row is the value"},
	{.name = "queryValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED | EM_OPT_TARGET, .offset = OFF(queryValue),
	 .help = "HPA target value"},
	{.name = "activationQueryValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_ACTIVATION, .def = "0",
	 .offset = OFF(activationQueryValue),
	 .help = "active when value > activationQueryValue"},
	{.name = "connectionString", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(connectionString),
	 .help = "Go DSN user:password@tcp(host:port)/db?params; replaces host/port/username/password/dbName"},
	{.name = "host", .type = EM_OPT_STRING, .offset = OFF(host),
	 .help = "server host name or address (required without connectionString)"},
	{.name = "port", .type = EM_OPT_STRING, .def = NULL, .offset = OFF(port),
	 .help = "server port (3306 when not given)"},
	{.name = "username", .type = EM_OPT_STRING, .offset = OFF(username),
	 .help = "user name (required without connectionString)"},
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(password),
	 .help = "password (use passwordFromEnv or an auth param)"},
	{.name = "dbName", .type = EM_OPT_STRING, .offset = OFF(dbName),
	 .help = "default database (optional: tables can be qualified in the query)"},
	EM_OPTIONS_END,
};

#undef OFF

static bool empty(const char *s)
{
	return !s || !*s;
}

/* --------------------------------------------------------------- validation */

int my_validate(void *vcfg, struct em_err *err)
{
	struct my_cfg *c = vcfg;
	struct my_target t;
	int rc;

	if (!empty(c->connectionString)) {
		static const char *const names[] = {"host", "port", "username", "password", "dbName"};
		const char *vals[] = {c->host, c->port, c->username, c->password, c->dbName};
		for (size_t i = 0; i < 5; i++)
			if (!empty(vals[i]))
				return em_err_set(err, EM_E_CONFIG,
						  "%s: connectionString replaces host, port, username, password and "
						  "dbName: give one or the other", names[i]);
		rc = my_parse_dsn(c->connectionString, &t, err);
	} else {
		rc = my_target_from_fields(c, &t, err);
	}
	my_target_free(&t);
	return rc;
}

static int my_validate_options(void *cfg, struct em_optdiag *d)
{
	struct em_err err = {0};

	return my_validate(cfg, &err) == 0 ? 0 : em_opt_error_err(d, &err);
}

/* ------------------------------------------------------------------- values */

int my_value_from_text(const char *text, size_t len, bool isnull, const char *column, double *out,
		       struct em_err *err)
{
	char shown[48];
	char *end;
	double v;
	size_t j = 0;

	if (isnull)
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "error inspecting MySQL: sql: Scan error on column index 0, name \"%.64s\": converting "
				  "NULL to float64 is unsupported (the first column is NULL: wrap it in COALESCE(..., 0))",
				  column);
	/* Go's strconv.ParseFloat: decimal text, no spaces, no hex without an exponent */
	if (len > 0 && len < 400 && !memchr(text, '\0', len) && !isspace((unsigned char)text[0]) &&
	    !(len > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))) {
		errno = 0;
		v = strtod(text, &end);
		if (end == text + len) {
			/* NaN, Inf and 1e400 (strtod: HUGE_VAL) are errors, as every scaler's (scaler.h) */
			if (em_value_check(v, EM_VALUE_GAUGE, "error inspecting MySQL: the query's value", err) != 0)
				return -1;
			*out = v;
			return 0;
		}
	}
	for (size_t i = 0; i < len && j + 1 < sizeof(shown) && i < 40; i++)
		shown[j++] = isprint((unsigned char)text[i]) && text[i] != '"' && text[i] != '\\' ? text[i] : '?';
	shown[j] = '\0';
	return em_err_set(err, EM_E_UNAVAILABLE,
			  "error inspecting MySQL: sql: Scan error on column index 0, name \"%.64s\": converting "
			  "driver.Value type []uint8 (\"%s%s\") to a float64: invalid syntax", column, shown,
			  len > 40 ? "..." : "");
}

/* ---------------------------------------------------------------- statements */

int64_t my_statement_timeout_ms(int64_t budget_ms)
{
	int64_t margin = budget_ms / 5;

	margin = margin < 50 ? 50 : margin > 500 ? 500 : margin;
	/* 0 would mean "no limit" to the server */
	return budget_ms - margin >= 1 ? budget_ms - margin : 1;
}

/* The query without trailing semicolons and spaces: it follows FOR. */
static size_t query_len(const char *q)
{
	size_t n = strlen(q);

	while (n > 0 && (isspace((unsigned char)q[n - 1]) || q[n - 1] == ';'))
		n--;
	return n;
}

char *my_statement(bool mariadb, int64_t timeout_ms, const char *query)
{
	struct em_strbuf sb;
	size_t n = query_len(query);

	em_sb_init(&sb);
	if (mariadb)
		em_sb_printf(&sb, "SET STATEMENT tx_read_only=1, max_statement_time=%lld.%03lld, sql_select_limit=1 FOR ",
			     (long long)(timeout_ms / 1000), (long long)(timeout_ms % 1000));
	em_sb_add(&sb, query, n);
	return sb.oom ? (em_sb_free(&sb), NULL) : em_sb_steal(&sb);
}

char *my_mysql_prologue(int64_t timeout_ms)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_printf(&sb, "SET SESSION transaction_read_only = 1, SESSION max_execution_time = %lld, "
		     "SESSION sql_select_limit = 1", (long long)timeout_ms);
	return sb.oom ? (em_sb_free(&sb), NULL) : em_sb_steal(&sb);
}

/* --------------------------------------------------------------- connections */

struct my_conn {
	MYSQL *m;
	bool mariadb;
};

static void conn_close(void *vc)
{
	struct my_conn *c = vc;

	if (!c)
		return;
	if (c->m) {
		/* An abandoned operation leaves the protocol mid-way: shut the
		 * socket first so that closing never waits on the server. */
		int fd = (int)mysql_get_socket(c->m);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
		mysql_close(c->m);
	}
	free(c);
}

static void *target_new(const void *arg)
{
	const struct my_target *src = arg;
	struct my_target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = *src;
	t->user = src->user ? strdup(src->user) : NULL;
	t->password = src->password ? strdup(src->password) : NULL;
	t->db = src->db ? strdup(src->db) : NULL;
	t->host = src->host ? strdup(src->host) : NULL;
	t->socket = src->socket ? strdup(src->socket) : NULL;
	t->charset = src->charset ? strdup(src->charset) : NULL;
	t->set_vars = src->set_vars ? strdup(src->set_vars) : NULL;
	if ((src->user && !t->user) || (src->password && !t->password) || (src->db && !t->db) ||
	    (src->host && !t->host) || (src->socket && !t->socket) || (src->charset && !t->charset) ||
	    (src->set_vars && !t->set_vars)) {
		my_target_free(t);
		free(t);
		return NULL;
	}
	return t;
}

static void target_free(void *v)
{
	my_target_free(v);
	free(v);
}

static const struct em_pool_ops my_pool_ops = {
	.kind = "mysql",
	.close = conn_close,
	.shared_new = target_new,
	.shared_free = target_free,
};

/* Waits for what libmariadb asked (MYSQL_WAIT_*) until the deadline: the
 * ready events for the _cont call, 0 when the deadline passed, -1 on error. */
static int wait_ready(MYSQL *m, int status, int64_t deadline)
{
	struct pollfd pfd = {.fd = (int)mysql_get_socket(m)};
	int64_t left = deadline - em_mono_ms();
	int rc, ready = 0;

	if (left <= 0)
		return 0;
	if (status & MYSQL_WAIT_READ)
		pfd.events |= POLLIN;
	if (status & MYSQL_WAIT_WRITE)
		pfd.events |= POLLOUT;
	if (status & MYSQL_WAIT_EXCEPT)
		pfd.events |= POLLPRI;
	if (status & MYSQL_WAIT_TIMEOUT) {
		int64_t own = (int64_t)mysql_get_timeout_value_ms(m);
		if (own < left)
			left = own;
	}
	do
		rc = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -1;
	if (rc == 0)   /* ours, or libmariadb's own timeout */
		return em_mono_ms() >= deadline ? 0 : MYSQL_WAIT_TIMEOUT;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
		ready |= MYSQL_WAIT_READ;
	if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
		ready |= MYSQL_WAIT_WRITE;
	if (pfd.revents & POLLPRI)
		ready |= MYSQL_WAIT_EXCEPT;
	return ready;
}

/* One non-blocking call: start's status, then cont(ready) until done. 0
 * done, 1 the deadline passed mid-way (the connection must be closed:
 * mysql_close is the one call allowed after abandoning an operation). */
struct nb_op {
	MYSQL *m;
	int iret;
	MYSQL *cret;
	MYSQL_RES *res;
};

enum nb_kind { NB_CONNECT, NB_QUERY, NB_STORE };

static int nb_cont(struct nb_op *op, enum nb_kind k, int ready)
{
	switch (k) {
	case NB_CONNECT: return mysql_real_connect_cont(&op->cret, op->m, ready);
	case NB_QUERY: return mysql_real_query_cont(&op->iret, op->m, ready);
	default: return mysql_store_result_cont(&op->res, op->m, ready);
	}
}

static int nb_drive(struct nb_op *op, enum nb_kind k, int status, int64_t deadline)
{
	while (status) {
		int ready = wait_ready(op->m, status, deadline);
		if (ready <= 0)
			return 1;
		status = nb_cont(op, k, ready);
	}
	return 0;
}

/* Reads a statement's whole result (the poll's is one row at most:
 * sql_select_limit=1). 0 with *res (NULL: no result set), 1 deadline. */
static int nb_store(struct my_conn *c, MYSQL_RES **res, int64_t deadline)
{
	struct nb_op op = {.m = c->m};

	*res = NULL;
	if (nb_drive(&op, NB_STORE, mysql_store_result_start(&op.res, c->m), deadline))
		return 1;
	*res = op.res;
	return 0;
}

static int nb_query(struct my_conn *c, const char *sql, int64_t deadline)
{
	struct nb_op op = {.m = c->m};

	if (nb_drive(&op, NB_QUERY, mysql_real_query_start(&op.iret, c->m, sql, strlen(sql)), deadline))
		return 1;
	return op.iret ? -1 : 0;
}

/* go-sql-driver's format of a server error: "Error 1146 (42S02): Table ... doesn't exist". */
static void server_error(MYSQL *m, char *out, size_t cap)
{
	snprintf(out, cap, "Error %u (%s): %s", mysql_errno(m), mysql_sqlstate(m), mysql_error(m));
}

static struct em_sm_family fam_connects =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_mysql_connects_total", "Connection attempts to MySQL/MariaDB by result.");
static struct em_sm_family fam_queries =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_mysql_queries_total", "Scaler queries run on MySQL/MariaDB by result.");

/* Runs a statement that returns no rows; drains a result it does return. */
static int run_plain(struct my_conn *c, const char *sql, int64_t deadline, char *msg, size_t cap)
{
	int rc = nb_query(c, sql, deadline);
	MYSQL_RES *res;

	if (rc == 1) {
		snprintf(msg, cap, "no answer in time");
		return 1;
	}
	if (rc < 0) {
		server_error(c->m, msg, cap);
		return -1;
	}
	if (mysql_field_count(c->m) == 0)
		return 0;
	if (nb_store(c, &res, deadline))
		return 1;
	mysql_free_result(res);
	return 0;
}

static struct my_conn *my_connect(const struct my_target *t, int64_t deadline, char *msg, size_t cap)
{
	struct my_conn *c = calloc(1, sizeof(*c));
	struct nb_op op = {0};
	unsigned int proto = t->socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP, zero = 0;
	my_bool on = 1, off = 0;

	if (!c || !(c->m = mysql_init(NULL))) {
		snprintf(msg, cap, "out of memory");
		free(c);
		return NULL;
	}
	op.m = c->m;
	mysql_options(c->m, MYSQL_OPT_NONBLOCK, 0);
	mysql_options(c->m, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(c->m, MYSQL_OPT_LOCAL_INFILE, &zero);
	mysql_options(c->m, MYSQL_SET_CHARSET_NAME, t->charset ? t->charset : "utf8mb4");
	if (t->cleartext)
		mysql_options(c->m, MYSQL_ENABLE_CLEARTEXT_PLUGIN, &on);
	if (t->tls == MY_TLS_PREFERRED)
		/* a cipher list asks for TLS without requiring it (libmariadb) */
		mysql_ssl_set(c->m, NULL, NULL, NULL, NULL, "DEFAULT");
	else if (t->tls != MY_TLS_OFF)
		mysql_options(c->m, MYSQL_OPT_SSL_ENFORCE, &on);
	if (t->tls != MY_TLS_OFF)
		mysql_options(c->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, t->tls == MY_TLS_VERIFY ? &on : &off);
	if (nb_drive(&op, NB_CONNECT,
		     mysql_real_connect_start(&op.cret, c->m, t->host, t->user, t->password, t->db, t->port, t->socket,
					      0),
		     deadline)) {
		if (t->socket)
			snprintf(msg, cap, "dial unix %s: i/o timeout (no answer in time)", t->socket);
		else
			snprintf(msg, cap, strchr(t->host, ':') ? "dial tcp [%s]:%u: i/o timeout (no answer in time)"
								: "dial tcp %s:%u: i/o timeout (no answer in time)", t->host, t->port);
		goto out;
	}
	if (!op.cret) {
		server_error(c->m, msg, cap);
		goto out;
	}
	/* libmariadb 3.3 connects in plain text when the server has no TLS,
	 * unless it verifies the certificate: tls=skip-verify must not. */
	if ((t->tls == MY_TLS_VERIFY || t->tls == MY_TLS_SKIP_VERIFY) && !mysql_get_ssl_cipher(c->m)) {
		snprintf(msg, cap, "TLS requested but server does not support TLS");
		goto out;
	}
	c->mariadb = strstr(mysql_get_server_info(c->m), "MariaDB") != NULL;
	if (t->set_vars) {
		char *sql = malloc(strlen(t->set_vars) + 16);
		int rc;
		if (!sql) {
			snprintf(msg, cap, "out of memory");
			goto out;
		}
		snprintf(sql, strlen(t->set_vars) + 16, "SET SESSION %s", t->set_vars);
		rc = run_plain(c, sql, deadline, msg, cap);
		em_free_secret(sql);
		if (rc != 0)
			goto out;
	}
	/* every transaction of this session, implicit ones included, read-only */
	if (run_plain(c, "SET SESSION TRANSACTION READ ONLY", deadline, msg, cap) != 0)
		goto out;
	return c;
out:
	conn_close(c);
	return NULL;
}

/* Outcome of one poll's statement. */
enum run_rc {
	RUN_OK = 0,
	RUN_SQL_ERROR,   /* the server refused or failed it, or the value is unusable; connection fine */
	RUN_CONN_LOST,   /* the connection broke */
	RUN_TIMEOUT,     /* the deadline passed */
};

static bool conn_error(unsigned e)
{
	/* client-side errors (2000-2999): the connection, not the statement */
	return e >= 2000 && e < 3000;
}

/* The poll's statement and its first row, first column. *drop: the
 * connection's state is unknown (close it). */
static enum run_rc query_once(struct my_conn *c, const char *query, int64_t deadline, double *value, bool *drop,
			      struct em_err *err)
{
	int64_t budget = deadline - em_mono_ms(), tmo;
	char *sql = NULL, msg[EM_ERR_MSG_MAX - 64];
	MYSQL_RES *res = NULL;
	enum run_rc rc = RUN_OK;
	int q;

	*drop = false;
	if (budget <= 0)
		return RUN_TIMEOUT;
	tmo = my_statement_timeout_ms(budget);
	if (!c->mariadb) {
		char *pro = my_mysql_prologue(tmo);
		int pr = pro ? run_plain(c, pro, deadline, msg, sizeof(msg)) : -1;
		free(pro);
		if (pr == 1)
			return RUN_TIMEOUT;
		if (pr < 0) {
			em_err_set(err, EM_E_UNAVAILABLE, "error inspecting MySQL: %s", msg);
			*drop = true;
			return RUN_CONN_LOST;
		}
	}
	sql = my_statement(c->mariadb, tmo, query);
	if (!sql) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return RUN_SQL_ERROR;
	}
	q = nb_query(c, sql, deadline);
	free(sql);
	if (q == 1)
		return RUN_TIMEOUT;
	if (q < 0) {
		server_error(c->m, msg, sizeof(msg));
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting MySQL: %s", msg);
		return conn_error(mysql_errno(c->m)) ? RUN_CONN_LOST : RUN_SQL_ERROR;
	}
	if (mysql_field_count(c->m) == 0) {
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting MySQL: sql: no rows in result set (the statement "
			   "returned no result set; the query must be a SELECT)");
		rc = RUN_SQL_ERROR;
	} else if (nb_store(c, &res, deadline)) {
		*drop = true;
		return RUN_TIMEOUT;   /* abandoned with the connection */
	} else if (!res) {
		server_error(c->m, msg, sizeof(msg));
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting MySQL: %s", msg);
		rc = conn_error(mysql_errno(c->m)) ? RUN_CONN_LOST : RUN_SQL_ERROR;
	} else {
		MYSQL_ROW row = mysql_fetch_row(res);   /* stored: no I/O */
		if (!row) {
			em_err_set(err, EM_E_UNAVAILABLE, "error inspecting MySQL: sql: no rows in result set");
			rc = RUN_SQL_ERROR;
		} else {
			unsigned long *lens = mysql_fetch_lengths(res);
			MYSQL_FIELD *f = mysql_fetch_field_direct(res, 0);
			if (my_value_from_text(row[0], lens ? lens[0] : 0, row[0] == NULL, f ? f->name : "?", value,
					       err) != 0)
				rc = RUN_SQL_ERROR;
		}
		mysql_free_result(res);
	}
	if (rc == RUN_CONN_LOST) {
		*drop = true;
		return rc;
	}
	/* a procedure's further results, or a transaction the query opened: the
	 * connection is not as the next poll needs it unless cleaned up */
	if (mysql_more_results(c->m)) {
		*drop = true;
		return rc;
	}
	if (c->m->server_status & SERVER_STATUS_IN_TRANS) {
		int r = run_plain(c, "ROLLBACK", deadline, msg, sizeof(msg));
		if (r != 0)
			*drop = true;
	}
	return rc;
}

/* ------------------------------------------------------------------ instance */

struct my_inst {
	const struct my_cfg *cfg;
	struct em_pool *pool;
};

static atomic_int open_insts;   /* while any is open, libmariadb stays set up */

/* libmariadb's set-up, which mysql_init would otherwise do on the first
 * connect, on a poller thread: it must not race (libmariadb asks for it
 * before any thread starts). */
static int my_global_init(struct em_err *err)
{
	if (mysql_library_init(0, NULL, NULL) != 0)
		return em_err_set(err, EM_E_INTERNAL, "libmariadb could not be initialised");
	return 0;
}

static void my_global_cleanup(void)
{
	if (atomic_load(&open_insts) == 0)   /* a fetch stuck at shutdown may still use it */
		mysql_library_end();
}

static void my_close(void *vinst)
{
	struct my_inst *in = vinst;

	if (!in)
		return;
	em_pool_put(in->pool);
	free(in);
	atomic_fetch_sub(&open_insts, 1);
}

static void *my_open(const void *vcfg, struct em_err *err)
{
	const struct my_cfg *c = vcfg;
	struct my_inst *in = calloc(1, sizeof(*in));
	struct my_target t;
	char *key = NULL;

	if (!in) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	in->cfg = c;
	if ((!empty(c->connectionString) ? my_parse_dsn(c->connectionString, &t, err)
					 : my_target_from_fields(c, &t, err)) != 0) {
		free(in);
		return NULL;
	}
	key = my_target_key(&t);
	in->pool = key ? em_pool_get(&my_pool_ops, key, &t) : NULL;
	em_free_secret(key);
	my_target_free(&t);
	if (!in->pool) {
		free(in);
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	atomic_fetch_add(&open_insts, 1);
	return in;
}

/* The password is never in libmariadb's or the server's messages; this is
 * the second line of defence for one read from a connectionString (the core
 * scrubs whole option values). */
static void scrub(const struct my_target *t, char *msg, size_t cap)
{
	const char *secrets[1] = {t->password};

	if (t->password)
		em_scrub(msg, cap, secrets, 1);
}

static int my_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct my_inst *in = vinst;
	const struct my_target *t = em_pool_shared(in->pool);
	int64_t tmo = ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000;
	int64_t deadline = em_mono_ms() + tmo;
	double value = 0;
	enum run_rc rc = RUN_CONN_LOST;
	void *vc = NULL;
	struct my_conn *c;
	char msg[EM_ERR_MSG_MAX - 96];
	int slot;

	memset(out, 0, sizeof(*out));
	slot = em_pool_acquire(in->pool, deadline, &vc, err);
	if (slot < 0) {
		em_err_prefix(err, "error inspecting MySQL");
		return -1;
	}
	c = vc;
	/* A reused connection may have died since the last poll (server
	 * restart): then one retry on a fresh one, the statement being read-only. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false, drop = false;

		if (!c) {
			int64_t wait_ms;
			char last[256];
			if (em_pool_may_connect(in->pool, last, sizeof(last), &wait_ms) != 0) {
				em_err_set(err, EM_E_UNAVAILABLE,
					   "error establishing MySQL connection: %s (next attempt in %lld ms)", last,
					   (long long)wait_ms);
				em_pool_connected(in->pool, slot);
				break;
			}
			c = my_connect(t, deadline, msg, sizeof(msg));
			em_pool_connected(in->pool, slot);
			scrub(t, msg, sizeof(msg));
			em_pool_connect_result(in->pool, c ? NULL : msg);
			em_sm_count_result(&fam_connects, c ? "ok" : "error");
			if (!c) {
				em_err_set(err, EM_E_UNAVAILABLE, "error establishing MySQL connection: %s", msg);
				break;
			}
			fresh = true;
		}
		em_err_clear(err);
		rc = query_once(c, in->cfg->query, deadline, &value, &drop, err);
		if (drop || rc == RUN_TIMEOUT || rc == RUN_CONN_LOST) {
			conn_close(c);
			c = NULL;
		}
		if (rc == RUN_OK || rc == RUN_SQL_ERROR)
			break;
		if (rc == RUN_TIMEOUT) {
			em_err_set(err, EM_E_UNAVAILABLE,
				   "error inspecting MySQL: no answer within %lld ms (max_statement_time); connection closed",
				   (long long)tmo);
			break;
		}
		if (fresh || em_mono_ms() >= deadline)
			break;
	}
	em_sm_count_result(&fam_queries, rc == RUN_OK ? "ok" : rc == RUN_TIMEOUT ? "timeout" : "error");
	em_pool_release(in->pool, slot, c);
	if (rc != RUN_OK) {
		scrub(t, err->msg, sizeof(err->msg));
		return -1;
	}
	out->value = value;
	out->active = value > in->cfg->activationQueryValue;
	return 0;
}

const struct em_scaler em_scaler_mysql = {
	.type = "mysql",
	.options = my_options,
	.config_size = sizeof(struct my_cfg),
	.summary = "SQL query on MySQL or MariaDB, read-only and time-limited by the server, on shared connections",
	.global_init = my_global_init,
	.global_cleanup = my_global_cleanup,
	.validate = my_validate_options,
	.open = my_open,
	.fetch = my_fetch,
	.close = my_close,
};
