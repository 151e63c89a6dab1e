/* postgresql.h - the postgresql scaler's config and its pure parts (connection strings, values, timeouts). */
#ifndef EM_POSTGRESQL_H
#define EM_POSTGRESQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scaler.h"

struct em_pg_cfg {
	char *query;
	double targetQueryValue;
	double activationTargetQueryValue;
	char *connection;   /* full libpq connection string or URI (secret) */
	char *host;
	char *port;
	char *userName;
	char *dbName;
	char *sslmode;
	char *password;
};

extern const struct em_option em_pg_options[];
extern const struct em_scaler em_scaler_postgresql;

/* KEDA's checks: targetQueryValue non-zero; host, port, userName, dbName and
 * sslmode when no connection string; a connection string libpq reads as the
 * user meant it (em_pg_check_connection). Every problem goes to d. */
int em_pg_validate(void *cfg, struct em_optdiag *d);

/* Checks a `connection` value with libpq's own parser (PQconninfoParse) plus
 * the URI mistakes libpq accepts but reads differently (an unencoded '@' or
 * '/' in the password moves part of it into the host, port or database name,
 * which libpq and the server then quote in their errors): an unencoded '@'
 * or '/' before the user-info '@', a non-numeric port, a database name that
 * is itself a connection string. On error returns -1 with a fixed
 * "connection: invalid connection string: ..." (EM_E_CONFIG) that never
 * repeats any part of conn, and libpq's own message (which quotes it) is
 * wiped unread. */
int em_pg_check_connection(const char *conn, struct em_err *err);

/* The password libpq reads from conninfo (a URI's user info, a password=
 * keyword or query parameter), malloc'd, so messages can be scrubbed of it;
 * NULL when there is none or conninfo does not parse. Free with em_free_secret. */
char *em_pg_conninfo_password(const char *conninfo);

/* Appends ` key=value` (no leading space when sb is empty), quoting the value
 * in single quotes with \' and \\ escapes when it is empty or holds
 * whitespace, a quote or a backslash (libpq's conninfo rules). */
void em_pg_conninfo_add(struct em_strbuf *sb, const char *key, const char *value);

/* The libpq connection string for cfg: `connection` verbatim when set, else
 * built from host, port, userName, dbName, sslmode and password (omitted when
 * empty). malloc'd; NULL on allocation failure. */
char *em_pg_build_conninfo(const struct em_pg_cfg *c);

/* Converts the first column of the first row (text format) to a number.
 * KEDA's messages for NULL and non-numbers; type_oid names the column type. */
int em_pg_value_from_text(const char *text, bool isnull, unsigned type_oid, double *out, struct em_err *err);

/* statement_timeout (ms, >= 1) for a query with budget_ms left before the
 * fetch deadline: a margin is kept so the server cancels the statement and
 * its error arrives before the client gives up on the connection. */
int64_t em_pg_statement_timeout_ms(int64_t budget_ms);

/* Copies a libpq error message as one line: trailing newlines dropped, inner
 * line breaks and tabs as spaces, runs of spaces squeezed. */
void em_pg_one_line(const char *in, char *out, size_t cap);

#endif
