/* test_registry.c - the registry and poller with a fake scaler and the injected clock: polling, idling, reloads. */
#include <dirent.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/registry.h"
#include "adapter/selfmetrics.h"
#include "adapter/util/clock.h"

/* ---- the injected clock ---- */

static int64_t mono = 1000000, wall = 1700000000000;

static int64_t fake_mono(void)
{
	return mono;
}

static int64_t fake_wall(void)
{
	return wall;
}

static const struct em_clock fake_clock = {fake_mono, fake_wall};

static void advance(int64_t ms)
{
	mono += ms;
	wall += ms;
}

/* ---- the fake scaler: cron's option names, value = desiredReplicas, calls counted ---- */

#define NVAL 2000

struct fake_cfg {
	char *timezone, *start, *end;
	int64_t desired;
};

static const struct em_option fake_options[] = {
	{.name = "timezone", .type = EM_OPT_STRING, .offset = offsetof(struct fake_cfg, timezone)},
	{.name = "start", .type = EM_OPT_STRING, .offset = offsetof(struct fake_cfg, start)},
	{.name = "end", .type = EM_OPT_STRING, .offset = offsetof(struct fake_cfg, end)},
	{.name = "desiredReplicas", .type = EM_OPT_INT, .offset = offsetof(struct fake_cfg, desired)},
	EM_OPTIONS_END,
};

static int fetches[NVAL], opens, closes;
static bool failing[NVAL];

static void *fake_open(const void *cfg, struct em_err *err)
{
	int64_t *v = malloc(sizeof(*v));

	if (!v) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	*v = ((const struct fake_cfg *)cfg)->desired;
	opens++;
	return v;
}

/* Thread-local state torn down slowly when a worker thread ends, as
 * libpq's OpenSSL state is (stop_joins_every_worker). */
static pthread_key_t tls_key;
static bool slow_teardown;

static void teardown(void *p)
{
	(void)p;
	nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
}

static int fake_fetch(void *inst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	int64_t v = *(int64_t *)inst;

	(void)ctx;
	if (slow_teardown)
		pthread_setspecific(tls_key, inst);
	if (v >= 0 && v < NVAL)
		fetches[v]++;
	if (v >= 0 && v < NVAL && failing[v])
		return em_err_set(err, EM_E_UNAVAILABLE, "backend %lld is down", (long long)v);
	out->value = (double)v;
	out->active = true;
	return 0;
}

static void fake_close(void *inst)
{
	if (inst)
		closes++;
	free(inst);
}

static const struct em_scaler fake_scaler = {
	.type = "fake",
	.options = fake_options,
	.config_size = sizeof(struct fake_cfg),
	.open = fake_open,
	.fetch = fake_fetch,
	.close = fake_close,
};

static void reset_counts(void)
{
	memset(fetches, 0, sizeof(fetches));
	memset(failing, 0, sizeof(failing));
	opens = closes = 0;
}

/* A config of cron entries (so the loader checks them) run by the fake scaler. */
static struct em_config *load(const char *text)
{
	struct em_errlist errs = {0};
	struct em_config *c = em_config_load_mem("test.yaml", text, strlen(text), &errs);

	for (size_t i = 0; i < errs.n; i++)
		printf("#   config: %s\n", errs.msgs[i]);
	em_errlist_free(&errs);
	for (size_t i = 0; c && i < c->n_metrics; i++)
		c->metrics[i].scaler = &fake_scaler;
	return c;
}

static char *entries(int from, int to, const char *extra, int changed)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_puts(&sb, "server: {auth: {mode: none}}\ndefaults: {pollingInterval: 1s, timeout: 3s}\nmetrics:\n");
	for (int i = from; i <= to; i++)
		em_sb_printf(&sb,
			     "  - {name: m%d, namespaces: [\"*\"], type: cron, %s metadata: {timezone: UTC, start: \"0 1 * * *\", "
			     "end: \"0 2 * * *\", desiredReplicas: \"%d\"}}\n",
			     i, extra, i == changed ? i + 1000 : i);
	return em_sb_steal(&sb);
}

/* ---- requests ---- */

struct req {
	struct em_waiter w;
	int woken;
};

static void on_wake(void *arg)
{
	((struct req *)arg)->woken++;
}

/* One request as the server makes it: 200 with the value, EM_REG_WAIT
 * (parked), or the error kind's HTTP code. A new request starts with a
 * zeroed q; a woken one asks again with the same q. */
static int ask(struct em_registry *r, const char *metric, const struct em_kvlist *sel, struct req *q, double *value)
{
	struct em_lookup lk;
	struct em_err err = {0};
	int rc;

	q->w.wake = on_wake;
	q->w.arg = q;
	rc = em_registry_get(r, "default", metric, sel, &q->w, &lk, &err);
	if (rc == EM_REG_WAIT) {
		em_registry_wait_arm(r, &q->w);
		return EM_REG_WAIT;
	}
	if (rc != 0)
		return err.kind == EM_E_UNAVAILABLE ? 503 : err.kind == EM_E_NOTFOUND ? 404 : 500;
	*value = lk.served.sample.value;
	em_lookup_release(r, &lk);
	return 200;
}

/* Steps the poller every 100 ms for ms. */
static size_t run_for(struct em_registry *r, int64_t ms)
{
	size_t n = 0;

	for (int64_t t = 0; t < ms; t += 100) {
		advance(100);
		n += em_registry_step(r);
	}
	return n;
}

/* The label set of m1's own series (entries() allows every namespace). */
#define M1 "metric=\"m1\",metric_namespace=\"*\",scaler=\"fake\""

static char *render(void)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_selfmetrics_render(&sb);
	return em_sb_steal(&sb);
}

/* The log lines written between capture_start and capture_end (stderr). */
static FILE *captured;
static int saved_stderr = -1;

static void capture_start(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(captured), 2);
}

static char *capture_end(void)
{
	struct em_strbuf sb;
	char buf[4096];
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(captured);
	em_sb_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), captured)) > 0)
		em_sb_add(&sb, buf, n);
	fclose(captured);
	return em_sb_steal(&sb);
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Steps the poller until m1 has been fetched once more (at most 3 s). */
static void next_fetch(struct em_registry *r)
{
	int before = fetches[1];

	for (int i = 0; i < 30 && fetches[1] == before; i++) {
		advance(100);
		em_registry_step(r);
	}
}

static void setup(void)
{
	em_log_setup(EM_LOG_ERROR, false);
	em_clock_use(&fake_clock);
	reset_counts();
}

TEST(eager_metrics_poll_from_start_on_their_interval)
{
	char *text = entries(1, 2, "polling: eager, pollingInterval: 5s,", 0);
	struct em_config *c;
	struct em_registry *r;
	struct em_err err = {0};

	setup();
	c = load(text);
	EXPECT(c != NULL);
	c->metrics[0].polling_ms = 1000;   /* m1 every second, m2 every 5 s */
	r = em_registry_new(c, EM_REG_MANUAL, &err);
	EXPECT(r != NULL);
	EXPECT_INT(em_registry_step(r), 2);    /* both due at start */
	EXPECT_INT(em_registry_step(r), 0);    /* nothing again at the same time */
	run_for(r, 100000);
	/* +-10 % jitter around each interval */
	EXPECT(fetches[1] >= 1 + 90 && fetches[1] <= 1 + 112);
	EXPECT(fetches[2] >= 1 + 18 && fetches[2] <= 1 + 23);
	em_registry_free(r);
	EXPECT_INT(closes, 2);
	free(text);
	em_clock_use(NULL);
}

TEST(demand_metric_costs_nothing_until_asked_then_idles)
{
	char *text = entries(1, 1, "", 0), *m;
	struct em_registry *r;
	struct em_err err = {0};
	struct req q = {0};
	double v = 0;
	int before;

	setup();
	r = em_registry_new(load(text), EM_REG_MANUAL, &err);
	EXPECT(r != NULL);
	run_for(r, 60000);
	EXPECT_INT(fetches[1], 0);   /* nobody asked: no backend call */
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"idle\"} 1\n") != NULL);
	free(m);

	/* the first request waits for one fetch, then is served */
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), EM_REG_WAIT);
	EXPECT_INT(q.woken, 0);
	EXPECT_INT(em_registry_step(r), 1);
	EXPECT_INT(q.woken, 1);
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), 200);
	EXPECT_DBL(v, 1, 0);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"ok\"} 1\n") != NULL);
	EXPECT(strstr(m, "state=\"idle\"") == NULL);   /* one state series per metric */
	free(m);

	/* polled every second while an HPA asks every 5 s */
	for (int i = 0; i < 12; i++) {
		run_for(r, 5000);
		EXPECT_INT(ask(r, "m1", NULL, &q, &v), 200);
	}
	EXPECT(fetches[1] >= 1 + 54 && fetches[1] <= 1 + 67);

	/* unasked for 10 x pollingInterval: it stops and says so */
	run_for(r, 12000);
	before = fetches[1];
	run_for(r, 60000);
	EXPECT_INT(fetches[1], before);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"idle\"} 1\n") != NULL);
	free(m);

	/* asked again (a new request): waits for one fresh fetch although a value is cached */
	memset(&q, 0, sizeof(q));
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), EM_REG_WAIT);
	EXPECT_INT(em_registry_step(r), 1);
	EXPECT_INT(q.woken, 1);
	EXPECT_INT(fetches[1], before + 1);
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), 200);
	em_registry_free(r);
	free(text);
	em_clock_use(NULL);
}

TEST(failed_fetches_count_and_answer_503)
{
	char *text = entries(1, 1, "polling: eager,", 0), *m;
	struct em_registry *r;
	struct em_err err = {0};
	struct req q = {0};
	double v;

	setup();
	failing[1] = true;
	r = em_registry_new(load(text), EM_REG_MANUAL, &err);
	EXPECT_INT(em_registry_step(r), 1);
	run_for(r, 2500);
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), 503);
	m = render();
	{
		const char *s = "extmetrics_scaler_fetch_errors_total{" M1 "} ";
		const char *p = strstr(m, s);
		EXPECT(p != NULL);
		EXPECT_INT(p ? strtol(p + strlen(s), NULL, 10) : 0, fetches[1]);
	}
	free(m);
	EXPECT_INT(ask(r, "nope", NULL, &q, &v), 404);
	em_registry_free(r);
	free(text);
	em_clock_use(NULL);
}

TEST(templated_instances_come_with_requests_and_go_with_their_series)
{
	const char *text = "server: {auth: {mode: none}}\ndefaults: {pollingInterval: 1s}\nmetrics:\n"
			   "  - {name: t, namespaces: [\"*\"], type: cron, metadata: {timezone: UTC, start: \"0 1 * * *\", "
			   "end: \"0 2 * * *\", desiredReplicas: \"${selector.n}\"}}\n";
	struct em_kv kv = {"n", "42"};
	struct em_kvlist sel = {&kv, 1};
	struct em_registry *r;
	struct em_err err = {0};
	struct req q = {0};
	double v = 0;
	char *m;

	setup();
	r = em_registry_new(load(text), EM_REG_MANUAL, &err);
	EXPECT_INT(run_for(r, 5000), 0);
	EXPECT_INT(ask(r, "t", &sel, &q, &v), EM_REG_WAIT);
	EXPECT_INT(em_registry_step(r), 1);
	EXPECT_INT(ask(r, "t", &sel, &q, &v), 200);
	EXPECT_DBL(v, 42, 0);
	EXPECT_INT(opens, 1);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_value{metric=\"t\",metric_namespace=\"default\",scaler=\"fake\",metric_instance=") !=
	       NULL);
	free(m);
	/* no request for 2 x pollingInterval and a minute (four HPA periods):
	 * dropped, with its series */
	run_for(r, 15000);
	EXPECT_INT(closes, 0);
	run_for(r, 50000);
	EXPECT_INT(closes, 1);
	m = render();
	EXPECT(strstr(m, "metric=\"t\"") == NULL);
	free(m);
	em_registry_free(r);
	em_clock_use(NULL);
}

TEST(reload_changing_one_metric_keeps_the_others)
{
	char *a = entries(1, 500, "polling: eager,", 0), *b = entries(1, 500, "polling: eager,", 7);
	struct em_registry *r;
	struct em_err err = {0};
	struct req q = {0};
	double v = 0;

	setup();
	r = em_registry_new(load(a), EM_REG_MANUAL, &err);
	EXPECT_INT(em_registry_step(r), 500);
	EXPECT_INT(opens, 500);
	em_registry_reload(r, load(b));
	EXPECT_INT(opens, 501);    /* only m7 is new */
	EXPECT_INT(closes, 1);     /* only the old m7 went */
	/* the others are served from their cache at once; m7 waits for its first sample */
	EXPECT_INT(ask(r, "m8", NULL, &q, &v), 200);
	EXPECT_DBL(v, 8, 0);
	EXPECT_INT(ask(r, "m7", NULL, &q, &v), EM_REG_WAIT);
	EXPECT_INT(em_registry_step(r), 1);
	EXPECT_INT(q.woken, 1);
	EXPECT_INT(ask(r, "m7", NULL, &q, &v), 200);
	EXPECT_DBL(v, 1007, 0);
	EXPECT_INT(fetches[8], 1);
	EXPECT_INT(fetches[1007], 1);
	/* a removed metric is gone, with its instance */
	free(a);
	a = entries(1, 499, "polling: eager,", 7);
	em_registry_reload(r, load(a));
	EXPECT_INT(closes, 2);
	EXPECT_INT(ask(r, "m500", NULL, &q, &v), 404);
	em_registry_free(r);
	EXPECT_INT(closes, 501);
	free(a);
	free(b);
	em_clock_use(NULL);
}

/* Threads of this process, as /proc lists them. */
static int task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

TEST(stop_joins_every_worker)
{
	char *text = entries(1, 6, "polling: eager,", 0);
	struct em_registry *r;
	struct em_err err = {0};
	int before, polled = 0;

	em_log_setup(EM_LOG_ERROR, false);
	em_clock_use(NULL);   /* real threads on the real clock */
	reset_counts();
	EXPECT_INT(pthread_key_create(&tls_key, teardown), 0);
	slow_teardown = true;
	before = task_count();
	r = em_registry_new(load(text), EM_REG_POLL, &err);
	EXPECT(r != NULL);
	/* wait for every metric's first fetch (10 s at most: a stuck poller fails below) */
	for (int i = 0; r && i < 1000 && polled < 6; i++) {
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
		polled = 0;
		for (int v = 1; v <= 6; v++)
			polled += __atomic_load_n(&fetches[v], __ATOMIC_RELAXED) > 0;
	}
	EXPECT_INT(polled, 6);
	EXPECT(task_count() > before);
	em_registry_free(r);
	/* joined, not merely finished: none is still tearing down (libpq and
	 * OpenSSL free their thread-local state then) when the process exits */
	EXPECT_INT(task_count(), before);
	slow_teardown = false;
	pthread_key_delete(tls_key);
	free(text);
}

TEST(each_change_of_state_is_published_and_logged_once)
{
	char *text = entries(1, 1, "polling: eager, staleAfter: 3s,", 0), *m, *log;
	struct em_registry *r;
	struct em_err err = {0};
	struct req q = {0};
	double v;

	setup();
	em_log_setup(EM_LOG_INFO, false);
	r = em_registry_new(load(text), EM_REG_MANUAL, &err);
	/* every series is there before the first fetch: counters at 0, nothing served yet */
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"pending\"} 1\n") != NULL);
	EXPECT(strstr(m, "extmetrics_scaler_fetch_errors_total{" M1 "} 0\n") != NULL);
	EXPECT(strstr(m, "extmetrics_scaler_last_error_timestamp_seconds{" M1 "} 0\n") != NULL);
	EXPECT(strstr(m, "extmetrics_metric_value{" M1 "} NaN\n") != NULL);
	free(m);
	capture_start();
	em_registry_step(r);
	/* the backend fails: the last good value is served while it is fresh enough */
	failing[1] = true;
	next_fetch(r);
	next_fetch(r);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"stale\"} 1\n") != NULL);
	EXPECT(strstr(m, "extmetrics_metric_value{" M1 "} 1\n") != NULL);
	EXPECT(strstr(m, "extmetrics_scaler_fetch_errors_total{" M1 "} 2\n") != NULL);
	EXPECT(strstr(m, "extmetrics_scaler_last_error_timestamp_seconds{" M1 "} 1700") != NULL);
	free(m);
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), 200);
	/* then nothing: 503 */
	for (int i = 0; i < 3; i++)
		next_fetch(r);
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), 503);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"failing\"} 1\n") != NULL);
	EXPECT(strstr(m, "extmetrics_metric_value{" M1 "} NaN\n") != NULL);
	EXPECT(strstr(m, "state=\"stale\"") == NULL);
	free(m);
	/* failing on for 50 s more: no line per poll */
	run_for(r, 50000);
	/* a reminder once a minute has passed since the first line */
	run_for(r, 15000);
	failing[1] = false;
	next_fetch(r);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"ok\"} 1\n") != NULL);
	free(m);
	log = capture_end();
	EXPECT_INT(count(log, "metric m1: fetch failed: backend 1 is down; serving the last good value"), 1);
	EXPECT_INT(count(log, "metric m1: unavailable (503): the last good value is"), 1);
	EXPECT_INT(count(log, "metric m1: still unavailable (503)"), 1);
	EXPECT_INT(count(log, "metric m1: recovered"), 1);
	EXPECT_INT(count(log, " warn "), 3);
	EXPECT_INT(count(log, " info "), 1);
	free(log);

	/* a backend that fails every other poll for half an hour: a few lines, not 900 */
	capture_start();
	for (int i = 0; i < 1800; i++) {
		failing[1] = i % 2 == 0;
		next_fetch(r);
	}
	failing[1] = false;
	next_fetch(r);
	log = capture_end();
	EXPECT(count(log, " warn ") >= 2 && count(log, " warn ") <= 8);
	EXPECT_INT(count(log, " info "), count(log, " warn "));   /* each trouble told has its recovery */
	free(log);
	em_registry_free(r);
	free(text);
	em_clock_use(NULL);
}

TEST(fallback_is_served_and_published_as_the_value)
{
	char *text = entries(1, 1, "polling: eager, fallback: {failureThreshold: 2, value: \"9\"},", 0), *m, *log;
	struct em_registry *r;
	struct em_err err = {0};
	struct req q = {0};
	double v = 0;

	setup();
	em_log_setup(EM_LOG_INFO, false);
	failing[1] = true;
	r = em_registry_new(load(text), EM_REG_MANUAL, &err);
	capture_start();
	em_registry_step(r);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"failing\"} 1\n") != NULL);
	EXPECT(strstr(m, "extmetrics_metric_value{" M1 "} NaN\n") != NULL);
	free(m);
	next_fetch(r);
	EXPECT_INT(ask(r, "m1", NULL, &q, &v), 200);
	EXPECT_DBL(v, 9, 0);
	m = render();
	EXPECT(strstr(m, "extmetrics_metric_state{" M1 ",state=\"fallback\"} 1\n") != NULL);
	EXPECT(strstr(m, "extmetrics_metric_value{" M1 "} 9\n") != NULL);
	EXPECT(strstr(m, "extmetrics_metric_active{" M1 "} 1\n") != NULL);
	free(m);
	log = capture_end();
	EXPECT_INT(count(log, "metric m1: unavailable (503), no value yet: fetch failed: backend 1 is down"), 1);
	EXPECT_INT(count(log, "metric m1: serving the fallback value 9 after 2 failed fetches in a row: backend 1 is down"),
		   1);
	free(log);
	em_registry_free(r);
	free(text);
	em_clock_use(NULL);
}
