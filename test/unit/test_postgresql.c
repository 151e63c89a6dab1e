/* test_postgresql.c - unit tests of the postgresql scaler's pure parts: connection strings, values, timeouts. */
#include "harness.h"
#include "optdiag.h"

#include <libpq-fe.h>

#include "adapter/util/secret.h"
#include "scalers/postgresql.h"

static struct em_pg_cfg cfg_fields(void)
{
	struct em_pg_cfg c;

	memset(&c, 0, sizeof(c));
	c.query = "SELECT 1";
	c.targetQueryValue = 5;
	c.host = "db.example";
	c.port = "5432";
	c.userName = "app";
	c.dbName = "jobs";
	c.sslmode = "disable";
	return c;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Looks a keyword up in what libpq itself parsed from a connection string. */
static const char *parsed(PQconninfoOption *opts, const char *kw)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, kw) == 0)
			return o->val;
	return NULL;
}

TEST(conninfo_plain_values)
{
	struct em_pg_cfg c = cfg_fields();
	char *s = em_pg_build_conninfo(&c);

	EXPECT_STR(s, "host=db.example port=5432 user=app dbname=jobs sslmode=disable");
	free(s);

	c.password = "s3cret";
	s = em_pg_build_conninfo(&c);
	EXPECT_STR(s, "host=db.example port=5432 user=app dbname=jobs sslmode=disable password=s3cret");
	free(s);
}

TEST(conninfo_quoting)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_pg_conninfo_add(&sb, "password", "a b");
	EXPECT_STR(sb.buf, "password='a b'");
	em_sb_reset(&sb);
	em_pg_conninfo_add(&sb, "password", "it's");
	EXPECT_STR(sb.buf, "password='it\\'s'");
	em_sb_reset(&sb);
	em_pg_conninfo_add(&sb, "password", "back\\slash");
	EXPECT_STR(sb.buf, "password='back\\\\slash'");
	em_sb_reset(&sb);
	em_pg_conninfo_add(&sb, "dbname", "");
	EXPECT_STR(sb.buf, "dbname=''");
	em_sb_reset(&sb);
	em_pg_conninfo_add(&sb, "a", "x");
	em_pg_conninfo_add(&sb, "b", "tab\there");
	EXPECT_STR(sb.buf, "a=x b='tab\there'");
	em_sb_free(&sb);
}

/* The strongest check: libpq's own parser reads back exactly what was put in,
 * including values that would break naive quoting (KEDA only quotes values
 * with spaces and does not escape backslashes). */
TEST(conninfo_roundtrips_through_libpq)
{
	const char *nasty[] = {
		"plain", "with space", "quote'in", "both ' and \\", "trailing\\", "'", "\\'", "x=y", "  lead",
		"p@ss:w/rd?#%", "new\nline",
	};

	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		struct em_pg_cfg c = cfg_fields();
		char *errmsg = NULL, *s;
		PQconninfoOption *opts;

		c.password = (char *)nasty[i];
		c.dbName = (char *)nasty[(i + 1) % (sizeof(nasty) / sizeof(nasty[0]))];
		c.userName = "user name";
		s = em_pg_build_conninfo(&c);
		opts = PQconninfoParse(s, &errmsg);
		if (!opts) {
			TH_FAIL("libpq rejected \"%s\": %s", s, errmsg ? errmsg : "?");
		} else {
			EXPECT_STR(parsed(opts, "password"), nasty[i]);
			EXPECT_STR(parsed(opts, "dbname"), c.dbName);
			EXPECT_STR(parsed(opts, "user"), "user name");
			EXPECT_STR(parsed(opts, "host"), "db.example");
			EXPECT_STR(parsed(opts, "port"), "5432");
			EXPECT_STR(parsed(opts, "sslmode"), "disable");
		}
		PQconninfoFree(opts);
		PQfreemem(errmsg);
		free(s);
	}
}

TEST(conninfo_connection_wins)
{
	struct em_pg_cfg c = cfg_fields();
	char *s;

	c.connection = "postgresql://u:p@127.0.0.1:5433/db?sslmode=disable";
	s = em_pg_build_conninfo(&c);
	EXPECT_STR(s, "postgresql://u:p@127.0.0.1:5433/db?sslmode=disable");
	free(s);
}

TEST(validate_keda_messages)
{
	struct em_pg_cfg c;
	struct th_diag t;

	c = cfg_fields();
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), 0);

	c = cfg_fields();
	c.targetQueryValue = 0;
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "targetQueryValue: no targetQueryValue given");

	c = cfg_fields();
	c.host = NULL;
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "host: no host given");
	c = cfg_fields();
	c.port = "";
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "port: no port given");
	c = cfg_fields();
	c.port = "54x";
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT(starts_with(t.first, "port: must be a number"));
	c = cfg_fields();
	c.port = "70000";
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	c = cfg_fields();
	c.userName = NULL;
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "userName: no userName given");
	c = cfg_fields();
	c.dbName = NULL;
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "dbName: no dbName given");
	c = cfg_fields();
	c.sslmode = NULL;
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
	EXPECT_STR(t.first, "sslmode: no sslmode given");

	/* a connection string makes the separate fields optional */
	memset(&c, 0, sizeof(c));
	c.query = "SELECT 1";
	c.targetQueryValue = -2;
	c.connection = "host=x";
	EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), 0);
}

/* Malformed or misread connection strings: refused with a fixed message that
 * repeats no part of them (libpq's own messages quote the offending token). */
TEST(connection_string_checks)
{
	static const struct {
		const char *conn;
		const char *hint;       /* expected in the message */
		const char *secret[2];  /* never in the message */
	} bad[] = {
		{"postgresql://u:Sup3r%2Gsecret@127.0.0.1:1/d", "failed to parse as URL", {"Sup3r", "2Gsecret"}},
		{"postgresql://u:Sup3r%00x@h/d", "failed to parse as URL", {"Sup3r", NULL}},
		{"host=127.0.0.1 password=Hunter2 TopSecretTail", "failed to parse as keyword/value",
		 {"Hunter2", "TopSecretTail"}},
		{"host=h password='Unterminated", "failed to parse as keyword/value", {"Unterminated", NULL}},
		{"host=h nosuchkey=Hunter2", "failed to parse as keyword/value", {"Hunter2", "nosuchkey"}},
		{"Hunter2only", "failed to parse as keyword/value", {"Hunter2only", NULL}},
		{"postgresql://h/d?password=a&bogus=Hunter2", "failed to parse as URL", {"Hunter2", "bogus"}},
		/* libpq takes these, reading part of the password as host or port */
		{"postgresql://u:p@ss@127.0.0.1:1/d", "failed to parse as URL", {"ss@", NULL}},
		{"postgresql://u:1234/Tail@127.0.0.1:1/d", "failed to parse as URL", {"1234", "Tail"}},
		{"postgresql://u:Hunter2@h:54x/d", "failed to parse as URL", {"Hunter2", "54x"}},
		{"host=h port=Hunter2", "the port is not a number", {"Hunter2", NULL}},
		{"host=h dbname=postgresql://u:Hunter2@h/d", "dbname holds a connection string", {"Hunter2", NULL}},
		{"host=h dbname='user=u password=Hunter2'", "dbname holds a connection string", {"Hunter2", NULL}},
	};
	static const char *const good[] = {
		"host=h port=5432 user=u dbname=d sslmode=disable password='it\\'s a \\\\ pw'",
		"postgresql://u:p%40ss%2Fw%3Ard@h:5432/d?sslmode=require",
		"postgres://h1:5432,h2:5433/d?target_session_attrs=read-write",
		"postgresql://h/d?user=name@tenant&password=x@y",
		"postgresql://%2Fvar%2Frun%2Fpostgresql/d",
		"host=h port=5432,5433",
		"host=h dbname='my db'",
		"postgresql://",
	};
	struct em_err e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		em_err_clear(&e);
		if (em_pg_check_connection(bad[i].conn, &e) != -1) {
			TH_FAIL("accepted \"%s\"", bad[i].conn);
			continue;
		}
		EXPECT_INT(e.kind, EM_E_CONFIG);
		if (!starts_with(e.msg, "connection: invalid connection string: ") || !strstr(e.msg, bad[i].hint))
			TH_FAIL("\"%s\": message \"%s\"", bad[i].conn, e.msg);
		for (int k = 0; k < 2; k++)
			if (bad[i].secret[k] && strstr(e.msg, bad[i].secret[k]))
				TH_FAIL("\"%s\": message repeats \"%s\": %s", bad[i].conn, bad[i].secret[k], e.msg);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (em_pg_check_connection(good[i], &e) != 0)
			TH_FAIL("refused \"%s\": %s", good[i], e.msg);

	/* em_pg_validate applies it when connection is set */
	{
		struct em_pg_cfg c = cfg_fields();
		struct th_diag t;
		c.connection = "postgresql://u:Sup3r%2Gsecret@h/d";
		EXPECT_INT(em_pg_validate(&c, th_diag_init(&t)), -1);
		EXPECT(starts_with(t.first, "connection: invalid connection string: "));
		EXPECT(strstr(t.errs, "Sup3r") == NULL);
	}
}

TEST(connection_password_for_scrubbing)
{
	static const struct {
		const char *conninfo, *want;   /* want NULL: no password */
	} cases[] = {
		{"postgresql://u:p%40ss%20w@h/d", "p@ss w"},
		{"postgresql://h/d?user=u&password=from%20query", "from query"},
		{"host=h password='it\\'s'", "it's"},
		{"host=h port=5432 user=app dbname=jobs sslmode=disable password=s3cret", "s3cret"},
		{"host=h user=u", NULL},
		{"postgresql://u@h/d", NULL},
		{"postgresql://u:Sup3r%2G@h/d", NULL},   /* does not parse */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *pw = em_pg_conninfo_password(cases[i].conninfo);
		if (cases[i].want)
			EXPECT_STR(pw, cases[i].want);
		else if (pw)
			TH_FAIL("\"%s\": password \"%s\", expected none", cases[i].conninfo, pw);
		em_free_secret(pw);
	}
}

TEST(option_table_flags)
{
	const char *keys[] = {"query", "targetQueryValue", "activationTargetQueryValue", "connection", "host",
			      "port", "userName", "dbName", "sslmode", "password"};
	int n = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct em_option *o = NULL;
		for (const struct em_option *p = em_pg_options; p->name; p++)
			if (strcmp(p->name, keys[i]) == 0)
				o = p;
		if (!o) {
			TH_FAIL("key %s missing", keys[i]);
			continue;
		}
		bool secret = strcmp(keys[i], "password") == 0 || strcmp(keys[i], "connection") == 0;
		if (secret != ((o->flags & EM_OPT_SECRET) != 0))
			TH_FAIL("key %s: secret flag wrong", keys[i]);
	}
	for (const struct em_option *p = em_pg_options; p->name; p++)
		n++;
	EXPECT_INT(n, 10);
	EXPECT(em_scaler_find("postgresql") == &em_scaler_postgresql);
}

TEST(value_conversion)
{
	struct em_err e;
	double v = -1;

	EXPECT_INT(em_pg_value_from_text("42", false, 20, &v, &e), 0);
	EXPECT_DBL(v, 42, 0);
	EXPECT_INT(em_pg_value_from_text("-1.25", false, 1700, &v, &e), 0);
	EXPECT_DBL(v, -1.25, 0);
	EXPECT_INT(em_pg_value_from_text("3.5e2", false, 701, &v, &e), 0);
	EXPECT_DBL(v, 350, 0);
	EXPECT_INT(em_pg_value_from_text("9007199254740992", false, 1700, &v, &e), 0);
	EXPECT_DBL(v, 9007199254740992.0, 0);
	EXPECT_INT(em_pg_value_from_text("7   ", false, 1042, &v, &e), 0);  /* char(n) padding */
	EXPECT_DBL(v, 7, 0);
}

/* NaN, Infinity and absurd sizes are errors, never served (as 0 or as the
 * largest Quantity). */
TEST(value_nan_inf_and_absurd_are_errors)
{
	struct em_err e;
	double v = 99;

	EXPECT_INT(em_pg_value_from_text("NaN", false, 701, &v, &e), -1);
	EXPECT_STR(e.msg, "error inspecting postgreSQL: the query's value is NaN");
	EXPECT_INT(em_pg_value_from_text("-Infinity", false, 701, &v, &e), -1);
	EXPECT_STR(e.msg, "error inspecting postgreSQL: the query's value is -Inf");
	EXPECT_INT(em_pg_value_from_text("12345678901234567890.5", false, 1700, &v, &e), -1);
	EXPECT_STR(e.msg, "error inspecting postgreSQL: the query's value is 1.235e+19, beyond the largest value served (2^53)");
	EXPECT_INT(em_pg_value_from_text("1e400", false, 1700, &v, &e), -1);
	EXPECT_DBL(v, 99, 0);
	/* the text is quoted as a short escaped excerpt */
	EXPECT_INT(em_pg_value_from_text("bad\n\"value\" with a very long tail that goes on and on and on", false, 25, &v, &e), -1);
	EXPECT(strstr(e.msg, "cannot convert \"bad\\n\\\"value\\\" with a very long tail that g...\" (text)") != NULL);
}

TEST(value_errors)
{
	struct em_err e;
	double v = 99;

	EXPECT_INT(em_pg_value_from_text(NULL, true, 20, &v, &e), -1);
	EXPECT(starts_with(e.msg, "error inspecting postgreSQL: could not query postgreSQL: can't scan into dest[0]: "
				  "cannot scan NULL into *float64"));
	EXPECT(strstr(e.msg, "COALESCE") != NULL);
	EXPECT_INT(e.kind, EM_E_UNAVAILABLE);
	EXPECT_DBL(v, 99, 0);

	EXPECT_INT(em_pg_value_from_text("abc", false, 25, &v, &e), -1);
	EXPECT(strstr(e.msg, "cannot convert \"abc\" (text) to float64") != NULL);
	EXPECT_INT(em_pg_value_from_text("t", false, 16, &v, &e), -1);
	EXPECT(strstr(e.msg, "(boolean)") != NULL);
	EXPECT_INT(em_pg_value_from_text("00:00:01.5", false, 1186, &v, &e), -1);
	EXPECT(strstr(e.msg, "(interval)") != NULL);
	EXPECT_INT(em_pg_value_from_text("", false, 25, &v, &e), -1);
	EXPECT_INT(em_pg_value_from_text(" 5", false, 25, &v, &e), -1);
	EXPECT_INT(em_pg_value_from_text("0x10", false, 25, &v, &e), -1);
	EXPECT_INT(em_pg_value_from_text("5 apples", false, 99999, &v, &e), -1);
	EXPECT(strstr(e.msg, "(type OID 99999)") != NULL);
	EXPECT_DBL(v, 99, 0);
}

TEST(statement_timeout_keeps_margin)
{
	EXPECT_INT(em_pg_statement_timeout_ms(3000), 2500);
	EXPECT_INT(em_pg_statement_timeout_ms(1000), 800);
	EXPECT_INT(em_pg_statement_timeout_ms(10000), 9500);
	EXPECT_INT(em_pg_statement_timeout_ms(100), 50);
	EXPECT_INT(em_pg_statement_timeout_ms(50), 1);   /* never 0: that disables the timeout */
	EXPECT_INT(em_pg_statement_timeout_ms(1), 1);
	for (int64_t b = 1; b < 100000; b += 37) {
		int64_t st = em_pg_statement_timeout_ms(b);
		if (st < 1 || (b > 51 && st >= b))
			TH_FAIL("budget %lld gives statement_timeout %lld", (long long)b, (long long)st);
	}
}

TEST(one_line_messages)
{
	char out[256];

	em_pg_one_line("connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
		    "\tIs the server running on that host and accepting TCP/IP connections?\n",
		    out, sizeof(out));
	EXPECT_STR(out, "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server "
			"running on that host and accepting TCP/IP connections?");
	em_pg_one_line("FATAL:  password authentication failed for user \"app\"\n", out, sizeof(out));
	EXPECT_STR(out, "FATAL: password authentication failed for user \"app\"");
	em_pg_one_line("abcdef", out, 4);
	EXPECT_STR(out, "abc");
	em_pg_one_line("ab cd", out, 4);   /* no dangling space, no half word glued on */
	EXPECT_STR(out, "ab");
	em_pg_one_line("ab cd", out, 5);
	EXPECT_STR(out, "ab c");
	em_pg_one_line(NULL, out, sizeof(out));
	EXPECT_STR(out, "");
}

/* ------------------------------------------------ through the option parser */

TEST(keda_metadata_parses)
{
	const struct em_rawopt meta[] = {
		{.name = "query", .value = "SELECT CEIL(COUNT(*) / 6) FROM task_instance WHERE state='running' OR state='queued'"},
		{.name = "targetQueryValue", .value = "1.1"},
		{.name = "activationTargetQueryValue", .value = "5"},
		{.name = "host", .value = "postgres-svc.postgres.svc.cluster.local"},
		{.name = "port", .value = "5432"},
		{.name = "userName", .value = "kedaUser"},
		{.name = "dbName", .value = "test_db_name"},
		{.name = "sslmode", .value = "disable"},
		{.name = "password", .value = "pw with space"},
	};
	struct em_rawopts raw = {(struct em_rawopt *)meta, sizeof(meta) / sizeof(meta[0])};
	struct em_pg_cfg c;
	struct th_diag t;
	char *s;

	memset(&c, 0, sizeof(c));
	EXPECT_INT(em_options_parse(em_pg_options, &raw, &c, th_diag_init(&t)), 0);
	EXPECT_INT(em_pg_validate(&c, &t.d), 0);
	EXPECT_DBL(c.targetQueryValue, 1.1, 0);
	EXPECT_DBL(c.activationTargetQueryValue, 5, 0);
	s = em_pg_build_conninfo(&c);
	EXPECT_STR(s, "host=postgres-svc.postgres.svc.cluster.local port=5432 user=kedaUser dbname=test_db_name "
		      "sslmode=disable password='pw with space'");
	free(s);
	em_options_free(em_pg_options, &c);

	/* a sslmode libpq does not know is caught at config time */
	{
		const struct em_rawopt m2[] = {{.name = "query", .value = "SELECT 1"}, {.name = "targetQueryValue", .value = "1"},
					       {.name = "sslmode", .value = "on"}};
		struct em_rawopts r2 = {(struct em_rawopt *)m2, 3};
		memset(&c, 0, sizeof(c));
		EXPECT_INT(em_options_parse(em_pg_options, &r2, &c, th_diag_init(&t)), -1);
		EXPECT(starts_with(t.first, "sslmode: invalid value \"on\""));
		em_options_free(em_pg_options, &c);
	}
	/* targetQueryValue absent reads as 0: KEDA's message */
	{
		const struct em_rawopt m3[] = {{.name = "query", .value = "SELECT 1"}, {.name = "connection", .value = "host=x"}};
		struct em_rawopts r3 = {(struct em_rawopt *)m3, 2};
		memset(&c, 0, sizeof(c));
		EXPECT_INT(em_options_parse(em_pg_options, &r3, &c, th_diag_init(&t)), 0);
		EXPECT_INT(em_pg_validate(&c, &t.d), -1);
		EXPECT_STR(t.first, "targetQueryValue: no targetQueryValue given");
		em_options_free(em_pg_options, &c);
	}
}
