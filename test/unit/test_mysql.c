/* test_mysql.c - unit tests of the mysql scaler's pure parts: Go DSNs, key checks, values, statements. */
#include "harness.h"

#include "scalers/mysql/mysql_scaler.h"

static bool has(const char *s, const char *sub)
{
	return s && strstr(s, sub) != NULL;
}

TEST(dsn_forms_of_go_sql_driver)
{
	static const struct {
		const char *dsn, *user, *pw, *host, *socket, *db;
		unsigned port;
		enum my_tls tls;
	} cases[] = {
		{"user:pass@tcp(db:3307)/app", "user", "pass", "db", NULL, "app", 3307, MY_TLS_OFF},
		/* KEDA's own example of a built string */
		{"test_username:pass@tcp(test_host:3306)/test_dbname", "test_username", "pass", "test_host", NULL,
		 "test_dbname", 3306, MY_TLS_OFF},
		{"user@tcp(db)/app", "user", NULL, "db", NULL, "app", 3306, MY_TLS_OFF},   /* the driver adds :3306 */
		{"user:pass@/app", "user", "pass", "127.0.0.1", NULL, "app", 3306, MY_TLS_OFF},
		{"/app", NULL, NULL, "127.0.0.1", NULL, "app", 3306, MY_TLS_OFF},
		{"/", NULL, NULL, "127.0.0.1", NULL, NULL, 3306, MY_TLS_OFF},
		{"u:p@unix(/run/mysqld/mysqld.sock)/app", "u", "p", NULL, "/run/mysqld/mysqld.sock", "app", 0, MY_TLS_OFF},
		{"u:p@tcp([::1]:3306)/app", "u", "p", "::1", NULL, "app", 3306, MY_TLS_OFF},
		{"u:p@tcp([::1])/app", "u", "p", "::1", NULL, "app", 3306, MY_TLS_OFF},
		/* the password runs to the LAST '@' before the last '/': '@', ':', '/', '(' inside it are fine */
		{"u:p@ss:w/rd(x)@tcp(h:1)/app", "u", "p@ss:w/rd(x)", "h", NULL, "app", 1, MY_TLS_OFF},
		{"u:@tcp(h:1)/app", "u", NULL, "h", NULL, "app", 1, MY_TLS_OFF},
		{"u:p@tcp(h:1)/my%2Fdb?tls=true", "u", "p", "h", NULL, "my/db", 1, MY_TLS_VERIFY},
		{"u:p@tcp(h:1)/app?tls=skip-verify&parseTime=true", "u", "p", "h", NULL, "app", 1, MY_TLS_SKIP_VERIFY},
		{"u:p@tcp(h:1)/app?tls=PREFERRED", "u", "p", "h", NULL, "app", 1, MY_TLS_PREFERRED},
		{"u:p@tcp(h:1)/app?tls=false&junk", "u", "p", "h", NULL, "app", 1, MY_TLS_OFF},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct my_target t;
		struct em_err err = {0};
		if (my_parse_dsn(cases[i].dsn, &t, &err) != 0) {
			TH_FAIL("%s: %s", cases[i].dsn, err.msg);
			continue;
		}
#define SAME(a, b)                                                                                              \
	if (!((a) == NULL && (b) == NULL) && (!(a) || !(b) || strcmp((a), (b)) != 0))                              \
	TH_FAIL("%s: %s = \"%s\", expected \"%s\"", cases[i].dsn, #a, (a) ? (a) : "(null)", (b) ? (b) : "(null)")
		SAME(t.user, cases[i].user);
		SAME(t.password, cases[i].pw);
		SAME(t.host, cases[i].host);
		SAME(t.socket, cases[i].socket);
		SAME(t.db, cases[i].db);
#undef SAME
		if (!cases[i].socket)
			EXPECT_INT(t.port, cases[i].port);
		EXPECT_INT(t.tls, cases[i].tls);
		my_target_free(&t);
	}
}

TEST(dsn_params)
{
	struct my_target t;
	struct em_err err = {0};

	EXPECT_INT(my_parse_dsn("u:p@tcp(h:1)/app?charset=latin1,utf8&collation=latin1_swedish_ci"
				"&time_zone=%27%2B00%3A00%27&allowCleartextPasswords=1&timeout=5s&loc=Local",
				&t, &err), 0);
	EXPECT_STR(t.charset, "latin1");
	EXPECT(t.cleartext);
	EXPECT_STR(t.set_vars, "collation_connection = 'latin1_swedish_ci', time_zone = '+00:00'");
	my_target_free(&t);
	EXPECT(t.set_vars == NULL && t.password == NULL);
}

TEST(dsn_errors_never_show_the_string)
{
	static const struct { const char *dsn, *want; } cases[] = {
		{"Hunter2Secret", "missing the slash separating the database name"},
		{"u:Hunter2Secret@tcp(h:1", "missing the slash"},
		{"u:Hunter2Secret@tcp(h:1/app", "network address not terminated (missing closing brace)"},
		{"u:Hunter2Secret@tcp(h:1)x/app", "did you forget to escape a param value?"},
		/* a '/' in the password with no /dbname after the address: the driver would
		 * read password text as the network and the database name */
		{"u:Hunter2/Secret@tcp(h:1)", "'@' after the last '/'"},
		{"u:Hunter2Secret@udp(h:1)/app", "the network is not tcp or unix"},
		{"u:Hunter2Secret@tcp(h:1:2)/app", "the address in tcp(...) is not host"},
		{"u:Hunter2Secret@tcp(h:99999)/app", "the address in tcp(...)"},
		{"u:Hunter2Secret@tcp(h:1)/a%zzpp", "invalid %-escape in the database name"},
		{"u:Hunter2Secret@tcp(h:1)/app?tls=custom", "tls: true, false, skip-verify or preferred"},
		{"u:Hunter2Secret@tcp(h:1)/app?parseTime=yes", "invalid bool value for parseTime"},
		{"u:Hunter2Secret@tcp(h:1)/app?multiStatements=true", "multiStatements is not supported"},
		{"u:Hunter2Secret@tcp(h:1)/app?bad-name=1", "neither a driver parameter nor a system variable"},
		{"u:Hunter2Secret@tcp(h:1)/app?sql_mode=", "neither a driver parameter nor a system variable"},
		{"u:Hunter2Secret@tcp(h:1)/app?serverPubKey=k", "serverPubKey"},
		{"u:Hunter2Secret@tcp(h:1)/app?timeout=5x", "invalid duration for timeout"},
		{"u:Hunter2Secret@tcp(h:1)/app?charset=utf8;drop", "invalid charset"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct my_target t;
		struct em_err err = {0};
		EXPECT_INT(my_parse_dsn(cases[i].dsn, &t, &err), -1);
		EXPECT_INT(err.kind, EM_E_CONFIG);
		if (!has(err.msg, cases[i].want))
			TH_FAIL("%s: \"%s\", expected \"%s\"", cases[i].dsn, err.msg, cases[i].want);
		if (has(err.msg, "Hunter2") || has(err.msg, "Secret"))
			TH_FAIL("%s: the message shows the password: %s", cases[i].dsn, err.msg);
		if (!has(err.msg, "connectionString: "))
			TH_FAIL("%s: the message does not name the key: %s", cases[i].dsn, err.msg);
		EXPECT(t.password == NULL && t.user == NULL && t.host == NULL);
	}
}

static struct my_cfg fields(void)
{
	struct my_cfg c;

	memset(&c, 0, sizeof(c));
	c.query = "SELECT 1";
	c.queryValue = 5;
	c.host = "db";
	c.username = "app";
	return c;
}

TEST(keys_checks)
{
	struct my_cfg c = fields();
	struct my_target t;
	struct em_err err = {0};

	EXPECT_INT(my_validate(&c, &err), 0);
	EXPECT_INT(my_target_from_fields(&c, &t, &err), 0);
	EXPECT_INT(t.port, 3306);
	EXPECT(t.password == NULL && t.db == NULL);
	my_target_free(&t);
	c.port = "3307";
	c.password = "pw";
	c.dbName = "stats";
	EXPECT_INT(my_target_from_fields(&c, &t, &err), 0);
	EXPECT_INT(t.port, 3307);
	EXPECT_STR(t.password, "pw");
	EXPECT_STR(t.db, "stats");
	my_target_free(&t);
	c.port = "test_port";
	EXPECT_INT(my_validate(&c, &err), -1);
	EXPECT_STR(err.msg, "port: must be a number from 1 to 65535, got \"test_port\"");
	c = fields();
	c.host = NULL;
	EXPECT_INT(my_validate(&c, &err), -1);
	EXPECT_STR(err.msg, "host: no host given (or a connectionString)");
	c = fields();
	c.username = "";
	EXPECT_INT(my_validate(&c, &err), -1);
	EXPECT_STR(err.msg, "username: no username given (or a connectionString)");
	/* a connection string replaces the keys: both is a mistake */
	c = fields();
	c.connectionString = "u:p@tcp(h:1)/d";
	EXPECT_INT(my_validate(&c, &err), -1);
	EXPECT_STR(err.msg, "host: connectionString replaces host, port, username, password and dbName: give one or "
			    "the other");
	c.host = NULL;
	c.username = NULL;
	EXPECT_INT(my_validate(&c, &err), 0);
	c.connectionString = "not a dsn";
	EXPECT_INT(my_validate(&c, &err), -1);
	EXPECT(has(err.msg, "connectionString: invalid DSN"));
}

TEST(target_keys_differ_by_identity)
{
	struct my_target a, b;
	struct em_err err = {0};
	char *ka, *kb;

	EXPECT_INT(my_parse_dsn("u:p1@tcp(h:1)/d", &a, &err), 0);
	EXPECT_INT(my_parse_dsn("u:p2@tcp(h:1)/d", &b, &err), 0);
	ka = my_target_key(&a);
	kb = my_target_key(&b);
	EXPECT(ka && kb && strcmp(ka, kb) != 0);
	free(kb);
	my_target_free(&b);
	EXPECT_INT(my_parse_dsn("u:p1@tcp(h:1)/d?parseTime=true", &b, &err), 0);
	kb = my_target_key(&b);
	EXPECT_STR(ka, kb);   /* client-side parameters do not make another connection */
	free(ka);
	free(kb);
	my_target_free(&a);
	my_target_free(&b);
}

TEST(values_as_database_sql_scans_them)
{
	static const struct { const char *text; double v; } good[] = {
		{"42", 42}, {"-3", -3}, {"12.50", 12.5}, {"1e3", 1000}, {"0.000", 0},
	};
	static const struct { const char *text; const char *shown; } bad[] = {
		{"abc", "\"abc\""},
		{" 1", "\" 1\""},
		{"1 ", "\"1 \""},
		{"0x10", "\"0x10\""},
		{"2024-01-01", "\"2024-01-01\""},
		{"", "\"\""},
		{"a\"b\\c\x01", "\"a?b?c?\""},
	};
	struct em_err err = {0};
	double v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		EXPECT_INT(my_value_from_text(good[i].text, strlen(good[i].text), false, "c", &v, &err), 0);
		EXPECT_DBL(v, good[i].v, 1e-9 * fabs(good[i].v));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[160];
		EXPECT_INT(my_value_from_text(bad[i].text, strlen(bad[i].text), false, "n", &v, &err), -1);
		snprintf(want, sizeof(want), "error inspecting MySQL: sql: Scan error on column index 0, name \"n\": "
			 "converting driver.Value type []uint8 (%s) to a float64: invalid syntax", bad[i].shown);
		EXPECT_STR(err.msg, want);
	}
	/* numbers that cannot be served are errors, not NaN or 1e400 passed on */
	EXPECT_INT(my_value_from_text("NaN", 3, false, "n", &v, &err), -1);
	EXPECT_STR(err.msg, "error inspecting MySQL: the query's value is NaN");
	EXPECT_INT(my_value_from_text("-inf", 4, false, "n", &v, &err), -1);
	EXPECT_INT(my_value_from_text("1e400", 5, false, "n", &v, &err), -1);
	EXPECT_STR(err.msg, "error inspecting MySQL: the query's value is +Inf");
	EXPECT_INT(my_value_from_text("1e300", 5, false, "n", &v, &err), -1);
	EXPECT_INT(my_value_from_text("18446744073709551615", 20, false, "n", &v, &err), -1);   /* BIGINT UNSIGNED's max */
	EXPECT_STR(err.msg, "error inspecting MySQL: the query's value is 1.845e+19, beyond the largest value served (2^53)");
	/* binary data with a NUL: never read past it as a number */
	EXPECT_INT(my_value_from_text("1\0002", 3, false, "n", &v, &err), -1);
	EXPECT_INT(my_value_from_text(NULL, 0, true, "count(*)", &v, &err), -1);
	EXPECT_STR(err.msg, "error inspecting MySQL: sql: Scan error on column index 0, name \"count(*)\": converting "
			    "NULL to float64 is unsupported (the first column is NULL: wrap it in COALESCE(..., 0))");
	EXPECT_INT(err.kind, EM_E_UNAVAILABLE);
}

TEST(statements)
{
	char *s = my_statement(true, 2400, "SELECT count(*) FROM jobs; \n");

	EXPECT_STR(s, "SET STATEMENT tx_read_only=1, max_statement_time=2.400, sql_select_limit=1 FOR SELECT count(*) FROM jobs");
	free(s);
	s = my_statement(true, 5, "SELECT 1");
	EXPECT_STR(s, "SET STATEMENT tx_read_only=1, max_statement_time=0.005, sql_select_limit=1 FOR SELECT 1");
	free(s);
	s = my_statement(false, 800, "SELECT 1;");
	EXPECT_STR(s, "SELECT 1");
	free(s);
	s = my_mysql_prologue(800);
	EXPECT_STR(s, "SET SESSION transaction_read_only = 1, SESSION max_execution_time = 800, SESSION sql_select_limit = 1");
	free(s);
	EXPECT_INT(my_statement_timeout_ms(3000), 2500);
	EXPECT_INT(my_statement_timeout_ms(1000), 800);
	EXPECT_INT(my_statement_timeout_ms(100), 50);
	EXPECT_INT(my_statement_timeout_ms(30), 1);
}
