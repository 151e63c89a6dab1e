/* test_redis.c - unit tests of the redis scalers' pure parts: addresses, TLS flags, option checks, replies, lag. */
#include "harness.h"

#include "scalers/redis/redis_client.h"
#include "scalers/scaler.h"

static struct rds_conn_cfg conn(const char *address)
{
	struct rds_conn_cfg c;

	memset(&c, 0, sizeof(c));
	c.address = (char *)address;
	return c;
}

TEST(split_hostport_follows_go)
{
	static const struct { const char *in; int rc; const char *host, *port; } cases[] = {
		{"127.0.0.1:6379", 0, "127.0.0.1", "6379"},
		{"redis.db.svc:6380", 0, "redis.db.svc", "6380"},
		{":7001", 0, "", "7001"},                 /* Go: the local system */
		{"[::1]:6379", 0, "::1", "6379"},
		{"[fe80::1%eth0]:1", 0, "fe80::1%eth0", "1"},
		{"::1:6379", -1, NULL, NULL},             /* too many colons: brackets needed */
		{"redis", -1, NULL, NULL},                /* missing port */
		{"redis:", -1, NULL, NULL},
		{"redis:0", -1, NULL, NULL},
		{"redis:65536", -1, NULL, NULL},
		{"redis:65535", 0, "redis", "65535"},
		{"redis:63x9", -1, NULL, NULL},
		{"redis:+12", -1, NULL, NULL},
		{"[::1]", -1, NULL, NULL},
		{"[::1]x:1", -1, NULL, NULL},
		{"re dis:1", -1, NULL, NULL},
		{"redis://h:1", -1, NULL, NULL},
		{"a,b:1", -1, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rds_addr a;
		int rc = rds_split_hostport(cases[i].in, strlen(cases[i].in), &a);
		if (rc != cases[i].rc) {
			TH_FAIL("%s: rc %d, expected %d", cases[i].in, rc, cases[i].rc);
			continue;
		}
		if (rc == 0) {
			EXPECT_STR(a.host, cases[i].host);
			EXPECT_STR(a.port, cases[i].port);
		}
	}
}

TEST(addresses_as_keda_reads_them)
{
	struct rds_addrs *a = malloc(sizeof(*a));
	struct rds_conn_cfg c = conn(" a:1 , b:2,c:3 ");
	struct em_err err = {0};

	EXPECT_INT(rds_parse_addrs(&c, a, &err), 0);
	EXPECT_INT(a->n, 3);
	EXPECT_STR(a->a[0].host, "a");
	EXPECT_STR(a->a[2].port, "3");

	/* hosts and ports pair up, trimmed (KEDA's cluster test: "   a, b,    c ") */
	c = conn(NULL);
	c.host = "   a, b,    c ";
	c.port = "1, 2, 3";
	EXPECT_INT(rds_parse_addrs(&c, a, &err), 0);
	EXPECT_INT(a->n, 3);
	EXPECT_STR(a->a[1].host, "b");
	EXPECT_STR(a->a[1].port, "2");

	/* address entries come first, host/port pairs after (KEDA appends) */
	c = conn("x:9");
	c.host = "::1";
	c.port = "7";
	EXPECT_INT(rds_parse_addrs(&c, a, &err), 0);
	EXPECT_INT(a->n, 2);
	EXPECT_STR(a->a[0].host, "x");
	EXPECT_STR(a->a[1].host, "::1");   /* joined as [::1]:7 */
	EXPECT_STR(a->a[1].port, "7");
	free(a);
}

TEST(address_errors_name_the_key)
{
	/* addresses, hosts and ports are the option table's aliases of these (test_options) */
	static const struct {
		const char *address, *host, *port, *want;
	} cases[] = {
		{NULL, NULL, NULL,
		 "address: no addresses or hosts given. address should be a comma separated list of host:port or set "
		 "the host/port values"},
		{"", NULL, NULL, "address: no addresses or hosts given"},
		{NULL, "a,b,c", "1,2",
		 "host: not enough hosts or ports given. number of hosts should be equal to the number of ports (3 hosts, 2 ports)"},
		{NULL, "a", NULL, "host: given without port"},
		{NULL, NULL, "6379", "port: given without host"},
		{"redis", NULL, NULL, "address: \"redis\" is not host:port"},
		{"a:1,,b:2", NULL, NULL, "address: empty entry in the comma-separated list"},
		{"a:1, b", NULL, NULL, "address: \"b\" is not host:port"},
		{NULL, "a", "http", "host: \"a\" with port \"http\" is not a host and a port"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rds_addrs *a = malloc(sizeof(*a));
		struct rds_conn_cfg c = conn(cases[i].address);
		struct em_err err = {0};
		c.host = (char *)cases[i].host;
		c.port = (char *)cases[i].port;
		EXPECT_INT(rds_parse_addrs(&c, a, &err), -1);
		EXPECT_INT(err.kind, EM_E_CONFIG);
		if (strncmp(err.msg, cases[i].want, strlen(cases[i].want)) != 0)
			TH_FAIL("case %zu: \"%s\", expected \"%s...\"", i, err.msg, cases[i].want);
		free(a);
	}
}

TEST(too_many_addresses)
{
	char list[RDS_MAX_ADDRS * 8 + 16] = "";
	struct rds_addrs *a = malloc(sizeof(*a));
	struct em_err err = {0};
	struct rds_conn_cfg c;

	for (int i = 0; i <= RDS_MAX_ADDRS; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%sh:%d", i ? "," : "", i + 1);
	c = conn(list);
	EXPECT_INT(rds_parse_addrs(&c, a, &err), -1);
	EXPECT(strstr(err.msg, "more than 32 addresses") != NULL);
	free(a);
}

TEST(tls_flags_as_keda)
{
	struct rds_conn_cfg c = conn("a:1");
	struct em_err err = {0};
	bool on = true;

	EXPECT_INT(rds_tls_enabled(&c, &on, &err), 0);
	EXPECT(!on);
	c.enableTLS = "True";
	EXPECT_INT(rds_tls_enabled(&c, &on, &err), 0);
	EXPECT(on);
	c.enableTLS = "no";   /* not a Go bool */
	EXPECT_INT(rds_tls_enabled(&c, &on, &err), -1);
	EXPECT_STR(err.msg, "enableTLS: EnableTLS parsing error strconv.ParseBool: parsing \"no\": invalid syntax");
	c.enableTLS = NULL;
	c.tls = "enable";
	EXPECT_INT(rds_tls_enabled(&c, &on, &err), 0);
	EXPECT(on);
	c.tls = "disable";
	EXPECT_INT(rds_tls_enabled(&c, &on, &err), 0);
	EXPECT(!on);
	c.tls = "true";
	EXPECT_INT(rds_tls_enabled(&c, &on, &err), -1);
	EXPECT_STR(err.msg, "tls: error incorrect TLS value given, got true");
	c.tls = "disable";
	c.enableTLS = "true";   /* KEDA: not both, even when they agree */
	EXPECT_INT(rds_tls_enabled(&c, &on, &err), -1);
	EXPECT_STR(err.msg, "tls: unable to set `tls` in both ScaledObject and TriggerAuthentication together");
}

TEST(connection_checks_per_mode)
{
	struct rds_conn_cfg c = conn("a:1");
	struct em_err err = {0};

	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), 0);
	EXPECT_INT(c.mode, RDS_STANDALONE);
	c.sentinelMaster = "mymaster";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT_STR(err.msg, "sentinelMaster: only for the sentinel types (redis-sentinel, redis-sentinel-streams)");
	EXPECT_INT(rds_validate_conn(&c, RDS_SENTINEL, &err), 0);
	EXPECT_INT(c.mode, RDS_SENTINEL);
	c.sentinelMaster = NULL;
	c.sentinelPassword = "x";
	EXPECT_INT(rds_validate_conn(&c, RDS_CLUSTER, &err), -1);
	EXPECT(strncmp(err.msg, "sentinelPassword: only for the sentinel types", 45) == 0);
	EXPECT_INT(rds_validate_conn(&c, RDS_SENTINEL, &err), -1);
	EXPECT_STR(err.msg, "sentinelMaster: no sentinel master name given");
	c.sentinelPassword = NULL;
	c.databaseIndex = 2;
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), 0);
	EXPECT_INT(rds_validate_conn(&c, RDS_CLUSTER, &err), -1);
	EXPECT_STR(err.msg, "databaseIndex: Redis Cluster has only database 0");
}

TEST(tls_material_checks)
{
	struct rds_conn_cfg c = conn("a:1");
	struct em_err err = {0};

	c.ca = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT(strncmp(err.msg, "ca: TLS is off", 14) == 0);
	c.enableTLS = "true";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT(strncmp(err.msg, "ca: error appending CA certs", 28) == 0);
	c.ca = NULL;
	c.cert = "x";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT_STR(err.msg, "cert: given without key");
	c.cert = NULL;
	c.key = "x";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT_STR(err.msg, "key: given without cert");
	c.cert = "junk";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT(strncmp(err.msg, "cert: error parse X509KeyPair", 29) == 0);
	c.cert = NULL;
	c.key = NULL;
	c.keyPassword = "pw";
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), -1);
	EXPECT_STR(err.msg, "keyPassword: given without key");
	c.keyPassword = NULL;
	c.unsafeSsl = true;
	EXPECT_INT(rds_validate_conn(&c, RDS_STANDALONE, &err), 0);
}

/* ------------------------------------------------------------------ replies */

static struct rds_reply *parse1(const char *wire)
{
	struct rds_reply *r = NULL;
	struct em_err err = {0};

	if (rds_parse_replies(wire, strlen(wire), 1, &r, &err) != 0)
		return NULL;
	return r;
}

TEST(replies_parse)
{
	struct rds_reply *r[3];
	struct em_err err = {0};
	const char *wire = ":42\r\n$3\r\nabc\r\n*2\r\n$-1\r\n+OK\r\n";
	long long v;

	EXPECT_INT(rds_parse_replies(wire, strlen(wire), 3, r, &err), 0);
	EXPECT_INT(r[0]->type, RDS_INTEGER);
	EXPECT_INT(r[0]->integer, 42);
	EXPECT_STR(r[1]->str, "abc");
	EXPECT_INT(r[2]->elements, 2);
	EXPECT_INT(r[2]->element[0]->type, RDS_NIL);
	EXPECT_INT(r[2]->element[1]->type, RDS_STATUS);
	EXPECT_INT(rds_reply_int(r[0], "LLEN", &v, &err), 0);
	EXPECT_INT(v, 42);
	EXPECT_INT(rds_reply_int(r[1], "LLEN", &v, &err), -1);
	EXPECT_STR(err.msg, "LLEN: unexpected reply: a string, not an integer");
	EXPECT_INT(rds_reply_int(r[2]->element[0], "XLEN", &v, &err), -1);
	EXPECT_STR(err.msg, "XLEN: unexpected reply: nil, not an integer");
	for (int i = 0; i < 3; i++)
		rds_reply_free(r[i]);
	/* a count from a hostile server: never negative, never past 2^53 */
	wire = ":-5\r\n:9007199254740993\r\n:9007199254740992\r\n";
	EXPECT_INT(rds_parse_replies(wire, strlen(wire), 3, r, &err), 0);
	EXPECT_INT(rds_reply_int(r[0], "LLEN", &v, &err), -1);
	EXPECT_STR(err.msg, "LLEN is -5, but a count cannot be negative");
	EXPECT_INT(rds_reply_int(r[1], "XLEN", &v, &err), -1);
	EXPECT_INT(rds_reply_int(r[2], "XLEN", &v, &err), 0);
	for (int i = 0; i < 3; i++)
		rds_reply_free(r[i]);

	/* incomplete: more bytes needed, nothing leaked */
	EXPECT_INT(rds_parse_replies(":1\r\n$5\r\nab", 11, 2, r, &err), 1);
	EXPECT(r[0] == NULL && r[1] == NULL);
}

TEST(error_reply_is_the_servers_text)
{
	struct rds_reply *r = parse1("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	struct em_err err = {0};
	long long v;

	EXPECT(r != NULL);
	EXPECT_INT(rds_reply_int(r, "EVAL", &v, &err), -1);
	EXPECT_STR(err.msg, "WRONGTYPE Operation against a key holding the wrong kind of value");
	EXPECT_INT(err.kind, EM_E_UNAVAILABLE);
	rds_reply_free(r);
}

TEST(garbage_replies_are_bounded_errors)
{
	static const char *const bad[] = {
		"*2000000000\r\n",          /* would allocate 16 GB */
		"*65537\r\n",
		"?what\r\n",
		"$abc\r\n",
		":12x\r\n",
		"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",   /* nesting deeper than 7 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rds_reply *r = NULL;
		struct em_err err = {0};
		int rc = rds_parse_replies(bad[i], strlen(bad[i]), 1, &r, &err);
		if (rc != -1)
			TH_FAIL("case %zu: rc %d, expected -1", i, rc);
		EXPECT(r == NULL);
		EXPECT(strncmp(err.msg, "invalid reply (", 15) == 0);
	}
	/* the largest array we take */
	{
		struct rds_reply *r = NULL;
		struct em_err err = {0};
		EXPECT_INT(rds_parse_replies("*65536\r\n", 8, 1, &r, &err), 1);
	}
}

TEST(redirects)
{
	static const struct { const char *wire; int rc; bool ask; const char *host, *port; } cases[] = {
		{"-MOVED 3999 127.0.0.1:6381\r\n", 0, false, "127.0.0.1", "6381"},
		{"-ASK 3999 10.0.0.7:7002\r\n", 0, true, "10.0.0.7", "7002"},
		{"-MOVED 12 :7003\r\n", 0, false, "", "7003"},          /* node did not say its address */
		{"-MOVED 12 ::1:7003\r\n", 0, false, "::1", "7003"},    /* IPv6 printed without brackets */
		{"-MOVED 12 redis-0.redis:6379\r\n", 0, false, "redis-0.redis", "6379"},
		{"-MOVED x 1.2.3.4:1\r\n", -1, false, NULL, NULL},
		{"-MOVED 12\r\n", -1, false, NULL, NULL},
		{"-ERR MOVED 1 a:1\r\n", -1, false, NULL, NULL},
		{"+MOVED 1 a:1\r\n", -1, false, NULL, NULL},
		{"-CLUSTERDOWN The cluster is down\r\n", -1, false, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rds_reply *r = parse1(cases[i].wire);
		struct rds_addr a;
		bool ask = !cases[i].ask;
		int rc = rds_redirect(r, &ask, &a);
		if (rc != cases[i].rc)
			TH_FAIL("case %zu: rc %d", i, rc);
		else if (rc == 0) {
			EXPECT(ask == cases[i].ask);
			EXPECT_STR(a.host, cases[i].host);
			EXPECT_STR(a.port, cases[i].port);
		}
		rds_reply_free(r);
	}
}

TEST(xpending_count)
{
	struct rds_reply *r = parse1("*4\r\n:7\r\n$3\r\n1-0\r\n$3\r\n9-0\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n7\r\n");
	struct em_err err = {0};
	long long v = -1;

	EXPECT_INT(rds_xpending_count(r, &v, &err), 0);
	EXPECT_INT(v, 7);
	rds_reply_free(r);
	/* none pending: nil ids, nil consumers */
	r = parse1("*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n");
	EXPECT_INT(rds_xpending_count(r, &v, &err), 0);
	EXPECT_INT(v, 0);
	rds_reply_free(r);
	r = parse1("-NOGROUP No such key 'st' or consumer group 'g'\r\n");
	EXPECT_INT(rds_xpending_count(r, &v, &err), -1);
	EXPECT_STR(err.msg, "NOGROUP No such key 'st' or consumer group 'g'");
	rds_reply_free(r);
	r = parse1("*0\r\n");
	EXPECT_INT(rds_xpending_count(r, &v, &err), -1);
	EXPECT_STR(err.msg, "XPENDING: unexpected reply: no count first");
	rds_reply_free(r);
}

/* An XINFO GROUPS entry as Redis 7 sends it (RESP2). */
#define GROUP(name, lag)                                                                                       \
	"*12\r\n$4\r\nname\r\n$1\r\n" name "\r\n$9\r\nconsumers\r\n:1\r\n$7\r\npending\r\n:2\r\n"       \
	"$17\r\nlast-delivered-id\r\n$3\r\n2-0\r\n$12\r\nentries-read\r\n:2\r\n$3\r\nlag\r\n" lag

TEST(stream_lag_as_keda_computes_it)
{
	struct rds_reply *xlen = parse1(":9\r\n");
	struct em_err err = {0};
	enum rds_lag_source src;
	long long v;
	struct rds_reply *g;

	/* group found: its lag */
	g = parse1("*2\r\n" GROUP("a", ":3\r\n") GROUP("b", ":5\r\n"));
	EXPECT(g != NULL);
	EXPECT_INT(rds_stream_lag(g, xlen, "b", &v, &src, &err), 0);
	EXPECT_INT(v, 5);
	EXPECT_INT(src, RDS_LAG_EXACT);
	/* group missing: the stream length, as if created from the start */
	EXPECT_INT(rds_stream_lag(g, xlen, "zz", &v, &src, &err), 0);
	EXPECT_INT(v, 9);
	EXPECT_INT(src, RDS_LAG_NO_GROUP);
	rds_reply_free(g);
	/* lag unknown (nil after deletions): the stream length, not KEDA's -1 */
	g = parse1("*1\r\n" GROUP("a", "$-1\r\n"));
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), 0);
	EXPECT_INT(v, 9);
	EXPECT_INT(src, RDS_LAG_UNKNOWN);
	rds_reply_free(g);
	/* no stream: 0 */
	g = parse1("-ERR no such key\r\n");
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), 0);
	EXPECT_INT(v, 0);
	EXPECT_INT(src, RDS_LAG_NO_STREAM);
	rds_reply_free(g);
	/* another error: shown */
	g = parse1("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), -1);
	EXPECT(strncmp(err.msg, "WRONGTYPE", 9) == 0);
	rds_reply_free(g);
	/* a Redis 6 server: no lag field */
	g = parse1("*1\r\n*4\r\n$4\r\nname\r\n$1\r\na\r\n$7\r\npending\r\n:0\r\n");
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), -1);
	EXPECT_STR(err.msg, "redis version 7+ required for lag");
	rds_reply_free(g);
	/* odd shapes */
	g = parse1("*1\r\n:1\r\n");
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), -1);
	EXPECT_STR(err.msg, "XINFO GROUPS: unexpected reply: a group is an integer");
	rds_reply_free(g);
	g = parse1("*1\r\n" GROUP("a", "$1\r\n3\r\n"));
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), -1);
	EXPECT_STR(err.msg, "XINFO GROUPS: unexpected reply: lag is a string");
	rds_reply_free(g);
	/* group missing and XLEN failed */
	g = parse1("*0\r\n");
	rds_reply_free(xlen);
	xlen = parse1("-WRONGTYPE x\r\n");
	EXPECT_INT(rds_stream_lag(g, xlen, "a", &v, &src, &err), -1);
	EXPECT_STR(err.msg, "WRONGTYPE x");
	rds_reply_free(g);
	rds_reply_free(xlen);
}

TEST(scalers_registered_with_keda_types)
{
	static const char *const types[] = {"redis", "redis-cluster", "redis-sentinel", "redis-streams",
					    "redis-cluster-streams", "redis-sentinel-streams"};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct em_scaler *s = em_scaler_find(types[i]);
		EXPECT(s != NULL);
		if (s)
			EXPECT(s->validate && s->open && s->fetch && s->close);
	}
}
