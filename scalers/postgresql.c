/* postgresql.c - the "postgresql" scaler: one read-only, time-limited query per poll on shared libpq connections. */
#include "scaler.h"
#include "postgresql.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* ------------------------------------------------------------------ options */

static const char *const sslmode_choices[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full",
					      NULL};

#define OFF(f) offsetof(struct em_pg_cfg, f)

const struct em_option em_pg_options[] = {
	{.name = "query", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(query),
	 .help = "one SQL statement; the first column of the first row is the value"},
	{.name = "targetQueryValue", .type = EM_OPT_FLOAT, .flags = EM_OPT_TARGET, .offset = OFF(targetQueryValue),
	 .help = "HPA target value (required, non-zero)"},
	{.name = "activationTargetQueryValue", .type = EM_OPT_FLOAT, .def = "0", .flags = EM_OPT_ACTIVATION,
	 .offset = OFF(activationTargetQueryValue),
	 .help = "active when value > activationTargetQueryValue"},
	{.name = "connection", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(connection),
	 .help = "libpq connection string or URI; replaces host/port/userName/dbName/sslmode/password"},
	{.name = "host", .type = EM_OPT_STRING, .offset = OFF(host),
	 .help = "server host name or address"},
	{.name = "port", .type = EM_OPT_STRING, .offset = OFF(port),
	 .help = "server port"},
	{.name = "userName", .type = EM_OPT_STRING, .offset = OFF(userName),
	 .help = "user name"},
	{.name = "dbName", .type = EM_OPT_STRING, .offset = OFF(dbName),
	 .help = "database name"},
	{.name = "sslmode", .type = EM_OPT_ENUM, .choices = sslmode_choices, .offset = OFF(sslmode),
	 .help = "disable, allow, prefer, require, verify-ca or verify-full"},
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = OFF(password),
	 .help = "password (use passwordFromEnv or an auth param)"},
	EM_OPTIONS_END,
};

#undef OFF

static bool empty(const char *s)
{
	return !s || !*s;
}

int em_pg_validate(void *vcfg, struct em_optdiag *d)
{
	struct em_pg_cfg *c = vcfg;
	struct em_err err = {0};
	int before = d->errors;

	/* KEDA: a zero target is "not given" (the HPA cannot divide by it). */
	if (c->targetQueryValue == 0)
		em_opt_error(d, "targetQueryValue", "no targetQueryValue given");
	if (!empty(c->connection)) {
		if (em_pg_check_connection(c->connection, &err) != 0)
			em_opt_error(d, "connection", "%s", err.msg + strlen("connection: "));
		return d->errors > before ? -1 : 0;
	}
	if (empty(c->host))
		em_opt_error(d, "host", "no host given");
	if (empty(c->port)) {
		em_opt_error(d, "port", "no port given");
	} else {
		char *end;
		long p = strtol(c->port, &end, 10);
		if (end == c->port || *end != '\0' || p < 1 || p > 65535)
			em_opt_error(d, "port", "must be a number from 1 to 65535, got \"%s\"", c->port);
	}
	if (empty(c->userName))
		em_opt_error(d, "userName", "no userName given");
	if (empty(c->dbName))
		em_opt_error(d, "dbName", "no dbName given");
	if (empty(c->sslmode))
		em_opt_error(d, "sslmode", "no sslmode given");
	return d->errors > before ? -1 : 0;
}

/* ------------------------------------------------------- connection strings */

/* libpq's URI prefixes (case-sensitive, as libpq compares them). */
static size_t uri_prefix_len(const char *s)
{
	if (strncmp(s, "postgresql://", 13) == 0)
		return 13;
	if (strncmp(s, "postgres://", 11) == 0)
		return 11;
	return 0;
}

/* Frees what PQconninfoParse returned, wiping every value first: the
 * password is among them. */
static void conninfo_free(PQconninfoOption *opts)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (o->val)
			em_wipe(o->val, strlen(o->val));
	PQconninfoFree(opts);
}

static const char *conninfo_get(const PQconninfoOption *opts, const char *kw)
{
	for (const PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, kw) == 0)
			return o->val;
	return NULL;
}

/* Where libpq's reading of a URI differs from what was meant: it takes the
 * user info up to the FIRST '@' and only when no '/' comes before it, so
 * "u:p@ss@h" gives host "ss@h" and "u:12/x@h" gives host "u", port "12".
 * Reserved characters in the user name and password must be %-encoded. */
static bool uri_userinfo_ambiguous(const char *uri)
{
	const char *p = uri + uri_prefix_len(uri);
	size_t n = strcspn(p, "?");
	const char *at = memchr(p, '@', n);

	if (!at)
		return false;
	if (memchr(p, '/', (size_t)(at - p)))
		return true;
	return memchr(at + 1, '@', n - (size_t)(at - p) - 1) != NULL;
}

/* A port list as libpq takes it: numbers separated by commas (empty: default). */
static bool ports_ok(const char *s)
{
	for (; s && *s; s++)
		if (!isdigit((unsigned char)*s) && *s != ',')
			return false;
	return true;
}

int em_pg_check_connection(const char *conn, struct em_err *err)
{
	/* pgx's wording (KEDA): "failed to parse as URL" / "as keyword/value". */
	static const char uri_msg[] =
		"connection: invalid connection string: failed to parse as URL (percent-encode reserved characters "
		"such as @ : / ? % and spaces in the user name and password, e.g. @ as %40; the string is not "
		"shown because it may hold a password)";
	static const char kv_msg[] =
		"connection: invalid connection string: failed to parse as keyword/value (write key=value pairs "
		"separated by spaces, with values holding spaces or quotes in single quotes and \\' or \\\\ "
		"escaped, or a postgresql:// URI; the string is not shown because it may hold a password)";
	bool uri = uri_prefix_len(conn) > 0;
	char *perr = NULL;
	PQconninfoOption *opts;
	const char *v;
	int rc = 0;

	opts = PQconninfoParse(conn, &perr);
	/* libpq's message quotes the offending part of the string. */
	if (perr) {
		em_wipe(perr, strlen(perr));
		PQfreemem(perr);
	}
	if (!opts)
		return em_err_set(err, EM_E_CONFIG, "%s", uri ? uri_msg : kv_msg);
	if (uri && uri_userinfo_ambiguous(conn))
		rc = em_err_set(err, EM_E_CONFIG, "%s", uri_msg);
	else if (!ports_ok(conninfo_get(opts, "port")))
		rc = em_err_set(err, EM_E_CONFIG, "%s", uri ? uri_msg :
				"connection: invalid connection string: the port is not a number (the string is not "
				"shown because it may hold a password)");
	else if ((v = conninfo_get(opts, "dbname")) && (uri_prefix_len(v) || strchr(v, '=')))
		/* libpq expands only the outer string: this one would go to the
		 * server as a database name, and back in its error message. */
		rc = em_err_set(err, EM_E_CONFIG,
				"connection: invalid connection string: dbname holds a connection string (give one "
				"connection string; the string is not shown because it may hold a password)");
	conninfo_free(opts);
	return rc;
}

char *em_pg_conninfo_password(const char *conninfo)
{
	char *perr = NULL, *pw = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	const char *v;

	if (perr) {
		em_wipe(perr, strlen(perr));
		PQfreemem(perr);
	}
	v = conninfo_get(opts, "password");
	if (v && *v)
		pw = strdup(v);
	conninfo_free(opts);
	return pw;
}

/* ------------------------------------------------------------- pure helpers */

void em_pg_conninfo_add(struct em_strbuf *sb, const char *key, const char *value)
{
	bool quote = !*value;

	for (const char *p = value; *p && !quote; p++)
		if (isspace((unsigned char)*p) || *p == '\'' || *p == '\\')
			quote = true;
	if (sb->len > 0)
		em_sb_puts(sb, " ");
	em_sb_puts(sb, key);
	em_sb_puts(sb, "=");
	if (!quote) {
		em_sb_puts(sb, value);
		return;
	}
	em_sb_puts(sb, "'");
	for (const char *p = value; *p; p++) {
		if (*p == '\'' || *p == '\\')
			em_sb_puts(sb, "\\");
		em_sb_add(sb, p, 1);
	}
	em_sb_puts(sb, "'");
}

char *em_pg_build_conninfo(const struct em_pg_cfg *c)
{
	struct em_strbuf sb;

	if (!empty(c->connection))
		return strdup(c->connection);
	em_sb_init(&sb);
	em_pg_conninfo_add(&sb, "host", c->host ? c->host : "");
	em_pg_conninfo_add(&sb, "port", c->port ? c->port : "");
	em_pg_conninfo_add(&sb, "user", c->userName ? c->userName : "");
	em_pg_conninfo_add(&sb, "dbname", c->dbName ? c->dbName : "");
	em_pg_conninfo_add(&sb, "sslmode", c->sslmode ? c->sslmode : "");
	/* Without a password libpq falls back to PGPASSWORD / .pgpass. */
	if (!empty(c->password))
		em_pg_conninfo_add(&sb, "password", c->password);
	if (sb.oom) {
		em_sb_free(&sb);
		return NULL;
	}
	return em_sb_steal(&sb);
}

/* Names of common result types for messages (pg_type OIDs are fixed). */
static const char *type_name(unsigned oid)
{
	switch (oid) {
	case 16: return "boolean";
	case 17: return "bytea";
	case 25: return "text";
	case 114: return "json";
	case 1043: return "varchar";
	case 1082: return "date";
	case 1114: return "timestamp";
	case 1184: return "timestamptz";
	case 1186: return "interval";
	case 3802: return "jsonb";
	default: return NULL;
	}
}

int em_pg_value_from_text(const char *text, bool isnull, unsigned type_oid, double *out, struct em_err *err)
{
	const char *tn = type_name(type_oid);
	char ex[EM_EXCERPT_BUF];
	size_t n;
	double v;

	if (isnull)
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "error inspecting postgreSQL: could not query postgreSQL: can't scan into dest[0]: "
				  "cannot scan NULL into *float64 (the first column is NULL: wrap it in COALESCE(..., 0))");
	/* char(n) pads with spaces; PostgreSQL prints numbers in decimal */
	n = strlen(text);
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	if (em_number_parse(text, n, &v) != 0) {
		em_excerpt(ex, sizeof(ex), text, strlen(text), 40);
		if (tn)
			return em_err_set(err, EM_E_UNAVAILABLE,
					  "error inspecting postgreSQL: could not query postgreSQL: can't scan into dest[0]: "
					  "cannot convert \"%s\" (%s) to float64", ex, tn);
		return em_err_set(err, EM_E_UNAVAILABLE,
				  "error inspecting postgreSQL: could not query postgreSQL: can't scan into dest[0]: "
				  "cannot convert \"%s\" (type OID %u) to float64", ex, type_oid);
	}
	/* NaN and Infinity of float and numeric columns, and absurd sizes, are
	 * errors: never served (KEDA would turn them into garbage) */
	if (em_value_check(v, EM_VALUE_GAUGE, "error inspecting postgreSQL: the query's value", err) != 0)
		return -1;
	*out = v;
	return 0;
}

int64_t em_pg_statement_timeout_ms(int64_t budget_ms)
{
	int64_t margin = budget_ms / 5;

	if (margin < 50)
		margin = 50;
	if (margin > 500)
		margin = 500;
	/* 0 would mean "no timeout" to PostgreSQL */
	return budget_ms - margin >= 1 ? budget_ms - margin : 1;
}

void em_pg_one_line(const char *in, char *out, size_t cap)
{
	size_t j = 0;
	bool space = false;
	char *whole;

	if (cap == 0)
		return;
	out[0] = '\0';
	/* scrubbed of the secrets in scope while whole, before the cut */
	whole = strdup(in ? in : "");
	if (!whole)
		return;
	em_scrub_scoped(whole, strlen(whole) + 1);
	for (const char *p = whole; *p && j + 1 < cap; p++) {
		if ((unsigned char)*p < 0x20 || *p == ' ' || *p == 0x7f) {
			space = true;
			continue;
		}
		if (space && j > 0) {
			if (j + 2 >= cap)
				break;
			out[j++] = ' ';
		}
		space = false;
		out[j++] = *p;
	}
	out[j] = '\0';
	em_free_secret(whole);
}

/* --------------------------------------------------------------------- I/O */

/* Waits until the connection's socket is ready (events) or the deadline.
 * 1 ready, 0 deadline passed, -1 error. */
static int wait_socket(PGconn *conn, short events, int64_t deadline)
{
	return em_pool_wait_fd(PQsocket(conn), events, deadline);
}

/* ------------------------------------------------------------------- pool */

/* What the connections to one target (one connection string) share; the
 * slots, waits and back-off are em_pool's. */
struct pg_target {
	char *conninfo;             /* holds the password */
	char *password;             /* as libpq reads it from conninfo, scrubbed from messages; may be NULL */
};

static void *target_new(const void *arg)
{
	struct pg_target *t = calloc(1, sizeof(*t));

	if (t && !(t->conninfo = strdup(arg))) {
		free(t);
		return NULL;
	}
	/* NULL also when there is none: scrubbing is then a no-op */
	if (t)
		t->password = em_pg_conninfo_password(t->conninfo);
	return t;
}

static void target_free(void *p)
{
	struct pg_target *t = p;

	em_free_secret(t->conninfo);
	em_free_secret(t->password);
	free(t);
}

static void conn_close(void *conn)
{
	PQfinish(conn);
}

static const struct em_pool_ops pg_pool_ops = {
	.kind = "postgresql",
	.close = conn_close,
	.shared_new = target_new,
	.shared_free = target_free,
};

static struct em_sm_family fam_connects =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_postgresql_connects_total", "Connection attempts to PostgreSQL by result.");
static struct em_sm_family fam_queries =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_postgresql_queries_total", "Scaler queries run on PostgreSQL by result.");

/* Opens a connection without blocking past the deadline (libpq's async
 * connect; connect_timeout in the string is superseded by the deadline). */
static PGconn *pg_connect(struct em_pool *pool, int64_t deadline, struct em_err *err)
{
	static const char *const kw[] = {"dbname", "fallback_application_name", NULL};
	const struct pg_target *t = em_pool_shared(pool);
	const char *vals[] = {t->conninfo, "extmetrics", NULL};
	PGconn *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char msg[256];
	int64_t wait_ms;

	if (em_pool_may_connect(pool, msg, sizeof(msg), &wait_ms) != 0) {
		em_err_set(err, EM_E_UNAVAILABLE,
			   "error establishing postgreSQL connection: %s (next attempt in %lld ms)", msg,
			   (long long)wait_ms);
		return NULL;
	}

	/* Host names are resolved inside these calls (blocking getaddrinfo). */
	conn = PQconnectStartParams(kw, vals, 1);
	if (!conn) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		int w = wait_socket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (w == 0) {
			snprintf(msg, sizeof(msg), "timed out connecting to the server");
			goto out;
		}
		if (w < 0)
			break;
		st = PQconnectPoll(conn);
	}
	if (st != PGRES_POLLING_OK || PQstatus(conn) != CONNECTION_OK) {
		em_pg_one_line(PQerrorMessage(conn), msg, sizeof(msg));
		if (!msg[0])
			snprintf(msg, sizeof(msg), "connection failed");
		goto out;
	}
	if (PQsetnonblocking(conn, 1) != 0) {
		em_pg_one_line(PQerrorMessage(conn), msg, sizeof(msg));
		goto out;
	}
	em_pool_connect_result(pool, NULL);
	em_sm_count_result(&fam_connects, "ok");
	return conn;
out:
	PQfinish(conn);
	em_pool_connect_result(pool, msg);
	em_sm_count_result(&fam_connects, "error");
	em_err_set(err, EM_E_UNAVAILABLE, "error establishing postgreSQL connection: %s", msg);
	return NULL;
}

/* Outcome of one statement round trip. */
enum run_rc {
	RUN_OK = 0,
	RUN_SQL_ERROR,   /* the server refused or failed the statement; connection usable */
	RUN_CONN_LOST,   /* the connection broke */
	RUN_TIMEOUT,     /* the deadline passed with the statement in flight */
};

/* Sends sql (extended protocol when single: exactly one statement) and
 * collects its results until the deadline. On RUN_OK *res holds the last
 * result (caller clears); on RUN_SQL_ERROR msg holds the server's error. */
static enum run_rc run(PGconn *conn, const char *sql, bool single, int64_t deadline, PGresult **res, char *msg,
		       size_t cap)
{
	PGresult *last = NULL, *r;
	enum run_rc rc = RUN_OK;
	int sent = single ? PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0) : PQsendQuery(conn, sql);

	*res = NULL;
	msg[0] = '\0';
	if (!sent) {
		em_pg_one_line(PQerrorMessage(conn), msg, cap);
		return PQstatus(conn) == CONNECTION_BAD ? RUN_CONN_LOST : RUN_SQL_ERROR;
	}
	for (;;) {
		int f = PQflush(conn);
		if (f == 0)
			break;
		if (f < 0 || wait_socket(conn, POLLOUT | POLLIN, deadline) <= 0) {
			em_pg_one_line(PQerrorMessage(conn), msg, cap);
			return f < 0 ? RUN_CONN_LOST : RUN_TIMEOUT;
		}
		if (PQconsumeInput(conn) == 0) {
			em_pg_one_line(PQerrorMessage(conn), msg, cap);
			return RUN_CONN_LOST;
		}
	}
	for (;;) {
		while (!PQisBusy(conn)) {
			r = PQgetResult(conn);
			if (!r)
				goto out;
			switch (PQresultStatus(r)) {
			case PGRES_FATAL_ERROR: {
				const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
				const char *pm = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
				const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				/* pgx's format, as KEDA prints it: "ERROR: msg (SQLSTATE x)" */
				if (rc == RUN_OK) {
					if (pm)
						snprintf(msg, cap, "%s: %s (SQLSTATE %s)", sev ? sev : "ERROR", pm,
							 state ? state : "?");
					else
						em_pg_one_line(PQresultErrorMessage(r), msg, cap);
				}
				rc = RUN_SQL_ERROR;
				PQclear(r);
				break;
			}
			default:
				PQclear(last);
				last = r;
				break;
			}
		}
		if (wait_socket(conn, POLLIN, deadline) <= 0) {
			PQclear(last);
			return RUN_TIMEOUT;
		}
		if (PQconsumeInput(conn) == 0) {
			em_pg_one_line(PQerrorMessage(conn), msg, cap);
			PQclear(last);
			return RUN_CONN_LOST;
		}
	}
out:
	if (PQstatus(conn) == CONNECTION_BAD) {
		if (!msg[0])
			em_pg_one_line(PQerrorMessage(conn), msg, cap);
		PQclear(last);
		return RUN_CONN_LOST;
	}
	if (rc != RUN_OK) {
		PQclear(last);
		return rc;
	}
	*res = last;
	return RUN_OK;
}

/* One transaction: BEGIN READ ONLY + statement_timeout, the query, ROLLBACK.
 * The query goes through the extended protocol, which takes exactly one
 * statement, so it cannot COMMIT and then write in a second statement.
 * *drop is set when the connection is no longer usable. */
static enum run_rc query_once(PGconn *conn, const char *query, int64_t deadline, double *value, bool *drop,
			      struct em_err *err)
{
	char sql[96], msg[EM_ERR_MSG_MAX - 64];
	PGresult *res = NULL;
	enum run_rc rc;
	int64_t budget = deadline - em_mono_ms();

	*drop = false;
	if (budget <= 0)
		return RUN_TIMEOUT;
	snprintf(sql, sizeof(sql), "BEGIN READ ONLY; SET LOCAL statement_timeout = %lld",
		 (long long)em_pg_statement_timeout_ms(budget));
	rc = run(conn, sql, false, deadline, &res, msg, sizeof(msg));
	PQclear(res);
	res = NULL;
	if (rc == RUN_OK)
		rc = run(conn, query, true, deadline, &res, msg, sizeof(msg));

	if (rc == RUN_OK) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			em_err_set(err, EM_E_UNAVAILABLE,
				   "error inspecting postgreSQL: could not query postgreSQL: the statement returned no rows "
				   "(status %s); the query must be a SELECT", PQresStatus(PQresultStatus(res)));
			rc = RUN_SQL_ERROR;
		} else if (PQnfields(res) < 1) {
			em_err_set(err, EM_E_UNAVAILABLE,
				   "error inspecting postgreSQL: could not query postgreSQL: the query returned no columns");
			rc = RUN_SQL_ERROR;
		} else if (PQntuples(res) < 1) {
			em_err_set(err, EM_E_UNAVAILABLE,
				   "error inspecting postgreSQL: could not query postgreSQL: no rows in result set");
			rc = RUN_SQL_ERROR;
		} else if (em_pg_value_from_text(PQgetvalue(res, 0, 0), PQgetisnull(res, 0, 0), PQftype(res, 0), value,
					      err) != 0) {
			rc = RUN_SQL_ERROR;
		}
	} else if (rc == RUN_SQL_ERROR) {
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting postgreSQL: could not query postgreSQL: %s", msg);
	}
	PQclear(res);

	/* End the transaction whatever happened, if the connection is still usable. */
	if ((rc == RUN_OK || rc == RUN_SQL_ERROR) && PQtransactionStatus(conn) != PQTRANS_IDLE) {
		char rmsg[128];
		enum run_rc rr = run(conn, "ROLLBACK", false, deadline, &res, rmsg, sizeof(rmsg));
		PQclear(res);
		if (rr != RUN_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) {
			/* Could not clean up in time: the caller drops the connection. */
			*drop = true;
			if (rc == RUN_OK) {
				em_err_set(err, EM_E_UNAVAILABLE,
					   "error inspecting postgreSQL: could not end the read-only transaction in time");
				rc = RUN_SQL_ERROR;
			}
		}
	}
	if (rc == RUN_CONN_LOST)
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting postgreSQL: could not query postgreSQL: %s",
			   msg[0] ? msg : "connection lost");
	if (rc == RUN_CONN_LOST || rc == RUN_TIMEOUT)
		*drop = true;
	return rc;
}

/* ------------------------------------------------------------------ instance */

struct pg_inst {
	const struct em_pg_cfg *cfg;
	struct em_pool *pool;
};

static void pg_close(void *vinst)
{
	struct pg_inst *in = vinst;

	if (!in)
		return;
	em_pool_put(in->pool);
	free(in);
}

static void *pg_open(const void *vcfg, struct em_err *err)
{
	const struct em_pg_cfg *c = vcfg;
	struct pg_inst *in = calloc(1, sizeof(*in));
	char *conninfo = em_pg_build_conninfo(c);

	if (!in || !conninfo)
		goto out;
	in->cfg = c;
	in->pool = em_pool_get(&pg_pool_ops, conninfo, conninfo);
	if (!in->pool)
		goto out;
	em_free_secret(conninfo);
	return in;
out:
	em_free_secret(conninfo);
	pg_close(in);
	em_err_set(err, EM_E_INTERNAL, "out of memory");
	return NULL;
}

static int pg_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct pg_inst *in = vinst;
	const struct pg_target *t = em_pool_shared(in->pool);
	int64_t start = em_mono_ms();
	int64_t tmo = ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000;
	int64_t deadline = start + tmo;
	double value = 0;
	enum run_rc rc = RUN_CONN_LOST;
	const char *secrets[1] = {t->password};
	struct em_secret_scope scope;
	void *vc = NULL;
	PGconn *conn;
	int slot;

	memset(out, 0, sizeof(*out));
	/* a password given inside the connection string is a secret of its own */
	em_secret_scope_enter(&scope, secrets, t->password ? 1 : 0);
	slot = em_pool_acquire(in->pool, deadline, &vc, err);
	if (slot < 0) {
		em_err_prefix(err, "error inspecting postgreSQL");
		em_secret_scope_leave(&scope);
		return -1;
	}
	conn = vc;
	/* A reused connection may have died since the last poll (server
	 * restart): then one retry on a fresh connection, the query being
	 * read-only. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false, drop = false;

		if (conn && PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			conn = NULL;
		}
		if (!conn) {
			conn = pg_connect(in->pool, deadline, err);
			em_pool_connected(in->pool, slot);
			if (!conn)
				break;
			fresh = true;
		}
		em_err_clear(err);
		rc = query_once(conn, in->cfg->query, deadline, &value, &drop, err);
		if (drop) {
			/* Lost or timed out: the connection's state is unknown. The
			 * server ends a timed-out statement itself (statement_timeout). */
			PQfinish(conn);
			conn = NULL;
		}
		if (rc == RUN_OK || rc == RUN_SQL_ERROR)
			break;
		if (rc == RUN_TIMEOUT) {
			em_err_set(err, EM_E_UNAVAILABLE,
				   "error inspecting postgreSQL: could not query postgreSQL: no answer within %lld ms "
				   "(statement_timeout); connection closed", (long long)tmo);
			break;
		}
		if (fresh || em_mono_ms() >= deadline)
			break;
	}
	em_sm_count_result(&fam_queries, rc == RUN_OK ? "ok" : rc == RUN_TIMEOUT ? "timeout" : "error");
	em_pool_release(in->pool, slot, conn);
	em_secret_scope_leave(&scope);
	if (rc != RUN_OK)
		return -1;
	out->value = value;
	out->active = value > in->cfg->activationTargetQueryValue;
	return 0;
}

const struct em_scaler em_scaler_postgresql = {
	.type = "postgresql",
	.options = em_pg_options,
	.config_size = sizeof(struct em_pg_cfg),
	.summary = "SQL query on PostgreSQL, read-only and time-limited, on shared connections",
	.validate = em_pg_validate,
	.open = pg_open,
	.fetch = pg_fetch,
	.close = pg_close,
};
