/* mysql_scaler.h - the mysql scaler: config, connection targets from DSNs or keys (mysql_dsn.c), values and statements (mysql.c). */
#ifndef EM_MYSQL_SCALER_H
#define EM_MYSQL_SCALER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

struct my_cfg {
	char *query;
	double queryValue;
	double activationQueryValue;
	char *connectionString;   /* Go DSN (secret) */
	char *username;
	char *password;
	char *host;
	char *port;
	char *dbName;
};

extern const struct em_option my_options[];
extern const struct em_scaler em_scaler_mysql;

enum my_tls {
	MY_TLS_OFF = 0,
	MY_TLS_VERIFY,        /* tls=true: certificate and host name verified */
	MY_TLS_SKIP_VERIFY,   /* tls=skip-verify: encrypted, not verified */
	MY_TLS_PREFERRED,     /* tls=preferred: TLS when the server offers it, not verified */
};

/* Where and as whom to connect: from a DSN or from the separate keys. */
struct my_target {
	char *user;           /* NULL: none */
	char *password;       /* NULL: none */
	char *db;             /* NULL: no default database */
	char *host;           /* TCP; NULL with socket */
	unsigned port;
	char *socket;         /* unix socket path */
	enum my_tls tls;
	char *charset;        /* NULL: utf8mb4 */
	bool cleartext;       /* allowCleartextPasswords */
	char *set_vars;       /* "name = value, ..." for SET SESSION (DSN system variables), NULL: none */
};

void my_target_free(struct my_target *t);   /* wipes the password; NULL-safe; leaves t zeroed */

/* Parses a Go MySQL DSN (go-sql-driver's ParseDSN rules):
 * [user[:password]@][net[(addr)]]/dbname[?param=value&...]. net tcp
 * (default, addr host[:port], default 127.0.0.1:3306) or unix (addr a socket
 * path). Parameters: tls, charset, collation, allowCleartextPasswords and
 * the driver's client-side ones (checked, without effect here); any other
 * is a session system variable, as the driver sets it. Errors are
 * "connectionString: invalid DSN: ..." and never repeat any part of the
 * string (it holds the password). */
int my_parse_dsn(const char *dsn, struct my_target *out, struct em_err *err);

/* The target from host, port (default 3306), username, password, dbName. */
int my_target_from_fields(const struct my_cfg *c, struct my_target *out, struct em_err *err);

/* A string naming the target and identity (holds the password): the pool key. */
char *my_target_key(const struct my_target *t);

/* KEDA's checks plus ours: query, queryValue; connectionString (valid, and
 * not mixed with the separate keys) or host and username. */
int my_validate(void *cfg, struct em_err *err);

/* Converts the first column of the first row (text protocol) to a number,
 * with go's database/sql messages for NULL and non-numbers. */
int my_value_from_text(const char *text, size_t len, bool isnull, const char *column, double *out,
		       struct em_err *err);

/* The one statement a poll sends: the query made read-only, time-limited
 * and cut to its first row by the server. MariaDB: SET STATEMENT
 * tx_read_only=1, max_statement_time=S, sql_select_limit=1 FOR <query> (all
 * restored after it); other servers (MySQL): the query as it is, after
 * my_mysql_prologue. Trailing semicolons dropped. malloc'd. */
char *my_statement(bool mariadb, int64_t timeout_ms, const char *query);

/* MySQL (not MariaDB) only: the statement sent before the query, setting
 * the session read-only, max_execution_time (SELECT only) and
 * sql_select_limit 1. */
char *my_mysql_prologue(int64_t timeout_ms);

/* Server-side time limit (ms, >= 1) for budget_ms left before the fetch
 * deadline: a margin is kept so the server's error arrives first. */
int64_t my_statement_timeout_ms(int64_t budget_ms);

#endif
