/* test_selfmetrics.c - own metrics: families declared once, series handles, sharing and release, lock-free updates from many threads. */
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "adapter/selfmetrics.h"

static struct em_sm_family fam_c = EM_SM_FAMILY(EM_SM_COUNTER, "t_requests_total", "Requests.");
static struct em_sm_family fam_g = EM_SM_FAMILY(EM_SM_GAUGE, "t_value", "A value.");
static struct em_sm_family fam_h = EM_SM_FAMILY(EM_SM_HISTOGRAM, "t_seconds", "Durations.");

static char *render(void)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_selfmetrics_render(&sb);
	return em_sb_steal(&sb);
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST(series_appear_once_updated_with_help_declared_once)
{
	struct em_sm_series *a = em_sm_series(&fam_c, "code=\"200\""), *b = em_sm_series(&fam_c, "code=\"500\"");
	char *t;

	EXPECT(a && b && a != b);
	EXPECT(em_sm_series(&fam_c, "code=\"200\"") == a);   /* the same handle for the same labels */
	t = render();
	EXPECT(strstr(t, "t_requests_total") == NULL);     /* never updated: not shown */
	free(t);
	em_sm_add(a, 2);
	em_sm_add(a, 0.5);
	em_sm_add(b, 0);
	t = render();
	EXPECT_INT(count_of(t, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"), 1);
	EXPECT(strstr(t, "t_requests_total{code=\"200\"} 2.5\n") != NULL);
	EXPECT(strstr(t, "t_requests_total{code=\"500\"} 0\n") != NULL);
	EXPECT(strstr(t, "process_cpu_seconds_total") != NULL);
	free(t);
	em_sm_add(NULL, 1);   /* out of memory at lookup: updates are no-ops */
}

TEST(counted_series_are_shared_and_deleted_with_their_last_holder)
{
	struct em_sm_series *x = em_sm_acquire(&fam_g, "metric=\"q\""), *y = em_sm_acquire(&fam_g, "metric=\"q\"");
	char *t;

	EXPECT(x && x == y);
	em_sm_set(x, 7);
	em_sm_release(x);
	t = render();
	EXPECT(strstr(t, "t_value{metric=\"q\"} 7\n") != NULL);   /* y still holds it */
	free(t);
	em_sm_release(y);
	t = render();
	EXPECT(strstr(t, "metric=\"q\"") == NULL);
	free(t);
	em_sm_release(NULL);
	/* many label sets: the index grows, every one stays reachable */
	for (int i = 0; i < 5000; i++) {
		char l[32];
		snprintf(l, sizeof(l), "metric=\"m%d\"", i);
		em_sm_set(em_sm_acquire(&fam_g, l), i);
	}
	for (int i = 0; i < 5000; i++) {
		char l[32];
		struct em_sm_series *s;
		snprintf(l, sizeof(l), "metric=\"m%d\"", i);
		s = em_sm_acquire(&fam_g, l);
		EXPECT_DBL(em_sm_value(s), i, 0);
		em_sm_release(s);
		em_sm_release(s);
	}
	t = render();
	EXPECT(strstr(t, "t_value{") == NULL);
	free(t);
}

TEST(histogram_buckets_sum_and_count_agree)
{
	struct em_sm_series *h = em_sm_series(&fam_h, "handler=\"x\"");
	char *t;

	em_sm_observe(h, 0.0002);
	em_sm_observe(h, 0.3);
	em_sm_observe(h, 100);
	t = render();
	EXPECT(strstr(t, "# TYPE t_seconds histogram\n") != NULL);
	EXPECT(strstr(t, "t_seconds_bucket{handler=\"x\",le=\"0.0005\"} 1\n") != NULL);
	EXPECT(strstr(t, "t_seconds_bucket{handler=\"x\",le=\"0.5\"} 2\n") != NULL);
	EXPECT(strstr(t, "t_seconds_bucket{handler=\"x\",le=\"10\"} 2\n") != NULL);
	EXPECT(strstr(t, "t_seconds_bucket{handler=\"x\",le=\"+Inf\"} 3\n") != NULL);
	EXPECT(strstr(t, "t_seconds_count{handler=\"x\"} 3\n") != NULL);
	EXPECT(strstr(t, "t_seconds_sum{handler=\"x\"} 100.3002\n") != NULL);
	free(t);
	em_selfmetrics_reset();
	t = render();
	EXPECT(strstr(t, "t_seconds") == NULL);
	free(t);
}

#define THREADS 4
#define ADDS 100000

static void *adder(void *arg)
{
	struct em_sm_series *s = arg;

	for (int i = 0; i < ADDS; i++) {
		em_sm_add(s, 1);
		em_sm_observe(em_sm_series(&fam_h, "handler=\"threads\""), 0.001);
	}
	return NULL;
}

TEST(concurrent_updates_lose_nothing)
{
	struct em_sm_series *s = em_sm_series(&fam_c, "code=\"threads\"");
	pthread_t t[THREADS];
	char *text, want[96];

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, adder, s);
	for (int i = 0; i < THREADS; i++) {
		char *m = render();   /* renders run alongside the updates */
		free(m);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT_DBL(em_sm_value(s), THREADS * ADDS, 0);
	text = render();
	snprintf(want, sizeof(want), "t_seconds_count{handler=\"threads\"} %d\n", THREADS * ADDS);
	EXPECT(strstr(text, want) != NULL);
	free(text);
}
