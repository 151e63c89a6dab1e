/* test_rabbitmq.c - unit tests of the rabbitmq scaler's pure parts: KEDA's checks, vhosts, URIs, answers, modes. */
#include "harness.h"

#include "scalers/rabbitmq/rabbitmq.h"

/* Parses "k=v" pairs (NULL-terminated) with the scaler's table and validates. */
static int load(struct rmq_cfg *c, struct em_err *err, const char *const *kv)
{
	struct em_rawopt items[32];
	struct em_rawopts raw = {items, 0};
	char keys[32][64];
	struct em_optdiag d;

	em_optdiag_to_err(&d, err);
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		snprintf(keys[i], sizeof(keys[i]), "%.*s", (int)(eq - kv[i]), kv[i]);
		items[raw.n++] = (struct em_rawopt){.name = keys[i], .value = eq + 1};
	}
	if (em_options_parse(rmq_options, &raw, c, &d) != 0)
		return -1;
	return rmq_validate(c, err);
}

#define HOSTA "host=amqp://user:sercet@somehost.com:5236/vhost"

TEST(keda_metadata_table)
{
	static const struct {
		const char *kv[8];
		bool ok;
	} cases[] = {
		{{"queueLength=10", "queueName=sample", HOSTA}, true},
		{{"queueLength=AA", "queueName=sample", HOSTA}, false},
		{{"queueLength=10", HOSTA}, false},                          /* no queueName */
		{{"queueLength=10", "queueName=sample", "host=http://h", "protocol=http"}, true},
		{{"queueLength=10", "queueName=namespace/name", HOSTA}, true},
		{{"vhostName=myVhost", "queueName=namespace/name", HOSTA}, true},
		{{"queueName=sample", "host=something://"}, false},
		{{"queueName=sample", "host=http://h"}, true},
		{{"queueName=sample", "host=https://h"}, true},
		{{"queueLength=10", "mode=QueueLength", "queueName=sample", "host=https://h"}, false},
		{{"queueLength=10", "value=20", "queueName=sample", "host=https://h"}, false},
		{{"mode=QueueLength", "queueName=sample", "host=https://h"}, false},
		{{"value=20", "queueName=sample", "host=https://h"}, false},
		{{"mode=QueueLength", "value=20", "queueName=sample", "host=https://h"}, true},
		{{"mode=Feelings", "value=20", "queueName=sample", "host=https://h"}, false},
		{{"mode=QueueLength", "value=lots", "queueName=sample", "host=https://h"}, false},
		{{"mode=QueueLength", "value=20", "queueName=sample", "host=amqps://"}, true},
		{{"mode=MessageRate", "value=1000", "queueName=sample", "host=amqps://"}, false},
		{{"mode=MessageRate", "value=1000", "queueName=sample", "host=amqp://"}, false},
		{{"mode=MessageRate", "value=1000", "queueName=sample", "host=http://h"}, true},
		{{"mode=DeliverGetRate", "value=1000", "queueName=sample", "host=amqp://"}, false},
		{{"mode=DeliverGetRate", "value=1000", "queueName=sample", "host=https://h"}, true},
		{{"queueName=sample", "host=amqps://", "useRegex=true"}, false},
		{{"queueName=sample", "host=http://h", "useRegex=true"}, true},
		{{"mode=QueueLength", "value=1000", "queueName=sample", "host=http://h", "timeout=1000"}, true},
		{{"mode=QueueLength", "value=1000", "queueName=sample", "host=http://h", "timeout=-10"}, false},
		{{"mode=QueueLength", "value=1000", "queueName=sample", "host=http://h", "timeout=error"}, false},
		{{"mode=QueueLength", "value=1000", "queueName=sample", "host=amqp://", "timeout=10"}, false},
		{{"mode=MessageRate", "value=1", "queueName=s", "host=http://h", "useRegex=true", "pageSize=-1"}, false},
		{{"mode=MessageRate", "value=1", "queueName=s", "host=http://h", "useRegex=true", "pageSize=a"}, false},
		{{"activationValue=10", "queueLength=20", "queueName=sample", HOSTA}, true},
		{{"activationValue=AA", "queueLength=10", "queueName=sample", HOSTA}, false},
		{{"mode=QueueLength", "value=1", "queueName=s", "host=amqp://", "excludeUnacknowledged=true"}, false},
		{{"queueName=sample", "host=https://h", "unsafeSsl=true"}, true},
		{{"queueName=sample", "host=https://h", "unsafeSsl=random"}, false},
		/* auth params */
		{{"queueName=s", HOSTA, "username=user", "password=PASSWORD"}, true},
		{{"queueName=s", HOSTA, "username=user"}, false},
		{{"queueName=s", HOSTA, "password=PASSWORD"}, false},
		{{"queueName=s", HOSTA, "tls=yes"}, false},
		{{"queueName=s", HOSTA, "workloadIdentityResource=r"}, false},
		{{"queueName=s", "host=http://h", "oauthTokenURI=https://o/t", "clientID=c", "clientSecret=s"}, false},
		{{"queueName=s", HOSTA, "operation=median"}, false},
		{{"queueName=s", "host=amqp://h?certfile=/c.pem"}, false},
		{{"queueName=s", "host=amqp://h?heartbeat=5&channel_max=10"}, true},
		{{"queueName=s", "host=amqp://h?heartbeat=x"}, false},
		{{"queueName=s", "host=amqp://h:99999/"}, false},
		{{"queueName=s", "host=amqp://h/ x"}, false},
		/* ours: tls=enable needs a TLS scheme; material only with tls */
		{{"queueName=s", "host=amqp://h/", "tls=enable"}, false},
		{{"queueName=s", "host=http://h/", "tls=enable"}, false},
		{{"queueName=s", "host=amqp://h/", "ca=x"}, false},
		{{"queueName=s", "host=http://h/?x=1"}, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rmq_cfg c;
		struct em_err err = {0};
		int rc = load(&c, &err, cases[i].kv);
		if ((rc == 0) != cases[i].ok)
			TH_FAIL("case %zu (%s %s %s): rc %d, %s", i, cases[i].kv[0], cases[i].kv[1],
				cases[i].kv[2] ? cases[i].kv[2] : "", rc, err.msg);
		if (rc != 0 && strstr(err.msg, "sercet"))
			TH_FAIL("case %zu: the password shows: %s", i, err.msg);
		em_options_free(rmq_options, &c);
	}
}

TEST(defaults_and_deprecated_queue_length)
{
	struct rmq_cfg c;
	struct em_err err;
	const char *a[] = {"queueName=q", "host=amqp://h", NULL};
	const char *b[] = {"queueName=q", "host=http://h", "queueLength=7", NULL};
	const char *d[] = {"queueName=q", "host=http://h", "mode=MessageRate", "value=3", NULL};

	EXPECT_INT(load(&c, &err, a), 0);
	EXPECT_INT(c.m, RMQ_QUEUE_LENGTH);
	EXPECT_DBL(c.value, 20, 0);
	EXPECT_INT(c.proto, RMQ_AMQP);
	EXPECT_INT(c.pageSize, 100);
	EXPECT_INT(c.op, RMQ_SUM);
	em_options_free(rmq_options, &c);
	EXPECT_INT(load(&c, &err, b), 0);
	EXPECT_INT(c.m, RMQ_QUEUE_LENGTH);
	EXPECT_DBL(c.value, 7, 0);
	EXPECT_INT(c.proto, RMQ_HTTP);
	em_options_free(rmq_options, &c);
	EXPECT_INT(load(&c, &err, d), 0);
	EXPECT_INT(c.m, RMQ_MESSAGE_RATE);
	em_options_free(rmq_options, &c);
}

TEST(keda_vhost_and_path_table)
{
	static const struct {
		const char *raw, *over, *vhost, *path;
	} cases[] = {
		{"myVhost", "", "/myVhost", ""},
		{"%2FmyVhost", "", "/%2FmyVhost", ""},
		{"/", "", "/%2F", ""},
		{"//", "", "/%2F", ""},
		{"/%2F", "", "/%2F", ""},
		{"", "", "/%2F", ""},
		{"sub1/myVhost", "", "/myVhost", "/sub1"},
		{"sub1/", "overridenVhost", "/overridenVhost", "/sub1"},
		{"myVhost", "overridenVhost", "/overridenVhost", ""},
		{"sub1/%2FmyVhost", "", "/%2FmyVhost", "/sub1"},
		{"sub1/", "", "/%2F", "/sub1"},
		{"sub1/", "myVhost", "/myVhost", "/sub1"},
		{"sub1//", "", "/%2F", "/sub1"},
		{"sub1/%2F", "", "/%2F", "/sub1"},
		{"sub1/sub2/myVhost", "", "/myVhost", "/sub1/sub2"},
		{"sub1/sub2/myVhost", "overridenVhost", "/overridenVhost", "/sub1/sub2"},
		{"sub1/sub2/%2FmyVhost", "", "/%2FmyVhost", "/sub1/sub2"},
		{"sub1/sub2/", "", "/%2F", "/sub1/sub2"},
		{"sub1/sub2/", "myVhost", "/myVhost", "/sub1/sub2"},
		{"sub1/sub2//", "", "/%2F", "/sub1/sub2"},
		{"sub1/sub2/%2F", "", "/%2F", "/sub1/sub2"},
		/* path.Join cleans; vhostName is a path segment (KEDA: query-escaped, a space as '+') */
		{"/a/./b/../c/vh", "", "/vh", "/a/c"},
		{"/api/", "my vhost/x", "/my%20vhost%2Fx", "/api"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *v = NULL, *p = NULL;
		rmq_vhost_and_path(cases[i].raw, cases[i].over, &v, &p);
		if (!v || !p || strcmp(v, cases[i].vhost) || strcmp(p, cases[i].path))
			TH_FAIL("\"%s\" \"%s\": \"%s\" \"%s\", expected \"%s\" \"%s\"", cases[i].raw, cases[i].over,
				v ? v : "(null)", p ? p : "(null)", cases[i].vhost, cases[i].path);
		free(v);
		free(p);
	}
}

TEST(management_urls)
{
	static const struct {
		const char *host, *vhost, *queue;
		bool regex;
		const char *url;
	} cases[] = {
		{"http://u:p@rabbit:15672/", "", "evaluate_trials", false,
		 "http://rabbit:15672/api/queues/%2F/evaluate_trials"},
		{"http://rabbit:15672/sub/vh", "", "a b/c", false, "http://rabbit:15672/sub/api/queues/vh/a%20b%2Fc"},
		{"https://[::1]:15671", "v", "q", false, "https://[::1]:15671/api/queues/v/q"},
		{"http://rabbit:15672/", "", "^evaluate_trials$", true,
		 "http://rabbit:15672/api/queues/%2F?page=1&use_regex=true&pagination=false&name=%5Eevaluate_trials%24&page_size=100"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rmq_cfg c = {.queueName = (char *)cases[i].queue, .useRegex = cases[i].regex, .pageSize = 100};
		struct rmq_http_target t;
		struct em_err err;
		char *url;
		if (rmq_http_target_parse(cases[i].host, cases[i].vhost, &t, &err) != 0) {
			TH_FAIL("%s: %s", cases[i].host, err.msg);
			continue;
		}
		url = rmq_queue_url(&t, &c);
		EXPECT_STR(url, cases[i].url);
		free(url);
		rmq_http_target_free(&t);
	}
	{
		struct rmq_http_target t;
		struct em_err err;
		EXPECT_INT(rmq_http_target_parse("http://us%40er:p%3Aw@h:1/", "", &t, &err), 0);
		EXPECT_STR(t.user, "us@er");
		EXPECT_STR(t.password, "p:w");
		EXPECT_STR(t.base, "http://h:1");
		rmq_http_target_free(&t);
	}
}

TEST(amqp_uris_as_amqp091_go)
{
	static const struct {
		const char *uri, *host, *user, *pw, *vhost;
		int port;
		bool tls;
	} cases[] = {
		{"amqp://h:5672/", "h", "guest", "guest", "/", 5672, false},
		{"amqp://h:5672", "h", "guest", "guest", "/", 5672, false},
		{"amqp://h/%2F", "h", "guest", "guest", "/", 5672, false},
		{"amqp://u:p@h/vh", "h", "u", "p", "vh", 5672, false},
		{"amqps://u@h", "h", "u", "guest", "/", 5671, true},
		{"amqps://", "localhost", "guest", "guest", "/", 5671, true},
		{"amqp://us%40r:p%2Fw@[::1]:1234/a%2Fb", "::1", "us@r", "p/w", "a/b", 1234, false},
		{"AMQP://h//", "h", "guest", "guest", "/", 5672, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rmq_uri u;
		struct em_err err;
		if (rmq_parse_uri(cases[i].uri, &u, &err) != 0) {
			TH_FAIL("%s: %s", cases[i].uri, err.msg);
			continue;
		}
		EXPECT_STR(u.host, cases[i].host);
		EXPECT_STR(u.user, cases[i].user);
		EXPECT_STR(u.password, cases[i].pw);
		EXPECT_STR(u.vhost, cases[i].vhost);
		EXPECT_INT(u.port, cases[i].port);
		EXPECT_INT(u.tls, cases[i].tls);
		rmq_uri_free(&u);
	}
	{
		static const char *const bad[] = {"http://h", "amqp://h:0/", "amqp://h:x/", "amqp://u:%zz@h/",
						  "amqp://h /", "amqp://h?connection_timeout=-1"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct rmq_uri u;
			struct em_err err;
			if (rmq_parse_uri(bad[i], &u, &err) == 0) {
				TH_FAIL("%s parsed", bad[i]);
				rmq_uri_free(&u);
			} else if (strncmp(err.msg, "host: ", 6) != 0 || strstr(err.msg, "zz")) {
				TH_FAIL("%s: %s", bad[i], err.msg);
			}
		}
	}
}

static const char *stats(int messages, int unacked, const char *pub, const char *dg, char *buf, size_t cap)
{
	snprintf(buf, cap, "{\"messages\": %d, \"messages_ready\": %d, \"messages_unacknowledged\": %d, \"message_stats\": "
		 "{\"publish_details\": {\"rate\": %s}, \"deliver_get_details\": {\"rate\": %s}}, \"name\": \"q\"}",
		 messages, messages - unacked, unacked, pub, dg);
	return buf;
}

TEST(keda_activity_of_each_mode)
{
	/* KEDA's testQueueInfoTestData: (messages, unacked, publish, deliver) -> active */
	static const struct {
		enum rmq_mode m;
		int messages, unacked;
		const char *pub, *dg;
		bool active;
		double value;
	} cases[] = {
		{RMQ_QUEUE_LENGTH, 4, 1, "0", "0", true, 4},
		{RMQ_QUEUE_LENGTH, 0, 0, "0", "0", false, 0},
		{RMQ_QUEUE_LENGTH, 0, 0, "1.4", "2", false, 0},
		{RMQ_MESSAGE_RATE, 4, 1, "0", "1.3", true, 0},
		{RMQ_MESSAGE_RATE, 0, 0, "0", "0", false, 0},
		{RMQ_MESSAGE_RATE, 0, 0, "1.4", "0", true, 1.4},
		{RMQ_DELIVER_GET_RATE, 30, 10, "5", "1", true, 1},
		{RMQ_DELIVER_GET_RATE, 0, 0, "0", "0", false, 0},
		{RMQ_PUBLISHED_TO_DELIVERED_RATIO, 0, 0, "5", "0", true, 0},
		{RMQ_PUBLISHED_TO_DELIVERED_RATIO, 0, 0, "5", "2", true, 2.5},
		{RMQ_PUBLISHED_TO_DELIVERED_RATIO, 0, 0, "0", "0", false, 0},
		{RMQ_EXPECTED_CONSUMPTION_TIME, 0, 0, "5", "2", false, 0},
		{RMQ_EXPECTED_CONSUMPTION_TIME, 10, 0, "0", "0", true, 0},
		{RMQ_EXPECTED_CONSUMPTION_TIME, 10, 0, "3", "2", true, 5.5},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rmq_cfg c = {.m = cases[i].m, .value = 100};
		struct rmq_queue q;
		struct em_err err;
		char buf[400];
		const char *body = stats(cases[i].messages, cases[i].unacked, cases[i].pub, cases[i].dg, buf, sizeof(buf));
		double v;
		bool active;
		if (rmq_parse_queue_json(body, strlen(body), false, RMQ_SUM, &q, &err) != 0) {
			TH_FAIL("case %zu: %s", i, err.msg);
			continue;
		}
		rmq_mode_value(&c, &q, &v, &active);
		if (active != cases[i].active || fabs(v - cases[i].value) > 1e-9)
			TH_FAIL("case %zu: value %g active %d, expected %g %d", i, v, active, cases[i].value, cases[i].active);
	}
}

TEST(exclude_unacknowledged_and_regex_operations)
{
	const char *list = "{\"items\": [{\"messages\": 4, \"messages_ready\": 3, \"message_stats\": {\"publish_details\": "
			   "{\"rate\": 1.5}}}, {\"messages\": 7, \"messages_ready\": 7}, {\"name\": \"fresh\"}], "
			   "\"page_count\": 1}";
	struct rmq_cfg c = {.m = RMQ_QUEUE_LENGTH, .excludeUnacknowledged = true};
	struct rmq_queue q;
	struct em_err err;
	double v;
	bool a;

	EXPECT_INT(rmq_parse_queue_json(list, strlen(list), true, RMQ_SUM, &q, &err), 0);
	EXPECT_INT(q.messages, 11);
	EXPECT_INT(q.ready, 10);
	rmq_mode_value(&c, &q, &v, &a);
	EXPECT_DBL(v, 10, 0);
	EXPECT_INT(rmq_parse_queue_json(list, strlen(list), true, RMQ_AVG, &q, &err), 0);
	EXPECT_INT(q.messages, 3);   /* Go's int division: 11 / 3 */
	EXPECT_DBL(q.publish_rate, 0.5, 1e-12);
	EXPECT_INT(rmq_parse_queue_json(list, strlen(list), true, RMQ_MAX, &q, &err), 0);
	EXPECT_INT(q.messages, 7);
	EXPECT_DBL(q.publish_rate, 1.5, 0);
	EXPECT_INT(rmq_parse_queue_json("{\"items\": []}", 13, true, RMQ_AVG, &q, &err), 0);
	EXPECT_INT(q.messages, 0);
}

TEST(hostile_answers_are_errors)
{
	static const char *const bad[] = {
		"", "not json", "[]", "{\"messages\": 1.5}", "{\"messages\": -1}", "{\"messages\": \"4\"}",
		"{\"messages\": 9007199254740993}", "{\"messages\": 99999999999999999999}",
		"{\"message_stats\": {\"publish_details\": {\"rate\": -1}}}",
		"{\"message_stats\": {\"publish_details\": {\"rate\": 1e400}}}",
		"{\"message_stats\": {\"publish_details\": {\"rate\": \"x\"}}}",
		"{\"messages\": 1, \"messages\": 2}",
	};
	static const char *const bad_lists[] = {
		"{\"items\": [], \"page_count\": 2}", "{\"items\": {}}", "[]", "{\"page_count\": \"1\"}",
		"{\"items\": [{\"messages\": 9007199254740992}, {\"messages\": 1}]}", "{\"items\": [1]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rmq_queue q;
		struct em_err err = {0};
		if (rmq_parse_queue_json(bad[i], strlen(bad[i]), false, RMQ_SUM, &q, &err) == 0)
			TH_FAIL("accepted %s", bad[i]);
		else if (err.kind != EM_E_UNAVAILABLE || !strstr(err.msg, "RabbitMQ"))
			TH_FAIL("%s: %d %s", bad[i], err.kind, err.msg);
	}
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
		struct rmq_queue q;
		struct em_err err = {0};
		if (rmq_parse_queue_json(bad_lists[i], strlen(bad_lists[i]), true, RMQ_SUM, &q, &err) == 0)
			TH_FAIL("accepted %s", bad_lists[i]);
	}
}

TEST(scrub_hides_every_credential)
{
	struct rmq_cfg c = {.host = "http://bob:hunter2%21@h:1/", .proto = RMQ_HTTP, .password = NULL};
	char msg[256];

	snprintf(msg, sizeof(msg), "x hunter2! y %s z aHVudGVy", c.host);
	rmq_scrub(&c, msg, sizeof(msg));
	EXPECT(!strstr(msg, "hunter2"));
	c.host = "amqp://bob:s3cr%2Ft@h/";
	c.proto = RMQ_AMQP;
	snprintf(msg, sizeof(msg), "login s3cr/t refused");
	rmq_scrub(&c, msg, sizeof(msg));
	EXPECT(!strstr(msg, "s3cr"));
}
